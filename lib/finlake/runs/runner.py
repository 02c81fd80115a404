"""Run the job graph for one as_of date: lock the lake, run each due stage's jobs, record every job.

Resume: a stage whose jobs all succeeded for the same as_of and settings (per ``ops.runs``) is
skipped, so after a failure the same command starts at the failed stage, and rerunning a
finished run writes nothing at all. ``from_stage`` forces the run to start there, rerunning
stages that already succeeded (their jobs are idempotent).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from finlake.errors import FinlakeError, InfrastructureError
from finlake.lake import Lake
from finlake.runs import tablestate
from finlake.runs.ledger import FAILED, SUCCESS, JobRecord, RunLedger
from finlake.runs.lock import RunLock
from finlake.runs.progress import LogProgress, Progress
from finlake.runs.provenance import code_version, settings_hash
from finlake.runs.registry import DEFAULT_REGISTRY, EntryNotAvailable, JobSpec, Registry, StageSpec, bind_arguments, resolve

log = logging.getLogger(__name__)

SKIPPED, NOT_DUE, NOT_AVAILABLE = "skipped", "not due", "not available yet"

# Exit codes a scheduler can act on (docs/runs.md). FinlakeError subclasses carry their own:
# 2 configuration or usage, 3 blocking quality failure, 4 infrastructure, 5 landing batch refused,
# 6 lake locked by another run.
EXIT_OK, EXIT_BUG = 0, 1
# Ledgers and check results a job writes beside its data: recorded in versions_written, not counted as rows out.
BOOKKEEPING_LAYERS = ("ops", "quality")


@dataclass
class StageResult:
    stage: str
    status: str
    note: str = ""
    records: list[JobRecord] = field(default_factory=list)


@dataclass
class RunReport:
    run_id: str
    as_of: date
    stages: list[StageResult] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.error is None else exit_code_for(self.error)

    @property
    def wrote_nothing(self) -> bool:
        return not any(s.records for s in self.stages)


def exit_code_for(exc: BaseException) -> int:
    """The process exit code for a failure: the error's own code, 4 for Spark/storage trouble, else 1."""
    if isinstance(exc, FinlakeError):
        return exc.exit_code
    if isinstance(exc, (OSError, MemoryError)) or type(exc).__module__.startswith("py4j"):
        return InfrastructureError.exit_code
    return EXIT_BUG


def new_run_id(as_of: date) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"run-{as_of:%Y%m%d}-{stamp}-{uuid.uuid4().hex[:6]}"


def run_pipeline(
    lake: Lake,
    as_of: date,
    *,
    from_stage: str | None = None,
    until_stage: str | None = None,
    registry: Registry = DEFAULT_REGISTRY,
    progress: Progress | None = None,
    break_stale_lock: bool = False,
) -> RunReport:
    """Run the selected stages for ``as_of`` under the lake lock; never raises for a job failure.

    A failing job is recorded in ``ops.runs`` as failed and ends the run: the report carries the
    error and the exit code. A held lock raises RunLockedError before anything runs.
    """
    settings = lake.settings
    stages = registry.select(from_stage, until_stage)
    run_id = new_run_id(as_of)
    progress = progress or LogProgress()
    with RunLock.acquire(settings, run_id, as_of.isoformat(), break_stale=break_stale_lock):
        run = _Run(lake.for_job("run", run_id), run_id, as_of, progress)
        done = {} if from_stage else run.ledger.completed_stages(
            as_of, run.settings_hash, {s.name: [j.name for j in s.jobs] for s in stages})
        progress.start(run_id, as_of.isoformat(), [s.name for s in stages])
        report = RunReport(run_id, as_of)
        try:
            for stage in stages:
                result = run.stage(stage, done.get(stage.name))
                report.stages.append(result)
                if result.status == FAILED:
                    report.error = run.error
                    break
        finally:
            progress.close()
    return report


class _Run:
    def __init__(self, lake: Lake, run_id: str, as_of: date, progress: Progress):
        self.lake = lake
        self.run_id = run_id
        self.as_of = as_of
        self.progress = progress
        self.ledger = RunLedger(lake)
        self.settings_hash = settings_hash(lake.settings)
        self.code_version = code_version()
        self.error: BaseException | None = None

    def stage(self, stage: StageSpec, done_by: str | None) -> StageResult:
        progress = self.progress
        if done_by:
            note = f"done by {done_by}" if done_by != self.run_id else "done"
            progress.stage_finished(stage.name, SKIPPED, note)
            return StageResult(stage.name, SKIPPED, note)
        try:
            entries = [(job, resolve(job.entry)) for job in stage.jobs]
            due = resolve(stage.due) if stage.due else None
        except EntryNotAvailable as exc:
            note = str(exc)
            log.warning("stage %s is not available yet: %s", stage.name, exc)
            progress.stage_finished(stage.name, NOT_AVAILABLE, note)
            return StageResult(stage.name, NOT_AVAILABLE, note)
        progress.stage_started(stage.name)
        if due is not None:
            is_due, why = due(lake=self.lake, settings=self.lake.settings, as_of=self.as_of, ledger=self.ledger)
            if not is_due:
                progress.stage_finished(stage.name, NOT_DUE, why)
                return StageResult(stage.name, NOT_DUE, why)
            log.info("stage %s is due: %s", stage.name, why)
        result = StageResult(stage.name, SUCCESS)
        for job, fn in entries:
            progress.job_started(stage.name, job.name)
            record = self.job(stage, job, fn)
            result.records.append(record)
            progress.job_finished(stage.name, job.name, record.rows_in, record.rows_out)
            if record.status == FAILED:
                result.status, result.note = FAILED, f"{job.name}: {record.error}"
                break
        progress.stage_finished(stage.name, result.status, result.note)
        return result

    def job(self, stage: StageSpec, job: JobSpec, fn) -> JobRecord:
        """Run one job and record it; a failure is recorded and kept in ``self.error``."""
        lake = self.lake.for_job(job.name, self.run_id)
        before = tablestate.versions(lake)
        versions_read = {t: before[t] for t in tablestate.expand(lake, job.reads) if t in before}
        started = datetime.now(timezone.utc)
        status, error, outcome = SUCCESS, None, None
        log.info("job %s.%s started (run %s)", stage.name, job.name, self.run_id)
        try:
            outcome = fn(**bind_arguments(fn, {"lake": lake, "spark": lake.spark, "settings": lake.settings,
                                               "run_id": self.run_id, "as_of": job.job_as_of(self.as_of)}))
        except Exception as exc:  # recorded, then ends the run with the error's exit code
            log.error("job %s.%s failed: %s: %s", stage.name, job.name, type(exc).__name__, exc,
                      exc_info=not isinstance(exc, FinlakeError))
            status, error, self.error = FAILED, f"{type(exc).__name__}: {exc}", exc
        ended = datetime.now(timezone.utc)
        after = tablestate.versions(lake)
        written = {t: v for t, v in after.items() if before.get(t) != v}
        rows_in = _reported(outcome, "rows_in")
        if rows_in is None and versions_read:
            rows_in = sum(tablestate.rows_at(lake, t, v) for t, v in versions_read.items())
        rows_out = _reported(outcome, "rows_out")
        if rows_out is None and status == SUCCESS:
            rows_out = sum(tablestate.rows_added(lake, t, before.get(t), v) for t, v in written.items()
                           if t.split(".")[0] not in BOOKKEEPING_LAYERS)
        record = JobRecord(
            run_id=self.run_id, as_of=self.as_of, stage=stage.name, job=job.name, status=status,
            started_at=started, ended_at=ended, rows_in=rows_in, rows_out=rows_out,
            versions_read=versions_read, versions_written=written, settings_hash=self.settings_hash,
            code_version=self.code_version, error=error,
        )
        self.ledger.record(record)
        return record


def _reported(outcome, key: str) -> int | None:
    """A row count the job returned (a mapping or an object with that attribute), if any."""
    value = outcome.get(key) if isinstance(outcome, dict) else getattr(outcome, key, None)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
