"""Settings: defaults < conf/<env>.yaml < FINLAKE_* variables < CLI overrides, with sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finlake.errors import SettingsError
from finlake.settings import load_settings


@pytest.fixture
def conf_dir(tmp_path, monkeypatch) -> Path:
    """An empty conf directory, and a working directory of our own for the relative defaults."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "conf"
    path.mkdir()
    return path


def load(conf_dir: Path, variables: dict[str, str] | None = None, **overrides):
    return load_settings(overrides=overrides, environ={"FINLAKE_CONF_DIR": str(conf_dir), **(variables or {})})


def test_defaults_apply_when_nothing_is_set(conf_dir, tmp_path):
    s = load(conf_dir)
    assert (s.env, s.lake_engine, s.spark_master, s.spark_conf) == ("local", "auto", None, {})
    assert (s.freshness_lag_days, s.train_cadence_days, s.champion_margin) == (3, 30, 0.0)
    assert s.home == str(tmp_path / "lakehouse")
    assert s.sources["lake_engine"] == "default" and s.sources["home"] == "default"


def test_each_layer_overrides_the_one_below_and_records_where_values_came_from(conf_dir):
    (conf_dir / "local.yaml").write_text(
        "lake_engine: bridge\nfreshness_lag_days: 5\nspark_master: local[3]\n"
        "spark_conf: {spark.sql.shuffle.partitions: 8}\n"
    )
    s = load(conf_dir, {"FINLAKE_FRESHNESS_LAG_DAYS": "7", "FINLAKE_SPARK_MASTER": "local[1]"},
             spark_master="local[2]")
    assert (s.lake_engine, s.freshness_lag_days, s.spark_master) == ("bridge", 7, "local[2]")
    assert s.spark_conf == {"spark.sql.shuffle.partitions": "8"}
    conf_source = str(conf_dir / "local.yaml")
    assert s.sources["lake_engine"] == conf_source
    assert s.sources["spark_conf"] == conf_source
    assert s.sources["freshness_lag_days"] == "env FINLAKE_FRESHNESS_LAG_DAYS"
    assert s.sources["spark_master"] == "cli"
    assert s.sources["train_cadence_days"] == "default"


def test_the_env_variable_picks_the_conf_file(conf_dir):
    (conf_dir / "prod.yaml").write_text("lake_engine: native\n")
    s = load(conf_dir, {"FINLAKE_ENV": "prod"})
    assert (s.env, s.lake_engine, s.sources["env"]) == ("prod", "native", "env FINLAKE_ENV")
    assert load(conf_dir, {"FINLAKE_ENV": "local"}, env="prod").env == "prod"  # CLI wins


def test_an_environment_without_a_conf_file_is_an_error(conf_dir):
    with pytest.raises(SettingsError, match="'staging' has no settings file .*staging.yaml"):
        load(conf_dir, env="staging")


def test_derived_locations_follow_home_unless_set_on_their_own(conf_dir, tmp_path):
    s = load(conf_dir, home=str(tmp_path / "h"), landing_root=str(tmp_path / "drop"))
    home = tmp_path / "h"
    assert s.table_root == f"{home}/tables"
    assert s.quality_root == f"{home}/quality"
    assert s.mlflow_uri == f"sqlite:///{home}/mlflow/mlflow.db"
    assert s.landing_root == str(tmp_path / "drop")
    assert s.sources["table_root"] == "derived from home (cli)"
    assert s.table_path("cleaned", "customers") == f"{home}/tables/cleaned/customers"


def test_a_uri_home_keeps_its_scheme(conf_dir):
    s = load(conf_dir, {"FINLAKE_HOME": "s3://bank-lake/finlake"})
    assert s.table_root == "s3://bank-lake/finlake/tables"
    assert s.sources["table_root"] == "derived from home (env FINLAKE_HOME)"


def test_relative_paths_are_made_absolute(conf_dir, tmp_path):
    assert load(conf_dir, {"FINLAKE_TABLE_ROOT": "t"}).table_root == str(tmp_path / "t")


def test_secrets_are_masked_in_the_public_view(conf_dir):
    s = load(conf_dir, {"FINLAKE_PII_KEY": "super-secret-key-0123456789"})
    view = s.public_view()
    assert view["pii_key"] == "****"
    assert "super-secret" not in json.dumps(view)
    assert "sources" not in view
    assert s.resolve_pii_key() == b"super-secret-key-0123456789"


def test_a_missing_pii_key_says_how_to_provide_one(conf_dir):
    with pytest.raises(SettingsError, match="FINLAKE_PII_KEY"):
        load(conf_dir).resolve_pii_key()


def test_a_pii_key_file_is_read_and_checked(conf_dir, tmp_path):
    key_file = tmp_path / "pii.key"
    with pytest.raises(SettingsError, match="does not exist"):
        load(conf_dir, pii_key_file=str(key_file)).resolve_pii_key()
    key_file.write_text("short\n")
    with pytest.raises(SettingsError, match="fewer than 16"):
        load(conf_dir, pii_key_file=str(key_file)).resolve_pii_key()
    key_file.write_text("0123456789abcdef0123\n")
    assert load(conf_dir, pii_key_file=str(key_file)).resolve_pii_key() == b"0123456789abcdef0123"


def test_a_secret_in_a_conf_file_is_refused(conf_dir):
    (conf_dir / "local.yaml").write_text("pii_key: do-not-commit-me\n")
    with pytest.raises(SettingsError, match="'pii_key' is a secret") as err:
        load(conf_dir)
    assert "do-not-commit-me" not in str(err.value)


def test_unknown_settings_are_refused_with_the_known_ones(conf_dir):
    (conf_dir / "local.yaml").write_text("lake_root: /tmp/x\n")
    with pytest.raises(SettingsError, match="unknown setting 'lake_root'.*table_root"):
        load(conf_dir)
    (conf_dir / "local.yaml").unlink()
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        load(conf_dir, colour="red")


def test_invalid_values_name_the_setting_and_where_it_came_from(conf_dir):
    with pytest.raises(SettingsError, match="'freshness_lag_days' from env FINLAKE_FRESHNESS_LAG_DAYS"):
        load(conf_dir, {"FINLAKE_FRESHNESS_LAG_DAYS": "three"})
    with pytest.raises(SettingsError, match="lake_engine 'delta' \\(from cli\\) is not one of auto, native, bridge"):
        load(conf_dir, lake_engine="delta")
    (conf_dir / "local.yaml").write_text("- just\n- a list\n")
    with pytest.raises(SettingsError, match="must hold a mapping"):
        load(conf_dir)


def test_spark_conf_accepts_pairs_or_json(conf_dir):
    assert load(conf_dir, {"FINLAKE_SPARK_CONF": "a=1, b=x=y"}).spark_conf == {"a": "1", "b": "x=y"}
    assert load(conf_dir, spark_conf='{"a": 2}').spark_conf == {"a": "2"}


@pytest.mark.parametrize("text, expected", [("4-9", (4, 5, 6, 7, 8, 9)), ("7", (7,)), ("9, 5,7", (5, 7, 9))])
def test_segmentation_k_accepts_a_range_or_a_list(conf_dir, text, expected):
    assert load(conf_dir, {"FINLAKE_SEGMENTATION_K": text}).segmentation_k_values() == expected


@pytest.mark.parametrize("text", ["four", "1-3", "", "9-4"])
def test_a_bad_segmentation_k_names_the_setting_and_the_form(conf_dir, text):
    with pytest.raises(SettingsError, match=r"segmentation_k' from env FINLAKE_SEGMENTATION_K .*'4-9'"):
        load(conf_dir, {"FINLAKE_SEGMENTATION_K": text})


def test_landing_sources_is_a_list_or_unset_for_every_source(conf_dir):
    assert load(conf_dir).landing_source_names() is None
    (conf_dir / "local.yaml").write_text("landing_sources: customers, accounts,transactions\n")
    assert load(conf_dir).landing_source_names() == ("customers", "accounts", "transactions")
    (conf_dir / "local.yaml").write_text("landing_sources: [customers, fx_rates]\n")
    assert load(conf_dir).landing_source_names() == ("customers", "fx_rates")
    with pytest.raises(SettingsError,
                       match=r"landing_sources' from env FINLAKE_LANDING_SOURCES is ' , '.*leave it unset"):
        load(conf_dir, {"FINLAKE_LANDING_SOURCES": " , "})


def test_an_unset_setting_leaves_the_settings_hash_as_it_was_before_the_setting_existed(conf_dir):
    """landing_sources joined the hash later: a lake that leaves it unset keeps the hash its runs
    recorded before, so a rerun still finds their completed stages; setting it changes the hash."""
    import hashlib

    from finlake.runs.provenance import DATA_SETTINGS, settings_hash

    s = load(conf_dir, home="/tmp/lake")
    before = {k: getattr(s, k) for k in DATA_SETTINGS if k != "landing_sources"}  # the hash's inputs until then
    digest = hashlib.sha256(json.dumps(before, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]
    assert s.landing_sources is None and settings_hash(s) == digest
    assert settings_hash(load(conf_dir, home="/tmp/lake", landing_sources="customers,accounts")) != digest
