"""``finlake generate``: write synthetic bank source files into the landing folder (docs/landing.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys


def register(subparsers, common) -> None:
    p = subparsers.add_parser(
        "generate", parents=[common],
        help="write synthetic landing files (customers, accounts, transactions...) with planted truth and defects",
    )
    p.add_argument("--scale", type=float, default=0.01, help="1 = 100,000 customers, ~10M transactions a year (default 0.01)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2024, 1, 1), help="first business date (YYYY-MM-DD)")
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--landing", help="landing folder (default: the landing_root setting)")
    p.add_argument("--defect-rate", type=float, default=0.001, help="share of rows hit by each defect kind; 0 = clean")
    p.add_argument("--partitions", type=int, help="Spark partitions for generation (the files do not depend on it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings) -> int:
    from finlake.generator import generate
    from finlake.spark import get_spark

    if (settings.spark_master or "local").startswith("local"):
        # The generator runs Python on the executors; PySpark starts them with $PYSPARK_PYTHON
        # (default: whatever "python3" is on PATH), which may lack finlake and pandas.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = get_spark(settings, "finlake-generate")
    result = generate(
        spark, args.landing or settings.landing_root,
        scale=args.scale, seed=args.seed, start=args.start, months=args.months,
        defect_rate=args.defect_rate, partitions=args.partitions,
    )
    print(f"landing: {result.landing}")
    print(f"customers: {result.customers:,}  batches: {result.batches:,}  seconds: {result.seconds:.1f}")
    for source, rows in result.rows.items():
        print(f"  {source:<18} {rows:>12,} rows")
    print("defects: " + ", ".join(f"{k}={v}" for k, v in result.defects.items() if v) if any(result.defects.values()) else "defects: none")
    return 0
