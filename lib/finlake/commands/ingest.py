"""``finlake ingest``: land new landing batches in the raw tables (docs/raw.md)."""

from __future__ import annotations

import json
import sys
from datetime import date

from finlake.entrypoints import new_run_id, open_lake


def register(subparsers, common) -> None:
    p = subparsers.add_parser(
        "ingest", parents=[common],
        help="land new landing batches in raw.* with the ledger and raw gates (exit 5: a batch was refused, "
             "3: a blocking raw check failed)")
    p.add_argument("--source", action="append", dest="sources", metavar="SOURCE",
                   help="only this landing source (e.g. transactions, customers/branch) or raw table; repeatable")
    p.add_argument("--replace-batch", action="append", dest="replace", default=[], metavar="SOURCE/BATCH",
                   help="replace the landed rows of a batch re-sent with a different checksum; repeatable")
    p.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                   help="date freshness is judged against (default: the latest business date in landing)")
    p.add_argument("--run-id", help="run id to record (default: a new one)")
    p.add_argument("--json", action="store_true", help="print the ledger rows of this run as JSON")
    p.set_defaults(func=cmd_ingest)


def cmd_ingest(args, settings) -> int:
    from finlake.ingest import IngestError, ingest_all

    run_id = args.run_id or new_run_id("ingest")
    lake = open_lake(settings, "ingest_raw")
    try:
        report = ingest_all(lake, settings, run_id, sources=args.sources, replace=tuple(args.replace),
                            as_of=args.as_of)
    except IngestError as exc:
        if exc.report is not None:
            _print(exc.report, args.json)
        raise
    _print(report, args.json)
    return 0


def _print(report, as_json: bool) -> None:
    if as_json:
        rows = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.__dict__.items()}
                for r in report.ledger_rows]
        json.dump({"run_id": report.run_id, "as_of": str(report.as_of), "seconds": round(report.seconds, 2),
                   "gate_seconds": round(report.gate_seconds, 2), "batches": rows}, sys.stdout, indent=2,
                  ensure_ascii=False)
        sys.stdout.write("\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("source", "landed", "rows", "malformed", "skipped", "failed", title=report.summary().splitlines()[0])
    by_source: dict[str, list] = {}
    for r in report.ledger_rows:
        by_source.setdefault(r.source, []).append(r)
    for source, rows in sorted(by_source.items()):
        landed = [r for r in rows if r.status in ("ingested", "replaced")]
        table.add_row(source, str(len(landed)), f"{sum(r.rows or 0 for r in landed):,}",
                      f"{sum(r.malformed_rows or 0 for r in landed):,}",
                      str(sum(r.status == "skipped" for r in rows)), str(sum(r.status == "failed" for r in rows)))
    console = Console()
    console.print(table)
    for r in report.ledger_rows:
        if r.status in ("failed", "skipped"):
            console.print(f"{r.status} {r.source}/{r.batch}: {r.reason}", markup=False)
