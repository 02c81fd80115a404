"""Cross-sell (part of the ``audiences`` stage): FPGrowth product rules into marts.product_rules and
ALS next best products (implicit feedback: holdings, campaign responses, product views) into
marts.next_best_product at a feature cut-off (docs/marketing.md).

Run locally:   python jobs/build_crosssell.py [--as-of 2025-01-01] [--run-id ID]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/build_crosssell.py [same options]

Exit codes: 0 ok, 2 settings or a missing input table, 4 infrastructure.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="cut-off (default: the latest)")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)

    from finlake.entrypoints import new_run_id, run_job
    from finlake.marketing.crosssell import build_crosssell

    return run_job("build_crosssell", lambda lake, settings, run_id: build_crosssell(lake, run_id, as_of=args.as_of),
                   args.run_id or new_run_id("crosssell"))


if __name__ == "__main__":
    sys.exit(main())
