"""The feature job: cleaned.* -> gate -> features.*, incremental by month.

``build_features(lake, settings, run_id, as_of=None)``:

1. Checks conf/tags.yaml against the customer_monthly columns the rules are evaluated on (a bad
   rule stops the job before any data is read).
2. Finds what is due, for each table on its own: a month is due for a table when that table
   lacks it (so a month one table holds and another lacks, after a crash between two writes, is
   filled in by the next run). The data is observed until ``observed_until`` = the day after
   the latest business date of cleaned.transactions; the latest cut-off is the first day of
   that month (its previous month is complete). Without ``as_of``, every cut-off a table lacks
   is computed, all months in one pass; history is not recomputed. With ``as_of`` (any date; it
   is rounded down to its cut-off, the first day of its month), the cut-offs up to it that are
   missing are computed and the cut-off itself is recomputed, replacing exactly that month; an
   ``as_of`` past the data recomputes the latest cut-off (a warning says so), one before the
   first cut-off is an error naming both. customer_tags of a cut-off whose customer_monthly
   rows are not recomputed are computed from the stored rows. Churn labels are due once their
   90-day window is observed. transaction_fraud months are due when missing, when their labels
   were not yet mature at the last build (new reports may have arrived), and (with ``as_of``)
   for the month before the cut-off.
3. Computes every table, gates each with its declared checks (not-null, ranges, row checks:
   ``check_declared_columns``) and expectations/features/<table>.json, and only then writes:
   each table in one atomic ``replace_where`` on exactly the months computed, with a WriteTxn
   keyed by the run so a rerun of the same run is a no-op. When every due table already holds
   that commit, the rerun stops before reading any data.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from finlake.catalog import TableSpec
from finlake.errors import FinlakeError
from finlake.features import fraud, labels, tags
from finlake.features.customer import (
    SUBSET_COUNT_ORDERINGS, WINDOW_COUNT_ORDERINGS, WINDOW_SUM_ORDERINGS, CustomerInputs, compute_customer_features,
)
from finlake.features.windows import add_months, cutoffs_between, month_start
from finlake.lake.api import Lake, WriteTxn, conform
from finlake.settings import Settings

log = logging.getLogger(__name__)

CUSTOMER_MONTHLY = "features.customer_monthly"
CUSTOMER_TAGS = "features.customer_tags"
CHURN_LABELS = "features.churn_labels"
TRANSACTION_FRAUD = "features.transaction_fraud"
INPUTS = ("cleaned.customers", "cleaned.accounts", "cleaned.transactions", "cleaned.balances", "cleaned.app_events",
          "cleaned.complaints", "cleaned.contacts", "cleaned.fraud_reports")


class FeatureInputError(FinlakeError):
    """The cleaned data needed for the features is missing or empty."""


@dataclass
class TableBuild:
    """What the job did to one feature table."""

    table: str
    partitions: list[date]
    rows: int = 0
    version: int | None = None
    skipped: bool = False


@dataclass
class FeatureReport:
    """The outcome of one build_features run."""

    run_id: str
    observed_until: date
    latest_cutoff: date
    label_cutoff: date
    tables: dict[str, TableBuild] = field(default_factory=dict)
    gate_reports: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_written(self) -> int:
        return sum(t.rows for t in self.tables.values())

    def summary(self) -> str:
        """One line per table, headed by the run: what a job log or the CLI prints."""
        head = (f"features run {self.run_id}: data observed until {self.observed_until}, latest cut-off "
                f"{self.latest_cutoff}, fraud labels from reports before {self.label_cutoff}, {self.seconds:.0f} s")
        if not self.tables:
            return head + "\n  nothing due: every table is up to date"
        lines = [f"  {t.table}: {'skipped (already committed by this run)' if t.skipped else f'{t.rows} rows'} "
                 f"for {', '.join(d.isoformat() for d in t.partitions)} (version {t.version})"
                 for t in self.tables.values()]
        return "\n".join([head] + lines)


@dataclass(frozen=True)
class Plan:
    """Which cut-offs / months each table needs in this run."""

    observed_until: date
    first_cutoff: date
    latest_cutoff: date
    customer_cutoffs: list[date]
    tag_cutoffs: list[date]
    label_cutoffs: list[date]
    fraud_months: list[date]


def _existing(lake: Lake, table: str, column: str) -> set[date]:
    if not lake.exists(table):
        return set()
    return {r[0] for r in lake.read(table).select(column).distinct().collect()}


def plan_build(lake: Lake, as_of: date | None) -> Plan:
    """Decide what is due (see the module docstring)."""
    if not lake.exists("cleaned.transactions"):
        raise FeatureInputError("cleaned.transactions does not exist; run 'finlake run --until clean' first")
    lo, hi = lake.read("cleaned.transactions").agg(F.min("business_date"), F.max("business_date")).first()
    if hi is None:
        raise FeatureInputError("cleaned.transactions is empty; run 'finlake run --until clean' first")
    observed_until = hi + timedelta(days=1)
    first_cutoff = add_months(month_start(lo), 1)
    latest = month_start(observed_until)
    if latest < first_cutoff:
        raise FeatureInputError(f"cleaned.transactions covers {lo}..{hi}: no whole month before a cut-off yet; "
                                f"the first cut-off, {first_cutoff}, can be built once the data reaches "
                                f"{first_cutoff - timedelta(days=1)}")
    recompute = None
    if as_of is not None:
        wanted = month_start(as_of)
        if wanted < first_cutoff:
            raise FeatureInputError(f"as_of {as_of} is before the first cut-off the data allows: its cut-off "
                                    f"{wanted} needs the whole month before it, but cleaned.transactions starts at "
                                    f"{lo}, so the first cut-off is {first_cutoff}; use --as-of {first_cutoff} or later")
        if wanted > latest:
            # Like a mid-month run of the last day the data reaches (docs/runs.md): the latest
            # cut-off is recomputed, so late data for it is picked up; nothing later is built.
            log.warning("as_of %s needs data through %s but cleaned.transactions ends at %s; recomputing the latest "
                        "cut-off %s instead", as_of, wanted - timedelta(days=1), hi, latest)
        else:
            latest = wanted
        recompute = latest
    cutoffs = cutoffs_between(first_cutoff, latest)
    # Each table's due months are its own: a month one table holds and another lacks (a crash
    # between two writes, rows deleted by hand) is due for the table that lacks it.
    customer = _due(cutoffs, _existing(lake, CUSTOMER_MONTHLY, "as_of"), recompute)
    tagged = _due(cutoffs, _existing(lake, CUSTOMER_TAGS, "as_of"), recompute)
    observed = labels.label_cutoffs(cutoffs, observed_until)
    labelled = _existing(lake, CHURN_LABELS, "as_of")
    churn = sorted({c for c in observed if c not in labelled} | ({recompute} & set(observed) if recompute else set()))
    months = [add_months(c, -1) for c in cutoffs]
    fraud_months = sorted(set(months) - _existing(lake, TRANSACTION_FRAUD, "txn_month")
                          | _immature_months(lake, observed_until)
                          | ({add_months(recompute, -1)} if recompute else set()))
    return Plan(observed_until, first_cutoff, latest, customer, tagged, churn,
                [m for m in fraud_months if m in months])


def _due(cutoffs: list[date], done: set[date], recompute: date | None) -> list[date]:
    """The cut-offs a table lacks, plus the one recomputed."""
    return sorted({c for c in cutoffs if c not in done} | ({recompute} if recompute else set()))


def _immature_months(lake: Lake, label_cutoff: date) -> set[date]:
    """Months holding transactions whose label could still change (reports may have arrived)."""
    if not lake.exists(TRANSACTION_FRAUD):
        return set()
    rows = (lake.read(TRANSACTION_FRAUD).where(~F.col("label_mature") & (F.col("label_cutoff") < F.lit(label_cutoff)))
            .select("txn_month").distinct().collect())
    return {r[0] for r in rows}


def read_inputs(lake: Lake) -> CustomerInputs:
    missing = [t for t in INPUTS if not lake.exists(t)]
    if missing:
        hint = "run 'finlake run --until clean' first"
        listed = lake.settings.landing_source_names()
        if listed is not None:
            hint += (f", and check the setting landing_sources ({', '.join(listed)}): the features need the "
                     "landing sources of all of these tables")
        raise FeatureInputError(f"cleaned tables missing: {', '.join(missing)}; {hint}")
    t = {name.split(".", 1)[1]: lake.read(name) for name in INPUTS}
    return CustomerInputs(**t)


@dataclass(frozen=True)
class RowCheck:
    """A blocking rule across columns that every row of a feature table must meet."""

    name: str
    holds: Callable[[], Column]  # true on a good row (built lazily: a Column needs a running Spark)
    example: tuple[str, ...]  # the columns shown for one row that breaks it
    details: str
    # The names of the rules a breaking row breaks, shown in its example as ``broken`` (optional).
    broken: Callable[[], Column] | None = None


# Sums of the same non-negative amounts may differ in the last bits with the order of addition;
# a sum may exceed the one it is nested in by this fraction of it (a posting missing from a window
# is caught exactly by the counts).
SUM_SLACK = 1e-9


def _at_most(small: str, large: str, slack: float) -> str:
    """SQL: small <= large (within ``slack`` x |large|) on a row; false when either is null."""
    bound = f"`{large}` + abs(`{large}`) * {_sql_number(slack)}" if slack else f"`{large}`"
    return f"coalesce(`{small}` <= {bound}, false)"


def ordering_check(name: str, keys: tuple[str, ...], chains: tuple[tuple[str, ...], ...], why: str,
                   slack: float = 0.0) -> RowCheck:
    """A RowCheck that each chain ``(a, b, c)`` holds as a <= b <= c on every row.

    A null in a compared column breaks the row (it is also a not-null failure): the ordering never
    passes on a value it could not compare. The example shows ``keys``, every compared column and
    ``broken``, the pairs that row breaks. The conditions are SQL text, one py4j call each.
    """
    pairs = [(a, b) for chain in chains for a, b in zip(chain, chain[1:])]
    columns = tuple(dict.fromkeys(c for chain in chains for c in chain))

    def holds() -> Column:
        return F.expr(" AND ".join(_at_most(a, b, slack) for a, b in pairs))

    def broken() -> Column:
        names = ", ".join(f"CASE WHEN NOT {_at_most(a, b, slack)} THEN '{a} <= {b}' END" for a, b in pairs)
        return F.expr(f"filter(array({names}), n -> n IS NOT NULL)")

    tolerance = f"; sums compare within {slack:g} of the larger, for rounding" if slack else ""
    return RowCheck(name, holds, keys + columns,
                    f"{'; '.join(' <= '.join(chain) for chain in chains)} ({why}{tolerance}; a null breaks the row; "
                    f"docs/features.md)", broken)


CUSTOMER_KEYS = ("customer_id", "as_of")
ROW_CHECKS: dict[str, tuple[RowCheck, ...]] = {
    CUSTOMER_MONTHLY: (
        ordering_check("window_counts_nested", CUSTOMER_KEYS, WINDOW_COUNT_ORDERINGS,
                       "the same events counted over nested windows"),
        ordering_check("window_sums_nested", CUSTOMER_KEYS, WINDOW_SUM_ORDERINGS,
                       "the same purchase CNY, each >= 0, summed over nested windows", SUM_SLACK),
        ordering_check("subset_counts_bounded", CUSTOMER_KEYS, SUBSET_COUNT_ORDERINGS,
                       "purchases are postings, conversions are responses, each product type held is an open "
                       "account"),
    ),
    CHURN_LABELS: (RowCheck(
        "churn_label_window", labels.label_window_holds,
        ("customer_id", "as_of", "churned", "churn_date", "window_end"),
        "window_end = as_of + 90 days; churn_date in [as_of, window_end) when churned, null otherwise "
        "(all_accounts_closed_v1, docs/features.md)"),),
    TRANSACTION_FRAUD: (
        ordering_check("window_counts_nested", ("txn_id", "card_id", "ts"), (fraud.VELOCITY_COUNT_ORDERING,),
                       "earlier postings on the same card in [ts - w, ts), nested windows"),
        ordering_check("window_sums_nested", ("txn_id", "card_id", "ts"), (fraud.VELOCITY_SUM_ORDERING,),
                       "the amount_cny of those postings, each >= 0", SUM_SLACK),
    ),
}


def declared_column_results(spec: TableSpec, df: DataFrame, row_checks: tuple[RowCheck, ...] = ()) -> list[dict]:
    """The declared checks of ``spec`` on ``df``, computed by one Spark aggregate.

    - ``declared_not_null_columns``: no null in a column declared ``nullable: false``;
    - ``declared_column_ranges`` (when the table declares ranges): every value of a column with a
      declared ``min`` / ``max`` lies in it, both ends inclusive; a null is not checked (that is
      the not-null check's business), a NaN always breaks a range. Per broken column: the range,
      how many rows break it and an example, the value furthest outside;
    - one result per :class:`RowCheck` (``ROW_CHECKS``: the churn label window, the orderings
      that hold by construction such as nested windows): how many rows break it and one of them.

    Returns keyword arguments for ``QualityGate.record_check`` (all blocking).
    """
    required = [c.name for c in spec.columns if not c.nullable]
    ranged = [c for c in spec.columns if c.has_range]
    # The column checks are SQL text, one F.expr each: built as Column objects they took about
    # 14,000 py4j calls and 2 s for customer_monthly's 76 columns, whatever its size.
    sql = ["count(1) AS _rows"] + [f"count_if(`{c}` IS NULL) AS `_null_{c}`" for c in required]
    outside = []
    for c in ranged:
        value = f"`{c.name}`"
        # NaN compares above every number in Spark: it is counted on its own, never as "high".
        nan = f"isnan({value})" if isinstance(spec.schema[c.name].dataType, (T.DoubleType, T.FloatType)) else "false"
        low = f"coalesce({value} < {_sql_number(c.min_value)}, false)" if c.min_value is not None else "false"
        high = (f"coalesce({value} > {_sql_number(c.max_value)} AND NOT {nan}, false)" if c.max_value is not None
                else "false")
        outside.append(f"({low} OR {high} OR {nan})")
        sql += [f"count_if({outside[-1]}) AS `_out_{c.name}`",
                f"min(CASE WHEN {low} THEN {value} END) AS `_low_{c.name}`",
                f"max(CASE WHEN {high} THEN {value} END) AS `_high_{c.name}`"]
    if ranged:
        sql.append(f"count_if({' OR '.join(outside)}) AS _out_rows")
    aggs = [F.expr(e) for e in sql]
    for check in row_checks:
        broken = ~check.holds()
        shown = [F.col(c) for c in check.example] + ([check.broken().alias("broken")] if check.broken else [])
        aggs += [F.sum(broken.cast("int")).alias(f"_broken_{check.name}"),
                 # The smallest breaking row (by its first example columns): a stable example.
                 F.min(F.when(broken, F.struct(*shown))).alias(f"_example_{check.name}")]
    agg = df.agg(*aggs).first().asDict(recursive=True)

    nulls = {c: agg[f"_null_{c}"] for c in required if agg[f"_null_{c}"]}
    results = [dict(name="declared_not_null_columns", success=not nulls,
                    observed=nulls or f"no nulls in {len(required)} columns",
                    details=f"columns declared nullable: false in {spec.source_file}; defaults in docs/features.md")]
    if ranged:
        broken = {c.name: {"range": c.range_text, "rows": agg[f"_out_{c.name}"],
                           "example": _furthest(agg[f"_low_{c.name}"], agg[f"_high_{c.name}"])}
                  for c in ranged if agg[f"_out_{c.name}"]}
        results.append(dict(name="declared_column_ranges", success=not broken,
                            observed=broken or f"every value in range in {len(ranged)} columns",
                            column=", ".join(broken) or None,
                            **_unexpected(agg["_out_rows"] if broken else 0, agg["_rows"]),
                            details=f"min/max declared in {spec.source_file}; {agg['_rows']} rows checked"))
    for check in row_checks:
        n = agg[f"_broken_{check.name}"] or 0
        results.append(dict(name=check.name, success=not n,
                            observed={"rows": n, "example": agg[f"_example_{check.name}"]} if n else "every row holds",
                            **_unexpected(n, agg["_rows"]), details=check.details))
    return results


def _sql_number(value: int | float) -> str:
    """A declared bound as a SQL literal: integers as written, floats as doubles (a plain 0.5
    would be a decimal literal)."""
    return str(value) if isinstance(value, int) else f"CAST('{value!r}' AS DOUBLE)"


def _furthest(low, high):
    """The example of a broken range: the lowest value below it, else the highest above it, else
    (only NaNs broke it) NaN."""
    if low is not None:
        return low
    return high if high is not None else float("nan")


def _unexpected(count: int, rows: int) -> dict:
    """unexpected_count and _percent as GX gives them (none when nothing broke)."""
    if not count:
        return {}
    return {"unexpected_count": count, "unexpected_percent": 100.0 * count / rows}


def check_declared_columns(gate, lake: Lake, table: str, df: DataFrame) -> None:
    """Record the declared checks of ``table`` (``declared_column_results``), all blocking.

    Every non-nullable feature column has a documented default, and every declared range follows
    from the feature's definition, so a failure is a transform bug. One aggregate over all
    columns instead of one GX expectation per column: on Spark each GX expectation is its own job
    (the GX suites keep keys, codes, the label-timing pair and plausibility warnings).
    """
    for result in declared_column_results(lake.spec(table), df, ROW_CHECKS.get(table, ())):
        gate.record_check(table, severity="blocking", **result)


def _due_tables(plan: Plan) -> dict[str, tuple[str, list[date]]]:
    """Each table this plan writes: its partition column and the partitions (cut-offs or months)."""
    due = {}
    if plan.customer_cutoffs:
        due[CUSTOMER_MONTHLY] = ("as_of", plan.customer_cutoffs)
    if plan.tag_cutoffs:
        due[CUSTOMER_TAGS] = ("as_of", plan.tag_cutoffs)
    if plan.label_cutoffs:
        due[CHURN_LABELS] = ("as_of", plan.label_cutoffs)
    if plan.fraud_months:
        due[TRANSACTION_FRAUD] = ("txn_month", plan.fraud_months)
    return due


def _tag_features(lake: Lake, plan: Plan, computed: DataFrame | None) -> DataFrame:
    """The customer_monthly rows the due tags are computed from: this run's rows for the cut-offs
    it computes, the stored rows for the others (tags missing where customer_monthly is complete)."""
    fresh = [c for c in plan.tag_cutoffs if c in plan.customer_cutoffs]
    stored = [c for c in plan.tag_cutoffs if c not in plan.customer_cutoffs]
    parts = []
    if fresh:
        parts.append(computed.where(F.col("as_of").isin(*fresh)))
    if stored:
        parts.append(lake.read(CUSTOMER_MONTHLY).where(F.col("as_of").isin(*stored)))
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


def _predicate(column: str, days: list[date]) -> str:
    return f"{column} IN ({', '.join(f'DATE {d.isoformat()!r}' for d in days)})"


def build_features(lake: Lake, settings: Settings, run_id: str, as_of: date | None = None,
                   tags_file: Path | str | None = None) -> FeatureReport:
    """Build the due months of every feature table (module docstring); gate, then write.

    Raises QualityGateError (nothing written) when a blocking check fails, TagRuleError
    for a bad conf/tags.yaml, FeatureInputError when the cleaned data is missing.
    """
    from finlake.quality import QualityGate

    started = time.monotonic()
    lake = lake.for_job("build_features", run_id)
    gate = QualityGate(lake, settings, run_id=run_id)  # first: GX warms up while the features compute
    spark = lake.spark
    rules = tags.load_tag_rules(spark, lake.spec(CUSTOMER_MONTHLY).schema, tags_file)
    plan = plan_build(lake, as_of)
    log.info("features: observed until %s; customer cut-offs %s; tag cut-offs %s; churn label cut-offs %s; "
             "fraud months %s", plan.observed_until, plan.customer_cutoffs, plan.tag_cutoffs, plan.label_cutoffs,
             plan.fraud_months)
    report = FeatureReport(run_id, plan.observed_until, plan.latest_cutoff, plan.observed_until)
    txn = WriteTxn(f"build_features:{run_id}", int(plan.latest_cutoff.strftime("%Y%m%d")))
    due = _due_tables(plan)
    if due and all(lake.has_committed(t, txn) for t in due):
        # A rerun of a run that committed every table (a resumed pipeline, a retried job): the
        # writes would all be skipped, so nothing is computed or gated either.
        for table, (_, parts) in due.items():
            report.tables[table] = TableBuild(table, parts, 0, lake.version(table), skipped=True)
        log.info("features: run %s already committed %s; nothing to do", run_id, ", ".join(due))
        report.seconds = time.monotonic() - started
        return report
    inputs = read_inputs(lake)
    stamp = F.lit(run_id).alias("_run_id")

    def prepared(table: str, df: DataFrame) -> DataFrame:
        """Stamped, checked against the declared schema (a type drift stops the run before any
        gate or write), persisted for the gate and the write."""
        return conform(df.select("*", stamp), lake.spec(table).schema, table, merge_schema=False)[0].persist(
            StorageLevel.MEMORY_AND_DISK)

    frames: dict[str, DataFrame] = {}  # each due table's rows, in the order of ``due``
    if plan.customer_cutoffs:
        lo, hi = plan.customer_cutoffs[0], plan.customer_cutoffs[-1]
        frames[CUSTOMER_MONTHLY] = prepared(CUSTOMER_MONTHLY, compute_customer_features(inputs, lo, hi)
                                            .where(F.col("as_of").isin(*plan.customer_cutoffs)))
    if plan.tag_cutoffs:
        features = tags.rule_input(_tag_features(lake, plan, frames.get(CUSTOMER_MONTHLY)))
        tag_rows = tags.compute_customer_tags(features, rules, tags.model_tag_rows(lake, features))
        frames[CUSTOMER_TAGS] = prepared(CUSTOMER_TAGS, tag_rows)
    if plan.label_cutoffs:
        churn = labels.churn_labels(inputs.accounts, plan.label_cutoffs)
        frames[CHURN_LABELS] = prepared(CHURN_LABELS, churn)
    if plan.fraud_months:
        lo, hi = plan.fraud_months[0], plan.fraud_months[-1]
        tf = (fraud.compute_transaction_features(inputs.transactions, inputs.app_events, inputs.customers,
                                                 inputs.fraud_reports, lo, hi, plan.observed_until)
              .where(F.col("txn_month").isin(*plan.fraud_months)))
        frames[TRANSACTION_FRAUD] = prepared(TRANSACTION_FRAUD, tf)

    try:
        for table, df in frames.items():
            check_declared_columns(gate, lake, table, df)
            report.gate_reports[table] = gate.check(df, table)  # raises before any write
        gate.raise_if_blocking()
        for table, df in frames.items():
            column, parts = due[table]
            result = lake.replace_where(table, df, _predicate(column, parts), txn=txn)
            report.tables[table] = TableBuild(table, parts, result.rows_written, result.version, result.skipped)
            log.info("%s: %s %d rows for %s (version %s)", table, "skipped" if result.skipped else "wrote",
                     result.rows_written, ", ".join(map(str, parts)), result.version)
    finally:
        for df in frames.values():
            df.unpersist()
    report.seconds = time.monotonic() - started
    return report

