"""Benchmark: the bridge engine's append against a plain Spark Parquet write, and a 1% merge.

    .venv/bin/python bench/bench_lake.py                 # 10 million rows
    .venv/bin/python bench/bench_lake.py --rows 1000000  # a quicker run

The same persisted DataFrame is written both ways, alternately, ``--repeat`` times, so both
measure the write and not the data generation. The bridge's time is split into what Spark
spends writing the staged files and what the bridge adds (footer stats, moves, the delta-rs
commit). Then a merge updates 1% of the rows (keys spread over every file, so every file is
rewritten). Goal: bridge append within 1.3x of plain Parquet. Last, 15 rows built in Python
(what a gate's results or a ledger step are) are appended ``--small-appends`` times each way,
alternately: as a DataFrame with ``lake.append`` and as dicts with ``lake.append_rows``.
Figures are printed and written to ``bench/results/lake.json``; they are only comparable between
runs on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from statistics import median

from pyspark import StorageLevel
from pyspark.sql import functions as F

from finlake.catalog import Catalog
from finlake.lake import Lake, bridge
from finlake.settings import load_settings
from finlake.spark import get_spark

log = logging.getLogger("bench_lake")

TABLE = "bench.events"
SCHEMA = """
table: {name}
description: Benchmark rows shaped like card transactions.
primary_key: [event_id]
columns:
  - {name: event_id, type: bigint, nullable: false}
  - {name: customer_id, type: string}
  - {name: amount, type: "decimal(18,2)"}
  - {name: booked_at, type: timestamp}
  - {name: booking_date, type: date}
  - {name: channel, type: string}
"""


class PhaseTimer:
    """Cumulative wall time of the bridge's own steps, by wrapping them in this process."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def wrap(self, owner, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, attr, timed)

    @contextmanager
    def fresh(self):
        self.seconds = {}
        yield self.seconds


def generate(spark, rows: int, files: int):
    return (
        spark.range(rows, numPartitions=files)
        .select(
            F.col("id").alias("event_id"),
            F.concat(F.lit("C"), F.lpad((F.col("id") % 250_000).cast("string"), 8, "0")).alias("customer_id"),
            ((F.col("id") * 7919 % 1_000_000) / 100).cast("decimal(18,2)").alias("amount"),
            F.timestamp_seconds(F.lit(1_767_225_600) + F.col("id") % 31_536_000).alias("booked_at"),
            F.date_add(F.lit("2026-01-01").cast("date"), (F.col("id") % 365).cast("int")).alias("booking_date"),
            F.element_at(F.array(F.lit("card"), F.lit("online"), F.lit("atm"), F.lit("branch")),
                         (F.col("id") % 4 + 1).cast("int")).alias("channel"),
        )
    )


def small_appends(lake, times: int) -> tuple[list[float], list[float]]:
    """Alternate appends of the same 15 driver rows: as a DataFrame, then with ``append_rows``."""
    spec = lake.spec("bench.small")
    rows = [{"event_id": i, "customer_id": f"C{i:08d}", "amount": Decimal(i) / 100,
             "booked_at": datetime(2026, 1, 1, tzinfo=timezone.utc), "booking_date": date(2026, 1, 1), "channel": "card"}
            for i in range(15)]
    lake.append_rows("bench.small", rows)  # creates the table, warms delta-rs and pyarrow
    as_frame, as_rows = [], []
    for _ in range(times):
        start = time.perf_counter()
        lake.append("bench.small", lake.spark.createDataFrame([tuple(r[f] for f in spec.schema.fieldNames()) for r in rows],
                                                             spec.schema))
        as_frame.append(time.perf_counter() - start)
        start = time.perf_counter()
        lake.append_rows("bench.small", rows)
        as_rows.append(time.perf_counter() - start)
    assert lake.info("bench.small").rows == 15 * (2 * times + 1)
    return as_frame, as_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=8, help="partitions of the DataFrame = files per write")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--small-appends", type=int, default=20, help="appends of 15 driver rows, each way")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "lake.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("finlake").setLevel(logging.WARNING)

    work = Path(tempfile.mkdtemp(prefix="bench-lake-"))
    (work / "schemas" / "bench").mkdir(parents=True)
    for table in ("events", "warmup", "small"):  # warmup: an untimed first write, so JIT and caches are warm
        (work / "schemas" / "bench" / f"{table}.yaml").write_text(SCHEMA.replace("{name}", f"bench.{table}"))
    settings = load_settings(overrides={
        "home": str(work / "home"), "lake_engine": "bridge", "spark_master": args.master,
        "spark_conf": {"spark.driver.memory": "2g"},
    })
    spark = get_spark(settings, "bench-lake")
    lake = Lake(spark, settings, Catalog.load(work / "schemas")).for_job("bench")
    timer = PhaseTimer()
    timer.wrap(bridge.BridgeEngine, "_stage", "stage (Spark write + footers + moves)")
    timer.wrap(bridge.pq, "read_metadata", "footer reads")
    timer.wrap(bridge.BridgeEngine, "_commit", "commit (lock + delta-rs)")
    load_before = os.getloadavg()

    df = generate(spark, args.rows, args.files).persist(StorageLevel.MEMORY_AND_DISK)
    start = time.perf_counter()
    assert df.count() == args.rows
    log.info("generated and cached %d rows in %.1fs", args.rows, time.perf_counter() - start)

    df.limit(10_000).write.parquet(f"file://{work}/plain-warmup")
    lake.append("bench.warmup", df.limit(10_000))

    plain_s, bridge_s, phases = [], [], []
    for i in range(args.repeat):
        target = work / f"plain-{i}"
        start = time.perf_counter()
        df.write.mode("error").parquet(f"file://{target}")
        plain_s.append(time.perf_counter() - start)
        shutil.rmtree(target)
        with timer.fresh() as seconds:
            start = time.perf_counter()
            result = lake.overwrite(TABLE, df) if i else lake.append(TABLE, df)
            bridge_s.append(time.perf_counter() - start)
            phases.append(dict(seconds))
        assert result.rows_written == args.rows, result
        log.info("round %d: plain parquet %.2fs, bridge %s %.2fs %s", i + 1, plain_s[-1], result.operation,
                 bridge_s[-1], {k: round(v, 2) for k, v in phases[-1].items()})
    info = lake.info(TABLE)

    # A merge updating 1% of the rows: every 100th key, spread over all files.
    updates = df.filter(F.col("event_id") % 100 == 0).withColumn("amount", (F.col("amount") + F.lit(1)).cast("decimal(18,2)"))
    updated = args.rows // 100 + (1 if args.rows % 100 else 0)
    with timer.fresh() as seconds:
        start = time.perf_counter()
        merged = lake.merge(TABLE, updates)
        merge_s = time.perf_counter() - start
        merge_phases = dict(seconds)
    after = lake.info(TABLE)
    assert after.rows == args.rows, after
    log.info("merge of %d updated rows: %.2fs %s", updated, merge_s, {k: round(v, 2) for k, v in merge_phases.items()})

    small_df_s, small_rows_s = small_appends(lake, args.small_appends)
    log.info("15-row appends: DataFrame median %.3fs, append_rows median %.3fs", median(small_df_s), median(small_rows_s))

    plain, bridged = min(plain_s), min(bridge_s)
    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows": args.rows,
        "files_per_write": info.files,
        "table_bytes": info.bytes,
        "master": args.master,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 1) for x in load_before],
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        "plain_parquet_seconds": [round(s, 2) for s in plain_s],
        "bridge_append_seconds": [round(s, 2) for s in bridge_s],
        "bridge_phases_seconds": [{k: round(v, 3) for k, v in p.items()} for p in phases],
        "bridge_vs_plain_ratio": round(bridged / plain, 3),
        "goal_ratio": 1.3,
        "merge_rows_updated": updated,
        "merge_seconds": round(merge_s, 2),
        "merge_phases_seconds": {k: round(v, 3) for k, v in merge_phases.items()},
        "merge_files_added": merged.files_added,
        "merge_files_removed": merged.files_removed,
        "small_append_rows": 15,
        "small_append_dataframe_seconds": [round(s, 3) for s in small_df_s],
        "small_append_rows_seconds": [round(s, 3) for s in small_rows_s],
        "small_append_dataframe_median": round(median(small_df_s), 3),
        "small_append_rows_median": round(median(small_rows_s), 3),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"rows                  {args.rows:,} ({info.files} files, {info.bytes / 1e6:,.1f} MB)")
    print(f"plain df.write.parquet best {plain:.2f}s  runs {report['plain_parquet_seconds']}")
    print(f"bridge lake.append     best {bridged:.2f}s  runs {report['bridge_append_seconds']}")
    print(f"bridge / plain         {report['bridge_vs_plain_ratio']:.3f} (goal <= 1.3)")
    print(f"merge updating 1%      {merge_s:.2f}s ({updated:,} rows, +{merged.files_added}/-{merged.files_removed} files)")
    print(f"15 driver rows         lake.append(DataFrame) median {median(small_df_s):.3f}s, "
          f"lake.append_rows median {median(small_rows_s):.3f}s ({args.small_appends} each)")
    print(f"written to {args.output}")
    df.unpersist()
    spark.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
