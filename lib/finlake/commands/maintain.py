"""``finlake maintain``: compact small files and vacuum old ones (finlake/maintenance.py)."""

from __future__ import annotations

import json
import sys

from finlake.entrypoints import new_run_id, open_lake


def register(subparsers, common) -> None:
    p = subparsers.add_parser(
        "maintain", parents=[common],
        help="compact small files (every layer but raw) and delete files no version of the retention period "
             "needs; holds the lake lock, exit 6 while a run holds it")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--table", action="append", metavar="LAYER.TABLE", help="only this table (repeatable)")
    which.add_argument("--layer", action="append", help="only this layer (repeatable)")
    p.add_argument("--retention-hours", type=float, default=None,
                   help="keep the files every version of the last H hours needs (default: the "
                        "vacuum_retention_hours setting, 168)")
    p.add_argument("--allow-short-retention", action="store_true",
                   help="accept a retention below 168 hours (a scratch lake: no reader of older versions)")
    p.add_argument("--dry-run", action="store_true", help="compact nothing; list what vacuum would delete")
    p.add_argument("--break-stale-lock", action="store_true",
                   help="take over a lake lock whose owner is gone (see docs/runs.md)")
    p.add_argument("--run-id", help="run id recorded in each commit (default: a new one)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_maintain)


def cmd_maintain(args, settings) -> int:
    from finlake.maintenance import maintain_lake

    run_id = args.run_id or new_run_id("maintain")
    report = maintain_lake(open_lake(settings, "maintain", run_id), settings, run_id, tables=args.table,
                           layers=args.layer, retention_hours=args.retention_hours,
                           allow_short_retention=args.allow_short_retention, dry_run=args.dry_run,
                           break_stale_lock=args.break_stale_lock)
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("table", "files before", "files after", "compacted", "deleted" if not args.dry_run else "to delete",
                  "version", "note", title=report.summary().splitlines()[0])
    for t in report.tables:
        table.add_row(t.table, f"{t.files_before:,}", f"{t.files_after:,}", f"{t.files_compacted:,}",
                      f"{t.files_deleted:,}", str(t.version), t.note)
    Console().print(table)
    if report.skipped:
        print(f"not created yet: {', '.join(report.skipped)}")
    return 0
