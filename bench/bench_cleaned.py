"""Benchmark the cleaned build against the scan floor, and the cost of the HMAC tokens.

    .venv/bin/python bench/bench_cleaned.py --scale 0.1
    .venv/bin/python bench/bench_cleaned.py --scale 1 --driver-memory 4g
    .venv/bin/python bench/bench_cleaned.py --scale 0.1 --home bench/work/scale-0.1   # a bench_pipeline lake

Generates the landing files once per scale (seed 7, default defect rate) under
``/tmp/finlake_bench/landing_s<scale>`` and ingests them once into
``/tmp/finlake_bench/home_cleaned_s<scale>`` (both reused: ingest lands only what is missing). Each run then drops the
cleaned, quarantine and quality tables and, in one process:

- **floor**: a plain Spark scan of every raw table the build reads (all columns, ``noop`` sink),
  the fastest of three (the issue's floor);
- **copy floor**: the same scan written out once as Parquet to a scratch folder, the faster of
  two: the least any build that keeps its output must pay (a reference for the team's choice of
  floor, not the issue's goal);
- **build**: ``build_cleaned`` over all batches (clean, dedup, tokens, gates, writes);
- **daily**: what a scheduled run pays for one ordinary day: the layer is rebuilt up to the day
  before (``backfill_before_seconds``), then that day's batches alone are timed;
- **hmac**: the token ``pandas_udf`` vs Spark's built-in unkeyed ``sha2`` on the same column of
  one million phone-shaped strings (the measured reason for the one Python UDF).

Writes ``bench/results/cleaned_s<scale>.json``. Goal: build <= 4x floor (the scan). Timings on a shared
machine are noisy: compare runs made under the same load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path("/tmp/finlake_bench")
BENCH_KEY = "bench-key-not-a-secret-0123456789"


def drop_built_layers(settings) -> None:
    """Remove what build_cleaned writes (cleaned, quarantine, quality tables and reports); raw stays."""
    for layer in ("cleaned", "quarantine", "quality"):
        shutil.rmtree(Path(settings.table_root) / layer, ignore_errors=True)
    shutil.rmtree(settings.quality_root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--home", type=Path, help="an existing lake to use (its raw layer is kept, its cleaned, "
                        "quarantine and quality layers are rebuilt); default /tmp/finlake_bench/home_cleaned_s<scale>")
    parser.add_argument("--landing", type=Path, help="its landing root (default: <home>/landing with --home)")
    parser.add_argument("--daily-date", type=dt.date.fromisoformat,
                        help="the day whose batches the daily figure times (default: 16 days before the last)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the generator and the token UDF run Python

    from pyspark.sql import functions as F

    from finlake.cleaned import build_cleaned
    from finlake.cleaned.build import STEPS
    from finlake.cleaned.pii import hmac_token
    from finlake.generator import generate
    from finlake.ingest import ingest_all
    from finlake.lake import Lake
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    home = args.home or ROOT / f"home_cleaned_s{args.scale:g}"
    landing = args.landing or (home / "landing" if args.home else ROOT / f"landing_s{args.scale:g}")
    settings = load_settings(overrides={
        "home": str(home), "landing_root": str(landing), "lake_engine": "bridge", "spark_master": args.master,
        "spark_conf": {"spark.driver.memory": args.driver_memory}, "pii_key": BENCH_KEY}, environ={})
    spark = get_spark(settings, "bench-cleaned")
    if not (landing / "_generation.json").is_file():
        started = time.perf_counter()
        generate(spark, landing, scale=args.scale, seed=7)
        print(f"generated scale {args.scale:g} in {time.perf_counter() - started:.0f}s")
    lake = Lake(spark, settings)
    started = time.perf_counter()
    ingest_all(lake, settings, f"bench-ingest-{time.time():.0f}")  # lands only batches not landed yet
    print(f"ingest (new batches only) took {time.perf_counter() - started:.0f}s")
    drop_built_layers(settings)

    sources = sorted({s.source for s in STEPS if lake.exists(s.source)})
    raw_rows = sum(lake.read(t).count() for t in sources)  # also warms the file-system cache
    floors = []  # the fastest of three scans: one scan alone swung from 7 s to 11 s at scale 0.1
    for _ in range(3):
        started = time.perf_counter()
        for table in sources:
            lake.read(table).write.format("noop").mode("overwrite").save()
        floors.append(time.perf_counter() - started)
    floor = min(floors)
    copies = []  # read and write every raw row once: the build cannot do less and keep its output
    scratch = Path(settings.home) / "_bench_copy"
    for _ in range(2):
        shutil.rmtree(scratch, ignore_errors=True)
        started = time.perf_counter()
        for table in sources:
            lake.read(table).write.mode("overwrite").parquet(str(scratch / table))
        copies.append(time.perf_counter() - started)
    shutil.rmtree(scratch, ignore_errors=True)
    copy_floor = min(copies)

    started = time.perf_counter()
    report = build_cleaned(lake, settings, "bench-clean")
    build = time.perf_counter() - started
    started = time.perf_counter()
    rerun = build_cleaned(lake, settings, "bench-clean-rerun")
    rerun_seconds = time.perf_counter() - started

    # What a scheduled daily run pays: rebuild the layer up to the day before an ordinary day
    # (mid-month: no month-end balances) and time that day's batches alone.
    last = lake.read("raw.transactions").agg(F.max("_business_date")).first()[0]
    day = args.daily_date or last - dt.timedelta(days=16)
    drop_built_layers(settings)
    started = time.perf_counter()
    build_cleaned(lake, settings, "bench-clean-backfill", as_of=day - dt.timedelta(days=1))
    backfill_seconds = time.perf_counter() - started
    started = time.perf_counter()
    daily = build_cleaned(lake, settings, "bench-clean-daily", as_of=day)
    daily_seconds = time.perf_counter() - started
    build_cleaned(lake, settings, "bench-clean-rest")  # leave the layer whole: bench_features reads it

    phones = spark.range(1_000_000).select(F.format_string("138%08d", "id").alias("phone")).persist()
    phones.count()
    started = time.perf_counter()
    phones.select(hmac_token(settings.resolve_pii_key())("phone")).write.format("noop").mode("overwrite").save()
    hmac_seconds = time.perf_counter() - started
    started = time.perf_counter()
    phones.select(F.sha2("phone", 256)).write.format("noop").mode("overwrite").save()
    sha_seconds = time.perf_counter() - started

    result = {
        "scale": args.scale,
        "master": args.master,
        "raw_tables": len(sources),
        "raw_rows": raw_rows,
        "floor_scan_seconds": round(floor, 1),
        "floor_scans_seconds": [round(f, 1) for f in floors],
        "build_seconds": round(build, 1),
        "ratio_to_floor": round(build / floor, 2),
        "goal_ratio": 4.0,
        "copy_floor_seconds": round(copy_floor, 1),
        "copy_floor_runs_seconds": [round(c, 1) for c in copies],
        "ratio_to_copy_floor": round(build / copy_floor, 2),
        "build_phases_seconds": report.timings,
        "rerun_nothing_new_seconds": round(rerun_seconds, 1),
        "daily": {"business_date": day.isoformat(), "seconds": round(daily_seconds, 1),
                  "raw_rows": sum(t.raw_rows for t in daily.tables.values()), "phases_seconds": daily.timings,
                  "backfill_before_seconds": round(backfill_seconds, 1)},
        "accounting_balanced": report.balanced and rerun.run_seq is None and daily.balanced,
        "tables": {k: {"raw": v.raw_rows, "cleaned": v.cleaned_rows, "quarantined": v.quarantined_rows,
                       "duplicates": v.duplicates_dropped, "late_resends": v.late_resends}
                   for k, v in report.tables.items()},
        "balance_breaks": report.balance_breaks,
        "hmac_pandas_udf_seconds_per_million": round(hmac_seconds, 2),
        "builtin_sha2_seconds_per_million": round(sha_seconds, 2),
    }
    out = Path(__file__).parent / "results" / f"cleaned_s{args.scale:g}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
