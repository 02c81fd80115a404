"""The gate contract: validate before commit, block or warn, quarantine, waivers, results on record.

Real GX validations on tiny DataFrames, real Delta tables; quality.results is read back with the
``deltalake`` package (an independent reader), never through finlake.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake

from finlake.errors import QualityGateError
from finlake.lake import WriteTxn
from finlake.quality import QualityGate

from quality_helpers import ACCOUNTS_ROWS, expectation, write_suite

TABLE = "cleaned.qt_accounts"


def results_table(qsettings) -> pl.DataFrame:
    """quality.results as an independent reader sees it."""
    return pl.from_arrow(DeltaTable(qsettings.table_path("quality", "results")).to_pyarrow_table())


def load_job(lake, qsettings, expectations_dir, df, run_id: str):
    """The caller pattern every layer's job follows: gate, then write only if the gate passed."""
    gate = QualityGate(lake.for_job("load", run_id), qsettings, run_id=run_id, expectations_dir=expectations_dir)
    good, bad = gate.split(df, TABLE)
    report = gate.check(good, TABLE)
    lake.append(TABLE, good, txn=WriteTxn("load:qt_accounts", int(run_id.rsplit("-", 1)[1])))
    gate.quarantine(bad, TABLE, txn=WriteTxn("load:qt_accounts", int(run_id.rsplit("-", 1)[1])))
    return report


def test_blocking_failure_leaves_table_at_previous_version_and_a_fixed_rerun_succeeds(
        lake, qsettings, expectations_dir, accounts):
    write_suite(expectations_dir, TABLE, [
        expectation("expect_column_values_to_be_in_set", column="currency", value_set=["EUR", "USD"]),
        expectation("expect_column_values_to_be_between", severity="warning", column="balance", min_value=0),
    ])
    load_job(lake, qsettings, expectations_dir, accounts(ACCOUNTS_ROWS), "run-1")
    assert lake.version(TABLE) == 1

    with pytest.raises(QualityGateError) as failure:
        load_job(lake, qsettings, expectations_dir, accounts([("A4", "XXX", 5), ("A5", "EUR", -3)]), "run-2")

    message = str(failure.value)
    assert "cleaned.qt_accounts" in message and "expect_column_values_to_be_in_set:currency" in message
    assert "column=currency" in message and "unexpected=1" in message
    assert failure.value.exit_code == 3
    assert lake.version(TABLE) == 1  # the target did not move
    assert lake.read(TABLE).count() == 3

    # The steward accepts the new currency: edit the suite, rerun the same run.
    write_suite(expectations_dir, TABLE, [
        expectation("expect_column_values_to_be_in_set", column="currency", value_set=["EUR", "USD", "XXX"]),
        expectation("expect_column_values_to_be_between", severity="warning", column="balance", min_value=0),
    ])
    report = load_job(lake, qsettings, expectations_dir, accounts([("A4", "XXX", 5), ("A5", "EUR", -3)]), "run-2")
    assert report.passed
    assert [(r.expectation, r.success) for r in report.warnings] == [("expect_column_values_to_be_between:balance", False)]
    assert lake.version(TABLE) == 2 and lake.read(TABLE).count() == 5

    recorded = results_table(qsettings).filter(pl.col("run_id") == "run-2").sort("checked_at", "expectation")
    assert recorded.select("expectation", "severity", "success", "unexpected_count", "table_version").rows() == [
        ("expect_column_values_to_be_between:balance", "warning", False, 1, 1),
        ("expect_column_values_to_be_in_set:currency", "blocking", False, 1, 1),
        ("expect_column_values_to_be_between:balance", "warning", False, 1, 1),
        ("expect_column_values_to_be_in_set:currency", "blocking", True, 0, 1),
    ]


def test_split_quarantines_rows_with_the_rules_they_broke_and_the_run_id(lake, qsettings, expectations_dir, accounts):
    write_suite(expectations_dir, TABLE, [
        expectation("expect_column_values_to_not_be_null", quarantine=True, column="account_id"),
        expectation("expect_column_values_to_be_in_set", quarantine=True, column="currency", value_set=["EUR", "USD"]),
        expectation("expect_column_values_to_be_between", severity="warning", column="balance", min_value=0),
    ])
    df = accounts([("A1", "EUR", 10), (None, "XXX", 1), ("A3", "GBP", 2), (None, "USD", 3), ("A5", None, 4)])

    report = load_job(lake, qsettings, expectations_dir, df, "run-7")

    assert report.passed
    assert sorted(r.account_id for r in lake.read(TABLE).collect()) == ["A1", "A5"]  # a null currency breaks no rule
    held = pl.from_arrow(DeltaTable(qsettings.table_path("quarantine", "qt_accounts")).to_pyarrow_table())
    assert sorted(held.select("account_id", "currency", "_rules_broken", "_run_id", "_source_table").rows(),
                  key=lambda r: str(r[1])) == [
        ("A3", "GBP", ["expect_column_values_to_be_in_set:currency"], "run-7", TABLE),
        (None, "USD", ["expect_column_values_to_not_be_null:account_id"], "run-7", TABLE),
        (None, "XXX", ["expect_column_values_to_not_be_null:account_id", "expect_column_values_to_be_in_set:currency"],
         "run-7", TABLE),
    ]
    assert held["_quarantine_id"].n_unique() == 3


def test_quarantined_rows_are_released_after_the_rule_is_fixed(lake, qsettings, expectations_dir, accounts):
    rules = [
        expectation("expect_column_values_to_not_be_null", quarantine=True, column="account_id"),
        expectation("expect_column_values_to_be_in_set", quarantine=True, column="currency", value_set=["EUR"]),
    ]
    write_suite(expectations_dir, TABLE, rules)
    load_job(lake, qsettings, expectations_dir, accounts([("A1", "EUR", 1), ("A2", "USD", 2), (None, "USD", 3)]), "run-1")
    assert lake.read(TABLE).count() == 1

    rules[1]["kwargs"]["value_set"] = ["EUR", "USD"]  # the steward accepts USD
    write_suite(expectations_dir, TABLE, rules)
    gate = QualityGate(lake.for_job("reprocess", "run-2"), qsettings, run_id="run-2", expectations_dir=expectations_dir)
    outcome = gate.reprocess(TABLE, txn=WriteTxn("reprocess:qt_accounts", 2))

    assert (outcome.released, outcome.still_quarantined) == (1, 1)
    assert sorted(r.account_id for r in lake.read(TABLE).collect()) == ["A1", "A2"]
    held = lake.read("quarantine.qt_accounts").collect()
    assert [(r.account_id, r.currency) for r in held] == [(None, "USD")]


def test_quarantined_rows_say_where_they_were_delivered_also_in_a_table_from_before_that_column(
        spark, lake, qsettings, expectations_dir, accounts):
    """Rows with raw lineage keep their landing file and line; a quarantine table created before
    those columns were declared gains them on its next append (null for its old rows)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from finlake.quality.quarantine import PROVENANCE_COLUMNS

    write_suite(expectations_dir, TABLE, [
        expectation("expect_column_values_to_be_in_set", quarantine=True, column="currency", value_set=["EUR"]),
    ])
    spec = lake.spec("quarantine.qt_accounts")
    before = T.StructType([f for f in spec.schema.fields if f.name not in PROVENANCE_COLUMNS])
    old = spark.createDataFrame([("A0", "GBP", None, ["old rule"], "run-0", None, TABLE, "q-0")], before)
    write_deltalake(qsettings.table_path("quarantine", "qt_accounts"), old.toArrow())

    landed = "accounts/2024-03-01/accounts_20240301.csv"
    df = (accounts([("A1", "EUR", 1), ("A2", "USD", 2)])
          .withColumn("_source_file", F.lit(landed))
          .withColumn("_line_number", F.when(F.col("account_id") == "A1", 2).otherwise(3).cast("bigint")))
    gate = QualityGate(lake.for_job("load", "run-1"), qsettings, run_id="run-1", expectations_dir=expectations_dir)
    _, bad = gate.split(df, TABLE)
    gate.quarantine(bad, TABLE)

    held = pl.from_arrow(DeltaTable(qsettings.table_path("quarantine", "qt_accounts")).to_pyarrow_table())
    assert held.columns == [f.name for f in spec.schema.fields]
    assert sorted(held.select("account_id", "_run_id", "_source_file", "_line_number").rows()) == [
        ("A0", "run-0", None, None),
        ("A2", "run-1", landed, 3),
    ]


def test_an_active_waiver_lets_the_write_go_ahead_and_an_expired_one_no_longer_hides_the_failure(
        lake, qsettings, expectations_dir, accounts):
    write_suite(expectations_dir, TABLE, [
        expectation("expect_column_values_to_be_in_set", column="currency", value_set=["EUR", "USD"]),
    ])
    today = dt.datetime.now(dt.timezone.utc).date()

    def waive_until(day: dt.date) -> None:
        (expectations_dir / "waivers.yaml").write_text(
            f"- table: {TABLE}\n  expectation: expect_column_values_to_be_in_set:currency\n"
            f"  until: {day.isoformat()}\n  reason: GBP accounts migrate in Q3 (CHG-42)\n  who: jane.steward\n",
            encoding="utf-8")

    waive_until(today)  # the last day a waiver applies is 'until' itself
    report = load_job(lake, qsettings, expectations_dir, accounts([("A1", "GBP", 1)]), "run-1")
    assert report.passed
    assert [(r.success, r.waived, r.waiver_reason) for r in report.results] == [
        (False, True, f"waived until {today.isoformat()} by jane.steward: GBP accounts migrate in Q3 (CHG-42)")]

    waive_until(today - dt.timedelta(days=1))
    with pytest.raises(QualityGateError, match="expect_column_values_to_be_in_set:currency"):
        load_job(lake, qsettings, expectations_dir, accounts([("A2", "GBP", 2)]), "run-2")
    assert lake.read(TABLE).count() == 1

    recorded = results_table(qsettings).sort("run_id")
    assert recorded.select("run_id", "success", "waived").rows() == [("run-1", False, True), ("run-2", False, False)]


def test_custom_checks_are_recorded_and_a_blocking_failure_raises(lake, qsettings, expectations_dir):
    gate = QualityGate(lake, qsettings, run_id="run-3", expectations_dir=expectations_dir)
    gate.record_check(TABLE, "manifest_row_count_matches", success=True, observed=3, details="manifest 3, landed 3")
    gate.record_check(TABLE, "freshness", success=False, severity="warning", observed="2024-01-01")
    gate.raise_if_blocking()  # only a warning failed
    gate.record_check(TABLE, "no_missing_batch", success=False, observed=["2024-01-02"])

    with pytest.raises(QualityGateError, match="no_missing_batch") as failure:
        gate.raise_if_blocking()
    assert failure.value.exit_code == 3
    recorded = results_table(qsettings).sort("checked_at", "expectation")
    assert recorded.select("expectation", "severity", "success", "observed_value", "suite").rows() == [
        ("freshness", "warning", False, "2024-01-01", None),
        ("manifest_row_count_matches", "blocking", True, "3", None),
        ("no_missing_batch", "blocking", False, '["2024-01-02"]', None),
    ]
