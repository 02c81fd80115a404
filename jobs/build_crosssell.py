"""Cross-sell (part of the ``audiences`` stage): FPGrowth product rules into marts.product_rules and
ALS next best products (implicit feedback: holdings, campaign responses, product views) into
marts.next_best_product at a feature cut-off (docs/marketing.md).

Run locally:   python jobs/build_crosssell.py [--as-of 2025-01-01] [--run-id ID]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/build_crosssell.py [same options]

Exit codes: 0 ok, 2 settings or a missing input table, 4 infrastructure.
"""

from __future__ import annotations

import argparse
import logging
import sys
import uuid
from datetime import date, datetime, timezone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="cut-off (default: the latest)")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from finlake.errors import FinlakeError
    from finlake.lake import Lake
    from finlake.marketing.crosssell import build_crosssell
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    run_id = args.run_id or f"crosssell-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    try:
        settings = load_settings()
        lake = Lake(get_spark(settings, "finlake-build_crosssell"), settings).for_job("build_crosssell", run_id)
        print(build_crosssell(lake, run_id, as_of=args.as_of))
    except FinlakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
