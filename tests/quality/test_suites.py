"""Suite and waiver files: a steward's bad edit fails on load with the file and expectation named.

Also checks the repository's own suites, waivers and quarantine declarations, so a broken edit
fails CI instead of the next job run.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from finlake.catalog import PROJECT_ROOT, default_catalog
from finlake.quality import SuiteError, load_suite, load_waivers
from finlake.quality.quarantine import check_declaration
from finlake.quality.waivers import active_waiver
from quality_helpers import expectation, write_suite

TABLE = "cleaned.qt_accounts"


def test_a_valid_suite_loads_with_names_severities_and_quarantine_rules(tmp_path):
    path = write_suite(tmp_path, TABLE, [
        expectation("expect_column_values_to_not_be_null", quarantine=True, column="account_id"),
        {**expectation("expect_table_row_count_to_be_between", severity="warning", min_value=1),
         "meta": {"severity": "warning", "owner": "ops", "rationale": "empty loads are suspicious", "rule": "not_empty"}},
    ])
    suite = load_suite(path, TABLE)
    assert [(e.name, e.severity, e.quarantine, e.owner) for e in suite.expectations] == [
        ("expect_column_values_to_not_be_null:account_id", "blocking", True, "data-stewards"),
        ("not_empty", "warning", False, "ops"),
    ]
    assert [e.name for e in suite.quarantine_rules] == ["expect_column_values_to_not_be_null:account_id"]


@pytest.mark.parametrize("meta, complaint", [
    ({"owner": "o", "rationale": "r"}, "meta is missing ['severity']"),
    ({"severity": "fatal", "owner": "o", "rationale": "r"}, "meta.severity is 'fatal'"),
    ({"severity": "blocking", "rationale": "r"}, "meta is missing ['owner']"),
    ({"severity": "blocking", "owner": "o", "rationale": "r", "quarantine": "yes"}, "meta.quarantine must be true or false"),
])
def test_missing_or_invalid_meta_names_the_file_and_the_expectation(tmp_path, meta, complaint):
    path = write_suite(tmp_path, TABLE, [
        expectation("expect_column_values_to_not_be_null", column="account_id"),
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "currency", "value_set": ["EUR"]}, "meta": meta},
    ])
    with pytest.raises(SuiteError) as error:
        load_suite(path, TABLE)
    assert str(path) in str(error.value)
    assert "expectation #1 'expect_column_values_to_be_in_set:currency'" in str(error.value)
    assert complaint in str(error.value)


def test_quarantine_on_a_batch_level_expectation_is_refused_at_load(tmp_path):
    path = write_suite(tmp_path, TABLE, [expectation("expect_column_values_to_be_unique", quarantine=True, column="account_id")])
    with pytest.raises(SuiteError, match="expect_column_values_to_be_unique has no row-level form"):
        load_suite(path, TABLE)


def test_kwargs_gx_rejects_and_duplicate_names_are_refused(tmp_path):
    path = write_suite(tmp_path, TABLE, [expectation("expect_column_values_to_be_in_set", column="currency")])
    with pytest.raises(SuiteError, match="Great Expectations rejects it"):
        load_suite(path, TABLE)
    path = write_suite(tmp_path, TABLE, [expectation("expect_column_values_to_not_be_null", column="currency")] * 2)
    with pytest.raises(SuiteError, match="#0 and #1 are both named 'expect_column_values_to_not_be_null:currency'"):
        load_suite(path, TABLE)


def test_a_waiver_applies_through_its_until_day_and_not_after(tmp_path):
    path = tmp_path / "waivers.yaml"
    path.write_text("- {table: t.a, expectation: e, until: 2026-03-31, reason: known, who: ann}\n", encoding="utf-8")
    waivers = load_waivers(path)
    assert active_waiver(waivers, "t.a", "e", dt.date(2026, 3, 31)) is waivers[0]
    assert active_waiver(waivers, "t.a", "e", dt.date(2026, 4, 1)) is None
    assert active_waiver(waivers, "t.b", "e", dt.date(2026, 3, 1)) is None


def test_a_waiver_without_a_reason_is_refused(tmp_path):
    path = tmp_path / "waivers.yaml"
    path.write_text("- {table: t.a, expectation: e, until: 2026-03-31, who: ann}\n", encoding="utf-8")
    with pytest.raises(SuiteError, match=r"entry #0: missing \['reason'\]"):
        load_waivers(path)


def test_the_repository_suites_and_waivers_load():
    catalog = default_catalog()
    suites = sorted((PROJECT_ROOT / "expectations").glob("*/*.json"))
    for path in suites:
        table = f"{path.parent.name}.{path.stem}"
        assert table in catalog, f"{path} has no table declaration schemas/{path.parent.name}/{path.stem}.yaml"
        suite = load_suite(path, table)
        assert json.loads(path.read_text())["expectations"], f"{path} is empty"
        if suite.quarantine_rules:
            check_declaration(catalog, table)
    load_waivers(PROJECT_ROOT / "expectations" / "waivers.yaml")
