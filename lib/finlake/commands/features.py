"""``finlake features``: build the feature layer from cleaned.* (docs/features.md)."""

from __future__ import annotations

from datetime import date

from finlake.entrypoints import new_run_id, open_lake


def register(subparsers, common) -> None:
    p = subparsers.add_parser(
        "features", parents=[common],
        help="build features.* (customer_monthly, churn_labels, transaction_fraud, customer_tags) for the months "
             "not built yet; exit 3: a blocking expectation failed and no table moved")
    p.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                   help="also recompute this cut-off (the first day of the date's month), replacing exactly that month; "
                        "a date past the data recomputes the latest cut-off")
    p.add_argument("--run-id", help="run id to record (default: a new one)")
    p.add_argument("--tags", metavar="FILE", help="rule tag file (default conf/tags.yaml)")
    p.set_defaults(func=cmd_features)


def cmd_features(args, settings) -> int:
    from finlake.features import build_features

    run_id = args.run_id or new_run_id("features")
    report = build_features(open_lake(settings, "build_features"), settings, run_id, as_of=args.as_of,
                            tags_file=args.tags)
    print(report.summary())
    return 0
