"""Build the campaign audiences (the ``audiences`` stage): select every conf/audiences/*.yaml
campaign at the latest feature/score cut-off, cap contacts across campaigns
(conf/contact_policy.yaml), write audiences.<campaign> and the CRM export CSVs (docs/marketing.md).

Run locally:   python jobs/build_audiences.py [--as-of 2025-01-01] [--run-id ID] [FILE ...]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/build_audiences.py [same options]

Exit codes: 0 ok, 2 settings or a bad definition / policy / missing input table, 4 infrastructure.
"""

from __future__ import annotations

import argparse
import logging
import sys
import uuid
from datetime import date, datetime, timezone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="definition files (default: every conf/audiences/*.yaml)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="cut-off (default: the latest)")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from finlake.errors import FinlakeError
    from finlake.lake import Lake
    from finlake.marketing import build_audiences
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    run_id = args.run_id or f"audiences-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    try:
        settings = load_settings()
        lake = Lake(get_spark(settings, "finlake-build_audiences"), settings).for_job("build_audiences", run_id)
        for result in build_audiences(lake, settings, run_id, as_of=args.as_of, definitions=args.files or None):
            print(result)
    except FinlakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
