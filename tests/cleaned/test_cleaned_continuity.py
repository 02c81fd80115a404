"""Balance continuity across incremental runs: a run re-checks every account-month its rows can
change (late postings, corrections, late balances) and nothing else. Tiny hand-written raw
batches, real Spark and Delta; the log ``quality.balance_continuity`` compared whole."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from finlake.cleaned import build_cleaned

pytestmark = pytest.mark.xdist_group("cleaned-continuity")

W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
FIRST17 = "11010119900307123"
RESIDENT_ID = FIRST17 + "10X98765432"[sum(int(c) * w for c, w in zip(FIRST17, W)) % 11]
D = dt.date
LOG = "run_id string, account_id string, month_end date, difference decimal(18,2)"


def land_accounts(raw, *accounts):
    """One customer and its accounts, given as (account_id, product_type), on 2023-12-01."""
    raw.batch("raw.customers", "2023-12-01", [{
        "customer_id": "C00000001", "name": "张三", "id_number": RESIDENT_ID, "phone": "13812345678", "gender": "M",
        "birth_date": "1990-03-07", "city": "Beijing", "occupation": "employee", "income_band": "5k_10k",
        "risk_tolerance": "R3", "open_date": "2020-01-15", "acquisition_channel": "online", "status": "active"}],
        _system="core")
    raw.batch("raw.accounts", "2023-12-01", [
        {"account_id": a, "customer_id": "C00000001", "product_type": p, "open_date": "2020-01-15", "status": "active"}
        for a, p in accounts])


def posting(tid, account, amount, day, direction="credit"):
    return {"txn_id": tid, "account_id": account, "customer_id": "C00000001", "card_id": None,
            "ts": f"{day} 10:00:00", "amount": amount, "currency": "CNY", "direction": direction,
            "channel": "online", "merchant_id": None, "mcc": None, "city": "Beijing", "device_id": None,
            "counterparty_bank": None, "is_international": "N"}


def balances(raw, batch, *rows):
    raw.batch("raw.balances", batch, [{"account_id": a, "month_end": m, "balance": b} for a, m, b in rows])


def logged(lake):
    return lake.read("quality.balance_continuity").select("run_id", "account_id", "month_end", "difference")


def summary(lake, run_id):
    """The observed value of the run's balance_continuity check in quality.results, or None."""
    rows = (lake.read("quality.results")
            .filter((F.col("run_id") == run_id) & (F.col("expectation") == "balance_continuity")).collect())
    assert len(rows) <= 1
    return rows[0]["observed_value"] if rows else None


def test_a_corrected_posting_re_checks_the_months_it_leaves_and_enters_and_logs_the_breaks_it_resolves(
        clean_lake, spark):
    """Run 2 re-sends three postings by key: A1's with a new amount (a break appears), A2's with
    the amount its balance expected, and A3's with the date moved from January to February (the
    January and February breaks of run 1 disappear). A re-checked account-month that broke
    before is logged continuous: the log says which run resolved it."""
    lake, settings, raw = clean_lake
    land_accounts(raw, ("A0000000001", "savings"), ("A0000000002", "savings"), ("A0000000003", "current"))
    balances(raw, "2024-01-01", ("A0000000003", "2023-12-31", "100.00"))
    raw.batch("raw.transactions", "2024-02-10", [
        posting("T00000000000001", "A0000000001", "200.00", "2024-02-10"),
        posting("T00000000000002", "A0000000002", "50.00", "2024-02-10", "debit"),
        posting("T00000000000003", "A0000000003", "30.00", "2024-01-20")])   # really on 20 February
    balances(raw, "2024-02-01", ("A0000000001", "2024-01-31", "1000.00"), ("A0000000002", "2024-01-31", "500.00"),
             ("A0000000003", "2024-01-31", "100.00"))
    balances(raw, "2024-03-01", ("A0000000001", "2024-02-29", "1200.00"), ("A0000000002", "2024-02-29", "400.00"),
             ("A0000000003", "2024-02-29", "130.00"))
    build_cleaned(lake, settings, "run-1")

    raw.batch("raw.transactions", "2024-03-05", [
        posting("T00000000000001", "A0000000001", "230.00", "2024-02-10"),
        posting("T00000000000002", "A0000000002", "100.00", "2024-02-10", "debit"),
        posting("T00000000000003", "A0000000003", "30.00", "2024-02-20")])
    second = build_cleaned(lake, settings, "run-2")
    assert second.balance_breaks == 1
    assert summary(lake, "run-2") == "1 of 4 account-months break continuity; 3 that broke before are continuous"
    assertDataFrameEqual(logged(lake), spark.createDataFrame([
        ("run-1", "A0000000002", D(2024, 2, 29), Decimal("-50.00")),
        ("run-1", "A0000000003", D(2024, 1, 31), Decimal("-30.00")),
        ("run-1", "A0000000003", D(2024, 2, 29), Decimal("30.00")),
        ("run-2", "A0000000001", D(2024, 2, 29), Decimal("-30.00")),
        ("run-2", "A0000000002", D(2024, 2, 29), Decimal("0.00")),   # resolved by run 2
        ("run-2", "A0000000003", D(2024, 1, 31), Decimal("0.00")),   # the month the posting left
        ("run-2", "A0000000003", D(2024, 2, 29), Decimal("0.00")),
    ], LOG))


def test_a_late_balance_re_checks_the_next_month_end_against_it(clean_lake, spark):
    """February was checked against December in run 1 (no January balance then, continuous over
    the two months); run 2 delivers A1's January balance, 50.00 too high: January and February
    are re-checked, each against the month end before it. A2's January break of run 1 is not
    re-checked: nothing of A2 changed."""
    lake, settings, raw = clean_lake
    land_accounts(raw, ("A0000000001", "savings"), ("A0000000002", "savings"))
    balances(raw, "2024-01-01", ("A0000000001", "2023-12-31", "1000.00"), ("A0000000002", "2023-12-31", "500.00"))
    raw.batch("raw.transactions", "2024-01-10", [posting("T00000000000001", "A0000000001", "100.00", "2024-01-10")])
    raw.batch("raw.transactions", "2024-02-10", [posting("T00000000000002", "A0000000001", "200.00", "2024-02-10")])
    balances(raw, "2024-02-01", ("A0000000002", "2024-01-31", "400.00"))   # 100.00 of postings missing
    balances(raw, "2024-03-01", ("A0000000001", "2024-02-29", "1300.00"))
    first = build_cleaned(lake, settings, "run-1")
    assert summary(lake, "run-1") == "1 of 2 account-months break continuity"

    balances(raw, "2024-03-05", ("A0000000001", "2024-01-31", "1150.00"))
    second = build_cleaned(lake, settings, "run-2")
    assert (first.balance_breaks, second.balance_breaks) == (1, 2)
    assert summary(lake, "run-2") == "2 of 2 account-months break continuity"
    assertDataFrameEqual(logged(lake), spark.createDataFrame([
        ("run-1", "A0000000002", D(2024, 1, 31), Decimal("-100.00")),
        ("run-2", "A0000000001", D(2024, 1, 31), Decimal("50.00")),
        ("run-2", "A0000000001", D(2024, 2, 29), Decimal("-50.00")),
    ], LOG))


def test_a_run_re_checks_only_the_month_ends_its_rows_can_move(clean_lake, spark):
    """One lake, four runs (each scenario's first build is the expensive part, so two share it).

    - Run 1 cleans January and February, their postings and a wealth account's January valuation.
    - Run 2 moves no checked month end: a March posting (no March balance yet), a late posting
      and a late balance of the wealth account (valuations are not checked), an FX rate. Nothing
      is re-checked, the log does not move and quality.results has no continuity result for it.
    - Run 3 delivers a late February posting of A1: it reports A1's February break, and does not
      re-check A2, whose February broke in run 1.
    - Run 4 has nothing new and writes nothing.
    """
    lake, settings, raw = clean_lake
    land_accounts(raw, ("A0000000001", "savings"), ("A0000000002", "savings"), ("A0000000009", "wealth"))
    raw.batch("raw.transactions", "2024-02-10", [
        posting("T00000000000001", "A0000000001", "200.00", "2024-02-10"),
        posting("T00000000000002", "A0000000002", "50.00", "2024-02-10", "debit")])
    balances(raw, "2024-02-01", ("A0000000001", "2024-01-31", "1000.00"), ("A0000000002", "2024-01-31", "500.00"),
             ("A0000000009", "2024-01-31", "8000.00"))
    balances(raw, "2024-03-01", ("A0000000001", "2024-02-29", "1200.00"),
             ("A0000000002", "2024-02-29", "400.00"))   # 50.00 of postings missing
    first = build_cleaned(lake, settings, "run-1")
    assert first.balance_breaks == 1
    assert summary(lake, "run-1") == "1 of 2 account-months break continuity"
    log_version = lake.version("quality.balance_continuity")

    raw.batch("raw.fx_rates", "2024-03-05",
              [{"rate_date": "2024-03-05", "currency": "USD", "cny_per_unit": "7.100000"}])
    raw.batch("raw.transactions", "2024-03-05", [
        posting("T00000000000003", "A0000000001", "70.00", "2024-03-04"),            # March: no balance yet
        posting("T00000000000004", "A0000000009", "300.00", "2024-02-20", "debit")])  # a valuation's account
    balances(raw, "2024-03-05", ("A0000000009", "2024-02-29", "8100.00"))
    second = build_cleaned(lake, settings, "run-2")
    assert second.run_seq == 2 and second.balance_breaks == 0
    assert {"cleaned.transactions", "cleaned.balances", "cleaned.fx_rates"} <= set(second.tables)
    assert summary(lake, "run-2") is None
    assert lake.version("quality.balance_continuity") == log_version
    assertDataFrameEqual(logged(lake), spark.createDataFrame(
        [("run-1", "A0000000002", D(2024, 2, 29), Decimal("-50.00"))], LOG))

    raw.batch("raw.transactions", "2024-03-06", [
        posting("T00000000000005", "A0000000001", "30.00", "2024-02-20", "debit")])   # late: February is closed
    third = build_cleaned(lake, settings, "run-3")
    assert third.balance_breaks == 1
    assert summary(lake, "run-3") == "1 of 1 account-months break continuity"
    assertDataFrameEqual(logged(lake), spark.createDataFrame([
        ("run-1", "A0000000002", D(2024, 2, 29), Decimal("-50.00")),
        ("run-3", "A0000000001", D(2024, 2, 29), Decimal("30.00")),
    ], LOG))

    versions = {n: lake.version(n) for n in ("quality.balance_continuity", "quality.results", "cleaned.balances")}
    assert build_cleaned(lake, settings, "run-4").run_seq is None
    assert {n: lake.version(n) for n in versions} == versions
