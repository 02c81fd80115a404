"""Land new landing batches in the raw tables (the ``ingest`` stage).

Run locally:   python jobs/ingest_raw.py [--source transactions] [--replace-batch SOURCE/BATCH] [--as-of 2024-12-31]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/ingest_raw.py [same options]

Exit codes: 0 ok, 3 a blocking raw check failed (gaps, freshness, accounting), 5 a batch was
refused (unreadable, checksum, changed re-send; the others landed), 4 infrastructure.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", action="append", dest="sources", metavar="SOURCE")
    parser.add_argument("--replace-batch", action="append", dest="replace", default=[], metavar="SOURCE/BATCH")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)

    from finlake.entrypoints import new_run_id, run_job
    from finlake.ingest import ingest_all

    def work(lake, settings, run_id):
        return ingest_all(lake, settings, run_id, sources=args.sources, replace=tuple(args.replace),
                          as_of=args.as_of).summary()

    return run_job("ingest_raw", work, args.run_id or new_run_id("ingest"))


if __name__ == "__main__":
    sys.exit(main())
