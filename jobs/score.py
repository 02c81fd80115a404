"""Score a feature cut-off with every @champion model into scores.* (idempotent per as_of).

Run locally:   python jobs/score.py [--as-of 2025-07-01] [--run-id ID]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/score.py [same options]

Exit codes: 0 ok, 2 no champion or no features for the as_of, 3 the features' latest quality
gate failed (nothing written), 4 infrastructure.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                        help="customer_monthly cut-off, first day of a month (default: the latest)")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)

    from finlake.entrypoints import new_run_id, run_job

    def work(lake, settings, run_id):
        from finlake.models import workflows  # after the settings are read: MLflow and Spark ML take seconds to import

        return "\n".join(f"{r.table}: {r.rows} rows for {r.as_of} by model v{r.model_version}"
                         for r in workflows.score(lake, settings, run_id, as_of=args.as_of))

    return run_job("score", work, args.run_id or new_run_id("score"))


if __name__ == "__main__":
    sys.exit(main())
