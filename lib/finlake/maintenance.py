"""Table maintenance (``finlake maintain``): compact small files, delete files no recent version needs.

Every scheduled run adds files to the lake: each gate appends its checks to ``quality.results``,
each clean run its accounting and quarantined rows, and each merge writes the files of the keys
it updates while the files they replace stay on disk for time travel. Nothing removes them, so a
lake run daily reads more small files and holds more dead bytes every day
(``bench/bench_maintain.py`` measures both). A weekly maintenance run does two things per table:

- **Compaction** (``Lake.compact``) rewrites the small files of each partition into files of up
  to 128 MB. The rows do not change; the commit is an ``OPTIMIZE`` that readers of older
  versions do not see. The **raw layer is not compacted**: ingest writes one file per batch and
  partition, and the cleaned build lists a raw table's batches from those files' statistics in
  the Delta log (``cleaned/build._logged_batches``). A file mixing batches would make every
  clean run scan the raw table for its batch ids instead.
- **Vacuum** (``Lake.vacuum``) deletes the files that no version committed within the retention
  needs, and the files of writers that died before committing. A version older than that can no
  longer be read: ``finlake lineage --version``, ``Lake.read(version=...)``, and a clean run that
  completes an interrupted one (it rereads raw at the versions it pinned) all need its files.
  So a retention below 168 hours (7 days, Delta's own floor) is refused unless asked for.

The job takes the lake lock that ``finlake run`` takes, so it never runs beside a pipeline run.
``dry_run`` compacts nothing and lists what vacuum would delete.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field

from finlake.errors import SettingsError
from finlake.lake.api import Lake
from finlake.settings import Settings

log = logging.getLogger(__name__)

MIN_RETENTION_HOURS = 168.0
NOT_COMPACTED_LAYERS = ("raw",)


@dataclass(frozen=True)
class TableMaintenance:
    table: str
    files_before: int  # live data files before
    files_after: int  # live data files after (a dry run: unchanged)
    files_compacted: int  # small files rewritten into larger ones (0: none to merge, or not compacted)
    files_deleted: int  # files vacuum deleted (a dry run: would delete)
    version: int
    note: str = ""


@dataclass
class MaintenanceReport:
    run_id: str
    dry_run: bool
    retention_hours: float
    tables: list[TableMaintenance] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # declared tables not created yet
    seconds: float = 0.0

    def summary(self) -> str:
        head = (f"maintenance {self.run_id}{' (dry run)' if self.dry_run else ''}: {len(self.tables)} tables, "
                f"{sum(t.files_compacted for t in self.tables)} small files compacted, "
                f"{sum(t.files_deleted for t in self.tables)} files "
                f"{'to delete' if self.dry_run else 'deleted'} (retention {self.retention_hours:g} h), "
                f"{self.seconds:.1f}s")
        lines = [f"  {t.table}: files {t.files_before} -> {t.files_after}, compacted {t.files_compacted}, "
                 f"deleted {t.files_deleted}, version {t.version}{f' ({t.note})' if t.note else ''}"
                 for t in self.tables]
        return "\n".join([head, *lines])

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "dry_run": self.dry_run, "retention_hours": self.retention_hours,
                "seconds": round(self.seconds, 1), "skipped": self.skipped,
                "tables": [asdict(t) for t in self.tables]}


def tables_to_maintain(lake: Lake, tables: list[str] | None = None, layers: list[str] | None = None) -> list[str]:
    """The declared tables named by ``tables`` or in ``layers`` (default: every declared table);
    an unknown name raises TableNotFoundError, which lists the known ones."""
    if tables and layers:
        raise SettingsError("name tables or layers to maintain, not both")
    if tables:
        for name in tables:
            lake.spec(name)
        return list(tables)
    names = lake.catalog.names()
    if layers:
        known = {lake.spec(n).layer for n in names}
        unknown = sorted(set(layers) - known)
        if unknown:
            raise SettingsError(f"no layer {', '.join(unknown)} in the catalog; layers: {', '.join(sorted(known))}")
        names = [n for n in names if lake.spec(n).layer in layers]
    return names


def check_retention(hours: float, allow_short: bool, origin: str) -> None:
    if hours < 0:
        raise SettingsError(f"vacuum retention from {origin} is {hours:g} hours; give a number of hours >= 0")
    if hours < MIN_RETENTION_HOURS and not allow_short:
        raise SettingsError(
            f"vacuum retention from {origin} is {hours:g} hours, below {MIN_RETENTION_HOURS:g} (7 days): it would "
            "delete files that a reader of an older version, 'finlake lineage --version' or a clean run completing "
            "an interrupted one may still need. Use a longer retention, or pass --allow-short-retention when no "
            "such reader exists (a scratch lake)")


def maintain_lake(
    lake: Lake,
    settings: Settings,
    run_id: str,
    tables: list[str] | None = None,
    layers: list[str] | None = None,
    retention_hours: float | None = None,
    allow_short_retention: bool = False,
    dry_run: bool = False,
    break_stale_lock: bool = False,
) -> MaintenanceReport:
    """Compact (except raw) and vacuum the chosen tables, holding the lake lock.

    ``retention_hours`` defaults to the ``vacuum_retention_hours`` setting. Raises
    SettingsError for a retention below 168 hours without ``allow_short_retention`` (before the
    lock is taken or a file is touched) and RunLockedError while a pipeline run holds the lake.
    """
    from finlake.runs.lock import RunLock

    if retention_hours is None:
        retention_hours = settings.vacuum_retention_hours
        origin = f"setting 'vacuum_retention_hours' ({settings.sources.get('vacuum_retention_hours', 'default')})"
    else:
        origin = "--retention-hours"
    check_retention(retention_hours, allow_short_retention, origin)
    names = tables_to_maintain(lake, tables, layers)
    lake = lake.for_job("maintain", run_id)
    report = MaintenanceReport(run_id=run_id, dry_run=dry_run, retention_hours=retention_hours)
    started = time.perf_counter()
    with RunLock.acquire(settings, run_id, as_of="maintenance", break_stale=break_stale_lock):
        for name in names:
            if not lake.exists(name):
                report.skipped.append(name)
                continue
            t = _maintain_table(lake, name, retention_hours, dry_run)
            report.tables.append(t)
            log.info("maintain %s: files %d -> %d, %d compacted, %d %s, version %d", name, t.files_before,
                     t.files_after, t.files_compacted, t.files_deleted, "to delete" if dry_run else "deleted", t.version)
    report.seconds = time.perf_counter() - started
    return report


def _maintain_table(lake: Lake, name: str, retention_hours: float, dry_run: bool) -> TableMaintenance:
    before = lake.info(name).files or 0
    compacted, note = 0, ""
    if lake.spec(name).layer in NOT_COMPACTED_LAYERS:
        note = "raw: vacuum only"  # one file per batch: the clean plan reads batch ids from their stats
    elif not dry_run:
        compacted = lake.compact(name).files_removed
    deleted = len(lake.vacuum(name, retention_hours=retention_hours, dry_run=dry_run))
    info = lake.info(name)
    return TableMaintenance(table=name, files_before=before, files_after=info.files or 0, files_compacted=compacted,
                            files_deleted=deleted, version=info.version, note=note)
