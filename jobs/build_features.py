"""Build the feature layer from cleaned.* (the ``features`` stage): customer_monthly, churn_labels,
transaction_fraud and customer_tags, incremental by month (docs/features.md).

Run locally:   python jobs/build_features.py [--as-of 2024-07-01] [--run-id ID] [--tags conf/tags.yaml]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/build_features.py [same options]

Without --as-of every cut-off not built yet is computed (history is not recomputed); with it the
cut-off of that date (the first day of its month) is recomputed too, replacing exactly that month.
Exit codes: 0 ok, 2 settings or a bad tag rule, 3 a blocking expectation failed (no table moved),
4 infrastructure.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                        help="recompute the cut-off of this date (first day of its month) and build any missing before it")
    parser.add_argument("--run-id")
    parser.add_argument("--tags", help="rule tag file (default conf/tags.yaml)")
    args = parser.parse_args(argv)

    from finlake.entrypoints import new_run_id, run_job
    from finlake.features import build_features

    def work(lake, settings, run_id):
        return build_features(lake, settings, run_id, as_of=args.as_of, tags_file=args.tags).summary()

    return run_job("build_features", work, args.run_id or new_run_id("features"))


if __name__ == "__main__":
    sys.exit(main())
