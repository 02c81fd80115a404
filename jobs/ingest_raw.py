"""Land new landing batches in the raw tables (the ``ingest`` stage).

Run locally:   python jobs/ingest_raw.py [--source transactions] [--replace-batch SOURCE/BATCH] [--as-of 2024-12-31]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/ingest_raw.py [same options]

Exit codes: 0 ok, 3 a blocking raw check failed (gaps, freshness, accounting), 5 a batch was
refused (unreadable, checksum, changed re-send; the others landed), 4 infrastructure.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", action="append", dest="sources", metavar="SOURCE")
    parser.add_argument("--replace-batch", action="append", dest="replace", default=[], metavar="SOURCE/BATCH")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from finlake.errors import FinlakeError
    from finlake.ingest import ingest_all, new_run_id
    from finlake.lake import Lake
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    try:
        settings = load_settings()
        lake = Lake(get_spark(settings, "finlake-ingest_raw"), settings)
        report = ingest_all(lake, settings, args.run_id or new_run_id(), sources=args.sources,
                            replace=tuple(args.replace), as_of=args.as_of)
    except FinlakeError as exc:
        logging.getLogger("ingest_raw").error("%s: %s", type(exc).__name__, exc)
        return exc.exit_code
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
