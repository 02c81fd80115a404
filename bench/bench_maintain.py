"""Benchmark table maintenance: what a year of daily small appends costs readers, and what
``finlake maintain`` gives back.

    .venv/bin/python bench/bench_maintain.py                 # a year: 365 days x 30 gates
    .venv/bin/python bench/bench_maintain.py --days 90

In a fresh lake under ``/tmp/finlake_bench/home_maintain`` it appends, day by day, what a daily
pipeline appends to the two quality tables every later run reads:

- ``quality.results``: one append per gate (``--gates`` a day, 12 check rows each); scanned
  whole by ``finlake quality`` (which collects each table's latest run) and ``--history``;
- ``quality.accounting``: one append of 13 rows per clean run; read by every clean run's plan.

The history is written with delta-rs, one commit per append as the gates commit, into tables
created by finlake (about 45 minutes for a year). The script then times, in one process, the
reads before and after ``maintain_lake`` (compaction, then
vacuum with retention 0: a scratch lake has no reader of older versions), each the fastest of
three, and the bytes of live data files and of the Delta log. Writes ``bench/results/maintain.json``.

The log is not maintenance's to shrink: Delta keeps ``delta.logRetentionDuration`` (30 days) of
it and delta-rs deletes older entries when it writes a checkpoint. This script writes a year of
commits within an hour, so none has expired and its log holds a year of checkpoints.
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

ROOT = Path("/tmp/finlake_bench/home_maintain")
ROWS_PER_GATE = 12
TABLES_PER_CLEAN_RUN = 13


def log_bytes(path: str) -> int:
    return sum(p.stat().st_size for p in Path(path, "_delta_log").rglob("*") if p.is_file())


def data_bytes_on_disk(path: str) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*.parquet") if "_delta_log" not in p.parts)


def fastest(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(min(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--gates", type=int, default=30, help="gates a day (appends to quality.results)")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake
    from pyspark.sql import functions as F

    from finlake.commands.quality import _results
    from finlake.lake import Lake
    from finlake.maintenance import maintain_lake
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    shutil.rmtree(ROOT, ignore_errors=True)
    settings = load_settings(overrides={"home": str(ROOT), "lake_engine": "bridge", "spark_master": args.master},
                             environ={})
    lake = Lake(get_spark(settings, "bench-maintain"), settings)
    results, accounting = "quality.results", "quality.accounting"
    for name in (results, accounting):
        lake.create(name)
    schemas = {n: pa.schema(DeltaTable(lake.path(n)).schema().to_arrow()) for n in (results, accounting)}

    started = time.perf_counter()
    first = dt.datetime(2024, 1, 1, 2, tzinfo=dt.timezone.utc)
    for day in range(args.days):
        at = first + dt.timedelta(days=day)
        run_id = f"run-{at:%Y%m%d}"
        for gate in range(args.gates):
            n = ROWS_PER_GATE
            write_deltalake(lake.path(results), pa.table({
                "run_id": [run_id] * n, "checked_at": [at + dt.timedelta(seconds=gate)] * n,
                "layer": ["cleaned"] * n, "table": [f"cleaned.table_{gate:02d}"] * n, "suite": ["suite.json"] * n,
                "expectation": [f"rule_{i}" for i in range(n)], "column": ["col"] * n,
                "severity": ["warning"] * n, "success": [True] * n, "observed_value": ["0"] * n,
                "unexpected_count": [0] * n, "unexpected_percent": [0.0] * n, "waived": [False] * n,
                "waiver_reason": [None] * n, "details": [None] * n, "table_version": [day] * n,
            }, schema=schemas[results]), mode="append")
        n = TABLES_PER_CLEAN_RUN
        write_deltalake(lake.path(accounting), pa.table({
            "run_id": [run_id] * n, "run_seq": [day + 1] * n, "recorded_at": [at] * n,
            "source_table": [f"raw.table_{i:02d}" for i in range(n)], "source_version": [day] * n,
            "as_of": [at.date()] * n, "batch_id": [at.date().isoformat()] * n, "business_date": [at.date()] * n,
            "target_table": [f"cleaned.table_{i:02d}" for i in range(n)], "raw_rows": [1000] * n,
            "cleaned_rows": [990] * n, "quarantined_rows": [5] * n, "duplicates_dropped": [5] * n,
            "late_resends": [0] * n, "balanced": [True] * n,
        }, schema=schemas[accounting]), mode="append")
    history_seconds = time.perf_counter() - started

    def quality_report_read():  # what 'finlake quality' collects: each table's latest run
        return _results(lake, latest_run_per_table=True)

    def full_read():  # every row, as 'finlake quality --history' reads a table's
        return _results(lake)

    def clean_plan_read():  # what each clean run's plan reads first
        return lake.read(accounting).agg(F.max("run_seq")).first()[0]

    def measure() -> dict:
        return {
            "files": {n: lake.info(n).files for n in (results, accounting)},
            "live_data_bytes": {n: lake.info(n).bytes for n in (results, accounting)},
            "data_bytes_on_disk": {n: data_bytes_on_disk(lake.path(n)) for n in (results, accounting)},
            "log_bytes": {n: log_bytes(lake.path(n)) for n in (results, accounting)},
            "quality_report_read_seconds": fastest(quality_report_read),
            "results_full_read_seconds": fastest(full_read),
            "clean_plan_read_seconds": fastest(clean_plan_read),
        }

    rows = len(full_read())
    before = measure()
    started = time.perf_counter()
    report = maintain_lake(lake, settings, "bench-maintain", tables=[results, accounting], retention_hours=0,
                           allow_short_retention=True)
    maintain_seconds = time.perf_counter() - started
    after = measure()
    assert len(full_read()) == rows and clean_plan_read() == args.days

    result = {
        "days": args.days, "gates_a_day": args.gates, "result_rows": rows,
        "history_written_seconds": round(history_seconds, 1),
        "before": before, "maintain_seconds": round(maintain_seconds, 1), "after": after,
        "maintenance": report.as_dict()["tables"],
        "load_average": os.getloadavg()[0],
    }
    out = Path(__file__).parent / "results" / "maintain.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
