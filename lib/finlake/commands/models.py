"""Model commands: ``finlake train segmentation|churn|fraud``, ``finlake score``, ``finlake models``."""

from __future__ import annotations

import json
import sys
from datetime import date

from rich.console import Console
from rich.table import Table

from finlake.entrypoints import new_run_id, open_lake


KINDS = ("segmentation", "churn", "fraud")  # = finlake.models.registry.KINDS (light import)


def register(subparsers, common) -> None:
    p = subparsers.add_parser("train", parents=[common],
                              help="train a model on the feature layer, log it to MLflow, decide champion/challenger")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                   help="segmentation only: the customer_monthly cut-off to segment (default: the latest)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("score", parents=[common],
                              help="score a cut-off with every @champion into scores.* (idempotent)")
    p.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                   help="customer_monthly cut-off (first day of a month; default: the latest)")
    p.add_argument("--run-id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_score)

    p = subparsers.add_parser("models", parents=[common],
                              help="registered models with their champion version and main metric")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)


def _emit_json(value) -> None:
    json.dump(value, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def cmd_train(args, settings) -> int:
    from finlake.models import workflows

    lake = open_lake(settings, f"train_{args.kind}")
    kwargs = {"as_of": args.as_of} if args.kind == "segmentation" else {}
    if args.as_of and args.kind != "segmentation":
        print(f"note: --as-of applies to segmentation only; {args.kind} trains on all labelled history", file=sys.stderr)
    outcome = workflows.train(lake, settings, args.kind, **kwargs)
    d = outcome.decision
    row = {"model": outcome.name, "version": outcome.version, "run_id": outcome.run_id,
           "decision": "champion" if d.promote else "challenger", "reason": d.reason,
           "new_score": d.new_score, "champion_score": d.champion_score, "previous_champion": d.champion_version,
           "inputs": [i.__dict__ for i in outcome.inputs]}
    if args.json:
        _emit_json(row)
    else:
        Console().print(f"[bold]{outcome.name}[/bold] v{outcome.version} (run {outcome.run_id}): "
                        f"[{'green' if d.promote else 'yellow'}]{row['decision']}[/] - {d.reason}")
    return 0


def cmd_score(args, settings) -> int:
    from finlake.models import workflows

    run_id = args.run_id or new_run_id("score")
    lake = open_lake(settings, "score", run_id)
    results = workflows.score(lake, settings, run_id, as_of=args.as_of)
    rows = [{"table": r.table, "as_of": r.as_of.isoformat(), "model_version": r.model_version, "rows": r.rows,
             "table_version": r.commit.version, "skipped": r.commit.skipped} for r in results]
    if args.json:
        _emit_json(rows)
        return 0
    table = Table("table", "as_of", "model version", "rows", "table version", "note", title=f"scores (run {run_id})")
    for r in rows:
        table.add_row(r["table"], r["as_of"], r["model_version"], f"{r['rows']:,}", str(r["table_version"]),
                      "already written" if r["skipped"] else "")
    Console().print(table)
    return 0


def cmd_models(args, settings) -> int:
    from finlake.models import registry

    rows = registry.list_models(settings)
    if args.json:
        _emit_json(rows)
        return 0
    table = Table("model", "versions", "champion", "main metric", "champion score", title=f"models ({settings.mlflow_uri})")
    for r in rows:
        score = "" if r["champion_score"] is None else f"{r['champion_score']:.4f}"
        table.add_row(r["model"], str(r["versions"]), r["champion_version"] or "-", r["main_metric"], score)
    if not rows:
        Console().print(f"no finlake models registered in {settings.mlflow_uri}; run 'finlake train <kind>'")
        return 0
    Console().print(table)
    return 0
