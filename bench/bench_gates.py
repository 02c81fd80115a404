"""Gate-cost micro-benchmark: what a quality gate costs on a 1M-row DataFrame.

Builds a persisted DataFrame shaped like cleaned.transactions (1M rows by default), a realistic
15-expectation suite (3 of them quarantine rules), and times one gate the way a job runs it:
``split`` (row-level rules), ``check`` (GX validation, results commit, Data Docs build), and the
quarantine write. It also counts the Spark jobs GX runs, and compares the result format finlake
uses (SUMMARY without unexpected-value samples) with GX's default SUMMARY (20 samples per
column-map expectation, one extra Spark job each).

    python bench/bench_gates.py [--rows 1000000] [--repeat 2] [--out bench/results/gates.json]

Figures depend on the machine and on what else runs on it; rerun on a quiet machine to compare.
The ingest benchmark reports the gate's share of a whole ingest job.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TABLE_YAML = """\
table: cleaned.bench_txn
description: Benchmark table shaped like cleaned.transactions.
partition_by: []
primary_key: [txn_id]
columns:
  - {name: txn_id, type: string}
  - {name: account_id, type: string}
  - {name: customer_id, type: string}
  - {name: ts, type: timestamp}
  - {name: business_date, type: date}
  - {name: amount, type: "decimal(18,2)"}
  - {name: currency, type: string}
  - {name: direction, type: string}
  - {name: channel, type: string}
  - {name: mcc, type: string}
  - {name: city_code, type: string}
  - {name: is_international, type: boolean}
"""


def _exp(etype: str, severity: str = "blocking", quarantine: bool = False, **kwargs) -> dict:
    meta = {"severity": severity, "owner": "bench", "rationale": "benchmark rule"}
    if quarantine:
        meta["quarantine"] = True
    return {"type": etype, "kwargs": kwargs, "meta": meta}


SUITE = [
    _exp("expect_table_columns_to_match_set", column_set=[
        "txn_id", "account_id", "customer_id", "ts", "business_date", "amount", "currency", "direction",
        "channel", "mcc", "city_code", "is_international"]),
    _exp("expect_table_row_count_to_be_between", min_value=1),
    _exp("expect_column_values_to_not_be_null", quarantine=True, column="txn_id"),
    _exp("expect_column_values_to_match_regex", quarantine=True, column="txn_id", regex="^T[0-9]{14}$"),
    _exp("expect_column_values_to_be_in_set", quarantine=True, column="currency", value_set=["CNY", "USD", "EUR", "HKD", "JPY"]),
    _exp("expect_column_values_to_be_unique", column="txn_id"),
    _exp("expect_column_values_to_not_be_null", column="account_id"),
    _exp("expect_column_values_to_not_be_null", column="customer_id"),
    _exp("expect_column_values_to_not_be_null", column="ts"),
    _exp("expect_column_values_to_be_between", column="amount", min_value=0.01, max_value=10000000),
    _exp("expect_column_values_to_be_in_set", column="direction", value_set=["debit", "credit"]),
    _exp("expect_column_values_to_be_in_set", column="channel",
         value_set=["mobile_app", "online", "pos", "atm", "branch_counter", "third_party_pay"]),
    _exp("expect_column_values_to_match_regex", severity="warning", column="mcc", regex="^[0-9]{4}$"),
    _exp("expect_column_values_to_not_be_null", severity="warning", column="city_code", mostly=0.99),
    _exp("expect_column_mean_to_be_between", severity="warning", column="amount", min_value=1, max_value=100000),
]


def build_frame(spark, rows: int):
    from pyspark.sql import functions as F

    channels = F.array(*[F.lit(c) for c in ["mobile_app", "online", "pos", "atm", "branch_counter", "third_party_pay"]])
    currencies = F.array(*[F.lit(c) for c in ["CNY", "CNY", "CNY", "USD", "EUR", "HKD", "JPY"]])
    df = spark.range(rows).select(
        F.when(F.col("id") % 50000 == 7, F.lit(None)).otherwise(F.format_string("T%014d", F.col("id"))).alias("txn_id"),
        F.format_string("A%09d", F.col("id") % 200000).alias("account_id"),
        F.format_string("C%09d", F.col("id") % 100000).alias("customer_id"),
        F.timestamp_seconds(F.lit(1704067200) + F.col("id") * 17).alias("ts"),
        F.to_date(F.timestamp_seconds(F.lit(1704067200) + F.col("id") * 17)).alias("business_date"),
        (F.rand(1) * 5000 + 0.01).cast("decimal(18,2)").alias("amount"),
        F.when(F.col("id") % 40000 == 3, F.lit("XXX")).otherwise(currencies[F.col("id") % 7]).alias("currency"),
        F.when(F.col("id") % 3 == 0, "credit").otherwise("debit").alias("direction"),
        channels[F.col("id") % 6].alias("channel"),
        F.format_string("%04d", F.col("id") % 9000 + 1000).alias("mcc"),
        F.when(F.col("id") % 500 == 0, F.lit(None)).otherwise(F.format_string("%06d", F.col("id") % 3000)).alias("city_code"),
        (F.col("id") % 20 == 0).alias("is_international"),
    )
    df = df.persist()
    df.count()
    return df


def write_declarations(work: Path) -> tuple[Path, Path]:
    """The bench table's catalog (with quality.results and its quarantine table) and its suite,
    under ``work``; returns (schemas dir, suite file)."""
    from finlake.catalog import Catalog
    from finlake.quality.quarantine import render_declaration

    schemas = work / "schemas"
    for layer in ("quality", "cleaned", "quarantine"):
        (schemas / layer).mkdir(parents=True)
    shutil.copy(ROOT / "schemas" / "quality" / "results.yaml", schemas / "quality" / "results.yaml")
    (schemas / "cleaned" / "bench_txn.yaml").write_text(TABLE_YAML, encoding="utf-8")
    (schemas / "quarantine" / "bench_txn.yaml").write_text(
        render_declaration(Catalog.load(schemas).get("cleaned.bench_txn")), encoding="utf-8")
    suite_file = work / "expectations" / "cleaned" / "bench_txn.json"
    suite_file.parent.mkdir(parents=True)
    suite_file.write_text(json.dumps({"name": "cleaned.bench_txn", "expectations": SUITE}), encoding="utf-8")
    return schemas, suite_file


def jobs_in(spark, group: str) -> int:
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


def time_gate(spark, lake, settings, expectations_dir, df, run_id: str) -> dict:
    from finlake.lake import WriteTxn
    from finlake.quality import QualityGate

    sc = spark.sparkContext
    gate = QualityGate(lake.for_job("bench", run_id), settings, run_id=run_id, expectations_dir=expectations_dir)
    out = {}
    sc.setJobGroup(f"{run_id}-split", "split")
    t0 = time.perf_counter()
    good, bad = gate.split(df, "cleaned.bench_txn")
    out["split_s"] = time.perf_counter() - t0
    sc.setJobGroup(f"{run_id}-check", "check")
    t0 = time.perf_counter()
    report = gate.check(good, "cleaned.bench_txn")
    out["check_s"] = time.perf_counter() - t0
    out["check_jobs"] = jobs_in(spark, f"{run_id}-check")
    out.update({f"check_{k}": v for k, v in report.timings.items()})
    sc.setJobGroup(f"{run_id}-quarantine", "quarantine")
    t0 = time.perf_counter()
    result = gate.quarantine(bad, "cleaned.bench_txn", txn=WriteTxn("bench", int(time.time())))
    out["quarantine_s"] = time.perf_counter() - t0
    out["quarantined_rows"] = result.rows_written if result else 0
    out["gate_s"] = out["split_s"] + out["check_s"] + out["quarantine_s"]
    out["passed"] = report.passed
    return out


def time_gx_only(spark, settings, suite, df, group: str) -> dict:
    """GX validation alone (no results commit, no Data Docs) with the current result format."""
    from finlake.quality import gx_runner

    spark.sparkContext.setJobGroup(group, "gx")
    t0 = time.perf_counter()
    gx_runner.validate(df, suite, settings.quality_root, group, {})
    return {"gx_s": time.perf_counter() - t0, "gx_jobs": jobs_in(spark, group)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "gates.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from finlake.catalog import Catalog
    from finlake.lake import Lake
    from finlake.quality import gx_runner, load_suite
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    work = Path(tempfile.mkdtemp(prefix="bench_gates_"))
    try:
        schemas, suite_file = write_declarations(work)
        expectations_dir = work / "expectations"

        settings = load_settings(overrides={
            "home": str(work / "home"), "lake_engine": "bridge", "spark_master": "local[2]",
            "spark_conf": {"spark.driver.memory": "2g", "spark.sql.shuffle.partitions": "4"}}, environ={})
        spark = get_spark(settings, "bench-gates")
        lake = Lake(spark, settings, catalog=Catalog.load(schemas))
        df = build_frame(spark, args.rows)
        suite = load_suite(suite_file, "cleaned.bench_txn")

        time_gate(spark, lake, settings, expectations_dir, df, "warmup")  # JVM, GX imports, first commit
        runs = [time_gate(spark, lake, settings, expectations_dir, df, f"run-{i}") for i in range(args.repeat)]

        formats = {}
        for label, fmt in (("finlake SUMMARY, no samples", gx_runner.RESULT_FORMAT),
                           ("GX default SUMMARY, 20 samples", {"result_format": "SUMMARY"})):
            gx_runner.RESULT_FORMAT = fmt
            formats[label] = [time_gx_only(spark, settings, suite, df, f"fmt-{len(formats)}-{i}") for i in range(args.repeat)]

        def median(key, items):
            return round(statistics.median(r[key] for r in items), 2)

        summary = {
            "rows": args.rows,
            "expectations": len(SUITE),
            "quarantine_rules": sum(1 for e in SUITE if e["meta"].get("quarantine")),
            "gate_s_median": median("gate_s", runs),
            "split_s_median": median("split_s", runs),
            "check_s_median": median("check_s", runs),
            "quarantine_s_median": median("quarantine_s", runs),
            "check_parts_s_median": {k: median(f"check_{k}", runs) for k in ("validate_s", "record_s", "data_docs_s")},
            "check_spark_jobs": runs[-1]["check_jobs"],
            "quarantined_rows": runs[-1]["quarantined_rows"],
            "gx_only": {label: {"gx_s_median": median("gx_s", items), "spark_jobs": items[-1]["gx_jobs"]}
                        for label, items in formats.items()},
            "runs": runs,
            "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
