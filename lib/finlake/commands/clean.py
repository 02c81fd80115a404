"""``finlake clean``: build the cleaned layer from new raw batches (docs/cleaned.md)."""

from __future__ import annotations

import json
import sys
from datetime import date

from finlake.entrypoints import new_run_id, open_lake


def register(subparsers, common) -> None:
    p = subparsers.add_parser(
        "clean", parents=[common],
        help="clean the raw batches not processed yet into cleaned.* (+ quarantine.*, quality.accounting); "
             "exit 3: a blocking expectation failed and no table moved")
    p.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                   help="only raw batches with a business date up to this one (default: all)")
    p.add_argument("--run-id", help="run id to record (default: a new one)")
    p.add_argument("--json", action="store_true", help="print the per-table accounting as JSON")
    p.set_defaults(func=cmd_clean)


def cmd_clean(args, settings) -> int:
    from finlake.cleaned import build_cleaned

    run_id = args.run_id or new_run_id("clean")
    report = build_cleaned(open_lake(settings, "build_cleaned"), settings, run_id, as_of=args.as_of)
    if report.run_seq is None and not args.json:
        print(report.summary())
        return 0
    if args.json:
        json.dump({"run_id": report.run_id, "run_seq": report.run_seq, "recovered": report.recovered,
                   "balance_breaks": report.balance_breaks,
                   "tables": {k: {**v.__dict__, "balanced": v.balanced} for k, v in report.tables.items()}},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("table", "batches", "raw", "cleaned", "quarantined", "duplicates", "late re-sends", "balanced",
                  "version", title=report.summary().splitlines()[0])
    for t in report.tables.values():
        table.add_row(t.target, str(t.batches), f"{t.raw_rows:,}", f"{t.cleaned_rows:,}", f"{t.quarantined_rows:,}",
                      f"{t.duplicates_dropped:,}", f"{t.late_resends:,}", "yes" if t.balanced else "NO",
                      str(t.version))
    Console().print(table)
    return 0
