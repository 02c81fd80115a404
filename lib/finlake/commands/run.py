"""Run commands: ``finlake run``, ``finlake runs``, ``finlake lineage``."""

from __future__ import annotations

import json
import sys
from datetime import date

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from finlake.entrypoints import open_lake


STAGES = ("ingest", "clean", "features", "train", "score", "audiences")  # = registry.STAGE_ORDER (light import)


def _date(text: str) -> date:
    return date.fromisoformat(text)


def register(subparsers, common) -> None:
    p = subparsers.add_parser(
        "run", parents=[common],
        help="run the pipeline for one as_of date (resumes after a failure; see docs/runs.md for exit codes)")
    p.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="business date to run for (default: today in Beijing, the bank's calendar)")
    p.add_argument("--from", dest="from_stage", choices=STAGES, help="start here, rerunning stages already done")
    p.add_argument("--until", dest="until_stage", choices=STAGES, help="stop after this stage")
    p.add_argument("--break-stale-lock", action="store_true",
                   help="remove a lock left by a run that is no longer running, then run")
    p.set_defaults(func=cmd_run)

    p = subparsers.add_parser("runs", parents=[common], help="recent runs from ops.runs, or the jobs of one run")
    p.add_argument("run_id", nargs="?", help="show the jobs of this run")
    p.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)

    p = subparsers.add_parser("lineage", parents=[common],
                              help="the run, code and input versions behind a table version, back to landing batches")
    p.add_argument("table", help="layer.table")
    p.add_argument("--version", type=int, help="table version (default: latest)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lineage)


def _emit_json(value) -> None:
    json.dump(value, sys.stdout, indent=2, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v),
              ensure_ascii=False)
    sys.stdout.write("\n")


def cmd_run(args, settings) -> int:
    from finlake.runs.progress import choose_progress, stage_table
    from finlake.runs.registry import business_today
    from finlake.runs.runner import run_pipeline

    as_of = args.as_of or business_today()
    report = run_pipeline(open_lake(settings, "run"), as_of, from_stage=args.from_stage, until_stage=args.until_stage,
                          progress=(progress := choose_progress()), break_stale_lock=args.break_stale_lock)
    console = Console() if sys.stdout.isatty() else Console(width=140)  # logs: no 80-column wrapping
    console.print(stage_table(progress.lines.values(), f"run {report.run_id} (as_of {as_of})"))
    if report.error is not None:
        print(f"error: {type(report.error).__name__}: {report.error}", file=sys.stderr)
        print(f"fix the cause, then rerun 'finlake run --as-of {as_of}': it resumes at the failed stage",
              file=sys.stderr)
    elif report.wrote_nothing:
        console.print(f"nothing written for as_of {as_of}: every available stage is done or not due "
                      "(rerun stages with --from STAGE)")
    return report.exit_code


def _summaries(records) -> list[dict]:
    runs: dict[str, dict] = {}
    for r in records:
        run = runs.setdefault(r.run_id, {"run_id": r.run_id, "as_of": r.as_of, "started_at": r.started_at,
                                         "ended_at": r.ended_at, "status": "success", "stages": [], "jobs": 0,
                                         "rows_out": 0, "code_version": r.code_version, "error": None})
        run["ended_at"] = max(run["ended_at"], r.ended_at)
        run["jobs"] += 1
        run["rows_out"] += r.rows_out or 0
        if r.stage not in run["stages"]:
            run["stages"].append(r.stage)
        if r.status != "success":
            run["status"], run["error"] = r.status, f"{r.stage}.{r.job}: {r.error}"
    return sorted(runs.values(), key=lambda x: x["started_at"], reverse=True)


def cmd_runs(args, settings) -> int:
    from dataclasses import asdict

    from finlake.runs.ledger import RunLedger

    ledger = RunLedger(open_lake(settings, "runs"))
    if args.run_id:
        records = ledger.rows(run_id=args.run_id)
        if not records:
            print(f"error: no run '{args.run_id}' in ops.runs; 'finlake runs' lists recent runs", file=sys.stderr)
            return 2
        if args.json:
            _emit_json([asdict(r) for r in records])
            return 0
        table = Table("stage", "job", "status", "started (UTC)", "seconds", "rows in", "rows out", "versions written",
                      title=f"run {args.run_id} (as_of {records[0].as_of}, code {records[0].code_version})")
        for r in records:
            table.add_row(r.stage, r.job, r.status, f"{r.started_at:%Y-%m-%d %H:%M:%S}",
                          f"{(r.ended_at - r.started_at).total_seconds():.1f}", _count(r.rows_in), _count(r.rows_out),
                          ", ".join(f"{t}@{v}" for t, v in sorted(r.versions_written.items())) or (r.error or ""))
        Console().print(table)
        return 0
    runs = _summaries(ledger.rows())[: args.limit]
    if args.json:
        _emit_json(runs)
        return 0
    table = Table("run", "as_of", "started (UTC)", "minutes", "status", "stages", "rows out", "error", title="recent runs")
    for run in runs:
        table.add_row(run["run_id"], str(run["as_of"]), f"{run['started_at']:%Y-%m-%d %H:%M:%S}",
                      f"{(run['ended_at'] - run['started_at']).total_seconds() / 60:.1f}", run["status"],
                      " ".join(run["stages"]), f"{run['rows_out']:,}", run["error"] or "")
    Console().print(table)
    return 0


def _count(n) -> str:
    return f"{n:,}" if n is not None else ""


def cmd_lineage(args, settings) -> int:
    from finlake.runs.lineage import lineage

    root = lineage(open_lake(settings, "lineage"), args.table, args.version)
    if args.json:
        _emit_json(root.to_dict())
        return 0
    tree = Tree(_label(root))
    _grow(tree, root)
    Console().print(tree)
    return 0


def _label(node) -> str:
    who = f"run {node.run_id} · {node.stage}.{node.job}" if node.stage else (node.note or f"job {node.job}")
    when = f" · {node.timestamp:%Y-%m-%d %H:%M:%S}" if node.timestamp else ""
    code = f" · code {node.code_version}" if node.code_version else ""
    return f"[bold]{node.table}@{node.version}[/] {node.operation}{when} · {who}{code}"


def _grow(tree, node) -> None:
    for child in node.inputs:
        _grow(tree.add(_label(child)), child)
    by_source: dict[str, list[dict]] = {}
    for b in node.batches:
        by_source.setdefault(b.get("source", "?"), []).append(b)
    for source, batches in by_source.items():
        # A daily source has hundreds of batches: one line per source; --json lists every batch.
        names = sorted(str(b.get("batch")) for b in batches)
        rows = sum(b.get("rows") or 0 for b in batches)
        span = names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}"
        tree.add(f"landing {source}: {len(batches)} batch(es) {span}, {rows:,} rows")
    if node.note and node.stage:
        tree.add(f"[dim]{node.note}[/]")
