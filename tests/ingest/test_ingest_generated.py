"""End to end on generated data (scale 0.01, defects on): nothing is lost, every defect is visible.

The landing files come from the generator (issue 3); ``_truth/defects.json`` lists what it
injected. Raw must land every line its manifest declares and count each defect kind it can see
with exactly the planted number.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from ingest_helpers import IngestEnv, Landing

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("generated")]


@pytest.fixture(scope="module")
def generated(generated_lake_run):
    """The shared generated lake (tests/conftest.py): its one ingest run and the planted defects."""
    g = generated_lake_run
    env = IngestEnv(settings=g.settings, lake=g.lake, landing=Landing(Path(g.settings.landing_root)))
    return env, g.ingest, g.truth


def _manifest_rows(landing: Path) -> dict[str, int]:
    out = {}
    for manifest in landing.rglob("_manifest.json"):
        if "_truth" in manifest.parts:
            continue
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        for f in doc["files"]:
            out[str(manifest.parent.relative_to(landing) / f["name"])] = f["rows"]
    return out


def test_every_manifest_row_is_in_raw(generated):
    env, report, _ = generated
    expected = _manifest_rows(Path(env.settings.landing_root))
    landed = {}
    for table in env.lake.catalog.names("raw"):
        for r in env.raw(table).groupBy("_source_file").count().collect():
            landed[r["_source_file"]] = r["count"]
    assert {f: landed.get(f, 0) for f in expected} == expected
    assert set(landed) <= set(expected)
    assert report.with_status("failed") == []
    assert sum(expected.values()) == report.rows_landed


def test_accounting_is_recorded_as_passed_for_every_raw_table(generated):
    env, _, _ = generated
    rows = env.results().where("expectation = 'manifest_row_count_matches'").select("table", "success").collect()
    assert sorted(rows) == sorted((t, True) for t in env.lake.catalog.names("raw"))


def _observed(env) -> dict[tuple[str, str], int]:
    """Defect count per (table, check): unexpected_count for GX results, else the observed number."""
    out = {}
    for r in env.results().where(F.col("table").startswith("raw.")).collect():
        value = r["unexpected_count"] if r["unexpected_count"] is not None else r["observed_value"]
        try:
            out[(r["table"], r["expectation"])] = int(value)
        except (TypeError, ValueError):
            continue
    return out


def test_every_injected_defect_kind_is_counted_at_raw(generated):
    env, _, truth = generated
    seen = _observed(env)
    by = truth["by_source"]

    def t(source, kind):
        return by.get(source, {}).get(kind, 0)

    def s(table, *checks):
        return sum(seen[(table, c)] for c in checks)

    txn, cust = "raw.transactions", "raw.customers"
    got = {
        "null_required": s(txn, "account_id_present", "ts_present", "amount_present", "currency_present")
        + s(cust, "name_present", "id_number_present", "phone_present"),
        "exact_duplicate": s(txn, "duplicate_lines_in_batch") + s("raw.app_events", "duplicate_lines_in_batch"),
        "late_resend": s(txn, "txn_id_resent_in_later_batch"),
        "malformed_date": s(txn, "ts_parses") + s(cust, "birth_date_parses"),
        "impossible_amount": s(txn, "amount_in_range"),
        "unknown_code": s(txn, "channel_known", "currency_known"),
        "orphan_fk": s(txn, "account_id_known"),
        "out_of_range_age": s(cust, "age_in_range"),
        "broken_encoding": s(cust, "invalid_encoding_lines"),
        "truncated_line": s(txn, "truncated_lines") + s("raw.app_events", "truncated_lines"),
        "schema_drift_added_column": s(txn, "schema_drift_added_column"),
        "schema_drift_renamed_column": s(txn, "schema_drift_renamed_column"),
    }
    assert got == truth["counts"]
    assert all(truth["counts"][k] > 0 for k in got), "scale 0.01 should plant every kind at least once"
    per_source = {
        ("transactions", "null_required"): s(txn, "account_id_present", "ts_present", "amount_present", "currency_present"),
        ("transactions", "truncated_line"): s(txn, "truncated_lines"),
        ("app_events", "truncated_line"): s("raw.app_events", "truncated_lines"),
        ("app_events", "exact_duplicate"): s("raw.app_events", "duplicate_lines_in_batch"),
    }
    assert per_source == {k: t(*k) for k in per_source}


def test_drift_batches_match_the_planted_ones(generated):
    env, _, truth = generated
    drift = truth["schema_drift"]
    ledger = env.ledger().where("source = 'transactions' AND status = 'ingested'")
    renamed = [r["batch"] for r in ledger.where("drift LIKE 'renamed%'").collect()]
    assert renamed == [drift["renamed_column"]["batch"]]
    added = ledger.where("drift = 'added: auth_code'").agg(F.min("batch"), F.count(F.lit(1))).first()
    assert (added[0], added[1]) == (drift["added_column"]["from_batch"], drift["added_column"]["batches"])
