"""Benchmark the feature build: Spark vs the scan floor of its inputs, and vs DuckDB SQL.

Usage (a lake whose cleaned layer is built, e.g. by ``finlake generate/ingest/clean``):

    .venv/bin/python bench/bench_features.py --home /tmp/bench-0.1 [--scale-label 0.1]

In one run, on the same cleaned Delta tables (their current Parquet files, via delta-rs
``file_uris``), it measures:

- ``scan_floor``: Spark reading every input column the features use (noop sink): the least any
  engine must pay to see its inputs;
- ``spark_customer_monthly``: compute_customer_features for every cut-off in one pass (noop sink);
- ``spark_transaction_fraud``: compute_transaction_features for every month (noop sink);
- ``spark_all_tables``: customer_monthly + tags + churn labels + transaction_fraud (noop sinks);
- ``duckdb_customer_monthly``: the same customer_monthly features written as DuckDB SQL over the
  same Parquet files (``duckdb_sql`` below): every column of features.customer_monthly, under its
  declared name and type, by the definitions of docs/features.md.

Then a value check, DuckDB vs Spark, row by row on (customer_id, as_of): every declared column of
features.customer_monthly but ``NOT_COMPARED`` (``_run_id``, stamped by the build job). The bench
stops first if either engine lacks a declared column or returns an undeclared one. Doubles agree
within 1e-9 of their size (sums in another order), everything else exactly, and DuckDB's type must
be the declared one. ``duckdb_check`` in the results counts the rows only one engine has and, per
column, the rows that differ (with one example) or a ``<column> (type)`` difference; no column
entry means the column agrees on every row.

Every step (Spark, DuckDB and the floor) runs ``--runs`` times (default 2) one after the other; the
figures and ratios use the fastest, and ``runs`` in the results lists every time (the first is
cold). Spark runs ``local[2]`` with a 2 GB driver (``--driver-memory``); DuckDB uses 2 threads.
Results go to ``bench/results/features_<label>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from datetime import date
from pathlib import Path

log = logging.getLogger("bench_features")

INPUT_COLUMNS = {
    "cleaned.customers": ["customer_id", "gender", "birth_year", "city_code", "occupation", "income_band",
                          "risk_tolerance", "acquisition_channel", "open_date", "status", "valid_from", "valid_to"],
    "cleaned.accounts": ["account_id", "customer_id", "product_type", "open_date", "close_date"],
    "cleaned.transactions": ["txn_id", "customer_id", "card_id", "ts", "business_date", "amount_cny", "direction",
                             "channel", "merchant_id", "mcc", "city_code", "device_id", "counterparty_bank",
                             "is_international", "is_card"],
    "cleaned.balances": ["account_id", "month_end", "balance"],
    "cleaned.app_events": ["customer_id", "ts", "business_date", "event_type"],
    "cleaned.complaints": ["customer_id", "business_date"],
    "cleaned.contacts": ["customer_id", "business_date", "outcome", "control_group"],
    "cleaned.fraud_reports": ["txn_id", "business_date", "fraud_type"],
}


def timed(label: str, fn, results: dict, runs: int = 1, each: dict | None = None):
    """Run ``fn`` ``runs`` times; ``results[label]`` is the fastest, ``each[label]`` every time.

    The first run of a step pays the JVM's warm-up (class loading, code generation, the first
    reads of the files); the fastest shows the step itself.
    """
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        value = fn()
        times.append(round(time.perf_counter() - started, 2))
    results[label] = min(times)
    if each is not None:
        each[label] = times
    log.info("%s: %s s", label, " / ".join(f"{t:.1f}" for t in times))
    return value


def noop(df) -> None:
    df.write.format("noop").mode("overwrite").save()


# --- DuckDB: customer_monthly as SQL over the cleaned tables' Parquet files ----------------------

def duckdb_sql(first: date, last: date) -> str:
    """Every column of features.customer_monthly in DuckDB SQL, for the cut-offs first..last.

    The same definitions as finlake.features.customer (docs/features.md), written once more as one
    query: the reference the Spark rows are checked against. Each event table is summed per
    (customer, day); each day is joined to the cut-offs D that can see it, with lag = D - date in
    1..180; a window is a conditional sum over lags (1..30 is [D - 30 days, D), 91..180 is
    [D - 180, D - 90)). The last SELECT lists the columns in their declared order, each with its
    default for a customer who has no rows in a part (no postings, no balances ...).
    """
    from finlake.features.customer import ATTRIBUTION_WINDOW_DAYS as aw
    from finlake.features.reference import (
        AGE_BANDS, CASH_MCC, CHANNELS, DEBT_TYPES, DEPOSIT_TYPES, INVESTMENT_TYPES, MCC_FAMILIES, PRODUCT_TYPES,
        SPEND_FAMILIES, SYSTEM_CHANNEL,
    )

    def listed(values) -> str:  # ('a', 'b') -> 'a', 'b'
        return ", ".join(f"'{v}'" for v in values)

    def each(template: str, names, indent: int = 14) -> str:  # the template once per name, {x} the name
        return f",\n{' ' * indent}".join(template.format(x=x) for x in names)

    def total(value: str, lo: int, hi: int) -> str:  # sum of value over the days with lag lo..hi; 0 when none
        return f"coalesce(sum(CASE WHEN lag BETWEEN {lo} AND {hi} THEN {value} ELSE 0 END), 0)"

    def count(value: str, lo: int, hi: int) -> str:
        return f"{total(value, lo, hi)}::INTEGER"

    def seen_at_cutoffs(daily: str) -> str:  # each row once per cut-off D with lag = D - business_date in 1..180
        return (f"(SELECT {daily}.*, cut.as_of, datediff('day', {daily}.business_date, cut.as_of) AS lag "
                f"FROM {daily} JOIN cut ON cut.as_of > {daily}.business_date "
                f"AND cut.as_of <= {daily}.business_date + INTERVAL 180 DAY)")

    def share(part: str, whole: str) -> str:  # 0 when the whole is 0 or missing
        return f"CASE WHEN {whole} > 0 THEN {part} / {whole} ELSE 0 END"

    def trend(now: str, before: str) -> str:
        return f"ln((1 + coalesce({now}, 0)) / (1 + coalesce({before}, 0)))"

    def zero(*names: str, default: str = "0") -> str:  # the columns, default for a customer with no rows in the part
        return ", ".join(f"coalesce({n}, {default}) AS {n}" for n in names)

    family = " ".join(f"WHEN mcc IN ({listed(codes)}) THEN '{f}'" for f, codes in MCC_FAMILIES.items())
    age_band = " ".join(f"WHEN age >= {lowest} THEN '{band}'" for band, lowest in AGE_BANDS)
    app_events = ("login", "product_view", "apply_start", "apply_submit")
    aum = "greatest(deposit + investment, 0)"
    return f"""
WITH cut AS (SELECT CAST(range AS DATE) AS as_of
             FROM range(DATE '{first}', DATE '{last}' + INTERVAL 1 DAY, INTERVAL 1 MONTH)),
-- profile: the customers whose version in force on D - 1 day (valid_from < D <= valid_to) is active
prof AS (SELECT customer_id, as_of, gender, age,
                CASE WHEN age IS NULL THEN 'unknown' {age_band} ELSE 'unknown' END AS age_band,
                city_code, occupation, income_band, risk_tolerance, acquisition_channel,
                -- whole months from open_date to D (a month counts once its day is reached)
                coalesce(greatest(datediff('month', open_date, as_of)
                                  - CASE WHEN day(as_of) < day(open_date) THEN 1 ELSE 0 END, 0), 0)::INTEGER
                  AS tenure_months
         FROM (SELECT c.*, cut.as_of, (year(cut.as_of - INTERVAL 1 DAY) - birth_year)::INTEGER AS age
               FROM customers c JOIN cut ON c.valid_from < cut.as_of AND c.valid_to >= cut.as_of
               WHERE status = 'active')),
-- postings any cut-off can see (business dates [first - 180 days, last)), without the core system's
-- own; a purchase ("spend") is a debit with a merchant category other than ATM cash
t AS (SELECT customer_id, business_date, channel, direction, counterparty_bank, is_international,
             CAST(amount_cny AS DOUBLE) AS amount,
             direction = 'debit' AND mcc IS NOT NULL AND mcc <> '{CASH_MCC}' AS is_spend,
             CASE {family} ELSE 'other' END AS family
      FROM transactions
      WHERE business_date >= DATE '{first}' - INTERVAL 180 DAY AND business_date < DATE '{last}'
        AND channel <> '{SYSTEM_CHANNEL}'),
-- per customer and day, then per customer and cut-off: each window a sum over its lags
td AS (SELECT customer_id, business_date, count(*) AS n, sum(is_spend::INT) AS spend_n,
              sum(CASE WHEN is_spend THEN amount ELSE 0 END) AS spend,
              {each("sum(CASE WHEN is_spend AND family = '{x}' THEN amount ELSE 0 END) AS spend_{x}", SPEND_FAMILIES)},
              {each("sum((channel = '{x}')::INT) AS n_{x}", CHANNELS)},
              sum(CASE WHEN is_spend AND is_international THEN amount ELSE 0 END) AS spend_intl,
              sum(CASE WHEN counterparty_bank IS NOT NULL AND direction = 'debit' THEN amount ELSE 0 END) AS outflow,
              sum(CASE WHEN counterparty_bank IS NOT NULL AND direction = 'credit' THEN amount ELSE 0 END) AS inflow
       FROM t GROUP BY customer_id, business_date),
ta AS (SELECT customer_id, as_of, min(lag)::INTEGER AS days_since_last_txn,
              {count('n', 1, 30)} AS txn_count_30d, {count('n', 1, 90)} AS txn_count_90d,
              {count('n', 1, 180)} AS txn_count_180d,
              {count('spend_n', 1, 30)} AS spend_count_30d, {count('spend_n', 1, 90)} AS spend_count_90d,
              {total('spend', 1, 30)} AS spend_30d, {total('spend', 1, 90)} AS spend_90d,
              {total('spend', 1, 180)} AS spend_180d,
              {each(total('spend_{x}', 1, 90) + " AS spend_{x}_90d", SPEND_FAMILIES)},
              {each(total('n_{x}', 1, 90) + " AS n_{x}_90d", CHANNELS)},
              {total('spend_intl', 1, 90)} AS spend_intl_90d,
              {count('n', 91, 180)} AS txn_count_prev_90d, {total('spend', 91, 180)} AS spend_prev_90d,
              {total('outflow', 1, 90)} AS outflow_90d, {total('inflow', 1, 90)} AS inflow_other_banks_90d,
              {total('outflow', 91, 180)} AS outflow_prev_90d
       FROM {seen_at_cutoffs('td')} GROUP BY customer_id, as_of),
-- balances per customer and month end; debt is the amount owed, as a positive number
bm AS (SELECT customer_id, month_end,
              sum(CASE WHEN product_type IN ({listed(DEPOSIT_TYPES)}) THEN balance ELSE 0 END) AS deposit,
              sum(CASE WHEN product_type IN ({listed(INVESTMENT_TYPES)}) THEN balance ELSE 0 END) AS investment,
              sum(CASE WHEN product_type IN ({listed(DEBT_TYPES)}) THEN -balance ELSE 0 END) AS debt
       FROM (SELECT a.customer_id, a.product_type, b.month_end, CAST(b.balance AS DOUBLE) AS balance
             FROM balances b JOIN accounts a USING (account_id))
       GROUP BY customer_id, month_end),
-- at D: the month end D - 1 day, and the (up to) three month ends before it for the AUM average
ba AS (SELECT customer_id, as_of,
              sum(CASE WHEN month_end = as_of - INTERVAL 1 DAY THEN {aum} END) AS aum_balance,
              sum(CASE WHEN month_end = as_of - INTERVAL 1 DAY THEN deposit END) AS deposit_balance,
              sum(CASE WHEN month_end = as_of - INTERVAL 1 DAY THEN investment END) AS investment_balance,
              sum(CASE WHEN month_end = as_of - INTERVAL 1 DAY THEN debt END) AS debt_balance,
              avg(CASE WHEN month_end < as_of - INTERVAL 1 DAY THEN {aum} END) AS aum_prev_3m_avg
       FROM bm JOIN cut ON bm.month_end < cut.as_of AND bm.month_end >= cut.as_of - INTERVAL 3 MONTH - INTERVAL 1 DAY
       GROUP BY customer_id, as_of),
-- accounts opened before D; held at D unless closed before D
ha AS (SELECT customer_id, as_of, sum(is_open::INT)::INTEGER AS accounts_open,
              count(DISTINCT CASE WHEN is_open THEN product_type END)::INTEGER AS products_held,
              {each("bool_or(is_open AND product_type = '{x}') AS has_{x}", PRODUCT_TYPES)},
              sum((open_date >= as_of - INTERVAL 90 DAY)::INT)::INTEGER AS accounts_opened_90d,
              sum((close_date >= as_of - INTERVAL 90 DAY AND close_date < as_of)::INT)::INTEGER AS accounts_closed_90d
       FROM (SELECT a.*, cut.as_of, (close_date IS NULL OR close_date >= cut.as_of) AS is_open
             FROM accounts a JOIN cut ON a.open_date < cut.as_of)
       GROUP BY customer_id, as_of),
-- app events per customer and day, then per customer and cut-off
ad AS (SELECT customer_id, business_date, {each("sum((event_type = '{x}')::INT) AS {x}", app_events)}
       FROM app_events
       WHERE event_type IN ({listed(app_events)})
         AND business_date >= DATE '{first}' - INTERVAL 180 DAY AND business_date < DATE '{last}'
       GROUP BY customer_id, business_date),
aa AS (SELECT customer_id, as_of,
              {count('login', 1, 30)} AS login_count_30d, {count('login', 1, 90)} AS login_count_90d,
              {count('product_view', 1, 30)} AS product_view_count_30d,
              {count('product_view', 1, 90)} AS product_view_count_90d,
              {count('apply_start', 1, 90)} AS apply_start_count_90d,
              {count('apply_submit', 1, 90)} AS apply_submit_count_90d,
              min(CASE WHEN login > 0 THEN lag END)::INTEGER AS days_since_last_login
       FROM {seen_at_cutoffs('ad')} GROUP BY customer_id, as_of),
-- complaints, and campaign contacts outside the control group (whose outcome is read only once
-- its {aw}-day attribution window has closed: lags {aw + 1}..{aw + 90})
sv AS (SELECT customer_id, business_date, 1 AS complaint, 0 AS contact, 0 AS response, 0 AS conversion FROM complaints
       UNION ALL
       SELECT customer_id, business_date, 0, 1,
              (outcome IN ('responded', 'converted'))::INT, (outcome = 'converted')::INT
       FROM contacts WHERE NOT control_group),
sa AS (SELECT customer_id, as_of, {count('complaint', 1, 90)} AS complaints_90d,
              {count('complaint', 1, 180)} AS complaints_180d, {count('contact', 1, 90)} AS contacts_90d,
              {count('coalesce(response, 0)', aw + 1, aw + 90)} AS responses_90d,
              {count('coalesce(conversion, 0)', aw + 1, aw + 90)} AS conversions_90d
       FROM {seen_at_cutoffs('sv')} GROUP BY customer_id, as_of),
-- fraud reports on the customer's postings, by the date they arrived
fa AS (SELECT t.customer_id, cut.as_of,
              sum((f.business_date >= cut.as_of - INTERVAL 90 DAY)::INT)::INTEGER AS fraud_reports_90d
       FROM fraud_reports f JOIN transactions t USING (txn_id) JOIN cut ON f.business_date < cut.as_of
       GROUP BY t.customer_id, cut.as_of)
SELECT customer_id, as_of, gender, age, age_band, city_code, occupation, income_band, risk_tolerance,
       acquisition_channel, tenure_months,
       coalesce(days_since_last_txn, 181) AS days_since_last_txn,  -- 181: no posting in the 180 days
       {zero("txn_count_30d", "txn_count_90d", "txn_count_180d", "spend_count_30d", "spend_count_90d")},
       {zero("spend_30d", "spend_90d", "spend_180d")},
       {share("spend_90d", "spend_count_90d")} AS avg_spend_90d,
       {each(share("spend_{x}_90d", "spend_90d") + " AS share_{x}_90d", SPEND_FAMILIES, 7)},
       {zero("txn_count_prev_90d", "spend_prev_90d")},
       {trend("txn_count_90d", "txn_count_prev_90d")} AS txn_trend,
       {trend("spend_90d", "spend_prev_90d")} AS spend_trend,
       {zero("aum_balance", "deposit_balance", "investment_balance", "debt_balance")},
       coalesce(aum_prev_3m_avg, aum_balance, 0) AS aum_prev_3m_avg,
       {trend("aum_balance", "coalesce(aum_prev_3m_avg, aum_balance)")} AS balance_trend,
       {zero("outflow_90d", "inflow_other_banks_90d")},
       coalesce(outflow_90d, 0) - coalesce(inflow_other_banks_90d, 0) AS net_outflow_90d,
       {zero("outflow_prev_90d", "accounts_open", "products_held")},
       {zero(*(f"has_{p}" for p in PRODUCT_TYPES), default="false")},
       {zero("accounts_opened_90d", "accounts_closed_90d")},
       {each(share("n_{x}_90d", "txn_count_90d") + " AS share_{x}_90d", CHANNELS, 7)},
       {share("spend_intl_90d", "spend_90d")} AS intl_spend_share_90d,
       {zero("login_count_30d", "login_count_90d", "product_view_count_30d", "product_view_count_90d",
             "apply_start_count_90d", "apply_submit_count_90d")},
       coalesce(days_since_last_login, 181) AS days_since_last_login,  -- 181: no login in the 180 days
       {zero("complaints_90d", "complaints_180d", "contacts_90d", "responses_90d", "conversions_90d",
             "fraud_reports_90d")},
       fa.customer_id IS NOT NULL AS fraud_victim
FROM prof LEFT JOIN ta USING (customer_id, as_of) LEFT JOIN ba USING (customer_id, as_of)
     LEFT JOIN ha USING (customer_id, as_of) LEFT JOIN aa USING (customer_id, as_of)
     LEFT JOIN sa USING (customer_id, as_of) LEFT JOIN fa USING (customer_id, as_of)
"""


# The value check compares every declared column of features.customer_monthly, Spark vs DuckDB,
# except these. The keys are not compared as values: they pair the rows (rows_only_in_one).
KEYS = ("customer_id", "as_of")
NOT_COMPARED = {
    # Stamped by the build job (finlake.features.build) on the rows compute_customer_features
    # returns: the run that wrote the row, bookkeeping rather than a feature.
    "_run_id": "build metadata: the run that wrote the row, not computed by compute_customer_features",
}
# Declared type -> the DuckDB type the SQL must produce for it.
DUCKDB_TYPES = {"string": "VARCHAR", "date": "DATE", "int": "INTEGER", "double": "DOUBLE", "boolean": "BOOLEAN"}


def compared_columns(spec) -> dict[str, str]:
    """Name -> declared type of every column the value check compares, in declared order."""
    return {c.name: c.type for c in spec.columns if c.name not in KEYS and c.name not in NOT_COMPARED}


def differs(spark, duck, kind: str):
    """Per paired row, whether Spark's and DuckDB's values of one column differ; null equals only null.

    Doubles may differ by 1e-9 of their size (the same amounts summed in another order differ in
    the last bits); every other type (int, boolean, string) must be equal.
    """
    both_null = spark.isna() & duck.isna()
    if kind == "double":
        s, d = spark.astype(float), duck.astype(float)
        same = (s - d).abs() <= 1e-9 * (1 + d.abs())
    else:
        same = spark.astype(object) == duck.astype(object)
    return ~(same | both_null)


PARTITIONS = {"cleaned.transactions": "business_date", "cleaned.app_events": "business_date",
              "cleaned.balances": "month_end"}


def duckdb_views(con, lake) -> None:
    """One DuckDB view per cleaned table over its current Parquet files (partition values from the paths)."""
    from deltalake import DeltaTable

    for table in INPUT_COLUMNS:
        files = DeltaTable(lake.path(table)).file_uris()
        name = table.split(".", 1)[1]
        part = PARTITIONS.get(table)
        opts = f", hive_partitioning = true, hive_types = {{'{part}': DATE}}" if part else ""
        listed = ", ".join(f"'{f.removeprefix('file://')}'" for f in files)
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet([{listed}]{opts})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="finlake home whose cleaned layer is built")
    parser.add_argument("--scale-label", default="unknown", help="label for the results file (e.g. 0.1)")
    parser.add_argument("--skip", default="", help="comma list of steps to skip (spark_transaction_fraud, "
                        "spark_customer_tables)")
    parser.add_argument("--driver-memory", default="2g", help="JVM heap of the local Spark driver (6g at scale 1)")
    parser.add_argument("--runs", type=int, default=2, help="times each step (floor, Spark, DuckDB) runs; the "
                        "fastest counts")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: each step must run at least once")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    import duckdb
    from pyspark.sql import functions as F

    from finlake.features import fraud, labels, tags
    from finlake.features.build import plan_build, read_inputs
    from finlake.features.customer import compute_customer_features
    from finlake.features.windows import add_months, cutoffs_between
    from finlake.lake import Lake
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    settings = load_settings(overrides={
        "home": args.home, "lake_engine": "bridge", "spark_master": "local[2]",
        "spark_conf": {"spark.driver.memory": args.driver_memory, "spark.sql.shuffle.partitions": "8"}}, environ={})
    spark = get_spark(settings, "bench-features")
    lake = Lake(spark, settings)
    skip = set(filter(None, args.skip.split(",")))
    results: dict = {"scale": args.scale_label, "home": args.home, "seconds": {}}
    secs = results["seconds"]
    each = results["runs"] = {}

    plan = plan_build(lake, None)  # only its dates: the bench writes nothing (noop sinks)
    first, last = plan.first_cutoff, plan.latest_cutoff
    results["cutoffs"] = [first.isoformat(), last.isoformat()]
    inputs = read_inputs(lake)
    results["rows"] = {t: lake.read(t).count() for t in INPUT_COLUMNS}

    timed("scan_floor", lambda: [noop(lake.read(t).select(*cols)) for t, cols in INPUT_COLUMNS.items()], secs,
          args.runs, each)
    cm = compute_customer_features(inputs, first, last)
    # Both engines must produce every declared column (a column missing from either stops the
    # bench here, so the value check below cannot silently cover fewer).
    compared = compared_columns(lake.spec("features.customer_monthly"))
    con = duckdb.connect()
    con.execute("SET threads = 2")
    duckdb_views(con, lake)
    sql = duckdb_sql(first, last)
    relation = con.sql(sql)  # planned, not run
    duck_types = dict(zip(relation.columns, (str(t) for t in relation.types)))
    for engine, got in (("Spark (compute_customer_features)", cm.columns), ("DuckDB (duckdb_sql)", list(duck_types))):
        declared = (*KEYS, *compared)
        missing, extra = [c for c in declared if c not in got], [c for c in got if c not in declared]
        if missing or extra:
            raise SystemExit(f"{engine} does not return the columns of schemas/features/customer_monthly.yaml "
                             f"(less {', '.join(NOT_COMPARED)}): missing {missing}, extra {extra}")
    timed("spark_customer_monthly", lambda: noop(cm), secs, args.runs, each)
    if "spark_transaction_fraud" not in skip:
        tf = fraud.compute_transaction_features(inputs.transactions, inputs.app_events, inputs.customers,
                                                inputs.fraud_reports, add_months(first, -1), add_months(last, -1),
                                                plan.observed_until)
        timed("spark_transaction_fraud", lambda: noop(tf), secs, args.runs, each)

    def all_tables():
        persisted = cm.persist()
        noop(persisted)
        rules = tags.load_tag_rules(spark, lake.spec("features.customer_monthly").schema)
        noop(tags.compute_customer_tags(persisted, rules))
        noop(labels.churn_labels(inputs.accounts, labels.label_cutoffs(cutoffs_between(first, last),
                                                                       plan.observed_until)))
        persisted.unpersist()
    if "spark_customer_tables" not in skip:
        timed("spark_customer_tables", all_tables, secs, args.runs, each)
    if "spark_transaction_fraud" in secs and "spark_customer_tables" in secs:
        secs["spark_all_tables"] = round(secs["spark_customer_tables"] + secs["spark_transaction_fraud"], 2)

    duck = timed("duckdb_customer_monthly", lambda: con.execute(f"SELECT * FROM ({sql})").df(), secs, args.runs, each)

    # Value check: every compared column, Spark vs DuckDB, on the same keys; and DuckDB's types.
    import pandas as pd

    spark_rows = cm.select("customer_id", F.col("as_of").cast("string").alias("as_of"), *compared).toPandas()
    duck_rows = duck[[*KEYS, *compared]].assign(as_of=pd.to_datetime(duck["as_of"]).dt.strftime("%Y-%m-%d"))
    joined = spark_rows.merge(duck_rows, on=list(KEYS), suffixes=("_s", "_d"), how="outer", indicator=True)
    mismatch: dict = {"rows_only_in_one": int((joined["_merge"] != "both").sum())}
    examples: dict = {}
    both = joined[joined["_merge"] == "both"]
    for c, kind in compared.items():
        if duck_types[c] != DUCKDB_TYPES[kind]:
            mismatch[f"{c} (type)"] = f"DuckDB {duck_types[c]}, declared {kind}"
        bad = differs(both[f"{c}_s"], both[f"{c}_d"], kind)
        if bad.any():
            mismatch[c] = int(bad.sum())
            row = both[bad].iloc[0]  # one of them, to start looking from
            examples[c] = {"customer_id": row["customer_id"], "as_of": row["as_of"],
                           "spark": repr(row[f"{c}_s"]), "duckdb": repr(row[f"{c}_d"])}
    results["duckdb_check"] = {"rows": len(both), "columns": len(compared), "not_compared": NOT_COMPARED,
                               "mismatches": mismatch, **({"examples": examples} if examples else {})}
    results["ratios"] = {
        "customer_monthly_vs_scan_floor": round(secs["spark_customer_monthly"] / secs["scan_floor"], 2),
        "spark_vs_duckdb_customer_monthly": round(secs["spark_customer_monthly"] / secs["duckdb_customer_monthly"], 2),
    }
    if "spark_all_tables" in secs:
        results["ratios"]["all_tables_vs_scan_floor"] = round(secs["spark_all_tables"] / secs["scan_floor"], 2)
    out = Path(__file__).parent / "results" / f"features_{args.scale_label}.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
