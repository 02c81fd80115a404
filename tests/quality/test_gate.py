"""The gate contract: validate before commit, block or warn, quarantine, waivers, results on record.

Real GX validations on tiny DataFrames, real Delta tables; quality.results is read back with the
``deltalake`` package (an independent reader), never through finlake.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from deltalake import DeltaTable

from finlake.errors import QualityGateError
from finlake.lake import WriteTxn
from finlake.quality import QualityGate

from quality_helpers import ACCOUNTS_ROWS, expectation, write_suite

pytestmark = pytest.mark.xdist_group("quality")

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
