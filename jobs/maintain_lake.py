"""Compact small files and delete files no recent version needs (``finlake maintain``), weekly.

Run locally:   python jobs/maintain_lake.py [--layer cleaned] [--retention-hours 168] [--dry-run]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/maintain_lake.py [same options]

Schedule it outside the pipeline's window: it takes the lake lock and exits 6 while a run
holds it. Exit codes: 0 ok, 2 settings (a retention below 168 hours), 6 the lake is locked.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--table", action="append", help="only this layer.table (repeatable)")
    which.add_argument("--layer", action="append", help="only this layer (repeatable)")
    parser.add_argument("--retention-hours", type=float, default=None,
                        help="default: the vacuum_retention_hours setting (168)")
    parser.add_argument("--allow-short-retention", action="store_true")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)

    from finlake.entrypoints import new_run_id, run_job
    from finlake.maintenance import maintain_lake

    return run_job("maintain",
                   lambda lake, settings, run_id: maintain_lake(
                       lake, settings, run_id, tables=args.table, layers=args.layer,
                       retention_hours=args.retention_hours, allow_short_retention=args.allow_short_retention,
                       dry_run=args.dry_run).summary(),
                   args.run_id or new_run_id("maintain"))


if __name__ == "__main__":
    sys.exit(main())
