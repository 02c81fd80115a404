"""A writer killed with SIGKILL leaves the table at its previous version.

Two crash points (see ``lake_worker.py``): after the data files moved into the table directory
but before the commit, and while the files were still in the private staging folder. Either
way no reader sees the files, the next writer is not blocked by the dead one's lock, and
``vacuum`` with zero retention removes what the dead writer left.
"""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path

import pytest

from lakecheck import RACE_STEPS, canonical, files_on_disk, race_outcomes, spark_rows

pytestmark = [pytest.mark.xdist_group("lake-processes")]

TABLE = "contract.accounts"


@pytest.fixture
def crashed(writers):
    """Two tables at version 1, each with a writer killed mid-write (the ``writers`` fixture in
    conftest.py: the race workers of test_concurrency.py, each killed in its last step)."""
    return writers.crash_lakes, writers.crash_procs


@pytest.mark.parametrize("hook", ["crash_before_commit", "crash_while_staging"])
def test_killed_writer_leaves_the_previous_version_and_invisible_orphans(crashed, reader, hook):
    lakes, procs = crashed
    lake, proc = lakes[hook], procs[hook]
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert list(race_outcomes(proc)) == RACE_STEPS  # the race steps; the crash step never finished
    path = lake.path(TABLE)
    assert lake.version(TABLE) == reader.version(path) == 1
    live = {a["path"] for a in reader.add_actions(path)}
    if hook == "crash_before_commit":
        assert files_on_disk(path) - live, "the writer should have left moved, uncommitted files"
    else:
        assert list(Path(path, "_staging").iterdir()), "the writer should have left a staging folder"
    columns = reader.columns(path)
    expected = canonical([{"account_id": "kept", "balance": Decimal("1.00"), "opened": None,
                           "updated_at": None, "segment": "mass"}], columns)
    assert reader.rows(path, columns) == expected
    assert canonical(spark_rows(lake.read(TABLE)), columns) == expected


@pytest.mark.parametrize("hook", ["crash_before_commit", "crash_while_staging"])
def test_after_a_crash_the_next_writer_commits_and_vacuum_removes_the_orphans(crashed, reader, spark, catalog, hook):
    lakes, _ = crashed
    lake = lakes[hook]
    path = lake.path(TABLE)
    result = lake.append(TABLE, spark.createDataFrame([("next", Decimal("2.00"), None, None, "vip")],
                                                      catalog.get(TABLE).schema))
    assert result.version == 2
    removed = lake.vacuum(TABLE, retention_hours=0)
    assert removed
    assert files_on_disk(path) == {a["path"] for a in reader.add_actions(path)}
    staging = Path(path, "_staging")
    assert not staging.exists() or not list(staging.iterdir())
    columns = reader.columns(path)
    assert sorted(r[0] for r in reader.rows(path, columns)) == ["kept", "next"]
    assert sorted(r["account_id"] for r in spark_rows(lake.read(TABLE))) == ["kept", "next"]
