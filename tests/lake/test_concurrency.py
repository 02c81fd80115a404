"""Two OS processes write one table at the same moment.

Each worker (``lake_worker.py``, its own Spark session) waits at a barrier after it has read the
table and staged its files, so both commits truly race. Appends must both land; conflicting
overwrites or merges: exactly one wins and the other gets a ConflictError; every version stays
readable by an independent reader and no committed row is lost.

The two workers are the ``writers`` fixture of conftest.py; after the race each is killed in a
last write of its own, to another table (test_crash.py).
"""

from __future__ import annotations

import pytest

from lakecheck import canonical, race_outcomes, spark_rows

pytestmark = [pytest.mark.xdist_group("lake-processes")]

TABLE = "contract.accounts"


@pytest.fixture
def race(writers):
    """The race table and the two workers that wrote it (the ``writers`` fixture in conftest.py)."""
    return writers.race_lake, writers.race_procs


def test_concurrent_appends_both_land(race):
    lake, procs = race
    results = [race_outcomes(p) for p in procs]
    appends = [r["0-append"] for r in results]
    assert all(a["ok"] for a in appends)
    assert sorted(a["version"] for a in appends) == [1, 2]
    at_two = {r["account_id"] for r in spark_rows(lake.read(TABLE, version=2))}
    assert at_two == {f"w{w}-{i}" for w in (1, 2) for i in range(3)}


def test_conflicting_overwrites_exactly_one_wins(race):
    lake, procs = race
    results = [race_outcomes(p) for p in procs]
    overwrites = [r["1-overwrite"] for r in results]
    winners = [o for o in overwrites if o["ok"]]
    losers = [o for o in overwrites if not o["ok"]]
    assert len(winners) == 1 and len(losers) == 1 and winners[0]["version"] == 3
    assert losers[0]["error"] == "ConflictError"
    assert "contract.accounts" in losers[0]["message"] and "another writer" in losers[0]["message"]
    winner = 1 + overwrites.index(winners[0])
    assert {r["account_id"] for r in spark_rows(lake.read(TABLE, version=3))} == {"shared", f"o{winner}"}


def test_conflicting_merges_exactly_one_wins(race):
    lake, procs = race
    results = [race_outcomes(p) for p in procs]
    merges = [r["2-merge"] for r in results]
    winners = [m for m in merges if m["ok"]]
    assert len(winners) == 1 and winners[0]["version"] == 4
    assert [m["error"] for m in merges if not m["ok"]] == ["ConflictError"]
    w = 1 + merges.index(winners[0])
    ow = 1 + [r["1-overwrite"]["ok"] for r in results].index(True)
    balances = {r["account_id"]: str(r["balance"]) for r in spark_rows(lake.read(TABLE))}
    assert balances == {"shared": f"10{w}.00", f"o{ow}": "1.00", f"m{w}": "2.00"}


def test_every_version_after_the_race_reads_the_same_in_an_independent_reader(race, reader):
    lake, procs = race
    for proc in procs:
        race_outcomes(proc)
    path = lake.path(TABLE)
    assert lake.version(TABLE) == reader.version(path) == 4
    columns = reader.columns(path)
    for v in range(5):
        assert reader.rows(path, columns, v) == canonical(spark_rows(lake.read(TABLE, version=v)), columns)
    history = {h.version: (h.operation, h.job) for h in lake.history(TABLE)}
    assert [history[v][0] for v in range(5)] == ["CREATE TABLE", "APPEND", "APPEND", "OVERWRITE", "MERGE"]
    assert {history[1][1], history[2][1]} == {"worker-1", "worker-2"}
