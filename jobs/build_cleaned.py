"""Build the cleaned layer from the raw batches not processed yet (the ``clean`` stage).

Run locally:   python jobs/build_cleaned.py [--as-of 2024-12-31] [--run-id ID]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/build_cleaned.py [same options]

Needs the PII key (FINLAKE_PII_KEY or FINLAKE_PII_KEY_FILE). Exit codes: 0 ok, 2 settings (no
PII key), 3 a blocking expectation failed (no table moved), 4 infrastructure.
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
                        help="only raw batches with a business date up to this one")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from finlake.cleaned import build_cleaned
    from finlake.errors import FinlakeError
    from finlake.lake import Lake
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    run_id = args.run_id or f"clean-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    try:
        settings = load_settings()
        lake = Lake(get_spark(settings, "finlake-build_cleaned"), settings)
        report = build_cleaned(lake, settings, run_id, as_of=args.as_of)
    except FinlakeError as exc:
        logging.getLogger("build_cleaned").error("%s: %s", type(exc).__name__, exc)
        return exc.exit_code
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
