"""``finlake maintain``: compaction and vacuum on real Delta tables, checked with delta-rs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path

import pytest
from deltalake import DeltaTable

from finlake.catalog import Catalog
from finlake.cli import main
from finlake.errors import SettingsError
from finlake.lake import Lake
from finlake.maintenance import maintain_lake
from finlake.runs.lock import RunLock, RunLockedError

EVENTS = """
table: {layer}.{table}
description: One row per event.
{partition}primary_key: [event_id]
columns:
  - {{name: event_id, type: bigint, nullable: false}}
  - {{name: day, type: date, nullable: false}}
  - {{name: note, type: string}}
"""
DAY = dt.date(2024, 3, 1)


@pytest.fixture
def lake(spark, settings, tmp_path) -> Lake:
    """raw.events (partitioned by day), cleaned.events and cleaned.never (declared, not created)."""
    schemas = tmp_path / "schemas"
    for layer, table, partition in (("raw", "events", "partition_by: [day]\n"), ("cleaned", "events", ""),
                                    ("cleaned", "never", "")):
        path = schemas / layer / f"{table}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(EVENTS.format(layer=layer, table=table, partition=partition))
    local = dataclasses.replace(settings, table_root=str(tmp_path / "tables"))
    return Lake(spark, local, Catalog.load(schemas)).for_job("maintenance-test", "run-1")


def append_small_files(lake: Lake, name: str, n: int) -> list[tuple]:
    """``n`` appends of two rows each, one file per append (all in one day's partition)."""
    rows = []
    for i in range(n):
        batch = [(10 * i + 1, DAY, f"a{i}"), (10 * i + 2, DAY, f"b{i}")]
        rows += batch
        lake.append(name, lake.spark.createDataFrame(batch, lake.spec(name).schema).coalesce(1))
    return rows


def live_files(lake: Lake, name: str) -> set[str]:
    return set(DeltaTable(lake.path(name)).file_uris())


def files_on_disk(lake: Lake, name: str) -> set[str]:
    root = Path(lake.path(name))
    return {str(p) for p in root.rglob("*.parquet") if "_delta_log" not in p.parts}


def rows_read_by_delta_rs(lake: Lake, name: str, version: int | None = None) -> list[tuple]:
    table = DeltaTable(lake.path(name), version=version).to_pyarrow_table()
    return sorted(zip(*(table.column(c).to_pylist() for c in ("event_id", "day", "note"))))


def test_maintenance_compacts_small_files_deletes_replaced_ones_and_keeps_the_rows(lake):
    cleaned_rows = append_small_files(lake, "cleaned.events", 6)
    raw_rows = append_small_files(lake, "raw.events", 6)

    report = maintain_lake(lake, lake.settings, "maintain-1", retention_hours=0, allow_short_retention=True)

    by_table = {t.table: t for t in report.tables}
    cleaned, raw = by_table["cleaned.events"], by_table["raw.events"]
    assert (cleaned.files_before, cleaned.files_after, cleaned.files_compacted, cleaned.files_deleted) == (6, 1, 6, 6)
    assert rows_read_by_delta_rs(lake, "cleaned.events") == sorted(cleaned_rows)
    assert files_on_disk(lake, "cleaned.events") == {u.removeprefix("file://") for u in live_files(lake, "cleaned.events")}
    # Raw keeps its one file per batch: the clean plan reads the batch ids from those files' stats.
    assert (raw.files_before, raw.files_after, raw.files_compacted, raw.files_deleted) == (6, 6, 0, 0)
    assert raw.note.startswith("raw: vacuum only")
    assert rows_read_by_delta_rs(lake, "raw.events") == sorted(raw_rows)
    assert report.skipped == ["cleaned.never"]

    # Every commit names the job and run, as every other write does (delta-rs logs a vacuum twice).
    commits = [(e.operation, e.job, e.run_id) for e in lake.history("cleaned.events", limit=3)]
    assert commits == [("VACUUM", "maintain", "maintain-1")] * 2 + [("OPTIMIZE", "maintain", "maintain-1")]

    # Nothing left to do: no table gets a commit (delta-rs would log an empty VACUUM otherwise).
    versions = {n: lake.version(n) for n in ("cleaned.events", "raw.events")}
    again = maintain_lake(lake, lake.settings, "maintain-2", retention_hours=0, allow_short_retention=True)
    assert [(t.files_compacted, t.files_deleted) for t in again.tables] == [(0, 0), (0, 0)]
    assert {n: lake.version(n) for n in versions} == versions


def test_the_default_retention_keeps_the_files_older_versions_need(lake):
    rows = append_small_files(lake, "cleaned.events", 3)
    before = lake.version("cleaned.events")

    report = maintain_lake(lake, lake.settings, "maintain-1", tables=["cleaned.events"])

    assert report.retention_hours == 168
    (t,) = report.tables
    assert (t.files_compacted, t.files_deleted, t.files_after) == (3, 0, 1)
    assert rows_read_by_delta_rs(lake, "cleaned.events", version=before) == sorted(rows)
    assert len(files_on_disk(lake, "cleaned.events")) == 4


def test_a_dry_run_moves_nothing_and_lists_what_vacuum_would_delete(lake):
    append_small_files(lake, "cleaned.events", 2)
    lake.overwrite("cleaned.events", lake.spark.createDataFrame([(99, DAY, "new")], lake.spec("cleaned.events").schema))
    version, on_disk = lake.version("cleaned.events"), files_on_disk(lake, "cleaned.events")

    report = maintain_lake(lake, lake.settings, "maintain-dry", tables=["cleaned.events"], retention_hours=0,
                           allow_short_retention=True, dry_run=True)

    (t,) = report.tables
    assert (t.files_before, t.files_after, t.files_compacted, t.files_deleted) == (1, 1, 0, 2)
    assert (lake.version("cleaned.events"), files_on_disk(lake, "cleaned.events")) == (version, on_disk)
    assert "(dry run)" in report.summary() and "2 files to delete" in report.summary()


def test_a_short_retention_and_bad_names_are_refused_before_any_file_moves(lake):
    append_small_files(lake, "cleaned.events", 2)
    version = lake.version("cleaned.events")
    with pytest.raises(SettingsError, match=r"--retention-hours is 24 hours, below 168.*--allow-short-retention"):
        maintain_lake(lake, lake.settings, "m", retention_hours=24)
    hasty = dataclasses.replace(lake.settings, vacuum_retention_hours=1.0)
    with pytest.raises(SettingsError, match=r"setting 'vacuum_retention_hours' \(default\) is 1 hours"):
        maintain_lake(lake, hasty, "m")
    with pytest.raises(SettingsError, match="no layer gold in the catalog; layers: cleaned, raw"):
        maintain_lake(lake, lake.settings, "m", layers=["gold"])
    with pytest.raises(SettingsError, match="name tables or layers to maintain, not both"):
        maintain_lake(lake, lake.settings, "m", tables=["cleaned.events"], layers=["raw"])
    assert lake.version("cleaned.events") == version and len(files_on_disk(lake, "cleaned.events")) == 2


def test_maintenance_never_runs_beside_a_pipeline_run(lake):
    append_small_files(lake, "cleaned.events", 2)
    with RunLock.acquire(lake.settings, "run-in-progress", as_of="2024-03-01"):
        with pytest.raises(RunLockedError, match="locked by run run-in-progress"):
            maintain_lake(lake, lake.settings, "m", retention_hours=0, allow_short_retention=True)
    assert len(live_files(lake, "cleaned.events")) == 2
    assert not Path(lake.settings.table_root, "_finlake_run.lock").exists()


def test_the_maintain_command_reports_per_table_as_json(spark, tmp_path, monkeypatch, capsys):
    for var in [v for v in os.environ if v.startswith("FINLAKE_")]:
        monkeypatch.delenv(var)
    (tmp_path / "conf").mkdir()
    monkeypatch.setenv("FINLAKE_CONF_DIR", str(tmp_path / "conf"))
    home = tmp_path / "home"
    from finlake.settings import load_settings

    project = Lake(spark, load_settings(overrides={"home": str(home), "lake_engine": "bridge"})).for_job("t", "r")
    project.create("cleaned.fx_rates")

    code = main(["maintain", "--json", "--home", str(home), "--engine", "bridge", "--layer", "cleaned",
                 "--run-id", "maintain-cli", "--dry-run"])
    out = capsys.readouterr()
    assert code == 0, out.err
    report = json.loads(out.out)
    assert (report["run_id"], report["dry_run"], report["retention_hours"]) == ("maintain-cli", True, 168.0)
    assert [t["table"] for t in report["tables"]] == ["cleaned.fx_rates"]
    assert "cleaned.transactions" in report["skipped"] and not any(s.startswith("raw.") for s in report["skipped"])

    code = main(["maintain", "--home", str(home), "--engine", "bridge", "--table", "cleaned.nope"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown table 'cleaned.nope'" in err
