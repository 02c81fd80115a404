"""``ingest_all``: land every new landing batch in its raw table, gated and accounted for.

One run, step by step (docs/raw.md has the operator's view):

1. Complete what a crashed run left (pending ledger rows, see :mod:`finlake.ingest.ledger`).
2. List the landing batches of the chosen sources and compare them with the ledger: new batches
   are ingested; already-landed ones with the same checksum are left alone (recorded as
   ``skipped`` when re-sent); a different checksum is refused unless the operator names the
   batch in ``replace``.
3. Verify the new batches on the driver (manifest, size, SHA-256, line count, header).
4. Per raw table, read all new files of a source in one Spark read, parse, persist, account
   rows per batch against the manifests, gate, and commit once (``WriteTxn('ingest:<table>',
   n)``), in units of at most ``MAX_UNIT_BYTES`` of input.
5. Write the ledger outcomes, check sequences and freshness, and fail loudly: ``IngestError``
   (exit 5) if a batch was refused, else ``QualityGateError`` (exit 3) if a blocking check failed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace as dc_replace
from datetime import date, datetime, timezone
from functools import reduce
from typing import Callable

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finlake.errors import ConflictError, QualityGateError, SettingsError
from finlake.ingest.errors import IngestError
from finlake.ingest.gates import BatchCheck, RawGates
from finlake.ingest.landing import Batch, list_batches, verify_batches
from finlake.ingest.ledger import Ledger, LedgerRow, raw_batch_counts
from finlake.ingest.parse import FileToParse, number_lines, parse_lines, read_lines
from finlake.ingest.profile import file_stats
from finlake.ingest.sources import SourceSpec, load_sources, select_sources
from finlake.lake import Lake, WriteTxn
from finlake.settings import Settings

log = logging.getLogger(__name__)

# Input bytes per Spark read + commit. Bounds the persisted frame (the gate must not recompute
# it) while keeping a year of daily files in a handful of commits.
MAX_UNIT_BYTES = 512 * 1024 * 1024
# Input bytes per partition of the persisted frame of one unit (see _sized).
PARTITION_BYTES = 64 * 1024 * 1024
# A batch where more than this share of lines is not valid in the declared encoding is refused:
# the file is not in the encoding it claims, rather than carrying a few broken lines.
MAX_INVALID_ENCODING_SHARE = 0.5


@dataclass
class IngestReport:
    """What one ingest run did; ``ledger_rows`` are the ledger rows it wrote."""

    run_id: str
    as_of: date | None
    ledger_rows: list[LedgerRow] = field(default_factory=list)
    recovered: list[LedgerRow] = field(default_factory=list)  # outcomes of batches a crashed run left
    raw_versions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    gate_seconds: float = 0.0
    gate_parts: dict[str, float] = field(default_factory=dict)  # gate_seconds by part (RawGates.parts)

    def with_status(self, *statuses: str) -> list[LedgerRow]:
        return [r for r in self.ledger_rows if r.status in statuses]

    @property
    def rows_landed(self) -> int:
        return sum(r.rows or 0 for r in self.with_status("ingested", "replaced"))

    def summary(self) -> str:
        landed = self.with_status("ingested", "replaced")
        failed = self.with_status("failed")
        lines = [f"ingest run {self.run_id} (as of {self.as_of}): {len(landed)} batches landed "
                 f"({self.rows_landed} rows), {len(self.with_status('skipped'))} skipped, {len(failed)} failed, "
                 f"{self.seconds:.1f}s (gates {self.gate_seconds:.1f}s"
                 + "".join(f", {k} {v:.1f}s" for k, v in self.gate_parts.items()) + ")"]
        lines += [f"  failed {r.source}/{r.batch}: {r.reason}" for r in failed]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Unit:
    table: str
    batches: tuple[Batch, ...]
    replace: bool
    txn_version: int


def ingest_all(
    lake: Lake,
    settings: Settings,
    run_id: str,
    sources: list[str] | tuple[str, ...] | None = None,
    replace: tuple[str, ...] | list[str] = (),
    as_of: date | None = None,
) -> IngestReport:
    """Land every new batch of ``sources`` in its raw table; see the module doc.

    ``sources`` defaults to the setting ``landing_sources``, and when that is unset to every
    source the catalog declares.

    ``replace`` names batches (``SOURCE/BATCH``) re-sent with a different checksum whose landed
    rows the operator wants replaced. ``as_of`` is the date freshness is judged against (default:
    the latest business date in the landing folders of the chosen sources); when given, batches
    of later business dates are left for a later run.
    """
    started = time.perf_counter()
    lake = lake.for_job("ingest_raw", run_id)
    all_specs = load_sources(lake.catalog)
    if sources:
        specs = select_sources(all_specs, sources)
    else:
        try:
            specs = select_sources(all_specs, settings.landing_source_names())
        except SettingsError as exc:
            raise SettingsError(f"setting 'landing_sources' (from {settings.sources.get('landing_sources')}): {exc}; "
                                "correct it, or leave it unset to land every source") from exc
    replace_keys = _parse_replace(replace, all_specs, specs)
    gates = RawGates(lake, settings, run_id)
    ledger = Ledger.load(lake)
    report = IngestReport(run_id=run_id, as_of=None)

    report.recovered = _recover(lake, ledger, run_id)
    listed = {spec.source: list_batches(settings.landing_root, spec) for spec in specs}
    if as_of is not None:  # a run for as_of D does not land later business dates (a replay of a year)
        listed = {src: [b for b in bs if b.business_date is None or b.business_date <= as_of]
                  for src, bs in listed.items()}
    for source, batch in replace_keys:
        if not any(b.batch_id == batch for b in listed[source]):
            raise SettingsError(f"--replace-batch {source}/{batch}: no such batch folder under "
                                f"{settings.landing_root}/{source}")
    dates = [b.business_date for bs in listed.values() for b in bs if b.business_date]
    report.as_of = as_of or (max(dates) if dates else None)

    decided, todo = _plan(listed, ledger, replace_keys)
    verified = verify_batches(settings.landing_root, [b for b, _ in todo])
    replacing = {b.key for b, r in todo if r}
    checks: dict[str, list[BatchCheck]] = {}
    events: list[LedgerRow] = []
    for b, status in decided + [(b, "failed") for b in verified if b.problem]:
        events.append(_row(b, status, run_id, reason=b.problem))
        if status == "failed":
            checks.setdefault(b.spec.raw_table, []).append(BatchCheck(b, None, b.problem, b.problem_kind, {}))
    ready = [b for b in verified if not b.problem]

    units = _units(lake, ready, replacing)
    ledger.append([_row(b, "pending", run_id, txn=u.txn_version) for u in units for b in u.batches], run_id, 2)
    last_unit = {u.table: u for u in units}
    recorded: set[str] = set()

    def record_table(table: str, unit_checks: list[BatchCheck], final: bool) -> None:
        # Table-level checks go in before the gate of the table's last unit, so quality.results
        # gets one commit per table; tables without a unit are recorded after the loop.
        checks.setdefault(table, []).extend(unit_checks)
        if not final:
            return
        gates.record_batches(table, checks.get(table, []))
        if report.as_of is not None:
            table_specs = [s for s in specs if s.raw_table == table]
            landing_now = [c.batch for c in checks.get(table, []) if c.problem is None]
            landed = {s.source: sorted(set(ledger.landed_dates(s.source))
                                       | {b.business_date for b in landing_now if b.spec.source == s.source})
                      for s in table_specs}
            gates.record_sequence(table, table_specs, landed, report.as_of, settings.freshness_lag_days)
        recorded.add(table)

    outcomes: list[LedgerRow] = []
    for unit in units:
        final = unit is last_unit[unit.table]
        outcomes += _ingest_unit(lake, gates, unit, run_id,
                                 lambda unit_checks, u=unit, f=final: record_table(u.table, unit_checks, f))
        report.raw_versions[unit.table] = lake.version(unit.table)
    ledger.append(outcomes + events, run_id, 3)
    report.ledger_rows += outcomes + events
    for table in sorted(({s.raw_table for s in specs} | set(checks)) - recorded):
        if table in checks:
            gates.record_batches(table, checks[table])
        if report.as_of is not None:
            table_specs = [s for s in specs if s.raw_table == table]
            landed = {s.source: ledger.landed_dates(s.source) for s in table_specs}
            gates.record_sequence(table, table_specs, landed, report.as_of, settings.freshness_lag_days)
    gates.flush()
    report.gate_seconds = gates.seconds
    report.gate_parts = {k: round(v, 1) for k, v in gates.parts.items()}
    report.seconds = time.perf_counter() - started
    log.info(report.summary())
    failed = report.with_status("failed")
    if failed:
        listing = "\n".join(f"  - {r.source}/{r.batch}: {r.reason}" for r in failed)
        raise IngestError(f"{len(failed)} landing batch(es) were not ingested (the others landed); they are "
                          f"recorded as failed in ops.ingest_ledger and retried by the next run once fixed:\n"
                          f"{listing}", report)
    gates.raise_if_blocking()
    return report


def _parse_replace(replace, all_specs: dict[str, SourceSpec], specs: list[SourceSpec]) -> set[tuple[str, str]]:
    out = set()
    chosen = {s.source for s in specs}
    for item in replace:
        source, _, batch = item.rstrip("/").rpartition("/")
        if source not in all_specs or not batch:
            raise SettingsError(f"--replace-batch '{item}' is not SOURCE/BATCH (e.g. transactions/2024-03-05); "
                                f"known sources: {', '.join(sorted(all_specs))}")
        if source not in chosen:
            raise SettingsError(f"--replace-batch '{item}': source '{source}' is not among the sources of this run")
        out.add((source, batch))
    return out


def _plan(listed: dict[str, list[Batch]], ledger: Ledger, replace_keys: set):
    """Compare landing with the ledger: ([(batch, status)] decided without reading data, where the
    batch's problem is the reason; [(batch, replaces?)] to verify and ingest)."""
    states = ledger.states()
    decided, todo = [], []
    for batches in listed.values():
        for b in batches:
            state = states.get(b.key)
            if state is None or state.landed is None:
                todo.append((b, False))
                continue
            landed = state.landed
            if b.problem:
                log.warning("%s/%s: already landed, but its folder now has a problem: %s", *b.key, b.problem)
                continue
            if b.checksum == landed.checksum:
                if b.key in replace_keys:
                    decided.append((b.failed("--replace-batch given, but the batch has the checksum already "
                                             f"landed by run {landed.run_id}; nothing to replace", "same"), "skipped"))
                elif b.manifest_mtime and b.manifest_mtime > state.last.recorded_at:
                    decided.append((b.failed(f"re-sent with the checksum already landed by run {landed.run_id}; "
                                             "nothing to do", "same"), "skipped"))
                continue
            if b.key in replace_keys:
                todo.append((b, True))
                continue
            decided.append((b.failed(
                f"re-sent with a different checksum (landed {landed.checksum[:12]}... by run {landed.run_id}, "
                f"now {b.checksum[:12]}...): refused. If the new delivery is right, rerun with "
                f"--replace-batch {b.spec.source}/{b.batch_id} to replace the landed rows", "changed"), "failed"))
    return decided, todo


def _units(lake: Lake, ready: list[Batch], replacing: set) -> list[_Unit]:
    """Group verified batches into commits: per raw table, by input size; replacements apart."""
    units = []
    tables = []
    for b in ready:
        if b.spec.raw_table not in tables:
            tables.append(b.spec.raw_table)
    for table in tables:
        lake.create(table)
        version = lake.txn_version(table, f"ingest:{table}") or 0
        for is_replace in (False, True):
            group = [b for b in ready if b.spec.raw_table == table and (b.key in replacing) == is_replace]
            chunk, size = [], 0
            for b in sorted(group, key=lambda x: (x.spec.source, x.batch_id)):
                nbytes = sum(f.bytes or 0 for f in b.files)
                if chunk and size + nbytes > MAX_UNIT_BYTES:
                    version += 1
                    units.append(_Unit(table, tuple(chunk), is_replace, version))
                    chunk, size = [], 0
                chunk.append(b)
                size += nbytes
            if chunk:
                version += 1
                units.append(_Unit(table, tuple(chunk), is_replace, version))
    return units


def _ingest_unit(lake: Lake, gates: RawGates, unit: _Unit, run_id: str,
                 before_gate: Callable[[list[BatchCheck]], None]) -> list[LedgerRow]:
    """Read, parse, account, gate and commit one unit; its ledger outcome rows.

    ``before_gate(checks)`` records the table-level checks just before the gate runs.
    """
    table, spark = unit.table, lake.spark
    columns = lake.spec(table).schema.fieldNames()
    ingested_at = datetime.now(timezone.utc)
    frames = []
    for spec in _specs_of(unit.batches):
        batches = [b for b in unit.batches if b.spec == spec]
        files = [FileToParse(key=f"{b.batch_id}/{f.name}", source_file=f.rel, batch_id=b.batch_id,
                             business_date=b.business_date, header=f.header)
                 for b in batches for f in b.files]
        lines = read_lines(spark, [f.path for b in batches for f in b.files], spec.encoding)
        frames.append(parse_lines(number_lines(lines), spec, files, ingested_at, columns))
    df = reduce(DataFrame.unionByName, frames).persist(StorageLevel.MEMORY_AND_DISK)
    good = df
    try:
        stats = {r["_source_file"]: r.asDict() for r in file_stats(df, table).collect()}
        checks = [_check_batch(b, stats) for b in unit.batches]
        refused = [c for c in checks if c.problem]
        good = df
        if refused:
            bad_files = [f.rel for c in refused for f in c.batch.files]
            good = df.where(~F.col("_source_file").isin(bad_files)).persist(StorageLevel.MEMORY_AND_DISK)
        outcome = [c for c in checks if not c.problem]
        rows = sum(c.rows or 0 for c in outcome)
        # The gates read the persisted rows in fewer, fuller partitions than the read made.
        gated = _sized(good, sum(f.bytes or 0 for c in outcome for f in c.batch.files))
        if outcome:
            kept = [stats[f.rel] for c in outcome for f in c.batch.files if f.rel in stats]
            gates.record_profile(lake, gated, table, _key(unit), rows, kept)
        before_gate(checks)
        try:
            if outcome:
                gates.validate(gated, table)
        except QualityGateError as exc:
            reason = f"the raw gate of {table} failed: {str(exc).splitlines()[0]}"
            return [_row(c.batch, "failed", run_id, reason=reason, rows=c.rows) for c in checks]
        if outcome:
            txn = WriteTxn(f"ingest:{table}", unit.txn_version)
            if unit.replace:
                folders = " OR ".join(f"_source_file LIKE '{c.batch.spec.source}/{c.batch.batch_id}/%'" for c in outcome)
                result = lake.replace_where(table, good, f"({folders})", txn=txn)
            else:
                result = lake.append(table, good, txn=txn)
            if result.skipped:
                raise ConflictError(
                    f"{table}: the commit {txn.app_id}:{txn.version} was already made by another ingest run; "
                    "run one ingest at a time, then rerun (nothing of this unit was written twice)")
            log.info("%s: landed %d rows of %d batches (version %s)", table, rows, len(outcome), result.version)
        status = "replaced" if unit.replace else "ingested"
        out = []
        for c in checks:
            malformed = sum(int(stats[f.rel]["malformed"] or 0) for f in c.batch.files if f.rel in stats)
            out.append(_row(c.batch, "failed" if c.problem else status, run_id, reason=c.problem, rows=c.rows,
                            malformed=malformed, drift=_drift_text(c.drift), txn=unit.txn_version,
                            header=_header_text(c.batch, stats)))
        return out
    finally:
        if good is not df:
            good.unpersist()
        df.unpersist()


def _sized(df: DataFrame, input_bytes: int) -> DataFrame:
    """``df`` in about one partition per ``PARTITION_BYTES`` of input, never fewer than the cores.

    Spark packs small files into a split by a nominal 4 MB open cost each, so a year of daily
    files of a few kilobytes reads as dozens of near-empty partitions. Every one of the dozen
    jobs the gate and the profile run on the persisted frame pays for each of them (a third of
    GX's time on a small table). Coalescing a persisted frame moves no data: each task reads
    several cached blocks.
    """
    have = df.rdd.getNumPartitions()
    want = max(df.sparkSession.sparkContext.defaultParallelism, -(-input_bytes // PARTITION_BYTES))
    return df.coalesce(want) if want < have else df


def _specs_of(batches) -> list[SourceSpec]:
    out = []
    for b in batches:
        if b.spec not in out:
            out.append(b.spec)
    return out


def _key(unit: _Unit) -> str | None:
    return unit.batches[0].spec.key


def _check_batch(b: Batch, stats: dict) -> BatchCheck:
    """Rows landed vs manifest, encoding share and schema drift of one parsed batch."""
    rows = sum(int(stats[f.rel]["rows"]) if f.rel in stats else 0 for f in b.files)
    bad_encoding = sum(int(stats[f.rel]["bad_encoding"] or 0) if f.rel in stats else 0 for f in b.files)
    drift = _drift(b, stats)
    if rows != b.manifest_rows:
        return BatchCheck(b, rows, f"parsed {rows} rows, the manifest declares {b.manifest_rows}: lines were "
                                   "lost or split in parsing (is the file's line end \\n?)", "row_count", drift)
    if bad_encoding >= 2 and bad_encoding > rows * MAX_INVALID_ENCODING_SHARE:
        return BatchCheck(b, rows, f"{bad_encoding} of {rows} lines are not valid {b.spec.encoding}: the file is "
                                   "not in its declared encoding", "unreadable", drift)
    return BatchCheck(b, rows, None, None, drift)


def _drift(b: Batch, stats: dict) -> dict[str, list[str]]:
    fields = list(b.spec.fields)
    added, missing, renamed = [], [], []
    for f in b.files:
        if f.header is not None:
            new = [c for c in f.header if c not in fields]
            gone = [c for c in fields if c not in f.header]
            for old in list(gone):
                pos = fields.index(old)
                if pos < len(f.header) and f.header[pos] in new:
                    renamed.append(f"{old}->{f.header[pos]}")
                    gone.remove(old)
                    new.remove(f.header[pos])
            added += new
            missing += gone
        elif f.rel in stats:
            added += [k for k in (stats[f.rel]["extra_keys"] or []) if k not in added]
    return {k: v for k, v in (("added", added), ("missing", missing), ("renamed", renamed)) if v}


def _drift_text(drift: dict[str, list[str]]) -> str | None:
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in drift.items()) or None


def _header_text(b: Batch, stats: dict) -> str | None:
    f = b.files[0] if b.files else None
    if f is None:
        return None
    if f.header is not None:
        return ",".join(f.header)
    extra = (stats.get(f.rel) or {"extra_keys": None})["extra_keys"] or []
    return ",".join(list(b.spec.fields) + [k for k in extra])


def _row(b: Batch, status: str, run_id: str, reason: str | None = None, rows: int | None = None,
         malformed: int | None = None, drift: str | None = None, txn: int | None = None,
         header: str | None = None) -> LedgerRow:
    return LedgerRow(
        source=b.spec.source, batch=b.batch_id, business_date=b.business_date, raw_table=b.spec.raw_table,
        status=status, reason=reason, checksum=b.checksum, files=",".join(f.name for f in b.files) or None,
        bytes=sum(f.bytes for f in b.files) if b.files and all(f.bytes is not None for f in b.files) else None,
        manifest_rows=b.manifest_rows, rows=rows, malformed_rows=malformed, schema_version=b.schema_version,
        header=header, drift=drift, raw_txn_version=txn, run_id=run_id, recorded_at=datetime.now(timezone.utc),
    )


def _recover(lake: Lake, ledger: Ledger, run_id: str) -> list[LedgerRow]:
    """Resolve pending rows of runs that died: landed if their raw commit exists, else failed."""
    pending = ledger.unresolved()
    if not pending:
        return []
    out = []
    for table in sorted({p.raw_table for p in pending}):
        rows = [p for p in pending if p.raw_table == table]
        committed = set()
        if lake.exists(table):
            for h in lake.history(table):
                if h.txn and h.txn.startswith(f"ingest:{table}:"):
                    committed.add(int(h.txn.rsplit(":", 1)[1]))
        counts = raw_batch_counts(lake, table, [(p.source, p.batch) for p in rows]) if committed else {}
        now = datetime.now(timezone.utc)
        for p in rows:
            if p.raw_txn_version in committed:
                n, bad = counts.get(f"{p.source}/{p.batch}/", (0, 0))
                replaced = any(r.status in ("ingested", "replaced") and (r.source, r.batch) == (p.source, p.batch)
                               for r in ledger.rows)
                out.append(dc_replace(p, status="replaced" if replaced else "ingested", rows=n, malformed_rows=bad,
                                      reason=f"completed by run {run_id}: run {p.run_id} committed the raw rows "
                                             "but died before writing this row",
                                      run_id=run_id, recorded_at=now))
            else:
                out.append(dc_replace(p, status="failed", reason=f"run {p.run_id} died before the raw commit; "
                                                                 f"ingested again by run {run_id}",
                                      run_id=run_id, recorded_at=now))
        log.warning("%s: resolved %d batches left pending by an interrupted run", table, len(rows))
    ledger.append(out, run_id, 1)
    return out
