"""Re-sends, replacements, reruns, gaps and interrupted runs: nothing lands twice, nothing is lost."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import date

import pytest

from finlake.errors import QualityGateError, SettingsError
from finlake.ingest import IngestError, ingest_all
from finlake.ingest.gates import expected_dates
from finlake.ingest.ledger import Ledger
from finlake.lake import Lake
from ingest_helpers import CUSTOMER_HEADER, TXN_HEADER, make_env, txn_line

pytestmark = pytest.mark.xdist_group("ingest")

FX_HEADER = "rate_date,currency,cny_per_unit"


def _fx(env, day, *rates):
    return env.landing.batch("fx_rates", day, [f"{day},USD,{r}" for r in rates], FX_HEADER)


def _raw_rates(env):
    return sorted((r["_batch_id"], r["cny_per_unit"]) for r in env.raw("raw.fx_rates").collect())


def test_resent_batch_is_skipped_refused_or_replaced_by_checksum(ingest_env):
    env = ingest_env
    _fx(env, "2024-03-05", "7.100000")
    _fx(env, "2024-03-06", "7.200000")
    env.ingest(sources=["fx_rates"])
    version = env.lake.version("raw.fx_rates")

    rerun = env.ingest(sources=["fx_rates"])  # nothing new: nothing happens
    assert rerun.ledger_rows == [] and env.lake.version("raw.fx_rates") == version

    time.sleep(0.01)
    _fx(env, "2024-03-06", "7.200000")  # re-sent, same bytes
    same = env.ingest(sources=["fx_rates"])
    assert [(r.batch, r.status) for r in same.ledger_rows] == [("2024-03-06", "skipped")]
    assert env.lake.version("raw.fx_rates") == version

    _fx(env, "2024-03-06", "7.250000")  # re-sent with other content
    with pytest.raises(IngestError) as refused:
        env.ingest(sources=["fx_rates"])
    assert refused.value.exit_code == 5
    assert "--replace-batch fx_rates/2024-03-06" in str(refused.value)
    assert _raw_rates(env) == [("2024-03-05", "7.100000"), ("2024-03-06", "7.200000")]

    replaced = env.ingest(sources=["fx_rates"], replace=("fx_rates/2024-03-06",))
    assert [(r.batch, r.status, r.rows) for r in replaced.ledger_rows] == [("2024-03-06", "replaced", 1)]
    assert _raw_rates(env) == [("2024-03-05", "7.100000"), ("2024-03-06", "7.250000")]
    assert env.ingest(sources=["fx_rates"]).ledger_rows == []  # the replacement is now the landed state


def test_missing_batch_lands_the_rest_then_fails_the_gate(ingest_env):
    env = ingest_env
    _fx(env, "2024-03-05", "7.100000")
    _fx(env, "2024-03-07", "7.300000")
    with pytest.raises(QualityGateError) as gap:
        env.ingest(sources=["fx_rates"])
    assert gap.value.exit_code == 3
    assert [b for b, _ in _raw_rates(env)] == ["2024-03-05", "2024-03-07"]
    check = env.results("raw.fx_rates").where("expectation = 'no_missing_batch'").first()
    assert check["success"] is False and "2024-03-06" in check["details"]

    _fx(env, "2024-03-06", "7.200000")  # the late batch arrives: the next run closes the gap
    env.ingest(sources=["fx_rates"])
    assert [b for b, _ in _raw_rates(env)] == ["2024-03-05", "2024-03-06", "2024-03-07"]


def test_as_of_bounds_what_lands_and_judges_freshness(ingest_env):
    env = ingest_env
    _fx(env, "2024-03-05", "7.100000")
    _fx(env, "2024-03-25", "7.300000")  # after as_of: left for a later run
    with pytest.raises(QualityGateError):
        env.ingest(sources=["fx_rates"], as_of=date(2024, 3, 20))
    assert [b for b, _ in _raw_rates(env)] == ["2024-03-05"]
    check = env.results("raw.fx_rates").where("expectation = 'freshness'").first()
    assert check["success"] is False and "expected 2024-03-17" in check["details"]


def test_landing_sources_setting_limits_what_lands_and_what_freshness_waits_for(ingest_env, tmp_path):
    # Without the setting every declared source is judged: the ones with no batch are stale.
    _fx(ingest_env, "2024-03-05", "7.100000")
    with pytest.raises(QualityGateError) as stale:
        ingest_env.ingest()
    assert "products: no batch has landed yet" in str(stale.value)

    listed = dataclasses.replace(ingest_env.settings, landing_sources="fx_rates, transactions")
    env = make_env(listed, ingest_env.lake.spark, tmp_path / "listed")
    _fx(env, "2024-03-05", "7.100000")
    env.landing.batch("transactions", "2024-03-05", [txn_line(1)], TXN_HEADER)
    env.landing.batch("customers", "2024-03-05", [], CUSTOMER_HEADER)
    report = env.ingest()
    assert sorted({(r.source, r.status) for r in report.ledger_rows}) == [("fx_rates", "ingested"),
                                                                          ("transactions", "ingested")]
    assert not env.lake.exists("raw.customers")  # delivered, but not a source of this lake
    freshness = {r["table"]: r["success"] for r in env.results().where("expectation = 'freshness'").collect()}
    assert freshness == {"raw.fx_rates": True, "raw.transactions": True}


def test_a_landing_sources_setting_naming_an_unknown_source_is_refused_before_anything_lands(ingest_env):
    env = ingest_env
    _fx(env, "2024-03-05", "7.100000")
    wrong = dataclasses.replace(env.settings, landing_sources="fx_rates,transaktions",
                                sources={**env.settings.sources, "landing_sources": "env FINLAKE_LANDING_SOURCES"})
    with pytest.raises(SettingsError) as refused:
        ingest_all(Lake(env.lake.spark, wrong), wrong, "bad-sources", as_of=date(2024, 3, 5))
    message = str(refused.value)
    assert "setting 'landing_sources' (from env FINLAKE_LANDING_SOURCES)" in message
    assert "unknown landing source 'transaktions'" in message and "transactions" in message
    assert not env.lake.exists("raw.fx_rates")


def test_run_that_died_after_the_raw_commit_is_completed_by_the_next(ingest_env, monkeypatch):
    env = ingest_env
    _fx(env, "2024-03-05", "7.100000", "7.110000")
    real = Ledger.append

    def die_on_outcomes(self, rows, run_id, step):
        if step == 3:
            raise OSError("simulated crash after the raw commit")
        return real(self, rows, run_id, step)

    monkeypatch.setattr(Ledger, "append", die_on_outcomes)
    with pytest.raises(OSError):
        env.ingest(sources=["fx_rates"], run_id="dies")
    monkeypatch.setattr(Ledger, "append", real)

    report = env.ingest(sources=["fx_rates"], run_id="recovers")
    assert [(r.batch, r.status, r.rows) for r in report.recovered] == [("2024-03-05", "ingested", 2)]
    assert report.ledger_rows == []  # nothing left to ingest: the rows were already in raw
    assert env.raw("raw.fx_rates").count() == 2


def test_run_that_died_before_the_raw_commit_is_retried_by_the_next(ingest_env, monkeypatch):
    env = ingest_env
    _fx(env, "2024-03-05", "7.100000")
    real = env.lake.__class__.append

    def die_on_raw(self, name, df, txn=None, merge_schema=False):
        if name == "raw.fx_rates":
            raise OSError("simulated crash before the raw commit")
        return real(self, name, df, txn=txn, merge_schema=merge_schema)

    monkeypatch.setattr(env.lake.__class__, "append", die_on_raw)
    with pytest.raises(OSError):
        env.ingest(sources=["fx_rates"], run_id="dies")
    monkeypatch.setattr(env.lake.__class__, "append", real)

    report = env.ingest(sources=["fx_rates"], run_id="retries")
    assert [(r.batch, r.status) for r in report.recovered] == [("2024-03-05", "failed")]
    assert [(r.batch, r.status, r.rows) for r in report.ledger_rows] == [("2024-03-05", "ingested", 1)]
    assert env.raw("raw.fx_rates").count() == 1


def test_cli_ingest_exits_5_when_a_batch_is_unreadable(ingest_env, capsys):
    from finlake.cli import main

    env = ingest_env
    _fx(env, "2024-03-05", "7.100000")
    os.remove(_fx(env, "2024-03-06", "7.200000"))
    code = main(["ingest", "--source", "fx_rates", "--home", env.settings.home, "--table-root", env.settings.table_root,
                 "--landing-root", env.settings.landing_root, "--quality-root", env.settings.quality_root,
                 "--engine", "bridge"])
    assert code == 5
    err = capsys.readouterr().err
    assert "IngestError" in err and "fx_rates/2024-03-06" in err and "missing" in err
    assert [r["_batch_id"] for r in env.raw("raw.fx_rates").collect()] == ["2024-03-05"]


@pytest.mark.parametrize("cadence, first, last, expected", [
    ("daily", date(2024, 2, 28), date(2024, 3, 1), [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]),
    ("monthly", date(2024, 1, 15), date(2024, 3, 1), [date(2024, 1, 15), date(2024, 2, 1), date(2024, 3, 1)]),
    ("month_end", date(2024, 1, 31), date(2024, 3, 30), [date(2024, 1, 31), date(2024, 2, 29)]),
    ("once", date(2024, 1, 1), date(2024, 12, 31), [date(2024, 1, 1)]),
])
def test_expected_delivery_dates_follow_the_cadence(cadence, first, last, expected):
    assert expected_dates(cadence, first, last) == expected
