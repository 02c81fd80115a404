"""Lineage from a table version back to landing batches, and the run commands' output."""

from __future__ import annotations

import json
from datetime import date

import pytest
from runs_test_stages import TEST_REGISTRY, fail_next

from finlake.cli import main
from finlake.runs import run_pipeline
from finlake.runs.lineage import lineage

pytestmark = pytest.mark.xdist_group("runs")

AS_OF = date(2024, 3, 31)


def shape(node) -> dict:
    """The parts of a lineage node a test can predict."""
    return {"table": f"{node.table}@{node.version}", "by": (node.run_id, node.stage, node.job),
            "inputs": [shape(i) for i in node.inputs], "batches": node.batches}


def test_lineage_walks_from_a_feature_version_back_to_the_landing_batch(lake):
    first = run_pipeline(lake, AS_OF, registry=TEST_REGISTRY)
    second = run_pipeline(lake, date(2024, 4, 1), registry=TEST_REGISTRY)
    batch = {"source": "events", "batch": "2024-04-01", "status": "ingested", "rows": 3}

    assert shape(lineage(lake, "features.event_counts")) == {
        "table": "features.event_counts@2", "by": (second.run_id, "features", "count_events"), "batches": [],
        "inputs": [{
            "table": "cleaned.events@2", "by": (second.run_id, "clean", "clean_events"), "batches": [],
            "inputs": [{"table": "raw.events@2", "by": (second.run_id, "ingest", "ingest_events"),
                        "inputs": [], "batches": [batch]}],
        }],
    }
    older = lineage(lake, "cleaned.events", version=1)
    assert (older.run_id, older.inputs[0].table, older.inputs[0].version) == (first.run_id, "raw.events", 1)
    assert older.inputs[0].batches == [{**batch, "batch": "2024-03-31"}]
    assert older.code_version.startswith("git:")


def test_runs_command_lists_runs_and_the_jobs_of_one(lake, capsys):
    fail_next(lake.settings, "clean", "quality")
    failed = run_pipeline(lake, AS_OF, registry=TEST_REGISTRY)
    home = ["--home", lake.settings.home, "--engine", "bridge"]

    assert main(["runs", "--json", *home]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [(r["run_id"], r["as_of"], r["status"], r["stages"], r["jobs"], r["rows_out"], r["error"]) for r in runs] == [
        (failed.run_id, "2024-03-31", "failed", ["ingest", "clean"], 2, 3,
         "clean.clean_events: QualityGateError: expectation 'amount_positive' failed on cleaned.events: 1 row")]

    assert main(["runs", failed.run_id, "--json", *home]) == 0
    jobs = json.loads(capsys.readouterr().out)
    assert [(j["stage"], j["status"], j["versions_written"]) for j in jobs] == [
        ("ingest", "success", {"ops.ingest_ledger": 1, "raw.events": 1}), ("clean", "failed", {})]

    assert main(["runs", "run-that-never-was", *home]) == 2
    assert "no run 'run-that-never-was'" in capsys.readouterr().err


def test_run_command_exits_6_naming_the_owner_when_the_lake_is_locked(lake, capsys):
    from finlake.runs import RunLock

    with RunLock.acquire(lake.settings, "run-nightly", "2024-03-30"):
        code = main(["run", "--as-of", "2024-03-31", "--home", lake.settings.home, "--engine", "bridge"])

    assert code == 6
    err = capsys.readouterr().err
    assert "RunLockedError: the lake at" in err and "locked by run run-nightly (as_of 2024-03-30)" in err
