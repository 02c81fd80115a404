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
  same Parquet files (the ``DUCKDB_SQL`` below), and a value check against Spark's rows.

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
    """The customer_monthly features in DuckDB SQL (same definitions as finlake.features.customer)."""
    from finlake.features.customer import ATTRIBUTION_WINDOW_DAYS as aw
    from finlake.features.reference import CHANNELS, MCC_FAMILIES, PRODUCT_TYPES, SYSTEM_CHANNEL

    fam_case = "CASE " + " ".join(f"WHEN mcc IN ({', '.join(repr(c) for c in codes)}) THEN '{f}'"
                                  for f, codes in MCC_FAMILIES.items()) + " ELSE 'other' END"
    fams = list(MCC_FAMILIES)
    w = lambda col, lo, hi: f"coalesce(sum(CASE WHEN lag BETWEEN {lo} AND {hi} THEN {col} ELSE 0 END), 0)"  # noqa: E731
    return f"""
WITH cut AS (SELECT CAST(range AS DATE) AS as_of FROM range(DATE '{first}', DATE '{last}' + INTERVAL 1 DAY, INTERVAL 1 MONTH)),
t AS (SELECT *, mcc IS NOT NULL AND mcc <> '6011' AND direction = 'debit' AS is_spend,
             CAST(amount_cny AS DOUBLE) AS amt, {fam_case} AS fam FROM transactions
      WHERE business_date >= DATE '{first}' - INTERVAL 180 DAY AND business_date < DATE '{last}'
        AND channel <> '{SYSTEM_CHANNEL}'),
td AS (SELECT customer_id, business_date, count(*) AS n, sum(is_spend::INT) AS spend_n,
              sum(CASE WHEN is_spend THEN amt ELSE 0 END) AS spend,
              {", ".join(f"sum(CASE WHEN is_spend AND fam = '{f}' THEN amt ELSE 0 END) AS spend_{f}" for f in fams)},
              {", ".join(f"sum((channel = '{c}')::INT) AS n_{c}" for c in CHANNELS)},
              sum(CASE WHEN is_spend AND is_international THEN amt ELSE 0 END) AS spend_intl,
              sum(CASE WHEN counterparty_bank IS NOT NULL AND direction = 'debit' THEN amt ELSE 0 END) AS out_,
              sum(CASE WHEN counterparty_bank IS NOT NULL AND direction = 'credit' THEN amt ELSE 0 END) AS in_
       FROM t GROUP BY 1, 2),
tx AS (SELECT td.*, cut.as_of, datediff('day', business_date, cut.as_of) AS lag FROM td JOIN cut
       ON cut.as_of > td.business_date AND cut.as_of <= td.business_date + INTERVAL 180 DAY),
ta AS (SELECT customer_id, as_of, min(lag) AS days_since_last_txn,
              {w('n', 1, 30)} AS txn_count_30d, {w('n', 1, 90)} AS txn_count_90d, {w('n', 1, 180)} AS txn_count_180d,
              {w('spend_n', 1, 30)} AS spend_count_30d, {w('spend_n', 1, 90)} AS spend_count_90d,
              {w('spend', 1, 30)} AS spend_30d, {w('spend', 1, 90)} AS spend_90d, {w('spend', 1, 180)} AS spend_180d,
              {", ".join(f"{w(f'spend_{f}', 1, 90)} AS s_{f}" for f in fams)},
              {", ".join(f"{w(f'n_{c}', 1, 90)} AS c_{c}" for c in CHANNELS)},
              {w('spend_intl', 1, 90)} AS s_intl,
              {w('n', 91, 180)} AS txn_count_prev_90d, {w('spend', 91, 180)} AS spend_prev_90d,
              {w('out_', 1, 90)} AS outflow_90d, {w('in_', 1, 90)} AS inflow_other_banks_90d,
              {w('out_', 91, 180)} AS outflow_prev_90d
       FROM tx GROUP BY 1, 2),
prof AS (SELECT c.customer_id, cut.as_of, gender, year(cut.as_of - INTERVAL 1 DAY) - birth_year AS age, city_code,
                occupation, income_band, risk_tolerance, acquisition_channel,
                coalesce(greatest(datediff('month', open_date, cut.as_of) - CASE WHEN day(cut.as_of) < day(open_date) THEN 1 ELSE 0 END, 0), 0) AS tenure_months
         FROM customers c JOIN cut ON c.valid_from < cut.as_of AND c.valid_to >= cut.as_of WHERE status = 'active'),
bm AS (SELECT a.customer_id, b.month_end,
              sum(CASE WHEN product_type IN ('savings', 'current') THEN balance ELSE 0 END)::DOUBLE AS dep,
              sum(CASE WHEN product_type IN ('wealth', 'fund', 'insurance') THEN balance ELSE 0 END)::DOUBLE AS inv,
              sum(CASE WHEN product_type IN ('credit_card', 'personal_loan', 'mortgage') THEN -balance ELSE 0 END)::DOUBLE AS debt
       FROM balances b JOIN accounts a USING (account_id) GROUP BY 1, 2),
ba AS (SELECT customer_id, cut.as_of,
              sum(CASE WHEN month_end = cut.as_of - INTERVAL 1 DAY THEN greatest(dep + inv, 0) END) AS aum,
              sum(CASE WHEN month_end = cut.as_of - INTERVAL 1 DAY THEN dep END) AS dep,
              sum(CASE WHEN month_end = cut.as_of - INTERVAL 1 DAY THEN inv END) AS inv,
              sum(CASE WHEN month_end = cut.as_of - INTERVAL 1 DAY THEN debt END) AS debt,
              avg(CASE WHEN month_end < cut.as_of - INTERVAL 1 DAY THEN greatest(dep + inv, 0) END) AS prev
       FROM bm JOIN cut ON bm.month_end < cut.as_of AND bm.month_end >= cut.as_of - INTERVAL 3 MONTH - INTERVAL 1 DAY
       GROUP BY 1, 2),
ha AS (SELECT customer_id, cut.as_of,
              sum((close_date IS NULL OR close_date >= cut.as_of)::INT) AS accounts_open,
              count(DISTINCT CASE WHEN close_date IS NULL OR close_date >= cut.as_of THEN product_type END) AS products_held,
              {", ".join(f"bool_or((close_date IS NULL OR close_date >= cut.as_of) AND product_type = '{p}') AS has_{p}" for p in PRODUCT_TYPES)},
              sum((open_date >= cut.as_of - INTERVAL 90 DAY)::INT) AS accounts_opened_90d,
              sum(coalesce(close_date >= cut.as_of - INTERVAL 90 DAY AND close_date < cut.as_of, false)::INT) AS accounts_closed_90d
       FROM accounts JOIN cut ON open_date < cut.as_of GROUP BY 1, 2),
ad AS (SELECT customer_id, business_date, sum((event_type = 'login')::INT) AS login,
              sum((event_type = 'product_view')::INT) AS pv, sum((event_type = 'apply_start')::INT) AS ast,
              sum((event_type = 'apply_submit')::INT) AS asu
       FROM app_events WHERE event_type IN ('login', 'product_view', 'apply_start', 'apply_submit')
         AND business_date >= DATE '{first}' - INTERVAL 180 DAY AND business_date < DATE '{last}' GROUP BY 1, 2),
aa AS (SELECT customer_id, as_of, {w('login', 1, 30)} AS login_count_30d, {w('login', 1, 90)} AS login_count_90d,
              {w('pv', 1, 30)} AS product_view_count_30d, {w('pv', 1, 90)} AS product_view_count_90d,
              {w('ast', 1, 90)} AS apply_start_count_90d, {w('asu', 1, 90)} AS apply_submit_count_90d,
              min(CASE WHEN login > 0 THEN lag END) AS days_since_last_login
       FROM (SELECT ad.*, cut.as_of, datediff('day', business_date, cut.as_of) AS lag FROM ad JOIN cut
             ON cut.as_of > ad.business_date AND cut.as_of <= ad.business_date + INTERVAL 180 DAY) x
       GROUP BY 1, 2),
sv AS (SELECT customer_id, business_date, 1 AS complaint, 0 AS contact, 0 AS response, 0 AS conversion FROM complaints
       UNION ALL
       SELECT customer_id, business_date, 0, 1, (outcome IN ('responded', 'converted'))::INT, (outcome = 'converted')::INT
       FROM contacts WHERE NOT control_group),
sa AS (SELECT customer_id, as_of, {w('complaint', 1, 90)} AS complaints_90d, {w('complaint', 1, 180)} AS complaints_180d,
              {w('contact', 1, 90)} AS contacts_90d, {w('coalesce(response, 0)', aw + 1, aw + 90)} AS responses_90d,
              {w('coalesce(conversion, 0)', aw + 1, aw + 90)} AS conversions_90d
       FROM (SELECT sv.*, cut.as_of, datediff('day', business_date, cut.as_of) AS lag FROM sv JOIN cut
             ON cut.as_of > sv.business_date AND cut.as_of <= sv.business_date + INTERVAL 180 DAY) x
       GROUP BY 1, 2),
fa AS (SELECT t.customer_id, cut.as_of, sum((f.business_date >= cut.as_of - INTERVAL 90 DAY)::INT) AS fraud_reports_90d
       FROM fraud_reports f JOIN transactions t USING (txn_id) JOIN cut ON f.business_date < cut.as_of GROUP BY 1, 2)
SELECT p.customer_id, p.as_of, p.age, p.tenure_months,
       coalesce(days_since_last_txn, 181) AS days_since_last_txn,
       coalesce(txn_count_30d, 0) AS txn_count_30d, coalesce(txn_count_90d, 0) AS txn_count_90d,
       coalesce(txn_count_180d, 0) AS txn_count_180d, coalesce(spend_90d, 0) AS spend_90d,
       coalesce(spend_180d, 0) AS spend_180d,
       CASE WHEN spend_90d > 0 THEN s_grocery / spend_90d ELSE 0 END AS share_grocery_90d,
       CASE WHEN txn_count_90d > 0 THEN c_pos / txn_count_90d ELSE 0 END AS share_pos_90d,
       ln((1 + coalesce(txn_count_90d, 0)) / (1 + coalesce(txn_count_prev_90d, 0))) AS txn_trend,
       coalesce(outflow_90d, 0) AS outflow_90d, coalesce(inflow_other_banks_90d, 0) AS inflow_other_banks_90d,
       coalesce(aum, 0) AS aum_balance, coalesce(debt, 0) AS debt_balance,
       ln((1 + coalesce(aum, 0)) / (1 + coalesce(prev, aum, 0))) AS balance_trend,
       coalesce(accounts_open, 0) AS accounts_open, coalesce(products_held, 0) AS products_held,
       coalesce(has_wealth, false) AS has_wealth, coalesce(accounts_closed_90d, 0) AS accounts_closed_90d,
       coalesce(login_count_30d, 0) AS login_count_30d, coalesce(days_since_last_login, 181) AS days_since_last_login,
       coalesce(complaints_90d, 0) AS complaints_90d, coalesce(contacts_90d, 0) AS contacts_90d,
       coalesce(responses_90d, 0) AS responses_90d, coalesce(fraud_reports_90d, 0) AS fraud_reports_90d,
       fa.customer_id IS NOT NULL AS fraud_victim,
       -- the remaining columns are computed (so DuckDB does the same work) but not compared
       spend_count_30d, spend_count_90d, spend_30d, spend_prev_90d, outflow_prev_90d, s_intl,
       {", ".join(f"s_{f}" for f in fams)}, {", ".join(f"c_{c}" for c in CHANNELS)},
       dep, inv, {", ".join(f"has_{p}" for p in PRODUCT_TYPES if p != "wealth")}, accounts_opened_90d,
       login_count_90d, product_view_count_30d, product_view_count_90d, apply_start_count_90d, apply_submit_count_90d,
       complaints_180d, conversions_90d, gender, city_code, occupation, income_band, risk_tolerance, acquisition_channel
FROM prof p LEFT JOIN ta USING (customer_id, as_of) LEFT JOIN ba USING (customer_id, as_of)
     LEFT JOIN ha USING (customer_id, as_of) LEFT JOIN aa USING (customer_id, as_of)
     LEFT JOIN sa USING (customer_id, as_of) LEFT JOIN fa USING (customer_id, as_of)
"""


COMPARED = ["age", "tenure_months", "days_since_last_txn", "txn_count_30d", "txn_count_90d", "txn_count_180d",
            "spend_90d", "spend_180d", "share_grocery_90d", "share_pos_90d", "txn_trend", "outflow_90d",
            "inflow_other_banks_90d", "aum_balance", "debt_balance", "balance_trend", "accounts_open", "products_held",
            "has_wealth", "accounts_closed_90d", "login_count_30d", "days_since_last_login", "complaints_90d",
            "contacts_90d", "responses_90d", "fraud_reports_90d", "fraud_victim"]

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

    con = duckdb.connect()
    con.execute("SET threads = 2")
    duckdb_views(con, lake)
    sql = duckdb_sql(first, last)
    duck = timed("duckdb_customer_monthly", lambda: con.execute(f"SELECT * FROM ({sql})").df(), secs, args.runs, each)

    # Value check: every compared column, Spark vs DuckDB, on the same keys.
    import pandas as pd

    spark_rows = cm.select("customer_id", F.col("as_of").cast("string").alias("as_of"), *COMPARED).toPandas()
    duck_rows = duck[["customer_id", "as_of", *COMPARED]].assign(
        as_of=pd.to_datetime(duck["as_of"]).dt.strftime("%Y-%m-%d"))
    joined = spark_rows.merge(duck_rows, on=["customer_id", "as_of"], suffixes=("_s", "_d"), how="outer", indicator=True)
    mismatch = {"rows_only_in_one": int((joined["_merge"] != "both").sum())}
    both = joined[joined["_merge"] == "both"]
    for c in COMPARED:
        a, b = both[f"{c}_s"], both[f"{c}_d"]
        if a.dtype == bool or b.dtype == bool or a.dtype == object:
            bad = int((a.astype("object").fillna(-1) != b.astype("object").fillna(-1)).sum())
        else:
            bad = int(((a.astype(float).fillna(-1e9) - b.astype(float).fillna(-1e9)).abs() > 1e-6 * (1 + b.astype(float).abs().fillna(0))).sum())
        if bad:
            mismatch[c] = bad
    results["duckdb_check"] = {"rows": len(both), "mismatches": mismatch}
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
