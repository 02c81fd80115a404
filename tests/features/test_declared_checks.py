"""The feature gate's declared checks on tiny explicit data: ranges, not-null, the churn window.

One Spark aggregate per table computes them (``declared_column_results``); the build records
them in quality.results as blocking checks (tests/features/test_build.py runs that end to end).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from pyspark.sql import types as T

from finlake.catalog import Catalog, default_catalog
from finlake.errors import QualityGateError
from finlake.features.build import CHURN_LABELS, ROW_CHECKS, check_declared_columns, declared_column_results
from finlake.features.labels import CHURN_DEFINITION, label_window_holds
from finlake.lake import Lake
from finlake.settings import load_settings

RANGED = """
table: features.ranged
description: test table
primary_key: [id]
columns:
  - {name: id, type: string, nullable: false}
  - {name: share, type: double, min: 0, max: 1}
  - {name: hour, type: int, nullable: false, min: 0, max: 23}
  - {name: amount, type: double, nullable: false, min: 0}
  - {name: trend, type: double, nullable: false}
"""


def by_name(results):
    return {r["name"]: r for r in results}


def frame(spark, rows, schema):
    """``rows`` as a DataFrame of ``schema`` with every column nullable, as a computed feature
    frame is (Spark would fold a null test on a column it knows to be non-nullable)."""
    return spark.createDataFrame(rows, T.StructType([T.StructField(f.name, f.dataType, True) for f in schema]))


@pytest.fixture
def ranged(tmp_path):
    path = tmp_path / "features" / "ranged.yaml"
    path.parent.mkdir()
    path.write_text(RANGED)
    return Catalog.load(tmp_path).get("features.ranged")


def test_each_broken_range_is_named_with_its_row_count_and_the_value_furthest_outside(spark, ranged):
    nan = float("nan")
    df = frame(spark, [
        ("lower-ends", 0.0, 0, 0.0, -5.0),    # both ends of a range are inside it
        ("upper-ends", 1.0, 23, 1e9, 5.0),
        ("null-share", None, 5, 1.0, 0.0),    # share may be null: a null is not out of range
        ("too-high", 1.5, 24, -3.0, nan),     # trend declares no range: NaN and negatives are fine
        ("nan", nan, 7, -7.0, 0.0),           # a NaN is outside every range
    ], ranged.schema)
    results = by_name(declared_column_results(ranged, df))
    assert results["declared_not_null_columns"]["success"]
    check = results["declared_column_ranges"]
    assert not check["success"]
    assert check["column"] == "share, hour, amount"
    assert check["unexpected_count"] == 2 and check["unexpected_percent"] == 40.0
    observed = check["observed"]
    assert observed["hour"] == {"range": "[0, 23]", "rows": 1, "example": 24}
    assert observed["amount"] == {"range": ">= 0", "rows": 2, "example": -7.0}
    assert observed["share"] == {"range": "[0, 1]", "rows": 2, "example": 1.5}  # the NaN counts, 1.5 shows


def test_a_nan_alone_is_shown_as_the_example(spark, ranged):
    df = frame(spark, [("a", float("nan"), 1, 1.0, 0.0)], ranged.schema)
    share = by_name(declared_column_results(ranged, df))["declared_column_ranges"]["observed"]["share"]
    assert share["rows"] == 1 and share["example"] != share["example"]  # NaN


def test_nulls_and_ranges_are_checked_in_the_same_pass(spark, ranged):
    df = frame(spark, [("a", 0.5, None, 1.0, 0.0), ("b", 0.5, 3, 1.0, None)], ranged.schema)
    results = by_name(declared_column_results(ranged, df))
    assert results["declared_not_null_columns"]["observed"] == {"hour": 1, "trend": 1}
    assert results["declared_column_ranges"]["success"]
    assert results["declared_column_ranges"]["observed"] == "every value in range in 3 columns"


D = date(2024, 4, 1)
END = D + timedelta(days=90)


def label(customer_id, churned, churn_date, window_end=END):
    return (customer_id, D, churned, churn_date, window_end, CHURN_DEFINITION, "run")


LABELS = [
    label("ok-churned-on-the-cutoff", True, D),
    label("ok-churned-on-the-last-day", True, END - timedelta(days=1)),
    label("ok-stays", False, None),
    label("bad-churned-on-window-end", True, END),  # the window is [as_of, as_of + 90 days)
    label("bad-churned-before-the-cutoff", True, D - timedelta(days=1)),
    label("bad-churned-without-a-date", True, None),
    label("bad-stays-with-a-date", False, D + timedelta(days=10)),
    label("bad-window-end", False, None, END + timedelta(days=1)),
]


def test_a_churn_date_outside_its_window_breaks_the_label_window_check(spark):
    spec = default_catalog().get(CHURN_LABELS)
    df = frame(spark, LABELS, spec.schema)
    assert sorted(r.customer_id for r in df.where(~label_window_holds()).collect()) == sorted(
        row[0] for row in LABELS if row[0].startswith("bad"))
    check = by_name(declared_column_results(spec, df, ROW_CHECKS[CHURN_LABELS]))["churn_label_window"]
    assert not check["success"] and check["unexpected_count"] == 5
    assert check["observed"]["example"] == {"customer_id": "bad-churned-before-the-cutoff", "as_of": D,
                                            "churned": True, "churn_date": D - timedelta(days=1), "window_end": END}


def test_a_broken_churn_label_window_blocks_and_is_on_record(spark, tmp_path):
    settings = load_settings(overrides={"home": str(tmp_path), "lake_engine": "bridge", "spark_master": "local[2]"},
                             environ={})
    lake = Lake(spark, settings)
    from finlake.quality import QualityGate

    gate = QualityGate(lake, settings, run_id="run-churn")
    df = frame(spark, LABELS, lake.spec(CHURN_LABELS).schema)
    check_declared_columns(gate, lake, CHURN_LABELS, df)
    with pytest.raises(QualityGateError, match="churn_label_window"):
        gate.raise_if_blocking()
    rows = {r.expectation: r for r in lake.read("quality.results").where("run_id = 'run-churn'").collect()}
    assert rows["declared_not_null_columns"].success
    assert not rows["churn_label_window"].success and rows["churn_label_window"].severity == "blocking"
    assert rows["churn_label_window"].unexpected_count == 5
    example = json.loads(rows["churn_label_window"].observed_value)["example"]
    assert example["customer_id"] == "bad-churned-before-the-cutoff"
