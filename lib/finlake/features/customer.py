"""features.customer_monthly: one row per (customer, cut-off), every cut-off in one pass.

Each ``*_features`` function has the shape of a feature function with explicit windows,
``f(input_df, start_date, end_date) -> DataFrame`` keyed (customer_id, as_of) over the cut-offs
in [start_date, end_date]: it reads only rows dated before each cut-off (see
``finlake.features.windows``). ``compute_customer_features`` joins them onto the customers
active at each cut-off and fills the documented defaults. Definitions: docs/features.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from finlake.features.reference import (
    CHANNELS, DEBT_TYPES, DEPOSIT_TYPES, INVESTMENT_TYPES, PRODUCT_TYPES, SPEND_FAMILIES, SYSTEM_CHANNEL, age_band,
    mcc_family,
)
from finlake.features.windows import (
    MAX_LOOKBACK_DAYS, cutoff_grid, cutoffs_between, events_for, explode_to_cutoffs, window_sum,
)

NO_ACTIVITY_DAYS = MAX_LOOKBACK_DAYS + 1  # recency value meaning "nothing in the lookback"
# Days after a campaign contact within which its outcome (response, conversion) is settled: a
# conversion opens its account 1-10 days after the contact (docs/landing.md), campaigns run two
# to four weeks. A contact's outcome is read at cut-off D only when contact date + W < D
# (service_features; docs/features.md). W + 90 must stay within MAX_LOOKBACK_DAYS, the furthest
# back explode_to_cutoffs sends an event.
ATTRIBUTION_WINDOW_DAYS = 30

# Orderings between columns that hold by construction, each chain read a <= b <= ...; the feature
# gate checks them on every row (finlake.features.build.ROW_CHECKS), so a break is a transform bug.
# Nested windows: window_sum of the same daily column over lags 1..30, 1..90, 1..180 (91..180 lies
# in 1..180), and every value summed is >= 0: counts, and purchase CNY (amount_cny >= 0, the
# cleaned gate quarantines amounts <= 0).
WINDOW_COUNT_ORDERINGS = (
    ("txn_count_30d", "txn_count_90d", "txn_count_180d"),
    ("txn_count_prev_90d", "txn_count_180d"),
    ("spend_count_30d", "spend_count_90d"),
    ("login_count_30d", "login_count_90d"),
    ("product_view_count_30d", "product_view_count_90d"),
    ("complaints_90d", "complaints_180d"),
)
WINDOW_SUM_ORDERINGS = (("spend_30d", "spend_90d", "spend_180d"), ("spend_prev_90d", "spend_180d"))
# A subset of the same events in the same window: a purchase is a posting (spend_n <= n per day);
# a conversion is a response (outcome converted is one of responded, converted; same contacts, same
# lags); each product type held is at least one open account. Not here because they can break:
# responses_90d vs contacts_90d (lags 31..120 vs 1..90), apply_submit vs apply_start (a submit
# may follow a start from before the window), flows, balances, shares, averages and trends.
SUBSET_COUNT_ORDERINGS = (
    ("spend_count_30d", "txn_count_30d"),
    ("spend_count_90d", "txn_count_90d"),
    ("conversions_90d", "responses_90d"),
    ("products_held", "accounts_open"),
)


@dataclass(frozen=True)
class CustomerInputs:
    """The cleaned tables customer features read (as DataFrames, any version)."""

    customers: DataFrame
    accounts: DataFrame
    transactions: DataFrame
    balances: DataFrame
    app_events: DataFrame
    complaints: DataFrame
    contacts: DataFrame
    fraud_reports: DataFrame


def _ratio(num: Column, den: Column) -> Column:
    return F.when(den > 0, num / den).otherwise(F.lit(0.0))


def _trend(now: Column, before: Column) -> Column:
    return F.log((F.lit(1.0) + now) / (F.lit(1.0) + before))


def profile_features(customers: DataFrame, start_date: date, end_date: date) -> DataFrame:
    """The customers active at each cut-off D, with the SCD2 version in force on D - 1 day.

    A version [valid_from, valid_to) is in force on D - 1 when valid_from < D <= valid_to; a
    change delivered on D or later starts a version with valid_from >= D and is not seen.
    """
    grid = cutoff_grid(customers.sparkSession, cutoffs_between(start_date, end_date))
    v = customers.join(grid, (F.col("valid_from") < F.col("as_of")) & (F.col("valid_to") >= F.col("as_of")))
    age = F.year(F.date_sub("as_of", 1)) - F.col("birth_year")
    tenure = F.floor(F.months_between("as_of", "open_date")).cast("int")
    return v.where(F.col("status") == "active").select(
        "customer_id", "as_of", "gender",
        age.cast("int").alias("age"),
        age_band(age).alias("age_band"),
        "city_code", "occupation", "income_band", "risk_tolerance", "acquisition_channel",
        F.coalesce(F.greatest(tenure, F.lit(0)), F.lit(0)).alias("tenure_months"),
    )


def transaction_features(transactions: DataFrame, start_date: date, end_date: date) -> DataFrame:
    """Recency, frequency, monetary, category and channel mix, trends and flows to other banks.

    Purchases ("spend") are debits with a merchant category other than ATM cash (6011). Flows to
    other banks are postings with a counterparty_bank. The core system's postings (channel
    ``system``) are not the customer's doing and count nowhere here.
    """
    family = mcc_family(F.col("mcc"))
    is_spend = (F.col("direction") == "debit") & ~family.isin("none", "cash")
    spend = F.when(is_spend, F.col("amount_cny").cast("double")).otherwise(0.0)
    other_bank = F.col("counterparty_bank").isNotNull()
    amount = F.col("amount_cny").cast("double")
    # One shuffle of the slim postings by customer serves both aggregations below (by customer
    # and day, then by customer and cut-off): without it each shuffles its own, wider rows.
    # At scale 1 this took the function from 33 s to 21 s (same rows; sums of doubles differ
    # in the last bits with the order of addition).
    daily = (events_for(transactions, "business_date", start_date, end_date)
             .where(F.col("channel") != SYSTEM_CHANNEL)
             .select("customer_id", "business_date", "direction", "channel", "is_international", "counterparty_bank",
                     family.alias("family"), is_spend.alias("is_spend"), spend.alias("spend"), amount.alias("amount"))
             .repartition("customer_id")
             .groupBy("customer_id", "business_date")
             .agg(F.count(F.lit(1)).alias("n"),
                  F.sum(F.col("is_spend").cast("int")).alias("spend_n"),
                  F.sum("spend").alias("spend"),
                  *[F.sum(F.when(F.col("family") == f, F.col("spend")).otherwise(0.0)).alias(f"spend_{f}")
                    for f in SPEND_FAMILIES],
                  *[F.sum((F.col("channel") == c).cast("int")).alias(f"n_{c}") for c in CHANNELS],
                  F.sum(F.when(F.col("is_international"), F.col("spend")).otherwise(0.0)).alias("spend_intl"),
                  F.sum(F.when(other_bank & (F.col("direction") == "debit"), F.col("amount")).otherwise(0.0)).alias("out"),
                  F.sum(F.when(other_bank & (F.col("direction") == "credit"), F.col("amount")).otherwise(0.0)).alias("inn")))
    rows = explode_to_cutoffs(daily, "business_date", start_date, end_date)
    agg = rows.groupBy("customer_id", "as_of").agg(
        F.min("lag_days").alias("days_since_last_txn"),
        *[window_sum("n", 1, d).cast("int").alias(f"txn_count_{d}d") for d in (30, 90, 180)],
        *[window_sum("spend_n", 1, d).cast("int").alias(f"spend_count_{d}d") for d in (30, 90)],
        *[window_sum("spend", 1, d).alias(f"spend_{d}d") for d in (30, 90, 180)],
        *[window_sum(f"spend_{f}", 1, 90).alias(f"spend_{f}_90d") for f in SPEND_FAMILIES],
        *[window_sum(f"n_{c}", 1, 90).alias(f"n_{c}_90d") for c in CHANNELS],
        window_sum("spend_intl", 1, 90).alias("spend_intl_90d"),
        window_sum("n", 91, 180).cast("int").alias("txn_count_prev_90d"),
        window_sum("spend", 91, 180).alias("spend_prev_90d"),
        window_sum("out", 1, 90).alias("outflow_90d"),
        window_sum("inn", 1, 90).alias("inflow_other_banks_90d"),
        window_sum("out", 91, 180).alias("outflow_prev_90d"),
    )
    return agg.select(
        "customer_id", "as_of", "days_since_last_txn",
        "txn_count_30d", "txn_count_90d", "txn_count_180d", "spend_count_30d", "spend_count_90d",
        "spend_30d", "spend_90d", "spend_180d",
        _ratio(F.col("spend_90d"), F.col("spend_count_90d")).alias("avg_spend_90d"),
        # Every purchase has a family ('other' when its code is in none of MCC_FAMILIES), so the
        # shares add up to 1; each is summed on its own, never taken as 1 minus the rest.
        *[_ratio(F.col(f"spend_{f}_90d"), F.col("spend_90d")).alias(f"share_{f}_90d") for f in SPEND_FAMILIES],
        "txn_count_prev_90d", "spend_prev_90d",
        _trend(F.col("txn_count_90d"), F.col("txn_count_prev_90d")).alias("txn_trend"),
        _trend(F.col("spend_90d"), F.col("spend_prev_90d")).alias("spend_trend"),
        "outflow_90d", "inflow_other_banks_90d",
        (F.col("outflow_90d") - F.col("inflow_other_banks_90d")).alias("net_outflow_90d"),
        "outflow_prev_90d",
        *[_ratio(F.col(f"n_{c}_90d"), F.col("txn_count_90d")).alias(f"share_{c}_90d") for c in CHANNELS],
        _ratio(F.col("spend_intl_90d"), F.col("spend_90d")).alias("intl_spend_share_90d"),
    )


def balance_features(balances: DataFrame, accounts: DataFrame, start_date: date, end_date: date) -> DataFrame:
    """AUM, deposits, investments and debt at the month end D - 1 day, and the AUM trend.

    The month-end snapshot of D - 1 is dated before D, so it is visible at cut-off D. The trend
    compares it with the mean AUM of the (up to) three month ends before it that have data.
    """
    typed = balances.join(accounts.select("account_id", "customer_id", "product_type"), "account_id")
    bal = F.col("balance").cast("double")
    monthly = typed.groupBy("customer_id", "month_end").agg(
        F.sum(F.when(F.col("product_type").isin(*DEPOSIT_TYPES), bal).otherwise(0.0)).alias("deposit"),
        F.sum(F.when(F.col("product_type").isin(*INVESTMENT_TYPES), bal).otherwise(0.0)).alias("investment"),
        F.sum(F.when(F.col("product_type").isin(*DEBT_TYPES), -bal).otherwise(0.0)).alias("debt"))
    cutoffs = cutoffs_between(start_date, end_date)
    # A month end m is "k months back" for the cut-off add_months(m + 1 day, k), k = 0..3.
    rows = (monthly.withColumn("k", F.explode(F.array(*[F.lit(k) for k in range(4)])))
                   .withColumn("as_of", F.add_months(F.date_add("month_end", 1), F.col("k")))
                   .where(F.col("as_of").isin(*cutoffs) & (F.col("month_end") < F.col("as_of"))))
    aum = F.greatest(F.col("deposit") + F.col("investment"), F.lit(0.0))
    agg = rows.groupBy("customer_id", "as_of").agg(
        F.sum(F.when(F.col("k") == 0, aum)).alias("aum_balance"),
        F.sum(F.when(F.col("k") == 0, F.col("deposit"))).alias("deposit_balance"),
        F.sum(F.when(F.col("k") == 0, F.col("investment"))).alias("investment_balance"),
        F.sum(F.when(F.col("k") == 0, F.col("debt"))).alias("debt_balance"),
        F.avg(F.when(F.col("k") > 0, aum)).alias("aum_prev_3m_avg"))
    now = F.coalesce(F.col("aum_balance"), F.lit(0.0))
    prev = F.coalesce(F.col("aum_prev_3m_avg"), now)
    return agg.select(
        "customer_id", "as_of", now.alias("aum_balance"),
        F.coalesce("deposit_balance", F.lit(0.0)).alias("deposit_balance"),
        F.coalesce("investment_balance", F.lit(0.0)).alias("investment_balance"),
        F.coalesce("debt_balance", F.lit(0.0)).alias("debt_balance"),
        prev.alias("aum_prev_3m_avg"),
        _trend(now, prev).alias("balance_trend"))


def holding_features(accounts: DataFrame, start_date: date, end_date: date) -> DataFrame:
    """Accounts open at D (open_date < D, not closed before D) and openings/closures in 90 days.

    cleaned.accounts holds each account's current state; only its dates are used here, and
    only when they lie before D, so a later closure or limit change does not leak.
    """
    grid = cutoff_grid(accounts.sparkSession, cutoffs_between(start_date, end_date))
    a = accounts.join(grid, F.col("open_date") < F.col("as_of"))
    is_open = F.col("close_date").isNull() | (F.col("close_date") >= F.col("as_of"))
    d90 = F.date_sub("as_of", 90)
    opened = F.col("open_date") >= d90
    closed = (F.col("close_date") >= d90) & (F.col("close_date") < F.col("as_of"))
    agg = a.groupBy("customer_id", "as_of").agg(
        F.sum(is_open.cast("int")).alias("accounts_open"),
        *[F.max((is_open & (F.col("product_type") == t)).cast("int")).alias(f"has_{t}") for t in PRODUCT_TYPES],
        F.sum(opened.cast("int")).alias("accounts_opened_90d"),
        F.sum(F.coalesce(closed, F.lit(False)).cast("int")).alias("accounts_closed_90d"))
    # The distinct product types held: the cleaned gate quarantines any product_type outside
    # PRODUCT_TYPES, so this sum of the flags equals a countDistinct without its extra
    # aggregation (an Expand and a second shuffle in Spark's plan).
    held = sum((F.coalesce(F.col(f"has_{t}"), F.lit(0)) for t in PRODUCT_TYPES), F.lit(0))
    return agg.select("customer_id", "as_of", F.col("accounts_open").cast("int"), held.cast("int").alias("products_held"),
                      *[(F.col(f"has_{t}") == 1).alias(f"has_{t}") for t in PRODUCT_TYPES],
                      F.col("accounts_opened_90d").cast("int"), F.col("accounts_closed_90d").cast("int"))


def app_features(app_events: DataFrame, start_date: date, end_date: date) -> DataFrame:
    """Logins, product views, applications started and submitted; days since the last login."""
    kinds = {"login": "login", "product_view": "product_view", "apply_start": "apply_start",
             "apply_submit": "apply_submit"}
    daily = (events_for(app_events, "business_date", start_date, end_date)
             .where(F.col("event_type").isin(*kinds))
             .select("customer_id", "business_date", "event_type")
             .repartition("customer_id")  # as in transaction_features: one shuffle for both aggregations
             .groupBy("customer_id", "business_date")
             .agg(*[F.sum((F.col("event_type") == k).cast("int")).alias(k) for k in kinds]))
    rows = explode_to_cutoffs(daily, "business_date", start_date, end_date)
    return rows.groupBy("customer_id", "as_of").agg(
        window_sum("login", 1, 30).cast("int").alias("login_count_30d"),
        window_sum("login", 1, 90).cast("int").alias("login_count_90d"),
        window_sum("product_view", 1, 30).cast("int").alias("product_view_count_30d"),
        window_sum("product_view", 1, 90).cast("int").alias("product_view_count_90d"),
        window_sum("apply_start", 1, 90).cast("int").alias("apply_start_count_90d"),
        window_sum("apply_submit", 1, 90).cast("int").alias("apply_submit_count_90d"),
        F.min(F.when(F.col("login") > 0, F.col("lag_days"))).alias("days_since_last_login"))


def service_features(complaints: DataFrame, contacts: DataFrame, start_date: date, end_date: date) -> DataFrame:
    """Complaints in 90 and 180 days; campaign contacts in 90 days; responses and conversions of
    the contacts whose attribution window has closed.

    Control-group rows are not contacts (the customer was deliberately not reached).

    A contact row is dated by its contact date, but its ``outcome`` is the furthest stage it
    ever reached (a conversion opens an account 1-10 days after the contact) and carries no date
    of its own. So at cut-off D the outcome of a recent contact may be something that happens at
    or after D. An outcome is only read once the contact's attribution window of
    ``ATTRIBUTION_WINDOW_DAYS`` (W) days has closed before D: responses_90d and conversions_90d
    count the contacts dated [D - 90 - W days, D - W) (lag W + 1 .. W + 90), the same 90 days as
    contacts_90d shifted back by W. contacts_90d itself (a contact is known on its date) stays
    [D - 90 days, D).
    """
    c = complaints.select("customer_id", "business_date", F.lit(1).alias("complaint"),
                          *[F.lit(0).alias(x) for x in ("contact", "response", "conversion")])
    treated = contacts.where(~F.col("control_group"))
    k = treated.select("customer_id", "business_date", F.lit(0).alias("complaint"), F.lit(1).alias("contact"),
                       F.col("outcome").isin("responded", "converted").cast("int").alias("response"),
                       (F.col("outcome") == "converted").cast("int").alias("conversion"))
    rows = explode_to_cutoffs(c.unionByName(k), "business_date", start_date, end_date)
    w = ATTRIBUTION_WINDOW_DAYS
    return rows.groupBy("customer_id", "as_of").agg(
        window_sum("complaint", 1, 90).cast("int").alias("complaints_90d"),
        window_sum("complaint", 1, 180).cast("int").alias("complaints_180d"),
        window_sum("contact", 1, 90).cast("int").alias("contacts_90d"),
        window_sum(F.coalesce(F.col("response"), F.lit(0)), w + 1, w + 90).cast("int").alias("responses_90d"),
        window_sum(F.coalesce(F.col("conversion"), F.lit(0)), w + 1, w + 90).cast("int").alias("conversions_90d"))


def fraud_victim_features(fraud_reports: DataFrame, transactions: DataFrame, start_date: date,
                          end_date: date) -> DataFrame:
    """Fraud reports on the customer's postings that arrived before D (ever, and in 90 days).

    A report counts from its arrival date (business_date), not from the posting it is about.
    """
    grid = cutoff_grid(fraud_reports.sparkSession, cutoffs_between(start_date, end_date))
    reports = (fraud_reports.where(F.col("business_date") < F.lit(end_date))
               .select("txn_id", F.col("business_date").alias("reported"))
               .join(transactions.select("txn_id", "customer_id"), "txn_id"))
    rows = reports.join(grid, F.col("reported") < F.col("as_of"))
    return rows.groupBy("customer_id", "as_of").agg(
        F.sum((F.col("reported") >= F.date_sub("as_of", 90)).cast("int")).cast("int").alias("fraud_reports_90d"),
        F.lit(True).alias("fraud_victim"))


def compute_customer_features(inputs: CustomerInputs, start_date: date, end_date: date) -> DataFrame:
    """features.customer_monthly rows (without _run_id) for every cut-off in [start_date, end_date].

    Inputs may hold events from any date: each part reads only what lies before each cut-off.
    Customers appear at a cut-off when their version in force on D - 1 is active.
    """
    parts = [
        transaction_features(inputs.transactions, start_date, end_date),
        balance_features(inputs.balances, inputs.accounts, start_date, end_date),
        holding_features(inputs.accounts, start_date, end_date),
        app_features(inputs.app_events, start_date, end_date),
        service_features(inputs.complaints, inputs.contacts, start_date, end_date),
        fraud_victim_features(inputs.fraud_reports, inputs.transactions, start_date, end_date),
    ]
    out = profile_features(inputs.customers, start_date, end_date)
    for part in parts:
        out = out.join(part, ["customer_id", "as_of"], "left")
    return out.select(*[_with_default(out, name) for name in out.columns])


def _with_default(df: DataFrame, name: str) -> Column:
    """The documented default for a customer with no rows in a part (no postings, no events...)."""
    if name in ("days_since_last_txn", "days_since_last_login"):
        return F.coalesce(F.col(name), F.lit(NO_ACTIVITY_DAYS)).cast("int").alias(name)
    if name == "aum_prev_3m_avg":
        return F.coalesce(F.col(name), F.col("aum_balance"), F.lit(0.0)).alias(name)
    kind = df.schema[name].dataType.simpleString()
    if name in ("customer_id", "as_of", "age", "age_band", "tenure_months") or kind in ("string",):
        return F.col(name)
    default = {"boolean": F.lit(False), "int": F.lit(0), "bigint": F.lit(0), "double": F.lit(0.0)}[kind]
    return F.coalesce(F.col(name), default).alias(name)
