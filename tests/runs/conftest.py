"""Fixtures for the runner tests: a private catalog of tiny tables and a fresh lake per test (own
table root, so its own lock and ledger) on the shared Spark session. The test stages and their
registry are in runs_test_stages.py."""

from __future__ import annotations

import shutil

import pytest

from finlake.catalog import PROJECT_ROOT, Catalog
from finlake.lake import Lake
from finlake.settings import load_settings

SCHEMAS = {
    "raw/events.yaml": """
table: raw.events
columns:
  - {name: event_id, type: bigint, nullable: false}
  - {name: day, type: date}
  - {name: customer, type: string}
  - {name: amount, type: double}
""",
    "cleaned/events.yaml": """
table: cleaned.events
primary_key: [event_id]
columns:
  - {name: event_id, type: bigint, nullable: false}
  - {name: day, type: date}
  - {name: customer, type: string}
  - {name: amount, type: double}
""",
    "features/event_counts.yaml": """
table: features.event_counts
primary_key: [customer]
columns:
  - {name: customer, type: string}
  - {name: events, type: bigint}
  - {name: amount, type: double}
""",
    "ops/ingest_ledger.yaml": """
table: ops.ingest_ledger
columns:
  - {name: source, type: string}
  - {name: batch, type: string}
  - {name: raw_table, type: string}
  - {name: status, type: string}
  - {name: rows, type: bigint}
  - {name: run_id, type: string}
""",
}

@pytest.fixture(scope="session")
def test_catalog(tmp_path_factory) -> Catalog:
    root = tmp_path_factory.mktemp("runs_schemas")
    for rel, text in SCHEMAS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    shutil.copy(PROJECT_ROOT / "schemas" / "ops" / "runs.yaml", root / "ops" / "runs.yaml")
    return Catalog.load(root)


@pytest.fixture
def run_settings(tmp_path, settings):
    return load_settings(overrides={"home": str(tmp_path / "home"), "lake_engine": "bridge",
                                    "spark_master": settings.spark_master}, environ={})


@pytest.fixture
def lake(spark, run_settings, test_catalog) -> Lake:
    return Lake(spark, run_settings, test_catalog)
