"""Deduplication, SCD2 history, FX conversion and balance continuity on tiny explicit DataFrames."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pyspark.testing import assertDataFrameEqual

from finlake.cleaned.balances import check_balance_continuity
from finlake.cleaned.dedup import mark_duplicates
from finlake.cleaned.fx import convert_to_cny
from finlake.cleaned.scd2 import OPEN_END, build_scd2_changes

D = dt.date
SCD_SCHEMA = ("customer_id string, city_code string, attributes_hash string, valid_from date, valid_to date, "
              "is_current boolean")


@pytest.mark.parametrize("branch_first", [True, False], ids=["branch file read first", "core file read first"])
def test_inside_a_batch_the_last_delivered_row_of_a_key_wins_and_ties_break_on_the_row_hash(spark, branch_first):
    tie = [("C9", "2024-03-05", 7, "hash-b", "branch"), ("C9", "2024-03-05", 7, "hash-c", "core")]
    df = spark.createDataFrame([
        ("T1", "2024-03-05", 10, "h1", "a"), ("T1", "2024-03-05", 11, "h1", "a"),  # exact duplicate in one file
        ("T2", "2024-03-05", 12, "h2", "b"), ("T2", "2024-03-09", 3, "h3", "b2"),  # a re-send: not a duplicate
        # Two files of one batch, the same key on the same line number: the row hash decides,
        # whichever file Spark reads first.
        *(tie if branch_first else tie[::-1]),
        (None, "2024-03-05", 5, "h4", "x"), (None, "2024-03-05", 6, "h5", "y"),  # no key: never a duplicate
    ], "txn_id string, _batch_id string, _line_number int, _row_hash string, v string")
    marked = df.transform(mark_duplicates(["txn_id"])).select("txn_id", "_line_number", "v", "_duplicate")
    assertDataFrameEqual(marked, spark.createDataFrame([
        ("T1", 10, "a", True), ("T1", 11, "a", False), ("T2", 12, "b", False), ("T2", 3, "b2", False),
        ("C9", 7, "branch", True), ("C9", 7, "core", False), (None, 5, "x", False), (None, 6, "y", False),
    ], "txn_id string, _line_number int, v string, _duplicate boolean"))


def test_scd2_closes_the_current_version_when_an_attribute_changes(spark):
    existing = spark.createDataFrame([
        ("C1", "110000", "h1", D(2024, 1, 1), OPEN_END, True),
        ("C2", "310000", "h2", D(2024, 1, 1), OPEN_END, True),   # untouched
    ], SCD_SCHEMA)
    incoming = spark.createDataFrame([
        ("C1", "440100", "h1b", D(2024, 3, 5)),  # moved city
        ("C3", "120000", "h3", D(2024, 3, 5)),   # new customer
    ], "customer_id string, city_code string, attributes_hash string, valid_from date")
    out = build_scd2_changes(existing, incoming)
    assertDataFrameEqual(out, spark.createDataFrame([
        ("C1", "110000", "h1", D(2024, 1, 1), D(2024, 3, 5), False),
        ("C1", "440100", "h1b", D(2024, 3, 5), OPEN_END, True),
        ("C3", "120000", "h3", D(2024, 3, 5), OPEN_END, True),
    ], SCD_SCHEMA))


def test_scd2_ignores_a_re_delivery_without_change_and_chains_several_changes(spark):
    existing = spark.createDataFrame([("C1", "110000", "h1", D(2024, 1, 1), OPEN_END, True)], SCD_SCHEMA)
    incoming = spark.createDataFrame([
        ("C1", "110000", "h1", D(2024, 2, 1)),   # same attributes: not a version
        ("C1", "440100", "h2", D(2024, 3, 1)),
        ("C1", "440100", "h2", D(2024, 3, 2)),   # same again
        ("C1", "310000", "h3", D(2024, 4, 1)),
    ], "customer_id string, city_code string, attributes_hash string, valid_from date")
    out = build_scd2_changes(existing, incoming)
    assertDataFrameEqual(out, spark.createDataFrame([
        ("C1", "110000", "h1", D(2024, 1, 1), D(2024, 3, 1), False),
        ("C1", "440100", "h2", D(2024, 3, 1), D(2024, 4, 1), False),
        ("C1", "310000", "h3", D(2024, 4, 1), OPEN_END, True),
    ], SCD_SCHEMA))


def test_scd2_with_nothing_new_changes_nothing(spark):
    existing = spark.createDataFrame([("C1", "110000", "h1", D(2024, 1, 1), OPEN_END, True)], SCD_SCHEMA)
    incoming = spark.createDataFrame([("C1", "110000", "h1", D(2024, 2, 1))],
                                     "customer_id string, city_code string, attributes_hash string, valid_from date")
    assert build_scd2_changes(existing, incoming).count() == 0


def test_foreign_amounts_convert_with_the_rate_of_the_posting_date(spark):
    rates = spark.createDataFrame([(D(2024, 3, 5), "USD", Decimal("7.100000")), (D(2024, 3, 6), "USD", Decimal("7.200000"))],
                                  "rate_date date, currency string, cny_per_unit decimal(18,6)")
    txns = spark.createDataFrame([("T1", D(2024, 3, 5), Decimal("10.05"), "USD"), ("T2", D(2024, 3, 6), Decimal("10.00"), "CNY"),
                                  ("T3", D(2024, 3, 7), Decimal("1.00"), "USD")],
                                 "txn_id string, business_date date, amount decimal(18,2), currency string")
    out = txns.transform(convert_to_cny(rates)).select("txn_id", "fx_rate", "amount_cny")
    assertDataFrameEqual(out, spark.createDataFrame([
        ("T1", Decimal("7.100000"), Decimal("71.36")),  # 71.355 rounds half up
        ("T2", Decimal("1.000000"), Decimal("10.00")),
        ("T3", None, None),                             # no rate that day: null, quarantined later
    ], "txn_id string, fx_rate decimal(18,6), amount_cny decimal(18,2)"))


def test_balance_continuity_is_reported_per_account_and_month(spark):
    balances = spark.createDataFrame([
        ("A1", D(2024, 1, 31), Decimal("100.00")), ("A1", D(2024, 2, 29), Decimal("150.00")),
        ("A2", D(2024, 1, 31), Decimal("-50.00")), ("A2", D(2024, 2, 29), Decimal("-80.00")),
    ], "account_id string, month_end date, balance decimal(18,2)")
    txns = spark.createDataFrame([
        ("A1", D(2024, 2, 3), Decimal("70.00")), ("A1", D(2024, 2, 20), Decimal("-20.00")),
        ("A1", D(2024, 1, 20), Decimal("999.00")),   # before the previous month end: not counted
        ("A2", D(2024, 2, 10), Decimal("-20.00")),   # 10.00 missing: a break
    ], "account_id string, business_date date, signed_amount_cny decimal(18,2)")
    out = check_balance_continuity(balances, txns, Decimal("0.01"))
    assertDataFrameEqual(out, spark.createDataFrame([
        ("A1", D(2024, 2, 29), Decimal("100.00"), Decimal("50.00"), Decimal("150.00"), Decimal("0.00"), True),
        ("A2", D(2024, 2, 29), Decimal("-50.00"), Decimal("-20.00"), Decimal("-80.00"), Decimal("-10.00"), False),
    ], "account_id string, month_end date, previous_balance decimal(18,2), postings decimal(18,2), "
       "balance decimal(18,2), difference decimal(18,2), continuous boolean"))
