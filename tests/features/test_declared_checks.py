"""The feature gate's declared checks on tiny explicit data: ranges, not-null, the churn window,
the orderings that hold by construction (nested windows, subsets), and the GX suites leaving
not-null to the declared check.

One Spark aggregate per table computes them (``declared_column_results``); the build records
them in quality.results as blocking checks (tests/features/test_build.py runs that end to end).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import types as T

from finlake.catalog import Catalog, default_catalog
from finlake.errors import QualityGateError
from finlake.features.build import (
    CHURN_LABELS, CUSTOMER_MONTHLY, ROW_CHECKS, TRANSACTION_FRAUD, check_declared_columns, declared_column_results,
)
from finlake.features.customer import SUBSET_COUNT_ORDERINGS, WINDOW_COUNT_ORDERINGS, WINDOW_SUM_ORDERINGS
from finlake.features.fraud import VELOCITY_COUNT_ORDERING, VELOCITY_SUM_ORDERING
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


def feature_row(spec, **values):
    """A row of ``spec`` in column order: ``values`` where given, else a type's plain value."""
    plain = {"string": "x", "date": D, "timestamp": datetime(2024, 3, 9, 12), "int": 0, "double": 0.0,
             "boolean": False}
    return tuple(values[c.name] if c.name in values else plain[c.type] for c in spec.columns)


def broken_per_row(df, checks, key):
    """Each row's key -> the pairs it breaks, over ``checks``, from their own expressions."""
    rows = df.select(key, *[c.broken().alias(c.name) for c in checks]).collect()
    return {r[key]: sorted(p for c in checks for p in r[c.name]) for r in rows}


# customer_monthly: a row where every ordering holds, then one change per row that breaks one.
MONTHLY_OK = dict(txn_count_30d=2, txn_count_90d=4, txn_count_180d=6, txn_count_prev_90d=2,
                  spend_count_30d=1, spend_count_90d=2, spend_30d=10.0, spend_90d=20.0, spend_180d=30.0,
                  spend_prev_90d=10.0, login_count_30d=1, login_count_90d=2, product_view_count_30d=1,
                  product_view_count_90d=2, complaints_90d=1, complaints_180d=2, contacts_90d=0,
                  responses_90d=1, conversions_90d=1, products_held=1, accounts_open=1)
MONTHLY = {  # customer_id: (changes to MONTHLY_OK, the pairs the row breaks)
    "ok-base": ({}, []),
    "ok-all-zero": ({c: 0.0 if c.startswith("spend_") and "count" not in c else 0 for c in MONTHLY_OK}, []),
    # 0.1 + 0.2 = 0.30000000000000004 > 0.3: the same amounts added in another order (SUM_SLACK)
    "ok-sum-in-its-last-bits": ({"spend_30d": 0.1 + 0.2, "spend_90d": 0.3, "spend_180d": 0.3, "spend_prev_90d": 0.0},
                                []),
    "ok-more-responses-than-contacts": ({"contacts_90d": 0, "responses_90d": 3, "conversions_90d": 3}, []),
    "bad-txn-30-over-90": ({"txn_count_30d": 5}, ["txn_count_30d <= txn_count_90d"]),
    "bad-txn-90-over-180": ({"txn_count_90d": 7}, ["txn_count_90d <= txn_count_180d"]),
    "bad-txn-prev-over-180": ({"txn_count_prev_90d": 7}, ["txn_count_prev_90d <= txn_count_180d"]),
    "bad-spend-count-30-over-90": ({"spend_count_90d": 0}, ["spend_count_30d <= spend_count_90d"]),
    "bad-login-30-over-90": ({"login_count_30d": 3}, ["login_count_30d <= login_count_90d"]),
    "bad-view-30-over-90": ({"product_view_count_30d": 3}, ["product_view_count_30d <= product_view_count_90d"]),
    "bad-complaints-90-over-180": ({"complaints_90d": 3}, ["complaints_90d <= complaints_180d"]),
    "bad-spend-30-over-90": ({"spend_30d": 20.01}, ["spend_30d <= spend_90d"]),
    "bad-spend-90-over-180": ({"spend_90d": 30.01}, ["spend_90d <= spend_180d"]),
    "bad-spend-prev-over-180": ({"spend_prev_90d": 30.01}, ["spend_prev_90d <= spend_180d"]),
    "bad-purchases-over-postings-30": ({"txn_count_30d": 0}, ["spend_count_30d <= txn_count_30d"]),
    "bad-purchases-over-postings-90": ({"spend_count_90d": 5}, ["spend_count_90d <= txn_count_90d"]),
    "bad-conversions-over-responses": ({"conversions_90d": 2}, ["conversions_90d <= responses_90d"]),
    "bad-products-over-accounts": ({"products_held": 2}, ["products_held <= accounts_open"]),
    # A null (also a not-null failure) breaks every ordering it is in, never passes one.
    "bad-null-txn-90": ({"txn_count_90d": None}, ["spend_count_90d <= txn_count_90d", "txn_count_30d <= txn_count_90d",
                                                  "txn_count_90d <= txn_count_180d"]),
}


def test_each_window_and_subset_ordering_of_customer_monthly_is_checked_on_every_row(spark):
    spec = default_catalog().get(CUSTOMER_MONTHLY)
    checks = ROW_CHECKS[CUSTOMER_MONTHLY]
    df = frame(spark, [feature_row(spec, customer_id=k, **{**MONTHLY_OK, **changes})
                       for k, (changes, _) in MONTHLY.items()], spec.schema)
    assert broken_per_row(df, checks, "customer_id") == {k: sorted(pairs) for k, (_, pairs) in MONTHLY.items()}
    # Every pair of every chain is broken by some row above: no ordering goes untested.
    assert {p for _, pairs in MONTHLY.values() for p in pairs} == {
        f"{a} <= {b}" for c in (WINDOW_COUNT_ORDERINGS + WINDOW_SUM_ORDERINGS + SUBSET_COUNT_ORDERINGS)
        for a, b in zip(c, c[1:])}

    results = by_name(declared_column_results(spec, df, checks))
    assert results["declared_not_null_columns"]["observed"] == {"txn_count_90d": 1}
    assert {n: results[n]["unexpected_count"] for n in ("window_counts_nested", "window_sums_nested",
                                                        "subset_counts_bounded")} == {
        "window_counts_nested": 8, "window_sums_nested": 3, "subset_counts_bounded": 5}
    sums = results["window_sums_nested"]
    assert not sums["success"] and sums["observed"]["rows"] == 3
    assert sums["observed"]["example"] == {"customer_id": "bad-spend-30-over-90", "as_of": D, "spend_30d": 20.01,
                                           "spend_90d": 20.0, "spend_180d": 30.0, "spend_prev_90d": 10.0,
                                           "broken": ["spend_30d <= spend_90d"]}
    assert "spend_30d <= spend_90d <= spend_180d; spend_prev_90d <= spend_180d" in sums["details"]
    counts = results["window_counts_nested"]["observed"]["example"]
    assert (counts["customer_id"], counts["broken"]) == ("bad-complaints-90-over-180",
                                                         ["complaints_90d <= complaints_180d"])
    assert list(counts) == ["customer_id", "as_of", "txn_count_30d", "txn_count_90d", "txn_count_180d",
                            "txn_count_prev_90d", "spend_count_30d", "spend_count_90d", "login_count_30d",
                            "login_count_90d", "product_view_count_30d", "product_view_count_90d", "complaints_90d",
                            "complaints_180d", "broken"]
    subsets = results["subset_counts_bounded"]["observed"]["example"]
    assert (subsets["customer_id"], subsets["broken"]) == ("bad-conversions-over-responses",
                                                           ["conversions_90d <= responses_90d"])

    good = by_name(declared_column_results(spec, df.where("customer_id LIKE 'ok-%'"), checks))
    assert all(good[c.name]["success"] and good[c.name]["observed"] == "every row holds" for c in checks)


FRAUD_OK = dict(txn_count_1h=1, txn_count_24h=2, txn_count_7d=3, txn_sum_1h=10.0, txn_sum_24h=20.0, txn_sum_7d=30.0)
FRAUD = {  # txn_id: (changes to FRAUD_OK, the pairs the row breaks)
    "ok-base": ({}, []),
    "ok-no-earlier-posting": ({c: 0 if "count" in c else 0.0 for c in FRAUD_OK}, []),
    "ok-all-in-the-last-hour": ({"txn_count_24h": 1, "txn_count_7d": 1, "txn_sum_24h": 10.0, "txn_sum_7d": 10.0}, []),
    "bad-count-1h-over-24h": ({"txn_count_1h": 3}, ["txn_count_1h <= txn_count_24h"]),
    "bad-count-24h-over-7d": ({"txn_count_24h": 4}, ["txn_count_24h <= txn_count_7d"]),
    "bad-sum-1h-over-24h": ({"txn_sum_1h": 20.01}, ["txn_sum_1h <= txn_sum_24h"]),
    "bad-sum-24h-over-7d": ({"txn_sum_24h": 30.01}, ["txn_sum_24h <= txn_sum_7d"]),
    "bad-null-sum-7d": ({"txn_sum_7d": None}, ["txn_sum_24h <= txn_sum_7d"]),
}


def test_the_card_velocity_windows_of_transaction_fraud_must_be_nested(spark):
    spec = default_catalog().get(TRANSACTION_FRAUD)
    checks = ROW_CHECKS[TRANSACTION_FRAUD]
    df = frame(spark, [feature_row(spec, txn_id=k, card_id="K1", **{**FRAUD_OK, **changes})
                       for k, (changes, _) in FRAUD.items()], spec.schema)
    assert broken_per_row(df, checks, "txn_id") == {k: sorted(pairs) for k, (_, pairs) in FRAUD.items()}
    assert {p for _, pairs in FRAUD.values() for p in pairs} == {
        f"{a} <= {b}" for c in (VELOCITY_COUNT_ORDERING, VELOCITY_SUM_ORDERING) for a, b in zip(c, c[1:])}

    results = by_name(declared_column_results(spec, df, checks))
    counts, sums = results["window_counts_nested"], results["window_sums_nested"]
    assert not counts["success"] and counts["unexpected_count"] == 2
    assert counts["observed"]["example"] == {"txn_id": "bad-count-1h-over-24h", "card_id": "K1",
                                             "ts": datetime(2024, 3, 9, 12), "txn_count_1h": 3, "txn_count_24h": 2,
                                             "txn_count_7d": 3, "broken": ["txn_count_1h <= txn_count_24h"]}
    assert not sums["success"] and sums["unexpected_count"] == 3
    assert sums["observed"]["example"]["txn_id"] == "bad-null-sum-7d"
    assert sums["observed"]["example"]["broken"] == ["txn_sum_24h <= txn_sum_7d"]

    good = by_name(declared_column_results(spec, df.where("txn_id LIKE 'ok-%'"), checks))
    assert all(good[c.name]["success"] for c in checks)


def test_the_gx_feature_suites_leave_not_null_to_the_declared_check():
    """declared_not_null_columns checks every column declared nullable: false in one aggregate;
    a GX not-null expectation on such a column is a second Spark job for the same answer, and one
    on a column missing from the declaration or declared nullable says the two disagree."""
    catalog = default_catalog()
    tables = catalog.names("features")
    assert CUSTOMER_MONTHLY in tables and TRANSACTION_FRAUD in tables
    for table in tables:
        spec = catalog.get(table)
        nullable = {c.name: c.nullable for c in spec.columns}
        suite = json.loads(spec.suite_path.read_text(encoding="utf-8"))
        gx = [e["kwargs"]["column"] for e in suite["expectations"]
              if e["type"] == "expect_column_values_to_not_be_null"]
        assert [c for c in gx if nullable.get(c) is not True] == [], (
            f"{spec.suite_path}: not-null expectations on columns {spec.source_file} declares nullable: false "
            f"(declared_not_null_columns checks them) or does not declare")
