"""A job whose gate fails exits with code 3, prints what failed, and leaves the table unmoved."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from finlake.lake import WriteTxn
from quality_helpers import expectation, write_suite

pytestmark = pytest.mark.slow

TABLE = "cleaned.qt_accounts"


def test_a_job_stopped_by_a_blocking_failure_exits_3_and_the_table_stays_at_its_version(
        lake, qsettings, quality_catalog, expectations_dir, accounts):
    write_suite(expectations_dir, TABLE, [
        expectation("expect_column_values_to_be_in_set", column="currency", value_set=["EUR", "USD"]),
    ])
    lake.append(TABLE, accounts([("A1", "EUR", 1)]), txn=WriteTxn("gate-job", 1))
    schemas = Path(quality_catalog.get(TABLE).source_file).parents[1]

    job = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("gate_job.py")), "--home", qsettings.home,
         "--schemas", str(schemas), "--expectations", str(expectations_dir), "--run-id", "run-2",
         "--rows", json.dumps([["A2", "XXX", 5]])],
        capture_output=True, text=True, timeout=600,
    )

    assert job.returncode == 3, job.stderr[-3000:]
    assert "QualityGateError: quality gate failed for cleaned.qt_accounts (run run-2)" in job.stderr
    assert "expect_column_values_to_be_in_set:currency  column=currency  observed=1 of 1 rows unexpected" in job.stderr
    assert lake.version(TABLE) == 1
    assert [(r.account_id, r.currency) for r in lake.read(TABLE).collect()] == [("A1", "EUR")]
