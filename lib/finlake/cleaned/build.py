"""Build the cleaned layer from the raw batches it has not processed yet.

One run:

1. **Plan.** ``quality.accounting`` is the record of processed batches: a raw batch is new for a
   cleaned table when accounting has no row for (raw table, batch, cleaned table). Each run gets
   the next sequence number ``run_seq``; every write of the run carries
   ``WriteTxn("finlake-clean", run_seq)``. A raw table's batch ids come from its Delta log
   when every data file holds one batch, else from a scan of ``_batch_id``.
2. **Compute and validate everything** before the first write: clean (types, standards, PII
   tokens), then flag in one persisted frame per table the duplicates inside each batch, the
   rows that break a quarantine rule and the latest delivery per key across the run; gate the
   accepted rows with GX. A blocking failure raises here and no table
   moves (the gate has recorded its results in quality.results).
3. **Write**: the accounting rows first (they pin the batches of ``run_seq``), the
   balance-continuity log, then per table the quarantined rows and the upsert / SCD2 merge. A crash
   part-way leaves some tables at ``run_seq`` and others behind; the next run sees that the last
   sequence is incomplete, recomputes exactly its pinned batches and finishes the writes (the
   ones already committed are skipped by their WriteTxn). See docs/cleaned.md.

Accounting per raw batch and cleaned table: raw rows = cleaned + quarantined + duplicates
dropped. ``cleaned`` counts the rows accepted from the batch, including a row a later batch of
the same run supersedes; ``late_resends`` counts accepted rows that replaced a row of an
earlier batch, or were set aside because the table holds a later batch's row.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from finlake.cleaned import sources
from finlake.cleaned.balances import LEDGER_PRODUCTS, check_balance_continuity
from finlake.cleaned.dedup import DUPLICATE, delivery, mark_duplicates
from finlake.cleaned.scd2 import attributes_hash, build_scd2_changes
from finlake.cleaned.sources import Lookups
from finlake.lake.api import Lake, WriteTxn
from finlake.settings import Settings

log = logging.getLogger(__name__)

APP_ID = "finlake-clean"
ACCOUNTING = "quality.accounting"
CONTINUITY = "quality.balance_continuity"
BALANCE_TOLERANCE = Decimal("1.00")
# Continuity re-checks only the accounts a run changes through a broadcast semi-join when there
# are at most this many (about 5 MB of ids); beyond that it filters the result of every account.
CONTINUITY_BROADCAST_ACCOUNTS = 100_000
SCD2_ATTRIBUTES = (
    "name_token", "id_number_token", "phone_token", "gender", "birth_year", "city_code", "occupation",
    "income_band", "risk_tolerance", "open_date", "acquisition_channel", "status", "source_system",
)


@dataclass(frozen=True)
class Step:
    """How one cleaned table is built from one raw table."""

    target: str
    source: str
    keys: tuple[str, ...]
    clean: Callable[[DataFrame, "_State"], DataFrame]
    history: bool = False  # SCD type 2 instead of an upsert by key
    # Columns of the table's row that an accepted row replaces, kept as the struct _replaced
    # (transactions: the account and date a correction takes a posting from, for continuity).
    replaced: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableOutcome:
    """Counts of one cleaned table in one run (summed over its batches)."""

    target: str
    batches: int
    raw_rows: int
    cleaned_rows: int
    quarantined_rows: int
    duplicates_dropped: int
    late_resends: int
    version: int | None = None

    @property
    def balanced(self) -> bool:
        return self.raw_rows == self.cleaned_rows + self.quarantined_rows + self.duplicates_dropped


@dataclass(frozen=True)
class CleanReport:
    """What ``build_cleaned`` did. ``run_seq`` is None when there was nothing new."""

    run_id: str
    run_seq: int | None
    recovered: bool
    tables: dict[str, TableOutcome] = field(default_factory=dict)
    balance_breaks: int = 0
    # Seconds by phase: plan, each cleaned table's compute (its gate included), continuity,
    # accounting, write. Where a run's time went, for the job log and bench_cleaned.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return all(t.balanced for t in self.tables.values())

    def summary(self) -> str:
        """One line per table, headed by the run: what a job log or the CLI prints."""
        if self.run_seq is None:
            return f"clean run {self.run_id}: no new raw batches, nothing written"
        head = (f"clean run {self.run_id} (seq {self.run_seq}{', completed an interrupted run' if self.recovered else ''}): "
                f"{len(self.tables)} tables, accounting {'balanced' if self.balanced else 'NOT balanced'}, "
                f"{self.balance_breaks} balance-continuity breaks")
        lines = [head] + [
            f"  {t.target}: raw {t.raw_rows} = cleaned {t.cleaned_rows} + quarantined {t.quarantined_rows} "
            f"+ duplicates {t.duplicates_dropped}; late re-sends {t.late_resends}" for t in self.tables.values()]
        return "\n".join(lines)


class _State:
    """The run's computed outputs so far, for the steps that depend on earlier ones."""

    def __init__(self, lake: Lake, settings: Settings, raw_until: dict[str, DataFrame]):
        self.lake = lake
        self.settings = settings
        self.pii_key: bytes | None = None
        self.raw_until = raw_until
        self.accepted: dict[str, DataFrame] = {}

    def current(self, target: str, columns: list[str], keys: tuple[str, ...]) -> DataFrame:
        """The target table's rows with this run's accepted rows applied (latest per key)."""
        new = self.accepted.get(target)
        parts = []
        if self.lake.exists(target):
            existing = self.lake.read(target).select(*columns)
            parts.append(existing if new is None else existing.join(new.select(*keys), list(keys), "left_anti"))
        if new is not None:
            parts.append(new.select(*columns))
        if not parts:
            return self.lake.spark.createDataFrame([], self.lake.spec(target).schema).select(*columns)
        out = parts[0]
        for p in parts[1:]:
            out = out.unionByName(p)
        return out

    def lookups(self) -> Lookups:
        customers = self.raw_until.get("raw.customers")
        delivered = (customers.select(sources.standardise_id("customer_id").alias("customer_id"))
                     .filter(F.col("customer_id").isNotNull())
                     if customers is not None else self.lake.spark.createDataFrame([], "customer_id string"))
        return Lookups(
            fx_rates=self.current("cleaned.fx_rates", ["rate_date", "currency", "cny_per_unit"], ("rate_date", "currency")),
            accounts=self.current("cleaned.accounts", ["account_id", "open_date", "close_date"], ("account_id",)),
            delivered_customers=delivered,
        )


def _key(state: _State) -> bytes:
    if state.pii_key is None:
        state.pii_key = state.settings.resolve_pii_key()
    return state.pii_key


STEPS: tuple[Step, ...] = (
    Step("cleaned.fx_rates", "raw.fx_rates", ("rate_date", "currency"), lambda raw, s: sources.clean_fx_rates(raw)),
    Step("cleaned.products", "raw.products", ("product_id",), lambda raw, s: sources.clean_products(raw)),
    Step("cleaned.campaigns", "raw.campaigns", ("campaign_id",), lambda raw, s: sources.clean_campaigns(raw)),
    Step("cleaned.customers", "raw.customers", ("customer_id",), lambda raw, s: sources.clean_customers(raw, _key(s)),
         history=True),
    Step("cleaned.accounts", "raw.accounts", ("account_id",), lambda raw, s: sources.clean_accounts(raw, s.lookups())),
    Step("cleaned.transactions", "raw.transactions", ("txn_id",),
         lambda raw, s: sources.clean_transactions(raw, s.lookups()), replaced=("account_id", "business_date")),
    Step("cleaned.balances", "raw.balances", ("account_id", "month_end"),
         lambda raw, s: sources.clean_balances(raw, s.lookups())),
    Step("cleaned.app_events", "raw.app_events", ("event_id",), lambda raw, s: sources.clean_app_events(raw)),
    Step("cleaned.contacts", "raw.contacts", ("contact_id",), lambda raw, s: sources.clean_contacts(raw)),
    Step("cleaned.complaints", "raw.complaints", ("complaint_id",), lambda raw, s: sources.clean_complaints(raw)),
    Step("cleaned.fraud_reports", "raw.fraud_reports", ("txn_id",), lambda raw, s: sources.clean_fraud_reports(raw)),
    Step("cleaned.consents", "raw.consents", ("customer_id", "channel", "updated_at"),
         lambda raw, s: sources.clean_consents(raw)),
    Step("cleaned.do_not_contact", "raw.do_not_contact", ("customer_id", "listed_at"),
         lambda raw, s: sources.clean_do_not_contact(raw, _key(s))),
)


@dataclass
class _Computed:
    step: Step
    batches: list[str]
    marked: DataFrame  # every raw row of the batches, typed and flagged (see _compute), persisted
    bad: DataFrame  # the quarantined rows
    write: DataFrame  # what the merge writes (cleaned columns only)
    counts: list[dict] = field(default_factory=list)


def build_cleaned(lake: Lake, settings: Settings, run_id: str, as_of: dt.date | None = None) -> CleanReport:
    """Clean every raw batch not processed yet (business date up to ``as_of`` when given).

    Raises QualityGateError when a blocking expectation fails (nothing is written) and
    SettingsError when customers or the do-not-contact list must be cleaned without a PII key.
    A rerun with nothing new writes nothing.
    """
    from finlake.quality import QualityGate

    lake = lake.for_job("build_cleaned", run_id)
    gate = QualityGate(lake, settings, run_id=run_id)  # first: GX warms up while the plan scans raw
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 1)
        clock = now

    seq, plan, recovered, raw_versions = _plan(lake, as_of)
    lap("plan")
    if not plan:
        log.info("cleaned: no new raw batches%s; nothing to do", f" up to {as_of}" if as_of else "")
        return CleanReport(run_id=run_id, run_seq=None, recovered=False)
    log.info("cleaned: run_seq %d%s, new batches: %s", seq, " (completing an interrupted run)" if recovered else "",
             {s: len(b) for s, b in plan.items()})

    # Every raw table is read at one snapshot version for the whole run (recorded in accounting).
    raw_until = {}
    for step in STEPS:
        if lake.exists(step.source):
            version = raw_versions.get(step.source)
            raw = lake.read(step.source, version=version if version is not None else lake.version(step.source))
            if as_of is not None:
                raw = raw.filter(F.col("_business_date") <= F.lit(as_of))
            raw_until[step.source] = raw
    state = _State(lake, settings, raw_until)
    computed: list[_Computed] = []
    persisted: list[DataFrame] = []
    try:
        for step in STEPS:
            batches = plan.get(step.target)
            if not batches:
                continue
            c = _compute(step, batches, state, gate, run_id, persisted)
            computed.append(c)
            lap(step.target)
        continuity, breaks = _continuity(lake, state, computed, gate, persisted)
        gate.raise_if_blocking()
        lap("continuity")

        accounting = _accounting_rows(computed, run_id, seq, raw_versions, as_of)
        lap("accounting")
        # The continuity log of a seq carries the run id its accounting pinned, also when another
        # run completes it: quality.accounting then gives every logged run its run_seq.
        log_run_id = _pinned_run_id(lake, seq) if recovered else run_id
        _write(lake, gate, computed, accounting, continuity, log_run_id, seq,
               [step.target for step in STEPS if step.source in raw_until])
        tables = {c.step.target: _outcome(c, lake) for c in computed}
        lap("write")
    finally:
        for df in persisted:
            df.unpersist()
    report = CleanReport(run_id=run_id, run_seq=seq, recovered=recovered, tables=tables, balance_breaks=breaks,
                         timings=timings)
    log.info("cleaned: %.1fs by phase: %s", sum(timings.values()), ", ".join(f"{k} {v}s" for k, v in timings.items()))
    for t in tables.values():
        log.info("%s: raw %d = cleaned %d + quarantined %d + duplicates %d (late re-sends %d)%s", t.target, t.raw_rows,
                 t.cleaned_rows, t.quarantined_rows, t.duplicates_dropped, t.late_resends,
                 "" if t.balanced else "  NOT BALANCED")
    return report


# --- planning ----------------------------------------------------------------------------------
def _plan(lake: Lake, as_of: dt.date | None) -> tuple[int, dict[str, list[str]], bool, dict[str, int]]:
    """(run_seq, target -> new batch ids, recovering, raw table -> snapshot version to read).

    Recovering = the last run did not finish: its pinned batches are redone at the raw versions
    it read. Otherwise a raw table is scanned for new batches only when it moved since the last
    run that processed it (or that run stopped at an earlier ``as_of``), so a rerun with nothing
    new costs a look at each table's version, not a scan.
    """
    processed = None
    last_seq = 0
    if lake.exists(ACCOUNTING):
        processed = lake.read(ACCOUNTING).select("run_seq", "source_table", "source_version", "as_of", "batch_id",
                                                 "target_table").persist()
        last_seq = processed.agg(F.max("run_seq")).first()[0] or 0
    try:
        if last_seq:
            last = processed.filter(F.col("run_seq") == last_seq).collect()
            unfinished = {t for t in {r["target_table"] for r in last}
                          if not lake.has_committed(t, WriteTxn(APP_ID, last_seq))}
            if unfinished:
                plan: dict[str, list[str]] = {}
                for r in last:
                    plan.setdefault(r["target_table"], []).append(r["batch_id"])
                versions = {r["source_table"]: r["source_version"] for r in last}
                return last_seq, {t: sorted(b) for t, b in plan.items()}, True, versions
        seen = {}
        if processed is not None:
            latest = Window.partitionBy("source_table").orderBy(F.col("run_seq").desc())
            seen = {r["source_table"]: r for r in processed.withColumn("_n", F.row_number().over(latest))
                    .filter("_n = 1").collect()}
        plan, versions = {}, {}
        for step in STEPS:
            if not lake.exists(step.source):
                continue
            versions[step.source] = version = lake.version(step.source)
            before = seen.get(step.source)
            if (before is not None and before["source_version"] == version
                    and (before["as_of"] is None or (as_of is not None and as_of <= before["as_of"]))):
                continue
            batches = _batches(lake, step.source, version, as_of)
            if processed is not None:
                done = {r[0] for r in processed.filter((F.col("source_table") == step.source)
                                                       & (F.col("target_table") == step.target))
                        .select("batch_id").distinct().collect()}
                batches -= done
            if batches:
                plan[step.target] = sorted(batches)
        return last_seq + 1, plan, False, versions
    finally:
        if processed is not None:
            processed.unpersist()


def _batches(lake: Lake, source: str, version: int, as_of: dt.date | None) -> set[str]:
    """The batch ids in ``source`` at ``version`` (business date up to ``as_of`` when given):
    from the Delta log when it can tell (``_logged_batches``), else from a scan."""
    logged = _logged_batches(lake, source, version, as_of)
    if logged is not None:
        return logged
    raw = lake.read(source, version=version)
    if as_of is not None:
        raw = raw.filter(F.col("_business_date") <= F.lit(as_of))
    return {r[0] for r in raw.select("_batch_id").distinct().collect()}


def _logged_batches(lake: Lake, source: str, version: int, as_of: dt.date | None) -> set[str] | None:
    """The batch ids from the file statistics, or None when a file does not hold exactly one
    batch lying wholly on one side of ``as_of``. Daily ingests write such files, and the big
    raw tables are partitioned by business date: a rerun then costs no scan of the raw history.
    """
    try:
        files = lake.file_ranges(source, ("_batch_id", "_business_date"), version=version)
    except Exception:  # the log is an optimisation: whatever stops reading it, the data answers
        log.warning("%s: could not read batch ids from the Delta log; scanning the table", source, exc_info=True)
        return None
    batches = set()
    for f in files:
        lo, hi, nulls = f["_batch_id"]
        first, last, _ = f["_business_date"]
        if lo is None or lo != hi or nulls:
            return None
        if as_of is not None:
            if first is None or first <= as_of < last:
                return None
            if first > as_of:
                continue
        batches.add(lo)
    return batches


# --- computing ---------------------------------------------------------------------------------
# Row flags of the one persisted frame per table: _duplicate (an earlier line of the same key in
# the same batch), _rules_broken (quarantine rules), _accepted (neither), _superseded (a later
# batch, of this run or already in the table, delivers the key), _late_resend (the key was delivered
# before), and for the steps that ask for it _replaced (the table's row of the key, Step.replaced).
ACCEPTED = "_accepted"
REPLACED = "_replaced"
FLAGS = (DUPLICATE, "_rules_broken", ACCEPTED, "_superseded", "_late_resend", REPLACED)


def _compute(step: Step, batches: list[str], state: _State, gate, run_id: str, persisted: list) -> _Computed:
    """Type and flag the new batches' rows of one table, gate them, and plan its write.

    One frame holds every raw row with its flags and is the only one persisted: the gate, the
    quarantine, the accounting and the write are filters of it. The rows are hash-partitioned
    by key once; the duplicate window (key and batch) and the re-send windows (key) reuse that
    partitioning, so each table is shuffled once before its write.
    """
    lake = state.lake
    raw = state.raw_until[step.source].filter(F.col("_batch_id").isin(batches))
    typed = gate.flag(step.clean(raw, state), step.target)
    # Shuffled by key once: the duplicate window sorts by (keys, batch, line), and the re-send
    # windows over the keys alone reuse that order instead of sorting again.
    marked = (typed.repartition(*step.keys)
              .transform(mark_duplicates(step.keys))
              .withColumn(ACCEPTED, ~F.col(DUPLICATE) & (F.size("_rules_broken") == 0)))
    if step.history:  # SCD2 keeps every accepted version: nothing is superseded or re-sent
        marked = marked.withColumn("_superseded", F.lit(False)).withColumn("_late_resend", F.lit(False))
    else:
        marked = _flag_resends(marked, step, lake)
    marked = marked.persist(StorageLevel.MEMORY_AND_DISK)
    persisted.append(marked)

    bad = (marked.filter(~F.col(DUPLICATE) & ~F.col(ACCEPTED))
           .drop(*[f for f in FLAGS if f != "_rules_broken"]).withColumn("_run_id", F.lit(run_id)))
    bad = _quarantine_shape(bad, step, lake, run_id)
    latest = marked.filter(F.col(ACCEPTED) & ~F.col("_superseded")).drop(*FLAGS)
    if step.history:
        latest = (latest.withColumn("valid_from", F.col("_business_date"))
                  .withColumn("attributes_hash", attributes_hash(SCD2_ATTRIBUTES)))
    gate.check(latest, step.target)

    columns = [c.name for c in lake.spec(step.target).columns]
    latest = latest.withColumn("_clean_run_id", F.lit(run_id))
    if step.history:
        incoming = latest.select(*[c for c in columns if c not in ("valid_to", "is_current")])
        existing = (lake.read(step.target) if lake.exists(step.target)
                    else lake.spark.createDataFrame([], lake.spec(step.target).schema))
        write = build_scd2_changes(existing, incoming)
    else:
        write = latest.select(*columns)
    partition_by = lake.spec(step.target).partition_by
    if partition_by:  # one file per partition value instead of one per task and value
        write = write.repartition(*partition_by)
    state.accepted[step.target] = write
    return _Computed(step, batches, marked, bad, write)


def _quarantine_shape(bad: DataFrame, step: Step, lake: Lake, run_id: str) -> DataFrame:
    """Give quarantined rows every cleaned column: the run id, the version start of a customer
    row, and typed nulls for what only accepted rows get (SCD2 dates, attribute hash)."""
    bad = bad.withColumn("_clean_run_id", F.lit(run_id))
    if step.history:
        bad = bad.withColumn("valid_from", F.col("_business_date"))
    for col in lake.spec(step.target).columns:
        if col.name not in bad.columns:
            bad = bad.withColumn(col.name, F.lit(None).cast(lake.spec(step.target).schema[col.name].dataType))
    return bad


def _flag_resends(marked: DataFrame, step: Step, lake: Lake) -> DataFrame:
    """Flag, among the accepted rows, ``_superseded`` (a later batch of this run delivers the key
    again) and ``_late_resend`` (the row replaces one of an earlier batch: of this run, or
    already in the table). Both are false for rows that are not accepted.

    A key has at most one accepted row per batch (the duplicate flag keeps the last delivered),
    so its accepted rows are ordered by ``delivery()`` without ties: a row is superseded when it
    is not the latest of them, and a late re-send when it is not the first. The latest and the
    first are aggregates over the key, a window without an order, which reuses the sort of the
    duplicate window instead of sorting every row again.

    Across runs the table's row is the latest delivery so far: a row of an earlier batch than the
    table's (a missed day's batch landing after a later correction was cleaned) is superseded by
    it too, so a late batch never reverts a correction. Batch ids are business dates, so they
    order as strings; a batch delivered again (``--replace-batch``) replaces its own rows.

    With ``Step.replaced``, the table's row of the key comes along as ``_replaced`` (null when the
    table has none): what a written row replaces, read in the same join.
    """
    accepted = F.col(ACCEPTED)
    by_key = Window.partitionBy(*step.keys)
    delivered = delivery()
    accepted_delivery = F.when(accepted, delivered)
    ranked = (marked.withColumn("_latest", F.max(accepted_delivery).over(by_key))
              .withColumn("_first", F.min(accepted_delivery).over(by_key)))
    if lake.exists(step.target):
        table_row = [F.struct(*step.replaced).alias(REPLACED)] if step.replaced else []
        existing = lake.read(step.target).select(*step.keys, F.col("_batch_id").alias("_table_batch"), *table_row)
        ranked = ranked.join(existing, list(step.keys), "left")
    else:
        ranked = ranked.withColumn("_table_batch", F.lit(None).cast("string"))
    older_than_table = F.coalesce(F.col("_batch_id") < F.col("_table_batch"), F.lit(False))
    return (ranked.withColumn("_superseded", accepted & ((delivered < F.col("_latest")) | older_than_table))
            .withColumn("_late_resend", accepted & ((delivered > F.col("_first")) | F.col("_table_batch").isNotNull()))
            .drop("_latest", "_first", "_table_batch"))


def _written(c: _Computed | None) -> DataFrame | None:
    """The rows a table's merge writes (accepted, latest per key), from the persisted frame: the
    write frame is repartitioned by the table's partition column, a shuffle a read of a few
    columns does not need."""
    return None if c is None else c.marked.filter(F.col(ACCEPTED) & ~F.col("_superseded"))


def _continuity(lake: Lake, state: _State, computed: list[_Computed], gate,
                persisted: list) -> tuple[DataFrame | None, int]:
    """Re-check balance continuity wherever this run's rows can change it (a warning in
    quality.results): the rows for quality.balance_continuity, and the number of breaks.

    Re-checked, per ledger account: the month end of each balance the run writes and the next
    one after it (whose previous balance it is), and for each posting the run writes, the first
    month end at or after its business date (its month's, or the next one delivered when that
    month's balance is missing); for a corrected posting also the one at or after the date of the
    row it replaces (a correction can move a posting to another date or account).
    ``check_balance_continuity`` finds them in its one pass, from a ``_changed`` mark on the
    run's rows. When the balances table is new, every month end is delivered, so all are checked.

    Only the accounts with such a change go through the check, kept by a broadcast semi-join,
    when there are at most CONTINUITY_BROADCAST_ACCOUNTS of them (a daily run: its late postings
    and corrections); a posting after the last month end delivered changes nothing yet and selects
    no account, so an ordinary day re-checks nothing.

    Logged: the breaks, and the re-checked account-months that are continuous but already have a
    row in the log (they broke before: the row says the break is resolved). None when nothing is
    re-checked.
    """
    by_target = {c.step.target: c for c in computed}
    delivered = _written(by_target.get("cleaned.balances"))
    posted = _written(by_target.get("cleaned.transactions"))
    had_balances = lake.exists("cleaned.balances")
    if delivered is None and (posted is None or not had_balances):  # no month end can move
        return None, 0
    ledger = (state.current("cleaned.accounts", ["account_id", "product_type"], ("account_id",))
              .where(F.col("product_type").isin(*LEDGER_PRODUCTS)).select("account_id"))
    changed = F.lit(True).alias("_changed")
    unchanged = F.lit(False).alias("_changed")

    # The run's rows, marked, over the tables' rows they do not replace.
    balance_cols = ["account_id", "month_end", "balance"]
    balance_parts = []
    if had_balances:
        existing = lake.read("cleaned.balances").select(*balance_cols)
        if delivered is not None:
            existing = existing.join(delivered.select("account_id", "month_end"), ["account_id", "month_end"],
                                     "left_anti")
        balance_parts.append(existing.select(*balance_cols, unchanged))
    if delivered is not None:
        balance_parts.append(delivered.select(*balance_cols, changed))
    balances = _union(balance_parts)
    txn_cols = ["account_id", "business_date", "signed_amount_cny"]
    txn_parts, touched = [], []
    if lake.exists("cleaned.transactions"):
        existing = lake.read("cleaned.transactions").select("txn_id", *txn_cols)
        if posted is not None:
            existing = existing.join(posted.select("txn_id"), "txn_id", "left_anti")
        txn_parts.append(existing.select(*txn_cols, unchanged))
    if posted is not None:
        txn_parts.append(posted.select(*txn_cols, changed))
        touched.append(posted.select("account_id", "business_date"))
        if REPLACED in posted.columns:  # the replaced row: a posting of nothing at its old account and date
            old = (posted.filter(F.col(REPLACED).isNotNull())
                   .select(f"{REPLACED}.account_id", f"{REPLACED}.business_date"))
            nothing = F.lit(0).cast("decimal(18,2)").alias("signed_amount_cny")
            txn_parts.append(old.select(*old.columns, nothing, changed))
            touched.append(old)
    txns = _union(txn_parts) if txn_parts else lake.spark.createDataFrame(
        [], "account_id string, business_date date, signed_amount_cny decimal(18,2), _changed boolean")

    narrow = False  # only the accounts the run changes, kept by a broadcast semi-join
    if had_balances:
        # The accounts to re-check: one Spark job over the run's persisted rows and the month ends.
        last = (_union([lake.read("cleaned.balances").select("month_end")]
                       + ([delivered.select("month_end")] if delivered is not None else []))
                .agg(F.max("month_end").alias("_last_month_end")))
        account_parts = [t.join(F.broadcast(last), F.col("business_date") <= F.col("_last_month_end"))
                         .select("account_id") for t in touched]
        if delivered is not None:
            account_parts.append(delivered.select("account_id"))
        accounts = _union(account_parts).distinct().join(ledger, "account_id", "left_semi").persist()
        persisted.append(accounts)
        n = accounts.count()
        log.info("continuity: %d ledger accounts with a month end to re-check", n)
        if n == 0:
            return None, 0
        narrow = n <= CONTINUITY_BROADCAST_ACCOUNTS
    if narrow:
        balances = balances.join(F.broadcast(accounts), "account_id", "left_semi")
        txns = txns.join(F.broadcast(accounts), "account_id", "left_semi")
    else:  # every ledger account: the postings of the others meet no month end in the check
        balances = balances.join(ledger, "account_id", "left_semi")
    result = check_balance_continuity(balances, txns, BALANCE_TOLERANCE, changed="_changed" if had_balances else None)
    if lake.exists(CONTINUITY):
        logged = (lake.read(CONTINUITY).select("account_id", "month_end").distinct()
                  .withColumn("_logged", F.lit(True)))
        result = (result.join(logged, ["account_id", "month_end"], "left")
                  .withColumn("_logged", F.coalesce("_logged", F.lit(False))))
    else:
        result = result.withColumn("_logged", F.lit(False))
    result = result.persist(StorageLevel.MEMORY_AND_DISK)
    persisted.append(result)
    summary = result.agg(F.count(F.lit(1)).alias("n"),
                         F.count_if(~F.col("continuous")).alias("breaks"),
                         F.count_if(F.col("continuous") & F.col("_logged")).alias("resolved")).first()
    breaks, resolved = summary["breaks"], summary["resolved"]
    examples = [f"{r['account_id']}@{r['month_end']}: difference {r['difference']}"
                for r in result.filter(~F.col("continuous")).orderBy(F.abs("difference").desc()).limit(10).collect()]
    observed = f"{breaks} of {summary['n']} account-months break continuity"
    if resolved:
        observed += f"; {resolved} that broke before are continuous"
    gate.record_check("cleaned.balances", "balance_continuity", success=breaks == 0, severity="warning",
                      observed=observed, details=("largest: " + "; ".join(examples)) if examples else None)
    return result.filter(~F.col("continuous") | F.col("_logged")), breaks


def _union(parts: list[DataFrame]) -> DataFrame:
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


def _accounting_rows(computed: list[_Computed], run_id: str, seq: int, raw_versions: dict[str, int],
                     as_of: dt.date | None) -> list[dict]:
    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    for c in computed:
        # One Spark job per table, over its one persisted frame.
        found = {r["_batch_id"]: r for r in c.marked.groupBy("_batch_id").agg(
            F.count(F.lit(1)).alias("raw"),
            F.sum(F.col(DUPLICATE).cast("int")).alias("dup"),
            F.sum(F.col(ACCEPTED).cast("int")).alias("cleaned"),
            F.sum((~F.col(DUPLICATE) & (F.size("_rules_broken") > 0)).cast("int")).alias("quarantined"),
            F.sum((F.col(ACCEPTED) & F.col("_late_resend")).cast("int")).alias("resends"),
            F.min("_business_date").alias("business_date")).collect()}
        for batch in c.batches:
            r = found.get(batch)
            # Counted separately, not by difference: "balanced" checks that every row got one fate.
            raw_rows, dup, cleaned, quarantined, resends = (
                (r["raw"], r["dup"], r["cleaned"], r["quarantined"], r["resends"]) if r else (0, 0, 0, 0, 0))
            business_date = r["business_date"] if r else None
            rows.append({"run_id": run_id, "run_seq": seq, "recorded_at": now, "source_table": c.step.source,
                         "source_version": raw_versions.get(c.step.source), "as_of": as_of, "batch_id": batch,
                         "business_date": business_date, "target_table": c.step.target, "raw_rows": raw_rows,
                         "cleaned_rows": cleaned, "quarantined_rows": quarantined, "duplicates_dropped": dup,
                         "late_resends": resends, "balanced": raw_rows == cleaned + quarantined + dup})
            c.counts.append({"batch": batch, "raw": raw_rows, "cleaned": cleaned, "quarantined": quarantined,
                             "dup": dup, "resends": resends})
    return rows


# --- writing -----------------------------------------------------------------------------------
def _pinned_run_id(lake: Lake, seq: int) -> str:
    """The run id of the accounting rows of ``seq`` (the run that pinned its batches)."""
    return lake.read(ACCOUNTING).filter(F.col("run_seq") == seq).select("run_id").first()[0]


def _write(lake: Lake, gate, computed: list[_Computed], accounting: list[dict], continuity, run_id: str, seq: int,
           targets: list[str]) -> None:
    """Commit one run; ``targets`` are the cleaned tables whose raw table exists.

    Each of them is created even when its raw batches so far held no rows (no fraud reported in
    the first weeks), so the feature layer finds every declared input. ``run_id`` is the run the
    continuity rows are logged under (the accounting rows carry their own).
    """
    txn = WriteTxn(APP_ID, seq)
    for target in targets:
        lake.create(target)
    lake.create(ACCOUNTING)
    lake.append_rows(ACCOUNTING, accounting, txn=txn)
    # Before the targets: recovery looks for the targets this seq did not commit, so a crash after
    # the last merge must find the continuity rows already written (the append is idempotent by txn).
    if continuity is not None:
        rows = continuity.select(F.lit(run_id).alias("run_id"), "account_id", "month_end", "previous_balance",
                                 "postings", "balance", "difference")
        lake.create(CONTINUITY)
        lake.append(CONTINUITY, rows, txn=txn)
    for c in computed:
        # Quarantine before the target: the target's WriteTxn marks the table done for this seq.
        # The accounting has counted the quarantined rows: no Spark job to find there are none.
        if any(x["quarantined"] for x in c.counts):
            gate.quarantine(c.bad, c.step.target, txn=txn)
        lake.create(c.step.target)
        result = lake.merge(c.step.target, c.write, txn=txn)
        log.info("%s: %s", c.step.target, result.message or f"version {result.version}, {result.rows_written} rows written")
    gate.flush()


def _outcome(c: _Computed, lake: Lake) -> TableOutcome:
    return TableOutcome(
        target=c.step.target,
        batches=len(c.batches),
        raw_rows=sum(x["raw"] for x in c.counts),
        cleaned_rows=sum(x["cleaned"] for x in c.counts),
        quarantined_rows=sum(x["quarantined"] for x in c.counts),
        duplicates_dropped=sum(x["dup"] for x in c.counts),
        late_resends=sum(x["resends"] for x in c.counts),
        version=lake.version(c.step.target),
    )
