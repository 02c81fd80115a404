"""Lineage: from a table version back to the run, the code and the inputs that made it.

Each Delta commit a run makes carries its run id and job (commit info); ``ops.runs`` says which
input versions that job read; the walk repeats for each input version until it reaches jobs that
read no table (ingestion), whose landing batches ``ops.ingest_ledger`` lists per run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from pyspark.sql import functions as F

from finlake.errors import TableNotFoundError
from finlake.lake import Lake
from finlake.runs.ledger import JobRecord, RunLedger

INGEST_LEDGER = "ops.ingest_ledger"
LANDED = ("ingested", "replaced")  # ledger statuses of a batch that reached the raw table
BATCH_COLUMNS = ("source", "batch", "status", "rows", "files", "checksum")


@dataclass
class LineageNode:
    table: str
    version: int
    operation: str = ""
    timestamp: datetime | None = None
    run_id: str | None = None
    job: str | None = None
    stage: str | None = None
    code_version: str | None = None
    settings_hash: str | None = None
    note: str = ""
    inputs: list["LineageNode"] = field(default_factory=list)
    batches: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def lineage(lake: Lake, table: str, version: int | None = None, max_depth: int = 12) -> LineageNode:
    """The lineage tree of ``table`` at ``version`` (default: latest)."""
    return _Walker(lake).node(table, lake.version(table) if version is None else version, max_depth, set())


class _Walker:
    def __init__(self, lake: Lake):
        self.lake = lake
        self.ledger = RunLedger(lake)
        self._runs: dict[str, list[JobRecord]] = {}
        self._history: dict[str, dict] = {}

    def node(self, table: str, version: int, depth: int, seen: set) -> LineageNode:
        entry = self._entry(table, version)
        node = LineageNode(table=table, version=version, operation=entry.operation, timestamp=entry.timestamp,
                           run_id=entry.run_id, job=entry.job)
        if entry.run_id is None:
            node.note = f"written outside finlake run (job {entry.job or 'unknown'})"
            return node
        record = self._record(entry.run_id, table, entry.job)
        if record is None:
            node.note = f"run {entry.run_id} has no ops.runs row for {table} (written by job {entry.job})"
            return node
        node.stage, node.job = record.stage, record.job
        node.code_version, node.settings_hash = record.code_version, record.settings_hash
        if (table, version) in seen or depth <= 0:
            node.note = "see above" if (table, version) in seen else "depth limit reached"
            return node
        seen = seen | {(table, version)}
        for source, source_version in sorted(record.versions_read.items()):
            node.inputs.append(self.node(source, source_version, depth - 1, seen))
        if not record.versions_read:
            node.batches = self._batches(entry.run_id, table)
        return node

    def _entry(self, table: str, version: int):
        if table not in self._history:
            self._history[table] = {e.version: e for e in self.lake.history(table)}
        entries = self._history[table]
        if version not in entries:
            raise TableNotFoundError(
                f"table '{table}' has no version {version}; its versions are {min(entries)}..{max(entries)} "
                f"(see 'finlake history {table}')"
            )
        return entries[version]

    def _record(self, run_id: str, table: str, job: str | None) -> JobRecord | None:
        if run_id not in self._runs:
            self._runs[run_id] = self.ledger.rows(run_id=run_id)
        rows = self._runs[run_id]
        return (next((r for r in rows if table in r.versions_written), None)
                or next((r for r in rows if r.job == job), None))

    def _batches(self, run_id: str, table: str) -> list[dict]:
        """The landing batches a run landed in ``table``, from the ingest ledger."""
        if INGEST_LEDGER not in self.lake.catalog or not self.lake.exists(INGEST_LEDGER):
            return []
        df = self.lake.read(INGEST_LEDGER).filter(
            (F.col("run_id") == run_id) & (F.col("raw_table") == table) & F.col("status").isin(*LANDED))
        columns = [c for c in BATCH_COLUMNS if c in df.columns]
        return [r.asDict() for r in df.select(*columns).orderBy("source", "batch").collect()]
