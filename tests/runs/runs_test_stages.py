"""Tiny real stages for the runner tests: each writes a small Delta table through the lake.

A stage fails when the test asked it to: a file ``<home>/fail_<stage>`` holding the name of the
error to raise (``quality``, ``infrastructure`` or ``bug``). Imported by path from the test
registry (``runs_test_stages:ingest_events``), like the real stages.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pyspark.sql import functions as F

from finlake.errors import InfrastructureError, QualityGateError
from finlake.lake import WriteTxn
from finlake.runs import JobSpec, Registry, StageSpec

ERRORS = {
    "quality": QualityGateError("expectation 'amount_positive' failed on cleaned.events: 1 row"),
    "infrastructure": InfrastructureError("executor lost"),
    "bug": KeyError("amount"),
}


def _maybe_fail(settings, stage: str) -> None:
    marker = Path(settings.home) / f"fail_{stage}"
    if marker.exists():
        raise ERRORS[marker.read_text().strip()]


def ingest_events(lake, settings, run_id: str, as_of: date):
    """Land three events for as_of into raw.events and note the batch in ops.ingest_ledger."""
    _maybe_fail(settings, "ingest")
    day = int(as_of.strftime("%Y%m%d"))
    rows = [(day * 10 + i, as_of, f"c{i % 2}", float(i + 1)) for i in range(3)]
    df = lake.spark.createDataFrame(rows, "event_id bigint, day date, customer string, amount double")
    lake.append("raw.events", df, txn=WriteTxn("ingest:events", day))
    batch = lake.spark.createDataFrame(
        [("events", as_of.isoformat(), "raw.events", "pending", None, run_id),
         ("events", as_of.isoformat(), "raw.events", "ingested", 3, run_id)],
        "source string, batch string, raw_table string, status string, rows bigint, run_id string")
    lake.append("ops.ingest_ledger", batch, txn=WriteTxn("ingest:ledger", day))
    return {"rows_in": 3}


def clean_events(lake, settings, as_of: date):
    _maybe_fail(settings, "clean")
    day = int(as_of.strftime("%Y%m%d"))
    cleaned = lake.read("raw.events").filter(F.col("amount") > 0).dropDuplicates(["event_id"])
    lake.overwrite("cleaned.events", cleaned, txn=WriteTxn("clean:events", day))


def count_events(lake, settings, as_of: date):
    _maybe_fail(settings, "features")
    day = int(as_of.strftime("%Y%m%d"))
    counts = (lake.read("cleaned.events").groupBy("customer")
              .agg(F.count("*").alias("events"), F.sum("amount").alias("amount")))
    lake.overwrite("features.event_counts", counts, txn=WriteTxn("features:counts", day))


def never_due(lake, settings, as_of, ledger):
    return False, "trained recently"


def train_models(lake):
    raise AssertionError("train is not due in these tests and must not run")


TEST_REGISTRY = Registry(stages=(
    StageSpec("ingest", (JobSpec("ingest_events", "runs_test_stages:ingest_events"),)),
    StageSpec("clean", (JobSpec("clean_events", "runs_test_stages:clean_events", reads=("raw.*",)),)),
    StageSpec("features", (JobSpec("count_events", "runs_test_stages:count_events", reads=("cleaned.*",)),)),
    StageSpec("train", (JobSpec("train", "runs_test_stages:train_models"),), due="runs_test_stages:never_due"),
    StageSpec("audiences", (JobSpec("build_audiences", "finlake_not_yet_written.audiences:build"),)),
))


def fail_next(settings, stage: str, kind: str) -> Path:
    """Make ``stage`` fail with error ``kind`` the next time it runs (until the marker is removed)."""
    marker = Path(settings.home) / f"fail_{stage}"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(kind)
    return marker
