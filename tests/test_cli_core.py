"""The core commands, run through ``finlake.cli.main`` against a temporary home."""

from __future__ import annotations

import json
import os

import pytest

from finlake.catalog import default_catalog
from finlake.cli import main
from finlake.lake import Lake
from finlake.settings import load_settings


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A clean environment: no FINLAKE_* variables from outside, an empty conf directory."""
    for var in [v for v in os.environ if v.startswith("FINLAKE_")]:
        monkeypatch.delenv(var)
    (tmp_path / "conf").mkdir()
    monkeypatch.setenv("FINLAKE_CONF_DIR", str(tmp_path / "conf"))
    return tmp_path / "home"


def run_json(capsys, *argv: str):
    code = main(list(argv))
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_config_prints_values_with_sources_and_masks_secrets(home, capsys, monkeypatch):
    monkeypatch.setenv("FINLAKE_PII_KEY", "cli-secret-0123456789abcdef")
    monkeypatch.setenv("FINLAKE_FRESHNESS_LAG_DAYS", "4")
    view = run_json(capsys, "config", "--json", "--home", str(home), "--engine", "bridge")
    assert view["home"] == {"value": str(home), "source": "cli"}
    assert view["lake_engine"] == {"value": "bridge", "source": "cli"}
    assert view["freshness_lag_days"] == {"value": 4, "source": "env FINLAKE_FRESHNESS_LAG_DAYS"}
    assert view["table_root"] == {"value": f"{home}/tables", "source": "derived from home (cli)"}
    assert view["pii_key"]["value"] == "****"
    assert view["train_cadence_days"]["source"] == "default"


def test_config_reports_a_bad_setting_as_an_error_not_a_traceback(home, capsys):
    code = main(["config", "--json", "--engine", "delta"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: SettingsError: lake_engine 'delta' (from cli)")


@pytest.fixture
def created(home, spark):
    """One project table created (v0) and given a property (v1) under the temp home."""
    settings = load_settings(overrides={"home": str(home), "lake_engine": "bridge"})
    name = default_catalog().names()[0]
    lake = Lake(spark, settings).for_job("cli-test", "run-42")
    lake.create(name)
    lake.set_properties(name, {"delta.logRetentionDuration": "interval 60 days"})
    return name


def test_tables_lists_every_declared_table_and_what_exists(created, home, capsys):
    rows = run_json(capsys, "tables", "--json", "--home", str(home), "--engine", "bridge")
    by_name = {r["name"]: r for r in rows}
    assert sorted(by_name) == default_catalog().names()
    made = by_name[created]
    assert (made["exists"], made["version"], made["rows"], made["files"], made["bytes"]) == (True, 1, 0, 0, 0)
    assert made["layer"] == created.split(".")[0] and made["last_write"]
    others = [r for n, r in by_name.items() if n != created]
    assert others and all(not r["exists"] and r["version"] is None for r in others)
    layer = created.split(".")[0]
    only = run_json(capsys, "tables", "--json", "--layer", layer, "--home", str(home), "--engine", "bridge")
    assert {r["layer"] for r in only} == {layer}


def test_history_shows_each_version_with_its_job_and_run(created, home, capsys):
    rows = run_json(capsys, "history", created, "--json", "--home", str(home), "--engine", "bridge")
    got = sorted((r["version"], r["operation"], r["job"], r["run_id"]) for r in rows)
    assert got == [(0, "CREATE TABLE", "cli-test", "run-42"), (1, "SET TBLPROPERTIES", "cli-test", "run-42")]
    assert all(r["timestamp"] for r in rows)


def test_history_of_an_unknown_table_lists_the_known_ones(home, capsys, spark):
    code = main(["history", "raw.nope", "--home", str(home), "--engine", "bridge"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown table 'raw.nope'" in err and default_catalog().names()[0] in err
