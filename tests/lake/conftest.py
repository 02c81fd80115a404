"""Fixtures for the lake tests: a private catalog of tiny tables and an independent reader.

The tables are declared in a schemas directory of their own (``Catalog.load(tmp)``), so these
tests do not move when the project's schemas change. Every test gets a fresh table root.
Helpers live in ``lakecheck.py`` (a unique module name: several test folders have a conftest).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from lakecheck import SCHEMAS, IndependentReader, canonical, run_workers, spark_rows

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


WRITER_TABLE = "contract.accounts"
CRASH_HOOKS = ("crash_before_commit", "crash_while_staging")


@dataclasses.dataclass(frozen=True)
class Writers:
    """What the two writer processes of the concurrency and crash tests did."""

    race_lake: Lake  # the table both workers raced on (created empty, version 0)
    race_procs: list  # the two workers' CompletedProcess, worker 1 first
    crash_lakes: dict  # hook -> a lake whose table was at version 1 when its writer was killed
    crash_procs: dict  # hook -> the CompletedProcess of the worker that was killed by it


@pytest.fixture(scope="session")
def writers(spark, settings, catalog, tmp_path_factory) -> Writers:
    """Two ``lake_worker.py`` processes: they append, overwrite and merge one table at the same
    moment (test_concurrency.py), then each is killed mid-write of a table of its own, one at
    each crash point (test_crash.py).

    One process per worker for both: each process start costs a JVM and a Spark session, about
    15 s of CPU. The crash steps come last, after both workers have passed every barrier of the
    race, and write other tables, so they cannot disturb it.
    """
    if settings.lake_engine == "native":
        pytest.skip("the barrier and crash points hook the bridge's commit; native delta-spark has its own tests")
    root = tmp_path_factory.mktemp("writers")
    schema = catalog.get(WRITER_TABLE).schema
    race_lake = Lake(spark, dataclasses.replace(settings, table_root=str(root / "race" / "tables")),
                     catalog).for_job("race-setup")
    race_lake.create(WRITER_TABLE)
    crash_lakes = {}
    for hook in CRASH_HOOKS:
        lake = Lake(spark, dataclasses.replace(settings, table_root=str(root / hook / "tables")),
                    catalog).for_job("setup")
        lake.append(WRITER_TABLE, spark.createDataFrame([("kept", Decimal("1.00"), None, None, "mass")], schema))
        crash_lakes[hook] = lake
    schemas = str(Path(catalog.get(WRITER_TABLE).source_file).parents[1])

    def steps(w: int, crash: str) -> list[dict]:
        return [
            {"op": "append", "rows": [[f"w{w}-{i}", f"{w}.0{i}"] for i in range(3)]},
            {"op": "overwrite", "rows": [["shared", f"{w}.00"], [f"o{w}", "1.00"]]},
            {"op": "merge", "rows": [["shared", f"10{w}.00"], [f"m{w}", "2.00"]]},
            {"op": "append", "rows": [[f"lost-{i}", "9.99"] for i in range(50)], "hook": crash,
             "table_root": crash_lakes[crash].settings.table_root},
        ]

    jobs = [{"home": str(root), "table_root": race_lake.settings.table_root, "schemas": schemas,
             "table": WRITER_TABLE, "worker": w, "workers": 2, "run_id": f"race-{w}", "hook": "barrier",
             "barrier": str(root / "barrier"), "steps": steps(w, crash)}
            for w, crash in zip((1, 2), CRASH_HOOKS)]
    # Parsed by each test, so one failed run is reported, not re-run, for every test.
    procs = run_workers(jobs)
    return Writers(race_lake, procs, crash_lakes, dict(zip(CRASH_HOOKS, procs)))
