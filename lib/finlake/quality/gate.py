"""The quality gate every layer's job calls before it writes (contract: docs/quality.md).

::

    gate = QualityGate(lake, settings, run_id=run_id)
    df = df.persist()
    good, bad = gate.split(df, "cleaned.transactions")     # row-level quarantine rules
    gate.check(good, "cleaned.transactions")                # GX; raises QualityGateError (exit 3)
    lake.append("cleaned.transactions", good, txn=...)      # only after the gate passed
    gate.quarantine(bad, "cleaned.transactions", txn=...)

A gate validates *before* the commit, so a blocking failure leaves the target table where it
was. Results are recorded first, then the error is raised: the failure is always on record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finlake.catalog import PROJECT_ROOT
from finlake.errors import CatalogError, QualityGateError
from finlake.lake.api import CommitResult, Lake, WriteTxn
from finlake.quality import banners, gx_runner, results
from finlake.quality.quarantine import META_COLUMNS, PROVENANCE_COLUMNS, check_declaration, quarantine_table
from finlake.quality.results import CheckResult
from finlake.quality.rules import rules_broken
from finlake.quality.suites import SEVERITIES, Suite, SuiteError, load_suite, suite_path
from finlake.quality.waivers import Waiver, active_waiver, load_waivers
from finlake.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"


@dataclass(frozen=True)
class GateReport:
    """The outcome of one gate on one table."""

    table: str
    run_id: str
    passed: bool
    results: list[CheckResult]
    data_docs_path: str | None
    table_version: int | None
    waivers: list[Waiver] = field(default_factory=list)
    # Seconds spent in GX validation, recording results and building Data Docs.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def blocking_failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.blocks]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and not r.blocks]


@dataclass(frozen=True)
class ReprocessResult:
    """What :meth:`QualityGate.reprocess` did."""

    table: str
    released: int
    still_quarantined: int
    report: GateReport | None


class QualityGate:
    """Suites, quarantine, GX validation and result recording for one job run.

    ``expectations_dir`` holds ``<layer>/<table>.json`` suites and ``waivers.yaml``; it defaults
    to the repository's ``expectations/`` (tests point it at their own).
    """

    def __init__(self, lake: Lake, settings: Settings, run_id: str, expectations_dir: Path | str | None = None):
        if not run_id:
            raise ValueError("QualityGate needs the job's run_id: results and quarantined rows are keyed by it")
        self.lake = lake
        self.settings = settings
        self.run_id = run_id
        self.expectations_dir = Path(expectations_dir or DEFAULT_EXPECTATIONS_DIR)
        self.reports: dict[str, GateReport] = {}
        self._suites: dict[str, Suite] = {}
        self._pending: list[CheckResult] = []
        self._custom: list[CheckResult] = []
        gx_runner.warm_up(settings.quality_root)  # overlaps the job's first Spark reads

    # --- suites and waivers ----------------------------------------------------------
    def suite(self, table: str) -> Suite:
        """The validated suite of ``table`` (loaded once per gate)."""
        if table not in self._suites:
            self.lake.spec(table)  # unknown table -> TableNotFoundError listing known tables
            self._suites[table] = load_suite(suite_path(self.expectations_dir, table), table)
        return self._suites[table]

    def waivers(self) -> list[Waiver]:
        """Every waiver in the file, active or expired (re-read on each call: edits apply at once)."""
        return load_waivers(self.expectations_dir / "waivers.yaml")

    def _waive(self, result: CheckResult, waivers: list[Waiver], today: dt.date) -> CheckResult:
        waiver = active_waiver(waivers, result.table, result.expectation, today)
        if waiver is None:
            return result
        return CheckResult(**{**result.__dict__, "waived": True, "waiver_reason": waiver.describe()})

    # --- row-level rules -------------------------------------------------------------
    def split(self, df: DataFrame, table: str) -> tuple[DataFrame, DataFrame]:
        """Split ``df`` by the suite's quarantine rules into (good, bad).

        ``good`` has ``df``'s columns; ``bad`` adds ``_rules_broken`` (names of the rules each
        row broke) and ``_run_id``. Both are lazy filters of ``df``: persist ``df`` first.
        """
        if not self.suite(table).quarantine_rules:
            return df, self.flag(df.limit(0), table).withColumn("_run_id", F.lit(self.run_id))
        flagged = self.flag(df, table)
        good = flagged.filter(F.size("_rules_broken") == 0).drop("_rules_broken")
        bad = flagged.filter(F.size("_rules_broken") > 0).withColumn("_run_id", F.lit(self.run_id))
        return good, bad

    def flag(self, df: DataFrame, table: str) -> DataFrame:
        """``df`` with ``_rules_broken``: the names of the suite's quarantine rules each row breaks
        (empty when it breaks none). For a job that keeps good and bad rows in one frame."""
        return df.withColumn("_rules_broken", rules_broken(self.suite(table).quarantine_rules))

    def quarantine(self, bad: DataFrame, table: str, txn: WriteTxn | None = None) -> CommitResult | None:
        """Append the rows ``split`` set aside to ``quarantine.<table>``; None if there are none.

        Call it after the target write, with a WriteTxn of the same app id and version, so a
        rerun neither loses nor doubles quarantined rows.
        """
        self.flush()
        spec = check_declaration(self.lake.catalog, table)
        if bad.isEmpty():
            return None
        source_columns = [c.name for c in spec.columns if c.name not in META_COLUMNS]
        provenance = [F.col(c) if c in bad.columns else F.lit(None).cast(spec.schema[c].dataType).alias(c)
                      for c in PROVENANCE_COLUMNS]
        rows = bad.select(
            *source_columns,
            "_rules_broken",
            F.lit(self.run_id).alias("_run_id"),
            F.current_timestamp().alias("_quarantined_at"),
            F.lit(table).alias("_source_table"),
            F.expr("uuid()").alias("_quarantine_id"),
            *provenance,
        )
        # The rows have exactly the declared columns, so merge_schema can only add the provenance
        # columns to a quarantine table created before they were declared (null for its old rows).
        result = self.lake.append(spec.name, rows, txn=txn, merge_schema=True)
        log.info("%s: %s rows quarantined in %s (run %s)", table, result.rows_written, spec.name, self.run_id)
        return result

    # --- batch validation ------------------------------------------------------------
    def check(self, df: DataFrame, table: str) -> GateReport:
        """Validate ``df`` with the suite of ``table`` before it is written.

        Records every result (and any pending custom checks) in quality.results, builds Data
        Docs, then raises QualityGateError if a blocking expectation failed without an active
        waiver. Warnings are logged and the report returned.
        """
        suite = self.suite(table)
        if not _reads_cached_data(df):
            log.warning("%s: gating a DataFrame that is not persisted; every GX metric job recomputes it", table)
        today = dt.datetime.now(dt.timezone.utc).date()
        waivers = self.waivers()
        active = {w.expectation: w.describe() for w in waivers if w.table == table and w.active(today)}
        clock = time.perf_counter()
        outcome = gx_runner.validate(df, suite, self.settings.quality_root, self.run_id, active)
        timings = {"validate_s": time.perf_counter() - clock}
        clock = time.perf_counter()
        checks = [self._waive(self._to_result(suite, o), waivers, today) for o in outcome.results]
        table_version = self._table_version(table)
        pending = [r for r in self._pending if r.table == table]
        self._pending = [r for r in self._pending if r.table != table]
        results.record(self.lake, pending + checks, self.run_id, table, table_version)
        for other in sorted({r.table for r in self._pending}):
            self._flush_table(other)
        timings["record_s"] = time.perf_counter() - clock
        report = GateReport(
            table=table,
            run_id=self.run_id,
            passed=not any(r.blocks for r in checks),
            results=checks,
            data_docs_path=None,
            table_version=table_version,
            waivers=[w for w in waivers if w.table == table],
        )
        clock = time.perf_counter()
        try:
            docs = gx_runner.build_docs(self.settings.quality_root, outcome, banners.gate_banner(report, suite),
                                        banners.waivers_banner(waivers, today))
            report = dataclasses.replace(report, data_docs_path=str(docs))
        except Exception:  # Data Docs are for reading; a rendering bug must not decide the gate
            log.exception("%s: building Data Docs failed; results are in quality.results", table)
        timings["data_docs_s"] = time.perf_counter() - clock
        report = dataclasses.replace(report, timings={k: round(v, 3) for k, v in timings.items()})
        self.reports[table] = report
        log.info("%s: gate took %.1fs (GX %.1fs, results %.1fs, Data Docs %.1fs)", table, sum(timings.values()),
                 timings["validate_s"], timings["record_s"], timings["data_docs_s"])
        for r in report.warnings:
            log.warning("quality warning: %s", r.describe())
        if not report.passed:
            raise QualityGateError(_failure_message(report, suite, [r for r in pending if r.blocks]))
        log.info("%s: gate passed (%d expectations, %d warnings)", table, len(checks), len(report.warnings))
        return report

    def _to_result(self, suite: Suite, outcome: dict) -> CheckResult:
        exp = suite.get(outcome["finlake_rule"])
        res = outcome["result"]
        count = res.get("unexpected_count")
        percent = res.get("unexpected_percent")
        observed = gx_runner.observed_text(res.get("observed_value"))
        if observed is None and count is not None:
            total = res.get("element_count")
            observed = f"{count} of {total} rows unexpected" if total is not None else f"{count} rows unexpected"
        return CheckResult(
            table=suite.table,
            expectation=exp.name,
            severity=exp.severity,
            success=outcome["success"] and not outcome["exception"],
            column=exp.column,
            observed=observed,
            unexpected_count=count,
            unexpected_percent=float(percent) if percent is not None else None,
            details=outcome["exception"],
            suite=str(suite.path),
        )

    # --- custom checks ---------------------------------------------------------------
    def record_check(
        self,
        table: str,
        name: str,
        success: bool,
        severity: str = "blocking",
        observed=None,
        details: str | None = None,
        column: str | None = None,
        unexpected_count: int | None = None,
        unexpected_percent: float | None = None,
    ) -> CheckResult:
        """Record a check GX does not express (manifest counts, missing batches, freshness).

        Results are buffered and written to quality.results with the next ``check``,
        ``raise_if_blocking`` or ``flush`` (one commit, not one per check). Waivers apply by
        ``name`` as for expectations.
        """
        if severity not in SEVERITIES:
            raise SuiteError(f"record_check '{name}' on {table}: severity '{severity}' is not one of {', '.join(SEVERITIES)}")
        self.lake.spec(table)
        result = CheckResult(
            table=table,
            expectation=name,
            severity=severity,
            success=bool(success),
            column=column,
            observed=gx_runner.observed_text(observed),
            unexpected_count=unexpected_count,
            unexpected_percent=unexpected_percent,
            details=details,
        )
        result = self._waive(result, self.waivers(), dt.datetime.now(dt.timezone.utc).date())
        if not result.success:
            log.warning("quality check failed (%s): %s", severity, result.describe())
        self._pending.append(result)
        self._custom.append(result)
        return result

    def flush(self) -> None:
        """Write buffered custom-check results to quality.results."""
        for table in sorted({r.table for r in self._pending}):
            self._flush_table(table)

    def _flush_table(self, table: str) -> None:
        batch = [r for r in self._pending if r.table == table]
        self._pending = [r for r in self._pending if r.table != table]
        results.record(self.lake, batch, self.run_id, table, self._table_version(table))

    def raise_if_blocking(self, table: str | None = None) -> None:
        """Flush, then raise QualityGateError if a recorded custom check (of ``table``) blocks."""
        self.flush()
        failed = [r for r in self._custom if r.blocks and (table is None or r.table == table)]
        if failed:
            lines = "\n".join(f"  - {r.describe()}" for r in failed)
            raise QualityGateError(
                f"{len(failed)} blocking check(s) failed in run {self.run_id}; nothing was written for "
                f"the tables concerned:\n{lines}\nSee 'finlake quality --run {self.run_id}'."
            )

    # --- re-processing ---------------------------------------------------------------
    def reprocess(
        self,
        table: str,
        write: Callable[[DataFrame], object] | None = None,
        txn: WriteTxn | None = None,
    ) -> ReprocessResult:
        """Re-gate the rows quarantined for ``table`` under the current suite and release the good ones.

        After a steward fixes a rule (or the rows), this re-applies the quarantine rules to every
        row in ``quarantine.<table>`` meant for ``table``; rows that now pass are gated with
        ``check`` (a blocking failure raises and releases nothing), written with ``write`` (default:
        append to ``table`` with ``txn``), then deleted from quarantine. Rows that still break a
        rule stay. Rerun-safe: pass a ``txn`` so a crash between the two commits does not write
        the released rows twice. A table whose rules read columns the quarantine does not keep
        (the cleaned tables' ``_check_*``) is refused with a CatalogError naming them.
        """
        qname = quarantine_table(table)
        spec = check_declaration(self.lake.catalog, table)
        if not self.lake.exists(qname):
            return ReprocessResult(table, 0, 0, None)
        source_columns = [c.name for c in spec.columns if c.name not in META_COLUMNS]
        derived = sorted({r.column for r in self.suite(table).quarantine_rules
                          if r.column and r.column not in source_columns})
        if derived:
            raise CatalogError(
                f"cannot re-process {qname}: the quarantine rules of {table} read columns computed while "
                f"cleaning ({', '.join(derived)}) that the quarantine does not keep. Have the source re-deliver "
                f"the corrected rows (they land by key in the next 'finlake clean'); see docs/quality.md.")
        held = self.lake.read(qname).filter(F.col("_source_table") == table).persist()
        try:
            good, _ = self.split(held.select(*source_columns, "_quarantine_id"), table)
            good = good.persist()
            released = good.count()
            total = held.count()
            if released == 0:
                return ReprocessResult(table, 0, total, None)
            rows = good.drop("_quarantine_id")
            report = self.check(rows, table)
            if write is None:
                self.lake.append(table, rows, txn=txn)
            else:
                write(rows)
            leaving = held.join(good.select("_quarantine_id"), "_quarantine_id", "left_semi")
            self.lake.merge(qname, leaving, keys=("_quarantine_id",), update=False, delete_when="true")
            log.info("%s: released %d quarantined rows, %d remain", table, released, total - released)
            return ReprocessResult(table, released, total - released, report)
        finally:
            held.unpersist()

    # --- internals -------------------------------------------------------------------
    def _table_version(self, table: str) -> int | None:
        return self.lake.version(table) if self.lake.exists(table) else None


def _reads_cached_data(df: DataFrame) -> bool:
    """True if ``df`` is persisted or computed from a persisted DataFrame (e.g. ``split``'s output)."""
    if df.storageLevel.useMemory or df.storageLevel.useDisk:
        return True
    try:
        return "InMemoryRelation" in df._jdf.queryExecution().withCachedData().toString()
    except Exception:  # not a classic JVM-backed DataFrame (Spark Connect): no cheap way to tell
        return True


def _failure_message(report: GateReport, suite: Suite, custom: Sequence[CheckResult] = ()) -> str:
    """The error of a gate that stops the write: every blocking failure of the table, the GX
    expectations and the custom checks recorded with them (``record_check``), so one run names
    all the problems of a table instead of one per rerun."""
    failed = report.blocking_failures
    lines = [
        f"quality gate failed for {report.table} (run {report.run_id}): {len(failed) + len(custom)} blocking "
        f"check(s) failed; the table was not written (it stays at version {report.table_version})."
    ]
    for r in failed:
        exp = suite.get(r.expectation)
        lines.append(f"  - {r.describe()}  [owner: {exp.owner}]")
    lines += [f"  - {r.describe()}" for r in custom]
    if report.data_docs_path:
        lines.append(f"Data Docs: {report.data_docs_path}")
    lines.append(
        f"Fix the data, or edit {suite.path} (threshold/severity), or add a waiver to "
        "expectations/waivers.yaml; then rerun."
    )
    return "\n".join(lines)
