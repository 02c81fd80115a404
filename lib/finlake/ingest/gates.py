"""The raw gates: every quality-gate call of raw ingestion, in one place.

What is checked, and how it is recorded in ``quality.results`` (via finlake.quality):

- the suite ``expectations/raw/<table>.json`` (GX) on the new rows before the commit: the rows
  have the declared raw columns, lineage is complete, and value rules a steward tunes (nulls in
  required fields, unknown codes) are counted as warnings;
- ``manifest_row_count_matches`` (blocking): each batch landed exactly the rows its manifest
  declares, malformed lines included; ``batches_readable`` and ``required_columns_present``
  (blocking): no batch was refused;
- ``schema_drift_added_column`` / ``schema_drift_renamed_column`` / ``schema_drift_missing_column``
  (warnings): batches whose header differs from the declared contract;
- the counts of :mod:`finlake.ingest.profile` (warnings): truncated lines, invalid encodings,
  duplicate lines, re-sent keys, unparseable dates, impossible amounts, ages, unknown accounts;
- ``no_missing_batch`` and ``freshness`` (blocking), per table, after the commits.

Raw lands everything it can read, so only ``check`` (a broken raw frame) stops a table from
moving; the other blocking checks make the job exit non-zero after landing, so downstream jobs
do not run on incomplete data.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import DataFrame

from finlake.ingest.landing import Batch
from finlake.ingest.profile import profile_rows
from finlake.ingest.sources import SourceSpec
from finlake.lake import Lake
from finlake.settings import Settings

log = logging.getLogger(__name__)
OWNER = "data-platform (raw ingestion)"


@dataclass(frozen=True)
class BatchCheck:
    """What the gates need to know about one batch of a unit."""

    batch: Batch
    rows: int | None
    problem: str | None  # why the batch was refused, or None
    problem_kind: str | None  # "row_count", "required_columns", "unreadable", "changed"
    drift: dict[str, list[str]]  # added / missing / renamed ("old->new")


class RawGates:
    def __init__(self, lake: Lake, settings: Settings, run_id: str):
        from finlake.quality import QualityGate

        self.gate = QualityGate(lake, settings, run_id=run_id)
        # Time spent in gates by part, for the ingest report and the benchmark: "suites" (GX
        # validation, results commit, Data Docs), "profile" (the defect counts), "checks" (the rest).
        self.parts: dict[str, float] = {"suites": 0.0, "profile": 0.0, "checks": 0.0}

    @property
    def seconds(self) -> float:
        return sum(self.parts.values())

    def _timed(self, fn, *args, part: str = "checks", **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.parts[part] += time.perf_counter() - start

    def validate(self, df: DataFrame, table: str):
        """GX suite of ``table`` on the persisted new rows; raises QualityGateError if it blocks."""
        return self._timed(self.gate.check, df, table, part="suites")

    def record_batches(self, table: str, checks: list[BatchCheck]) -> None:
        """Accounting, readability, required columns and drift of the batches of this run."""
        self._timed(self._record_batches, table, checks)

    def _record_batches(self, table: str, checks: list[BatchCheck]) -> None:
        rc = self.gate.record_check
        counted = [c for c in checks if c.problem_kind in (None, "row_count")]
        wrong = [c for c in counted if c.problem_kind == "row_count"]
        rows = sum(c.rows or 0 for c in counted)
        rc(table, "manifest_row_count_matches", success=not wrong, severity="blocking",
           observed=f"{len(counted) - len(wrong)} of {len(counted)} batches match their manifest ({rows} rows)",
           details=_lines(f"{_name(c.batch)}: {c.problem}" for c in wrong))
        refused = [c for c in checks if c.problem_kind in ("unreadable", "changed")]
        rc(table, "batches_readable", success=not refused, severity="blocking",
           observed=f"{len(refused)} of {len(checks)} batches refused",
           details=_lines(f"{_name(c.batch)}: {c.problem}" for c in refused))
        missing = [c for c in checks if c.problem_kind == "required_columns"]
        rc(table, "required_columns_present", success=not missing, severity="blocking",
           observed=f"{len(missing)} of {len(checks)} batches lack required columns",
           details=_lines(f"{_name(c.batch)}: {c.problem}" for c in missing))
        for kind in ("added", "renamed", "missing"):
            hit = [c for c in checks if c.drift.get(kind)]
            rc(table, f"schema_drift_{kind}_column", success=not hit, severity="warning", observed=len(hit),
               details=_lines(_ranges(hit, kind)))

    def record_profile(self, lake: Lake, df: DataFrame, table: str, key: str | None, rows: int,
                       stats: list[dict]) -> None:
        """Count the raw-visible defects of this run's new rows of ``table`` and record them (warnings).

        ``stats``: the per-file counts computed with the accounting pass (finlake.ingest.profile).
        """
        self._timed(self._record_profile, lake, df, table, key, rows, stats, part="profile")

    def _record_profile(self, lake, df, table, key, rows, stats) -> None:
        for c in profile_rows(lake, df, table, key, stats):
            self.gate.record_check(table, c.name, success=c.count == 0, severity="warning", observed=c.count,
                                   column=c.column, details=f"{c.count} of {rows} new rows; {c.rationale}")

    def record_sequence(self, table: str, specs: list[SourceSpec], landed: dict[str, list[date]], as_of: date,
                        lag_days: int) -> None:
        """No missing batch between the first and the latest landed one; the latest is fresh."""
        gaps, stale = [], []
        for spec in specs:
            dates = landed.get(spec.source, [])
            if not dates:
                stale.append(f"{spec.source}: no batch has landed yet")
                continue
            have = set(dates)
            missing = [d for d in expected_dates(spec.cadence, dates[0], dates[-1]) if d not in have]
            if missing:
                gaps.append(f"{spec.source}: {len(missing)} missing: {', '.join(d.isoformat() for d in missing[:20])}"
                            + (" ..." if len(missing) > 20 else ""))
            due = expected_dates(spec.cadence, dates[0], as_of - timedelta(days=lag_days))
            if spec.cadence != "once" and due and dates[-1] < due[-1]:
                stale.append(f"{spec.source}: latest batch {dates[-1]}, expected {due[-1]} by {as_of} "
                             f"(freshness_lag_days={lag_days})")
        rc = self.gate.record_check
        self._timed(rc, table, "no_missing_batch", success=not gaps, severity="blocking",
                    observed=f"{len(gaps)} of {len(specs)} sources have gaps", details=_lines(gaps))
        self._timed(rc, table, "freshness", success=not stale, severity="blocking",
                    observed=f"as of {as_of}: {len(stale)} of {len(specs)} sources stale", details=_lines(stale))

    def flush(self) -> None:
        self._timed(self.gate.flush)

    def raise_if_blocking(self) -> None:
        """Raise QualityGateError if a recorded raw check failed with severity blocking."""
        self._timed(self.gate.raise_if_blocking)


def expected_dates(cadence: str, first: date, last: date) -> list[date]:
    """The delivery dates a source of ``cadence`` owes from ``first`` to ``last`` (inclusive)."""
    if last < first:
        return []
    if cadence == "once":
        return [first]
    if cadence == "daily":
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    out = [first] if cadence == "monthly" else []
    month = date(first.year, first.month, 1)
    while month <= last:
        nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        day = month if cadence == "monthly" else nxt - timedelta(days=1)
        if first <= day <= last and day not in out:
            out.append(day)
        month = nxt
    return sorted(out)


def _name(batch: Batch) -> str:
    return f"{batch.spec.source}/{batch.batch_id}"


def _lines(items) -> str | None:
    items = list(items)
    return "\n".join(items) if items else None


def _ranges(hit: list[BatchCheck], kind: str) -> list[str]:
    """'source: first..last (n batches): columns', one line per distinct drift."""
    groups: dict[tuple[str, str], list[str]] = {}
    for c in hit:
        groups.setdefault((c.batch.spec.source, ",".join(c.drift[kind])), []).append(c.batch.batch_id)
    return [f"{src}: {min(b)}..{max(b)} ({len(b)} batches): {cols}" if len(b) > 1 else f"{src}: {b[0]}: {cols}"
            for (src, cols), b in sorted(groups.items())]
