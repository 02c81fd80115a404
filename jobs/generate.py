"""Generate synthetic bank landing files with planted ground truth and injected defects.

Run locally:   python jobs/generate.py --scale 0.01 --seed 42 [--start 2024-01-01 --months 12] [--landing DIR] [--defect-rate 0.001]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/generate.py --scale 1 --seed 42 --landing /mnt/shared/landing
(executors write the files directly, so the landing folder must be mounted on every executor)

The layout of what it writes is docs/landing.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2024, 1, 1))
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--landing")
    parser.add_argument("--defect-rate", type=float, default=0.001)
    args = parser.parse_args(argv)

    from finlake.entrypoints import new_run_id, run_job
    from finlake.generator import generate

    def work(lake, settings, run_id):
        result = generate(lake.spark, args.landing or settings.landing_root, scale=args.scale, seed=args.seed,
                          start=args.start, months=args.months, defect_rate=args.defect_rate)
        return (f"{result.customers} customers, {sum(result.rows.values())} rows in {result.batches} batches "
                f"-> {result.landing}")

    return run_job("generate", work, new_run_id("generate"))


if __name__ == "__main__":
    sys.exit(main())
