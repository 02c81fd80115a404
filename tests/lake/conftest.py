"""Fixtures for the lake tests: a private catalog of tiny tables and an independent reader.

The tables are declared in a schemas directory of their own (``Catalog.load(tmp)``), so these
tests do not move when the project's schemas change. Every test gets a fresh table root.
Helpers live in ``lakecheck.py`` (a unique module name: several test folders have a conftest).
"""

from __future__ import annotations

import dataclasses

import pytest
from lakecheck import SCHEMAS, IndependentReader, canonical, spark_rows

from finlake.catalog import Catalog
from finlake.lake import Lake


@pytest.fixture(scope="session")
def catalog(tmp_path_factory) -> Catalog:
    root = tmp_path_factory.mktemp("schemas")
    for rel, text in SCHEMAS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text.lstrip(), encoding="utf-8")
    return Catalog.load(root)


@pytest.fixture
def lake(spark, settings, catalog, tmp_path) -> Lake:
    """A lake over the private catalog, with a fresh table root for this test."""
    local = dataclasses.replace(settings, table_root=str(tmp_path / "tables"))
    return Lake(spark, local, catalog).for_job("contract-test", "run-1")


@pytest.fixture
def df(spark, catalog):
    """Build a DataFrame with a table's declared schema: ``df("contract.events", rows)``."""

    def build(name: str, rows: list[tuple], schema=None):
        return spark.createDataFrame(rows, schema or catalog.get(name).schema)

    return build


@pytest.fixture
def reader() -> IndependentReader:
    return IndependentReader()


@pytest.fixture
def assert_readers_agree(lake, reader):
    """At every version of ``name``, the independent readers see exactly what ``lake.read`` returns."""

    def check(name: str) -> None:
        path = lake.path(name)
        latest = lake.version(name)
        assert reader.version(path) == latest
        columns = reader.columns(path)
        for v in range(latest + 1):
            ours = canonical(spark_rows(lake.read(name, version=v)), columns)
            assert reader.rows(path, columns, v) == ours, f"{name} differs at version {v}"

    return check
