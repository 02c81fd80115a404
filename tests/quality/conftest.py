"""Fixtures for the quality-gate tests: a tiny catalog, a fresh lake home and suite dir per test.

Each test gets its own lake home (so tables start empty) and its own expectations directory
(so it writes the suite and waivers it needs), but shares the session's Spark.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from finlake.catalog import PROJECT_ROOT, Catalog
from finlake.settings import load_settings
from quality_helpers import ACCOUNTS_SCHEMA

@pytest.fixture(scope="session")
def quality_catalog(tmp_path_factory) -> Catalog:
    from finlake.quality.quarantine import render_declaration

    root = tmp_path_factory.mktemp("quality_schemas")
    (root / "quality").mkdir()
    (root / "cleaned").mkdir()
    (root / "quarantine").mkdir()
    shutil.copy(PROJECT_ROOT / "schemas" / "quality" / "results.yaml", root / "quality" / "results.yaml")
    (root / "cleaned" / "qt_accounts.yaml").write_text(ACCOUNTS_SCHEMA, encoding="utf-8")
    source = Catalog.load(root).get("cleaned.qt_accounts")
    (root / "quarantine" / "qt_accounts.yaml").write_text(render_declaration(source), encoding="utf-8")
    return Catalog.load(root)


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def qsettings(settings, home):
    """The session settings with a home of this test's own."""
    return load_settings(
        overrides={"home": str(home), "lake_engine": settings.lake_engine, "spark_master": settings.spark_master,
                   "spark_conf": settings.spark_conf},
        environ={},
    )


@pytest.fixture
def lake(spark, qsettings, quality_catalog):
    from finlake.lake import Lake

    return Lake(spark, qsettings, catalog=quality_catalog).for_job("quality-test", "run-1")


@pytest.fixture
def expectations_dir(tmp_path) -> Path:
    path = tmp_path / "expectations"
    path.mkdir()
    return path


@pytest.fixture
def accounts(spark):
    """Build an accounts DataFrame (persisted, as callers of the gate must) from (id, currency, balance) rows."""
    from decimal import Decimal

    frames = []

    def make(rows):
        schema = "account_id string, currency string, balance decimal(18,2)"
        df = spark.createDataFrame([(a, c, Decimal(b) if b is not None else None) for a, c, b in rows], schema).persist()
        frames.append(df)
        return df

    yield make
    for df in frames:
        df.unpersist()
