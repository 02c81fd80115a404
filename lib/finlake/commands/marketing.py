"""``finlake audience build|lookalike``, ``finlake crosssell``, ``finlake campaigns``: precision marketing
(docs/marketing.md)."""

from __future__ import annotations

import json
import sys
from datetime import date

from finlake.entrypoints import new_run_id, open_lake


def register(subparsers, common) -> None:
    p = subparsers.add_parser("audience", parents=[common], help="build campaign audiences (docs/marketing.md)")
    sub = p.add_subparsers(dest="audience_command", required=True)
    b = sub.add_parser("build", parents=[common],
                       help="select, cap and write audiences.<campaign> and its CRM export CSV")
    b.add_argument("files", nargs="*", metavar="FILE",
                   help="audience definition files (default: every conf/audiences/*.yaml)")
    b.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                   help="feature/score cut-off to select on (default: the latest)")
    b.add_argument("--policy", metavar="FILE", help="contact policy (default conf/contact_policy.yaml)")
    b.add_argument("--run-id", help="run id to record (default: a new one)")
    b.set_defaults(func=cmd_audience_build)
    lk = sub.add_parser("lookalike", parents=[common],
                        help="expand a seed list by its lookalikes into audiences.lookalikes, with the recovery lift")
    lk.add_argument("--seed", required=True, metavar="FILE_OR_TABLE",
                    help="a CSV file with a customer_id column, or a table name (e.g. audiences.retention)")
    lk.add_argument("--name", required=True, help="expansion name (lower_snake_case), its rows' 'name'")
    lk.add_argument("--size", required=True, type=int, help="customers in the expansion")
    lk.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                    help="feature cut-off to compare on (default: the latest)")
    lk.set_defaults(func=cmd_audience_lookalike)

    p = subparsers.add_parser("crosssell", parents=[common],
                              help="product association rules and next best products into marts.* (docs/marketing.md)")
    p.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                   help="cut-off (default: the latest features.customer_monthly cut-off)")
    p.set_defaults(func=cmd_crosssell)

    p = subparsers.add_parser("campaigns", parents=[common],
                              help="recompute marts.campaign_results from cleaned.contacts and show uplift vs control")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_campaigns)


def cmd_audience_build(args, settings) -> int:
    from rich.console import Console
    from rich.table import Table

    from finlake.marketing import build_audiences

    results = build_audiences(open_lake(settings, "build_audiences"), settings, args.run_id or new_run_id("audiences"),
                              as_of=args.as_of, definitions=args.files or None, policy_file=args.policy)
    table = Table(title=f"audiences at {results[0].as_of}")
    for col in ("table", "contact", "control", "capped", "export"):
        table.add_column(col)
    for r in results:
        table.add_row(r.table, str(r.contact), str(r.control), str(r.capped), r.export_path)
    Console().print(table)
    return 0


def cmd_audience_lookalike(args, settings) -> int:
    from finlake.marketing.lookalike import build_lookalike

    r = build_lookalike(open_lake(settings, "build_lookalike"), new_run_id("lookalike"), args.seed, args.name, args.size,
                        as_of=args.as_of)
    e = r.evaluation
    print(f"{r.table} name={r.name} as_of={r.as_of}: {r.rows} lookalikes of a seed of {r.seed_size} "
          f"among {r.population} customers")
    print(f"recovery: {e.recovered} of {e.held_out} held-out seeds in an expansion of {e.expansion} out of "
          f"{e.candidates} candidates: recall {e.recall:.1%} vs {e.expansion_share:.1%} at random, lift {e.lift:.2f}")
    return 0


def cmd_crosssell(args, settings) -> int:
    from finlake.marketing.crosssell import NEXT_BEST_TABLE, RULES_TABLE, build_crosssell

    r = build_crosssell(open_lake(settings, "build_crosssell"), new_run_id("crosssell"), as_of=args.as_of)
    print(f"{RULES_TABLE}: {r.rules} rules at {r.as_of}")
    print(f"{NEXT_BEST_TABLE}: {r.recommendations} recommendations for {r.customers} customers at {r.as_of}")
    return 0


def cmd_campaigns(args, settings) -> int:
    from rich.console import Console
    from rich.table import Table

    from finlake.marketing.evaluation import evaluate_campaigns

    rows = [r.asDict() for r in evaluate_campaigns(open_lake(settings, "evaluate_campaigns"), new_run_id("campaigns"))
            .orderBy("start_date", "campaign_id").collect()]
    if args.json:
        json.dump(rows, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    table = Table(title="campaign results (uplift = treated - control conversion, 95% CI)")
    for col in ("campaign", "product", "channel", "start", "treated", "control", "response", "conv treated",
                "conv control", "uplift [95% CI]"):
        table.add_column(col)
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    for r in rows:
        ci = "-" if r["uplift"] is None else (f"{100 * r['uplift']:+.1f}pp [{100 * r['uplift_ci_low']:+.1f}, "
                                              f"{100 * r['uplift_ci_high']:+.1f}]{' *' if r['significant'] else ''}")
        table.add_row(r["campaign_id"], str(r["product_id"] or "-"), str(r["channel"] or "-"), str(r["start_date"]),
                      str(r["treated"]), str(r["control"]), pct(r["response_rate"]), pct(r["treated_conversion_rate"]),
                      pct(r["control_conversion_rate"]), ci)
    Console().print(table)
    return 0
