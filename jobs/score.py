"""Score a feature cut-off with every @champion model into scores.* (idempotent per as_of).

Run locally:   python jobs/score.py [--as-of 2025-07-01] [--run-id ID]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/score.py [same options]

Exit codes: 0 ok, 2 no champion or no features for the as_of, 3 the features' latest quality
gate failed (nothing written), 4 infrastructure.
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
                        help="customer_monthly cut-off, first day of a month (default: the latest)")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from finlake.errors import FinlakeError
    from finlake.lake import Lake
    from finlake.models import workflows
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    run_id = args.run_id or f"score-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    try:
        settings = load_settings()
        lake = Lake(get_spark(settings, "finlake-score"), settings).for_job("score", run_id)
        results = workflows.score(lake, settings, run_id, as_of=args.as_of)
    except FinlakeError as exc:
        logging.getLogger("score").error("%s: %s", type(exc).__name__, exc)
        return exc.exit_code
    for r in results:
        logging.getLogger("score").info("%s: %d rows for %s by model v%s", r.table, r.rows, r.as_of, r.model_version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
