"""Check results and how they land in ``quality.results``.

Every check, GX expectation or custom check (manifest counts, freshness ...), becomes one row of
``quality.results`` (declared in ``schemas/quality/results.yaml``). Rows are appended through the
lake API with ``WriteTxn(app_id="quality:<run_id>:<table>", version=n)``, n counting the result
writes of that run for that table: a retried commit lands once, and a rerun after a fix adds its
rows after the failed attempt's (reports take the latest ``checked_at`` per expectation).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass

from finlake.errors import ConflictError
from finlake.lake.api import WriteTxn

log = logging.getLogger(__name__)

RESULTS_TABLE = "quality.results"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation or custom check on one table."""

    table: str
    expectation: str
    severity: str
    success: bool
    column: str | None = None
    observed: str | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    waived: bool = False
    waiver_reason: str | None = None
    details: str | None = None
    suite: str | None = None

    @property
    def blocks(self) -> bool:
        """True when this result stops the write: a blocking failure nobody waived."""
        return not self.success and self.severity == "blocking" and not self.waived

    def describe(self) -> str:
        parts = [f"{self.table}: {self.expectation}"]
        if self.column:
            parts.append(f"column={self.column}")
        if self.observed is not None:
            parts.append(f"observed={self.observed}")
        if self.unexpected_count is not None:
            parts.append(f"unexpected={self.unexpected_count} ({self.unexpected_percent or 0:.4g}%)")
        if self.details:
            parts.append(self.details)
        if self.waived:
            parts.append(f"[{self.waiver_reason}]")
        return "  ".join(parts)


def result_rows(results: list[CheckResult], run_id: str, checked_at: dt.datetime, table_version: int | None) -> list[dict]:
    rows = []
    for r in results:
        row = asdict(r)
        row["observed_value"] = row.pop("observed")
        row.update(run_id=run_id, checked_at=checked_at, layer=r.table.split(".", 1)[0], table_version=table_version)
        rows.append(row)
    return rows


def record(lake, results: list[CheckResult], run_id: str, table: str, table_version: int | None) -> None:
    """Append ``results`` (all about ``table``) to quality.results in one idempotent commit."""
    if not results:
        return
    rows = result_rows(results, run_id, dt.datetime.now(dt.timezone.utc), table_version)
    app_id = f"quality:{run_id}:{table}"
    for attempt in range(3):  # another job may commit results meanwhile; appends never conflict on data
        try:
            lake.create(RESULTS_TABLE)
            done = lake.txn_version(RESULTS_TABLE, app_id) or 0
            lake.append_rows(RESULTS_TABLE, rows, txn=WriteTxn(app_id, done + 1))
            return
        except ConflictError:
            if attempt == 2:
                raise
            log.info("quality.results: concurrent commit, retrying the append of %s", app_id)
