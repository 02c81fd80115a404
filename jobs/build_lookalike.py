"""Lookalike expansion: rank the customers most like a seed list (CSV of customer ids or a table)
at a feature cut-off, evaluate the recovery of a held-out part of the seed, and write the
expansion to audiences.lookalikes (docs/marketing.md).

Run locally:   python jobs/build_lookalike.py --seed seeds/vip.csv --name vip --size 5000 [--as-of 2025-01-01]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/build_lookalike.py [same options]
               (a CSV seed must be readable by the driver)

Exit codes: 0 ok, 2 settings, a bad seed (missing, empty, unknown ids) or a missing input table,
4 infrastructure.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", required=True, help="CSV file with a customer_id column, or a table name")
    parser.add_argument("--name", required=True, help="expansion name (lower_snake_case)")
    parser.add_argument("--size", required=True, type=int, help="customers in the expansion")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="cut-off (default: the latest)")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)

    from finlake.entrypoints import new_run_id, run_job
    from finlake.marketing.lookalike import build_lookalike

    def work(lake, settings, run_id):
        result = build_lookalike(lake, run_id, args.seed, args.name, args.size, as_of=args.as_of)
        return f"{result}\nrecovery lift {result.evaluation.lift:.2f}"

    return run_job("build_lookalike", work, args.run_id or new_run_id("lookalike"))


if __name__ == "__main__":
    sys.exit(main())
