"""The ingest ledger (``ops.ingest_ledger``): what happened to every landing batch, run by run.

The ledger is an append-only event log. For each batch the ingest job writes

1. a ``pending`` row (an intent) *before* the raw commit, carrying the version of the raw
   commit's idempotency key ``ingest:<raw table>`` (``raw_txn_version``);
2. the outcome (``ingested``, ``replaced``, ``failed``, ``skipped``) *after* it.

If a run dies between the two, the next run finds the pending rows without an outcome and asks
the raw table whether that key version was committed: if so it writes the outcome the dead run
could not, if not it records the intent as failed and ingests the batch again. So raw rows are
never written twice and never lost, whatever the crash point.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone

from pyspark.sql import functions as F

from finlake.lake import Lake, WriteTxn

LEDGER = "ops.ingest_ledger"
LANDED = ("ingested", "replaced")


@dataclass(frozen=True)
class LedgerRow:
    source: str
    batch: str
    business_date: date | None
    raw_table: str
    status: str
    reason: str | None
    checksum: str | None
    files: str | None
    bytes: int | None
    manifest_rows: int | None
    rows: int | None
    malformed_rows: int | None
    schema_version: int | None
    header: str | None
    drift: str | None
    raw_txn_version: int | None
    run_id: str
    recorded_at: datetime


@dataclass(frozen=True)
class BatchState:
    """What the ledger says about one batch."""

    landed: LedgerRow | None  # latest ingested/replaced row
    last: LedgerRow  # latest row of any status


class Ledger:
    """The ledger's rows, read once per run, and the writes of this run."""

    def __init__(self, lake: Lake, rows: list[LedgerRow]):
        self.lake = lake
        self.rows = rows

    @classmethod
    def load(cls, lake: Lake) -> "Ledger":
        lake.create(LEDGER)
        fields = list(LedgerRow.__dataclass_fields__)
        # PySpark returns timestamps as naive local times; make them aware (UTC) to compare.
        rows = [LedgerRow(**{**r.asDict(), "recorded_at": r["recorded_at"].astimezone(timezone.utc)})
                for r in lake.read(LEDGER).select(*fields).collect()]
        rows.sort(key=lambda r: (r.recorded_at, _STATUS_ORDER.get(r.status, 9)))
        return cls(lake, rows)

    def states(self) -> dict[tuple[str, str], BatchState]:
        """(source, batch) -> its state; rows are in recorded order, the latest wins."""
        out: dict[tuple[str, str], BatchState] = {}
        for r in self.rows:
            key = (r.source, r.batch)
            prev = out.get(key)
            landed = r if r.status in LANDED else (prev.landed if prev else None)
            out[key] = BatchState(landed=landed, last=r)
        return out

    def unresolved(self) -> list[LedgerRow]:
        """Pending rows no later row of the same batch resolved (a run died in between)."""
        return [s.last for s in self.states().values() if s.last.status == "pending"]

    def append(self, rows: list[LedgerRow], run_id: str, step: int) -> None:
        """Append ``rows`` in one commit; ``step`` orders this run's ledger writes (idempotent)."""
        if not rows:
            return
        self.lake.append_rows(LEDGER, [asdict(r) for r in rows], txn=WriteTxn(f"ingest-ledger:{run_id}", step))
        self.rows.extend(rows)

    def landed_dates(self, source: str) -> list[date]:
        """Business dates of ``source`` whose latest state is landed."""
        return sorted(s.landed.business_date for (src, _), s in self.states().items()
                      if src == source and s.landed is not None and s.landed.business_date is not None)


# Within one timestamp, an intent precedes its outcome.
_STATUS_ORDER = {"pending": 0, "failed": 1, "skipped": 1, "ingested": 2, "replaced": 2}


def raw_batch_counts(lake: Lake, raw_table: str, batches: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """Rows and malformed rows per ``<source>/<batch>/`` folder in ``raw_table`` (crash recovery)."""
    prefixes = sorted({f"{source}/{batch}/" for source, batch in batches})
    folder = F.regexp_extract(F.col("_source_file"), r"^(.*/)[^/]*$", 1)
    rows = (lake.read(raw_table).where(folder.isin(prefixes)).groupBy(folder.alias("folder"))
            .agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("_malformed").cast("int")).alias("bad")).collect())
    return {r["folder"]: (int(r["n"]), int(r["bad"] or 0)) for r in rows}
