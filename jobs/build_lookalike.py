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
import logging
import sys
import uuid
from datetime import date, datetime, timezone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", required=True, help="CSV file with a customer_id column, or a table name")
    parser.add_argument("--name", required=True, help="expansion name (lower_snake_case)")
    parser.add_argument("--size", required=True, type=int, help="customers in the expansion")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="cut-off (default: the latest)")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from finlake.errors import FinlakeError
    from finlake.lake import Lake
    from finlake.marketing.lookalike import build_lookalike
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    run_id = args.run_id or f"lookalike-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    try:
        settings = load_settings()
        lake = Lake(get_spark(settings, "finlake-build_lookalike"), settings).for_job("build_lookalike", run_id)
        result = build_lookalike(lake, run_id, args.seed, args.name, args.size, as_of=args.as_of)
        print(f"{result}\nrecovery lift {result.evaluation.lift:.2f}")
    except FinlakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
