"""The run ledger ``ops.runs``: one row per job of a run, written when the job ends."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from pyspark.sql import functions as F

from finlake.lake import Lake

TABLE = "ops.runs"
SUCCESS, FAILED = "success", "failed"


@dataclass(frozen=True)
class JobRecord:
    run_id: str
    as_of: date
    stage: str
    job: str
    status: str
    started_at: datetime
    ended_at: datetime
    rows_in: int | None
    rows_out: int | None
    versions_read: dict[str, int] = field(default_factory=dict)
    versions_written: dict[str, int] = field(default_factory=dict)
    settings_hash: str = ""
    code_version: str = ""
    error: str | None = None


class RunLedger:
    """Writes and reads ``ops.runs`` through the lake (either engine)."""

    def __init__(self, lake: Lake):
        self.lake = lake

    def record(self, record: JobRecord) -> None:
        self.lake.append_rows(TABLE, [asdict(record)])

    def rows(self, run_id: str | None = None, as_of: date | None = None) -> list[JobRecord]:
        """Ledger rows, oldest first, optionally for one run or one as_of."""
        if not self.lake.exists(TABLE):
            return []
        df = self.lake.read(TABLE)
        if run_id is not None:
            df = df.filter(F.col("run_id") == run_id)
        if as_of is not None:
            df = df.filter(F.col("as_of") == F.lit(as_of))
        out = [JobRecord(**r.asDict()) for r in df.orderBy("started_at", "ended_at").collect()]
        return [_plain_maps(r) for r in out]

    def completed_stages(self, as_of: date, settings_hash: str, stage_jobs: dict[str, list[str]]) -> dict[str, str]:
        """Stage -> run id of the latest run that finished every job of that stage for this as_of and settings."""
        latest: dict[tuple[str, str], JobRecord] = {}  # the last attempt decides (a forced rerun may fail)
        for r in self.rows(as_of=as_of):
            if r.settings_hash == settings_hash:
                latest[(r.stage, r.job)] = r
        done: dict[str, str] = {}
        for stage, jobs in stage_jobs.items():
            attempts = [latest.get((stage, j)) for j in jobs]
            if jobs and all(a is not None and a.status == SUCCESS for a in attempts):
                done[stage] = attempts[-1].run_id
        return done


def _plain_maps(record: JobRecord) -> JobRecord:
    # Spark returns map columns as dicts already; None (never written) becomes empty.
    return JobRecord(**{**asdict(record), "versions_read": dict(record.versions_read or {}),
                        "versions_written": dict(record.versions_written or {})})
