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
import logging
import sys
import uuid
from datetime import date, datetime, timezone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                        help="recompute the cut-off of this date (first day of its month) and build any missing before it")
    parser.add_argument("--run-id")
    parser.add_argument("--tags", help="rule tag file (default conf/tags.yaml)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from finlake.errors import FinlakeError
    from finlake.features import build_features
    from finlake.lake import Lake
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    run_id = args.run_id or f"features-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    try:
        settings = load_settings()
        lake = Lake(get_spark(settings, "finlake-build_features"), settings)
        report = build_features(lake, settings, run_id, as_of=args.as_of, tags_file=args.tags)
    except FinlakeError as exc:
        logging.getLogger("build_features").error("%s: %s", type(exc).__name__, exc)
        return exc.exit_code
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
