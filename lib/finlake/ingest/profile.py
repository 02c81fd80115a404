"""Counts the raw gate records about the rows of one ingest unit: what the raw layer can see.

Raw lands every line as delivered, so its value-level checks are *counts*, recorded as warnings
(the cleaned layer quarantines the rows). They run as one aggregation over the persisted rows,
plus one grouping each for duplicate lines, keys re-sent in a later batch and unknown foreign
keys. Conditions apply to well-formed rows only: a truncated line's missing fields are counted
as truncated, not as nulls or bad dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finlake.lake import Lake

# Well-formed rows breaking these SQL conditions are counted. name -> (column, condition, rationale).
VALUE_RULES: dict[str, dict[str, tuple[str, str, str]]] = {
    "raw.transactions": {
        "ts_parses": ("ts", "ts IS NOT NULL AND to_timestamp(ts, 'yyyy-MM-dd HH:mm:ss') IS NULL",
                      "a posting time that does not parse as 'YYYY-MM-DD HH:MM:SS' cannot be placed in time"),
        "amount_in_range": ("amount", "amount IS NOT NULL AND NOT (amount RLIKE '^[0-9]+[.][0-9]{2}$' "
                                      "AND CAST(amount AS DECIMAL(20,2)) > 0 AND CAST(amount AS DECIMAL(20,2)) < 100000000)",
                            "posted amounts are positive, below 100 million, with exactly 2 decimals"),
    },
    "raw.customers": {
        "birth_date_parses": ("birth_date", "birth_date IS NOT NULL AND (CASE WHEN _system = 'branch' "
                                            "THEN to_date(birth_date, 'yyyy/MM/dd') ELSE to_date(birth_date, 'yyyy-MM-dd') END) IS NULL",
                              "core sends YYYY-MM-DD, branch YYYY/MM/DD; anything else is a source defect"),
        "age_in_range": ("birth_date", "floor(months_between(_business_date, CASE WHEN _system = 'branch' "
                                       "THEN to_date(birth_date, 'yyyy/MM/dd') ELSE to_date(birth_date, 'yyyy-MM-dd') END) / 12) "
                                       "NOT BETWEEN 0 AND 120",
                         "a customer's age on the batch date is between 0 and 120 years"),
    },
}
# Rows whose column value no row of the referenced raw table carries: (column, table, column).
FOREIGN_KEYS = {"raw.transactions": ("account_id", "raw.accounts", "account_id")}
# How far back a key re-sent in a later batch is looked for in rows landed by earlier runs.
RESEND_WINDOW_DAYS = 31


@dataclass(frozen=True)
class Count:
    name: str
    count: int
    column: str | None
    rationale: str


def file_stats(df: DataFrame, table: str) -> DataFrame:
    """One row per ``_source_file``: what accounting and the per-row counts need, in one pass.

    rows, malformed, bad_encoding (lines invalid in the declared encoding), truncated (CSV field
    count off, or JSON not an object), distinct_lines (distinct row hashes: rows - distinct_lines
    = extra copies of identical lines), extra_keys (drifted columns seen), and one column per
    value rule of ``table`` counting the well-formed rows that break it.
    """
    wf = ~F.col("_malformed")
    kind = F.substring_index(F.col("_parse_error"), ":", 1)
    return df.groupBy("_source_file").agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.col("_malformed").cast("int")).alias("malformed"),
        F.sum(F.when(kind == "invalid_encoding", 1).otherwise(0)).alias("bad_encoding"),
        F.sum(F.when(kind.isin("truncated_line", "too_many_fields", "invalid_json"), 1).otherwise(0)).alias("truncated"),
        F.count_distinct("_row_hash").alias("distinct_lines"),
        F.array_distinct(F.flatten(F.collect_set(F.map_keys("_extra")))).alias("extra_keys"),
        F.min(F.when(wf, F.col("_business_date"))).alias("first_date"),
        F.max(F.when(wf, F.col("_business_date"))).alias("last_date"),
        *[F.sum(F.when(wf & F.coalesce(F.expr(cond), F.lit(False)), 1).otherwise(0)).alias(name)
          for name, (_, cond, _) in VALUE_RULES.get(table, {}).items()],
    )


def profile_rows(lake: Lake, df: DataFrame, table: str, key: str | None, stats: list[dict]) -> list[Count]:
    """The raw-visible defect counts of ``df`` (new rows of ``table``, persisted by the caller).

    ``stats`` are the :func:`file_stats` rows of the files in ``df``.
    """

    def total(column):
        return sum(int(r[column] or 0) for r in stats)

    out = [
        Count("truncated_lines", total("truncated"), None,
              "a line with fewer fields than its header (or not a complete JSON object) was cut in transfer"),
        Count("invalid_encoding_lines", total("bad_encoding"), None,
              "a line not valid in the declared encoding garbles names and cities; its bytes are kept in _line_bytes"),
    ]
    out += [Count(name, total(name), col, why) for name, (col, _, why) in VALUE_RULES.get(table, {}).items()]
    out.append(Count("duplicate_lines_in_batch", total("rows") - total("distinct_lines"), None,
                     "an identical line delivered twice in one file would double-count the event"))
    if key:
        out.append(Count(f"{key}_resent_in_later_batch", _resent(lake, df, table, key, stats), key,
                         "a key delivered again in a later batch is a re-send, not a new event"))
    if table in FOREIGN_KEYS:
        col, ref_table, ref_col = FOREIGN_KEYS[table]
        if lake.exists(ref_table):
            known = lake.read(ref_table).select(F.col(ref_col).alias(col)).where(F.col(col).isNotNull()).distinct()
            orphans = df.where(~F.col("_malformed") & F.col(col).isNotNull()).join(known, col, "left_anti").count()
            out.append(Count(f"{col}_known", int(orphans), col,
                             f"every {col} must exist in {ref_table}; an unknown one cannot be attributed"))
    return out


def _resent(lake: Lake, df: DataFrame, table: str, key: str, stats: list[dict]) -> int:
    """Well-formed rows whose key appeared in an earlier batch (in ``df`` or already in raw).

    One shuffle: the rows are hash-partitioned by ``key`` once, and both groupings (per key and
    business date, then per key) and the join to earlier raw rows reuse that partitioning.
    """
    firsts = [r["first_date"] for r in stats if r.get("first_date") is not None]
    if not firsts:
        return 0
    lo, hi = min(firsts), max(r["last_date"] for r in stats if r.get("last_date") is not None)
    rows = df.where(~F.col("_malformed") & F.col(key).isNotNull()).select(key, "_business_date").repartition(key)
    per_batch = rows.groupBy(key, "_business_date").agg(F.count(F.lit(1)).alias("n"))
    per_key = per_batch.groupBy(key).agg(F.sum("n").alias("total"),
                                         F.min_by("n", "_business_date").alias("first_n"),
                                         F.min("_business_date").alias("first_date"))
    if lake.exists(table):
        earlier = (lake.read(table)
                   .where(F.col("_business_date").between(lo - timedelta(days=RESEND_WINDOW_DAYS), hi)
                          & ~F.col("_source_file").isin([r["_source_file"] for r in stats])
                          & ~F.col("_malformed") & F.col(key).isNotNull())
                   .groupBy(key).agg(F.min("_business_date").alias("seen")))
        per_key = per_key.join(earlier, key, "left")
        seen_before = F.col("seen").isNotNull() & (F.col("seen") < F.col("first_date"))
    else:
        seen_before = F.lit(False)
    resent = F.when(seen_before, F.col("total")).otherwise(F.col("total") - F.col("first_n"))
    return int(per_key.agg(F.sum(resent).alias("n")).first()["n"] or 0)
