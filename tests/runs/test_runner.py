"""The runner on tiny real stages: ledger, resume, idempotent reruns, lock, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest
from runs_test_stages import TEST_REGISTRY, fail_next
from deltalake import DeltaTable

from finlake.runs import RunLock, RunLockedError, run_pipeline
from finlake.runs.lock import lock_path

pytestmark = pytest.mark.xdist_group("runs")

AS_OF = date(2024, 3, 31)
DATA_TABLES = ("raw.events", "ops.ingest_ledger", "cleaned.events", "features.event_counts")


def run(lake, **kwargs):
    return run_pipeline(lake, AS_OF, registry=TEST_REGISTRY, **kwargs)


def versions(lake, names=DATA_TABLES + ("ops.runs",)):
    return {n: DeltaTable(lake.path(n)).version() for n in names if DeltaTable.is_deltatable(lake.path(n))}


def ledger(lake) -> pl.DataFrame:
    """ops.runs read by an independent reader (delta-rs + Polars), oldest first."""
    return pl.from_arrow(DeltaTable(lake.path("ops.runs")).to_pyarrow_table()).sort("started_at")


def test_run_records_every_job_in_ops_runs(lake):
    report = run(lake)

    assert report.exit_code == 0
    assert [(s.stage, s.status) for s in report.stages] == [
        ("ingest", "success"), ("clean", "success"), ("features", "success"), ("train", "not due"),
        ("audiences", "not available yet")]
    runs = ledger(lake)
    got = [(r["run_id"], r["as_of"], r["stage"], r["job"], r["status"], r["rows_in"], r["rows_out"],
            dict(r["versions_read"] or []), dict(r["versions_written"] or []), r["error"])
           for r in runs.iter_rows(named=True)]
    rid = report.run_id
    assert got == [
        (rid, AS_OF, "ingest", "ingest_events", "success", 3, 3, {},
         {"raw.events": 1, "ops.ingest_ledger": 1}, None),
        (rid, AS_OF, "clean", "clean_events", "success", 3, 3, {"raw.events": 1}, {"cleaned.events": 1}, None),
        (rid, AS_OF, "features", "count_events", "success", 3, 2, {"cleaned.events": 1},
         {"features.event_counts": 1}, None),
    ]
    assert runs["settings_hash"].n_unique() == 1 and len(runs["settings_hash"][0]) == 16
    assert runs["code_version"][0].startswith("git:")
    assert (runs["ended_at"] >= runs["started_at"]).all()


def test_failed_stage_resumes_at_that_stage_without_redoing_earlier_ones(lake):
    marker = fail_next(lake.settings, "features", "quality")
    first = run(lake)
    assert first.exit_code == 3
    assert [(s.stage, s.status) for s in first.stages] == [
        ("ingest", "success"), ("clean", "success"), ("features", "failed")]
    assert not DeltaTable.is_deltatable(lake.path("features.event_counts"))
    before = versions(lake, ("raw.events", "cleaned.events"))

    marker.unlink()
    second = run(lake)

    assert second.exit_code == 0
    assert [(s.stage, s.status) for s in second.stages][:3] == [
        ("ingest", "skipped"), ("clean", "skipped"), ("features", "success")]
    assert versions(lake, ("raw.events", "cleaned.events")) == before
    runs = ledger(lake)
    assert [(r["run_id"], r["stage"], r["status"]) for r in runs.iter_rows(named=True)] == [
        (first.run_id, "ingest", "success"), (first.run_id, "clean", "success"),
        (first.run_id, "features", "failed"), (second.run_id, "features", "success")]
    assert runs["error"][2] == "QualityGateError: expectation 'amount_positive' failed on cleaned.events: 1 row"
    counts = pl.from_arrow(DeltaTable(lake.path("features.event_counts")).to_pyarrow_table()).sort("customer")
    assert counts.rows() == [("c0", 2, 4.0), ("c1", 1, 2.0)]


def test_rerun_of_a_finished_run_moves_no_table(lake):
    run(lake)
    before = versions(lake)

    again = run(lake)

    assert again.exit_code == 0 and again.wrote_nothing
    assert {s.stage: s.status for s in again.stages}["features"] == "skipped"
    assert versions(lake) == before


def test_forced_rerun_from_a_stage_changes_no_data(lake):
    run(lake)
    before = versions(lake, DATA_TABLES)

    forced = run(lake, from_stage="clean")

    assert [(s.stage, s.status) for s in forced.stages][:2] == [("clean", "success"), ("features", "success")]
    assert versions(lake, DATA_TABLES) == before  # idempotent jobs: their transactions are already committed
    assert ledger(lake).filter(pl.col("run_id") == forced.run_id)["versions_written"].to_list() == [{}, {}]


@pytest.mark.parametrize(("kind", "code"), [("quality", 3), ("infrastructure", 4), ("bug", 1)])
def test_exit_code_says_what_kind_of_failure_stopped_the_run(lake, kind, code):
    fail_next(lake.settings, "ingest", kind)

    report = run(lake)

    assert report.exit_code == code
    assert [(s.stage, s.status) for s in report.stages] == [("ingest", "failed")]
    assert not DeltaTable.is_deltatable(lake.path("raw.events"))


def test_a_second_run_is_refused_while_another_holds_the_lock(lake):
    with RunLock.acquire(lake.settings, "run-other", AS_OF.isoformat()):
        with pytest.raises(RunLockedError, match=r"locked by run run-other \(as_of 2024-03-31\).*pid") as err:
            run(lake)
    assert err.value.exit_code == 6
    assert not DeltaTable.is_deltatable(lake.path("ops.runs"))
    assert run(lake).exit_code == 0  # released: the next run goes ahead


def test_lock_held_by_another_process_is_refused_then_detected_stale_when_it_dies(lake):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from finlake.runs import RunLock
            from finlake.settings import load_settings
            s = load_settings(overrides={{"home": {lake.settings.home!r}}}, environ={{}})
            RunLock.acquire(s, "run-in-another-process", "2024-03-31")
            print("locked", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"run-in-another-process.*pid {holder.pid}"):
            run(lake)
    finally:
        holder.kill()
        holder.wait()

    with pytest.raises(RunLockedError, match=f"stale lock.*process {holder.pid} is no longer running.*--break-stale-lock"):
        run(lake)
    assert run(lake, break_stale_lock=True).exit_code == 0
    assert not os.path.exists(lock_path(lake.settings))


def test_lock_older_than_the_max_age_is_stale(lake):
    lock = RunLock.acquire(lake.settings, "run-old", AS_OF.isoformat())
    owner = lock.read_owner()
    aged = datetime.now(timezone.utc) + timedelta(hours=lake.settings.run_lock_max_age_hours + 1)
    assert owner.stale_reason(lake.settings.run_lock_max_age_hours) is None
    assert "hours old" in owner.stale_reason(lake.settings.run_lock_max_age_hours, now=aged)
    lock.release()
    assert not os.path.exists(lock_path(lake.settings))


def test_monthly_jobs_get_the_latest_cut_off_the_business_date_completes():
    from finlake.runs.registry import month_cutoff

    assert [month_cutoff(date(2024, 12, 31)), month_cutoff(date(2024, 12, 15)), month_cutoff(date(2024, 2, 29)),
            month_cutoff(date(2024, 3, 1))] == [date(2025, 1, 1), date(2024, 12, 1), date(2024, 3, 1), date(2024, 3, 1)]


def test_a_run_without_as_of_is_for_today_on_the_banks_calendar():
    from datetime import datetime, timezone

    from finlake.runs.registry import business_today

    # 17:30 UTC on 31 December is 01:30 on 1 January in Beijing: the bank's new business day.
    assert business_today(datetime(2024, 12, 31, 17, 30, tzinfo=timezone.utc)) == date(2025, 1, 1)
    assert business_today(datetime(2024, 12, 31, 15, 59, tzinfo=timezone.utc)) == date(2024, 12, 31)


def test_default_registry_runs_the_stages_in_pipeline_order():
    from finlake.runs.registry import DEFAULT_REGISTRY, STAGE_ORDER

    from finlake.commands.run import STAGES

    assert tuple(DEFAULT_REGISTRY.names()) == STAGE_ORDER == STAGES
    assert [s.name for s in DEFAULT_REGISTRY.select("clean", "score")] == ["clean", "features", "train", "score"]
    with pytest.raises(ValueError, match="--from score comes after --until clean"):
        DEFAULT_REGISTRY.select("score", "clean")
