"""``finlake quality``: what the gates found, for data stewards.

- ``finlake quality [--json]``: the latest status of every gated table, failures first, with the
  Data Docs path and the waivers;
- ``finlake quality --run RUN_ID``: one report for a run across layers (raw -> cleaned ->
  features), with the rows quarantined in that run, the accounting summed per table
  (``quality.accounting``), and the first rows of any other ``quality`` table with a ``run_id``
  column (``quality.balance_continuity``); ``--json`` gives every row;
- ``finlake quality --history TABLE``: the trend of each expectation of a table over runs;
- ``finlake quality --declare-quarantine TABLE``: print the quarantine table declaration.

Waivers are managed by editing ``expectations/waivers.yaml`` (see docs/quality.md).
"""

from __future__ import annotations

import datetime as dt

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from finlake.commands.core import _emit_json
from finlake.entrypoints import open_lake

_STYLE = {"FAIL": "bold red", "WARN": "yellow", "PASS": "green"}
ACCOUNTING_TABLE = "quality.accounting"


def register(subparsers, common) -> None:
    p = subparsers.add_parser("quality", parents=[common], help="quality gate results: latest status, one run, or trends")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--run", metavar="RUN_ID", help="one cross-layer report for this run")
    group.add_argument("--history", metavar="TABLE", help="trend of each expectation of this table over runs")
    group.add_argument("--declare-quarantine", metavar="TABLE", help="print schemas/quarantine/<table>.yaml for TABLE")
    p.add_argument("--limit", type=int, default=20,
                   help="runs shown by --history; rows shown per table by --run (default 20; --json shows all)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args, settings) -> int:
    from finlake.quality import gx_runner
    from finlake.quality.gate import DEFAULT_EXPECTATIONS_DIR
    from finlake.quality.waivers import load_waivers

    if args.declare_quarantine:
        from finlake.catalog import default_catalog
        from finlake.quality.quarantine import render_declaration

        print(render_declaration(default_catalog().get(args.declare_quarantine)), end="")
        return 0

    today = dt.datetime.now(dt.timezone.utc).date()
    from finlake.quality.reports import waiver_rows

    waivers = waiver_rows(load_waivers(DEFAULT_EXPECTATIONS_DIR / "waivers.yaml"), today)
    docs = gx_runner.data_docs_index(settings.quality_root)
    docs_path = str(docs) if docs.is_file() else None
    lake = open_lake(settings, "quality-report")
    if args.history:
        return _history(lake, args, waivers, docs_path)
    if args.run:
        return _run_report(lake, args, waivers, docs_path)
    return _latest(lake, args, waivers, docs_path)


def _results(lake, where=None, latest_run_per_table: bool = False) -> list[dict]:
    """Rows of quality.results matching ``where``. With ``latest_run_per_table``, only each
    table's latest run (the run of its latest check), chosen in Spark: the latest status then
    collects one run per table, not every check of every run since the lake began."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from finlake.quality.results import RESULTS_TABLE

    if not lake.exists(RESULTS_TABLE):
        return []
    df = lake.read(RESULTS_TABLE)
    if where is not None:
        df = df.filter(where)
    if latest_run_per_table:
        latest_run = F.max_by("run_id", "checked_at").over(Window.partitionBy("table"))
        df = (df.withColumn("_latest_run", latest_run)
              .filter(F.col("run_id") == F.col("_latest_run")).drop("_latest_run"))
    return [r.asDict() for r in df.collect()]


def _checked_tables(lake) -> list[str]:
    from finlake.quality.results import RESULTS_TABLE

    if not lake.exists(RESULTS_TABLE):
        return []
    return sorted(r[0] for r in lake.read(RESULTS_TABLE).select("table").distinct().collect())


def _latest(lake, args, waivers, docs_path) -> int:
    from finlake.quality.reports import latest_status

    statuses = latest_status(_results(lake, latest_run_per_table=True))
    if args.json:
        _emit_json({"tables": [s.as_dict() for s in statuses], "data_docs": docs_path, "waivers": waivers})
        return 0
    console = Console()
    if not statuses:
        console.print("no quality results yet: run a job that gates a table ('finlake run')")
    table = Table("status", "table", "run", "checked (UTC)", "checks", "failing expectations", title="latest quality status per table")
    for s in statuses:
        table.add_row(f"[{_STYLE[s.status]}]{s.status}[/]", s.table, s.run_id, s.checked_at.strftime("%Y-%m-%d %H:%M:%S"),
                      str(s.checks), _failures_text(s.failures))
    console.print(table)
    _print_footer(console, waivers, docs_path)
    return 0


def _run_report(lake, args, waivers, docs_path) -> int:
    from pyspark.sql import functions as F

    from finlake.quality.reports import run_report

    statuses = run_report(_results(lake, F.col("run_id") == args.run), args.run)
    quarantined = _quarantined(lake, args.run)
    # The terminal shows the first --limit rows of the per-run tables other than the accounting:
    # collect only those and count the rest in Spark (--json gives every row).
    totals: dict[str, int] = {}
    accounting = _accounting(lake, args.run, limit=None if args.json else args.limit, totals=totals)
    if args.json:
        _emit_json({"run_id": args.run, "tables": [s.as_dict() for s in statuses], "quarantined": quarantined,
                    "accounting": accounting, "data_docs": docs_path, "waivers": waivers})
        return 0
    console = Console()
    if not statuses:
        console.print(f"run {args.run} recorded no quality results")
    table = Table("layer", "table", "status", "version before", "checks", "failing expectations",
                  title=f"quality report for run {args.run}")
    for s in statuses:
        table.add_row(s.layer, s.table, f"[{_STYLE[s.status]}]{s.status}[/]",
                      "-" if s.table_version is None else str(s.table_version), str(s.checks), _failures_text(s.failures))
    console.print(table)
    if quarantined:
        q = Table("table", "rule broken", "rows", "first row (landing file:line)", title="rows quarantined in this run")
        for row in quarantined:
            q.add_row(row["table"], escape(row["rule"]), f"{row['rows']:,}", escape(row["first"] or "-"))
        console.print(q)
    for name, rows in accounting.items():
        if name == ACCOUNTING_TABLE:
            _print_accounting(console, rows)
        elif rows:
            _print_rows(console, name, rows, args.limit, total=totals.get(name))
    _print_footer(console, waivers, docs_path)
    return 0


def accounting_by_table(rows: list[dict]) -> list[dict]:
    """``quality.accounting`` rows of one run summed per cleaned table: a first build has one row
    per table and batch (thousands); the steward reads one line per table and the batches that
    did not balance."""
    out: dict[str, dict] = {}
    for r in sorted(rows, key=lambda r: (r["target_table"], r["batch_id"])):
        t = out.setdefault(r["target_table"], {
            "table": r["target_table"], "batches": 0, "raw_rows": 0, "cleaned_rows": 0, "quarantined_rows": 0,
            "duplicates_dropped": 0, "late_resends": 0, "unbalanced_batches": []})
        t["batches"] += 1
        for c in ("raw_rows", "cleaned_rows", "quarantined_rows", "duplicates_dropped", "late_resends"):
            t[c] += r[c] or 0
        if not r["balanced"]:
            t["unbalanced_batches"].append(r["batch_id"])
    return list(out.values())


def _print_accounting(console: Console, rows: list[dict]) -> None:
    if not rows:
        return
    acc = Table("table", "batches", "raw rows", "cleaned", "quarantined", "duplicates dropped", "late re-sends",
                "balanced", title=f"{ACCOUNTING_TABLE} (per batch with --json)")
    for t in accounting_by_table(rows):
        unbalanced = t["unbalanced_batches"]
        balanced = "yes" if not unbalanced else f"[bold red]NO[/]: {escape(', '.join(unbalanced[:5]))}" + (
            f" and {len(unbalanced) - 5} more" if len(unbalanced) > 5 else "")
        acc.add_row(t["table"], f"{t['batches']:,}", *[f"{t[c]:,}" for c in (
            "raw_rows", "cleaned_rows", "quarantined_rows", "duplicates_dropped", "late_resends")], balanced)
    console.print(acc)


def _print_rows(console: Console, name: str, rows: list[dict], limit: int, total: int | None = None) -> None:
    """The first ``limit`` rows of a per-run quality table (``quality.balance_continuity`` lists
    every break and every resolved one: thousands on a first build) of ``total`` (default: all of
    ``rows``); all of them with --json."""
    total = len(rows) if total is None else total
    columns = [c for c in rows[0] if c != "run_id"]
    table = Table(*columns, title=name)
    for row in rows[:limit]:
        table.add_row(*[_cell(row[c]) for c in columns])
    console.print(table)
    if total > limit:
        console.print(f"{name}: {total:,} rows in this run, the first {limit} shown (all of them with --json)")


def _history(lake, args, waivers, docs_path) -> int:
    from pyspark.sql import functions as F

    from finlake.quality.reports import history

    trends = history(_results(lake, F.col("table") == args.history), args.history, args.limit)
    table_waivers = [w for w in waivers if w["table"] == args.history]
    if args.json:
        _emit_json({"table": args.history, "expectations": [t.as_dict() for t in trends], "waivers": table_waivers})
        return 0
    console = Console()
    if not trends:
        checked = _checked_tables(lake)
        console.print(f"no quality results for {args.history}; tables with results: {', '.join(checked) or 'none yet'}")
    out = Table("expectation", "severity", "runs (oldest -> latest)", "latest observed", "latest run",
                title=f"expectation trends for {args.history} ('.' pass, 'x' blocking fail, 'w' warning/waived fail)")
    for t in trends:
        last = t.points[-1]
        observed = last["observed_value"] or ""
        if last["unexpected_percent"] is not None:
            observed = f"{observed} ({last['unexpected_percent']:.4g}%)"
        out.add_row(escape(t.expectation), t.severity, t.marks, escape(observed), escape(last["run_id"]))
    console.print(out)
    _print_footer(console, table_waivers, docs_path)
    return 0


def _quarantined(lake, run_id: str) -> list[dict]:
    """Rows quarantined in ``run_id`` per target table and rule, from every quarantine table, with
    the first row that broke the rule by landing file, then line (``file:line``; None when the
    rows carry no lineage, or the quarantine table predates it)."""
    from pyspark.sql import functions as F

    from finlake.quality.quarantine import PROVENANCE_COLUMNS

    out = []
    for name in lake.catalog.names("quarantine"):
        if not lake.exists(name):
            continue
        held = lake.read(name)
        located = all(c in held.columns for c in PROVENANCE_COLUMNS)
        where = (F.struct("_source_file", "_line_number") if located
                 else F.lit(None).cast("struct<_source_file:string,_line_number:bigint>"))
        counts = (held.filter(F.col("_run_id") == run_id)
                  .select("_source_table", F.explode("_rules_broken").alias("rule"), where.alias("at"))
                  .groupBy("_source_table", "rule")
                  .agg(F.count(F.lit(1)).alias("rows"), F.min(F.when(F.col("at._source_file").isNotNull(), F.col("at")))
                       .alias("first"))
                  .collect())
        out += [{"table": r["_source_table"], "rule": r["rule"], "rows": r["rows"],
                 "first": f"{r['first']['_source_file']}:{r['first']['_line_number']}" if r["first"] else None}
                for r in counts]
    return sorted(out, key=lambda r: (r["table"], r["rule"]))


def _accounting(lake, run_id: str, limit: int | None = None,
                totals: dict[str, int] | None = None) -> dict[str, list[dict]]:
    """Rows of ``run_id`` in every quality-layer table (other than results) that has a run_id column.

    With ``limit``, tables other than the accounting give only their first ``limit`` rows, and
    ``totals`` (when given) receives each such table's row count."""
    from pyspark.sql import functions as F

    from finlake.quality.results import RESULTS_TABLE

    out = {}
    for name in lake.catalog.names("quality"):
        spec = lake.spec(name)
        if name == RESULTS_TABLE or "run_id" not in [c.name for c in spec.columns] or not lake.exists(name):
            continue
        rows = lake.read(name).filter(F.col("run_id") == run_id)
        if spec.primary_key:  # a stable order, so the first --limit rows are the same each time
            rows = rows.orderBy(*spec.primary_key)
        if limit is not None and name != ACCOUNTING_TABLE:  # summed in full by accounting_by_table
            if totals is not None:
                totals[name] = rows.count()
            rows = rows.limit(limit)
        out[name] = [r.asDict() for r in rows.collect()]
    return out


def _failures_text(failures: list[dict]) -> str:
    lines = []
    for r in failures:
        what = r["expectation"]
        if r.get("observed_value") is not None:
            what += f" (observed {r['observed_value']})"
        tag = "waived" if r["waived"] else r["severity"]
        lines.append(escape(f"[{tag}] {what}"))
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else escape(str(value))


def _print_footer(console: Console, waivers: list[dict], docs_path: str | None) -> None:
    if waivers:
        w = Table("table", "expectation", "until", "who", "reason", "state", title="waivers (expectations/waivers.yaml)")
        for row in waivers:
            w.add_row(row["table"], escape(row["expectation"]), row["until"], escape(row["who"]), escape(row["reason"]),
                      "active" if row["active"] else "[dim]expired[/]")
        console.print(w)
    else:
        console.print("waivers: none (expectations/waivers.yaml)")
    console.print(f"Data Docs: {docs_path or 'not built yet'}")
