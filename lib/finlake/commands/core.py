"""Core commands: ``finlake config``, ``finlake tables``, ``finlake history``."""

from __future__ import annotations

import json
import sys
from datetime import datetime

from rich.console import Console
from rich.table import Table

from finlake.entrypoints import open_lake


def register(subparsers, common) -> None:
    p = subparsers.add_parser("config", parents=[common], help="print the resolved settings and where each came from")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_config)

    p = subparsers.add_parser("tables", parents=[common], help="list the catalog's tables with version, rows, files, bytes")
    p.add_argument("--json", action="store_true")
    p.add_argument("--layer", help="only this layer")
    p.set_defaults(func=cmd_tables)

    p = subparsers.add_parser("history", parents=[common], help="the versions of one table and the job/run that wrote each")
    p.add_argument("table", help="layer.table")
    p.add_argument("--limit", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_history)


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _emit_json(rows) -> None:
    json.dump(rows, sys.stdout, indent=2, default=_jsonable, ensure_ascii=False)
    sys.stdout.write("\n")


def cmd_config(args, settings) -> int:
    view = settings.public_view()
    if args.json:
        _emit_json({k: {"value": v, "source": settings.sources.get(k, "default")} for k, v in view.items()})
        return 0
    table = Table(title="finlake settings")
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    table.add_column("source", overflow="fold")
    for key, value in view.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value), settings.sources.get(key, ""))
    Console().print(table)
    return 0


def cmd_tables(args, settings) -> int:
    lake = open_lake(settings, "cli")
    infos = [lake.info(name) for name in lake.catalog.names(args.layer)]
    if args.json:
        _emit_json([i.__dict__ for i in infos])
        return 0
    table = Table("layer", "table", "version", "rows", "files", "bytes", "last write (UTC)", title=f"tables ({lake.engine.name} engine)")
    for i in infos:
        if not i.exists:
            table.add_row(i.layer, i.name, "-", "-", "-", "-", "not created")
            continue
        table.add_row(i.layer, i.name, str(i.version), f"{i.rows:,}", str(i.files), f"{i.bytes:,}",
                      i.last_write.strftime("%Y-%m-%d %H:%M:%S") if i.last_write else "")
    Console().print(table)
    return 0


def cmd_history(args, settings) -> int:
    lake = open_lake(settings, "cli")
    entries = lake.history(args.table, args.limit)
    if args.json:
        _emit_json([e.__dict__ for e in entries])
        return 0
    table = Table("version", "time (UTC)", "operation", "job", "run", "txn", title=f"history of {args.table}")
    for e in entries:
        table.add_row(str(e.version), e.timestamp.strftime("%Y-%m-%d %H:%M:%S") if e.timestamp else "",
                      e.operation, e.job or "", e.run_id or "", e.txn or "")
    Console().print(table)
    return 0
