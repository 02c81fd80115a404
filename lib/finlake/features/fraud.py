"""features.transaction_fraud: point-in-time features of every card transaction, and its label.

Every feature of a transaction at instant ts reads only what happened strictly before ts:
windows are range frames over epoch seconds ending one second before ts (``[ts - w, ts)``), so
the transaction itself and any other posting in the same second are excluded. The 90-day
amount reference is per customer and calendar month (see ``amount_reference``), not a
per-transaction percentile, which Spark cannot compute as a window function. The postings are
shuffled once, by customer, and everything else joins on the customer alone (or is broadcast).
Definitions and boundaries: docs/features.md.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from finlake.features.reference import distance_class, mcc_family
from finlake.features.windows import add_months, check_cutoff, cutoffs_between

HOUR = 3600
DAY = 86400
VELOCITY_WINDOWS = {"1h": HOUR, "24h": DAY, "7d": 7 * DAY}
# The frames [ts - w, ts) of one card are nested (1 h in 24 h in 7 d) and amount_cny >= 0, so the
# counts and the sums grow with w; the feature gate checks it on every row (build.ROW_CHECKS).
VELOCITY_COUNT_ORDERING = tuple(f"txn_count_{w}" for w in VELOCITY_WINDOWS)
VELOCITY_SUM_ORDERING = tuple(f"txn_sum_{w}" for w in VELOCITY_WINDOWS)
NOVELTY_DAYS = 180
REFERENCE_DAYS = 90
PASSWORD_RESET_CAP_HOURS = 720.0  # 30 days: "no reset in the 30 days before"
LABEL_DELAY_DAYS = 60  # fraud reports arrive 10-60 days after the posting (docs/landing.md)
NIGHT_HOURS = (0, 5)  # local hours 00:00-05:59
LOCAL_TZ = "Asia/Shanghai"
MAD_TO_SIGMA = 1.4826


def lookback_start(start_month: date) -> date:
    """The earliest posting date the features of transactions from ``start_month`` read."""
    return start_month - timedelta(days=NOVELTY_DAYS)


def _epoch(ts: Column) -> Column:
    return F.unix_timestamp(ts)


def _before(partition: list[str], seconds: int):
    """Range frame [epoch - seconds, epoch - 1] over ``partition``."""
    return Window.partitionBy(*partition).orderBy("epoch").rangeBetween(-seconds, -1)


def velocity(postings: DataFrame) -> DataFrame:
    """Count and CNY sum of earlier postings on the same card in the last 1 h, 24 h and 7 days.

    Frame ``[ts - w, ts - 1 s]`` on epoch seconds: a posting exactly w seconds earlier counts,
    the transaction itself and postings in the same second do not. Needs ``epoch`` and
    ``amount``.
    """
    out = postings
    for name, seconds in VELOCITY_WINDOWS.items():
        # A card belongs to one customer: (customer_id, card_id) is the card, and partitioning by
        # the customer first lets this window reuse the one shuffle of compute_transaction_features.
        w = _before(["customer_id", "card_id"], seconds)
        out = (out.withColumn(f"txn_count_{name}", F.coalesce(F.count(F.lit(1)).over(w), F.lit(0)).cast("int"))
                  .withColumn(f"txn_sum_{name}", F.coalesce(F.sum("amount").over(w), F.lit(0.0))))
    return out


def novelty(postings: DataFrame) -> DataFrame:
    """new_merchant / new_device / new_city: not used by the customer in the 180 days before ts.

    Looks at all of the customer's postings (card or not); a posting without the attribute is
    never "new" (false). "No earlier posting in [ts - 180 days, ts)" is computed as "the latest
    posting strictly before ts is older than that": a frame from the partition's start grows
    row by row, where a 180-day sliding frame is recomputed whenever its start moves (about 10%
    of the step at scale 1, same rows).
    """
    out = postings
    for flag, column in (("new_merchant", "merchant_id"), ("new_device", "device_id"), ("new_city", "city_code")):
        earlier = Window.partitionBy("customer_id", column).orderBy("epoch").rangeBetween(Window.unboundedPreceding, -1)
        last = F.max("epoch").over(earlier)
        out = out.withColumn(flag, F.col(column).isNotNull()
                             & (last.isNull() | (last < F.col("epoch") - F.lit(NOVELTY_DAYS * DAY))))
    return out


def amount_reference(postings: DataFrame, months: list[date]) -> DataFrame:
    """Per customer: a map from month M to the customer's card debits in [M - 90 days, M) summarised.

    One row per customer_id with ``reference``: txn_month -> struct(count, median_ln, mad_ln),
    the median of ln amount and the median absolute deviation from it. Each debit feeds the (at
    most four) months whose reference window holds it. The medians are exact, the lower middle
    value of an even count (what ``percentile_approx`` returns). The approximation: a
    transaction is compared with the 90 days before the first day of its month, not before its
    own day, so the reference lags by up to a month; it never includes the transaction itself or
    anything after it.

    Keyed by customer alone, so when ``postings`` is partitioned by customer the aggregations
    and the join back to the transactions need no shuffle of their own.
    """
    debits = postings.where(F.col("is_card") & (F.col("direction") == "debit") & (F.col("amount") > 0))
    first_month = F.add_months(F.trunc("business_date", "MM"), 1)
    rows = (debits.select("customer_id", "business_date", F.log("amount").alias("ln_amount"))
            .withColumn("txn_month", F.explode(F.array(*[F.add_months(first_month, k) for k in range(4)])))
            .where(F.col("txn_month").isin(*months)
                   & (F.col("business_date") >= F.date_sub("txn_month", REFERENCE_DAYS))))
    monthly = (rows.groupBy("customer_id", "txn_month")
               .agg(F.array_sort(F.collect_list("ln_amount")).alias("ln"))
               .withColumn("middle", F.ceil(F.size("ln") / 2).cast("int"))
               .withColumn("median_ln", F.element_at("ln", F.col("middle")))
               .withColumn("mad_ln", F.element_at(
                   F.array_sort(F.transform("ln", lambda x: F.abs(x - F.col("median_ln")))), F.col("middle"))))
    summary = F.struct(F.size("ln").alias("count"), "median_ln", "mad_ln")
    return monthly.groupBy("customer_id").agg(
        F.map_from_entries(F.collect_list(F.struct("txn_month", summary))).alias("reference"))


def password_resets(app_events: DataFrame, start_month: date, end: date) -> DataFrame:
    """Per customer: the epoch seconds (``reset_epochs``) of the password_reset app events that
    postings dated in [start_month, end) can see: from 720 hours before the first (a day's margin
    either side for the local dates), so each posting carries a short list."""
    first = datetime.combine(start_month, time()) - timedelta(hours=PASSWORD_RESET_CAP_HOURS + 24)
    last = datetime.combine(end, time()) + timedelta(days=1)
    in_reach = (F.col("ts") >= F.lit(first)) & (F.col("ts") < F.lit(last))
    return (app_events.where((F.col("event_type") == "password_reset") & in_reach)
            .groupBy("customer_id").agg(F.collect_list(_epoch(F.col("ts"))).alias("reset_epochs")))


def hours_since_password_reset() -> Column:
    """Hours since the latest reset in [ts - 720 h, ts) (needs reset_epochs); the cap when none."""
    cap = int(PASSWORD_RESET_CAP_HOURS * HOUR)
    recent = F.filter(F.coalesce("reset_epochs", F.array().cast("array<bigint>")),
                      lambda r: (r < F.col("epoch")) & (r >= F.col("epoch") - cap))
    hours = (F.col("epoch") - F.array_max(recent)) / F.lit(float(HOUR))
    return F.coalesce(hours, F.lit(PASSWORD_RESET_CAP_HOURS))


def with_home_city(postings: DataFrame, customers: DataFrame) -> DataFrame:
    """``postings`` with ``home_city_code``: the customer's city in the SCD2 version in force the
    day before the posting date (null without one). A left join on the customer alone, with the
    validity as its condition, so the postings keep their partitioning by customer."""
    versions = customers.select("customer_id", F.col("city_code").alias("home_city_code"), "valid_from", "valid_to")
    in_force = ((versions["valid_from"] < postings["business_date"])
                & (versions["valid_to"] >= postings["business_date"]))
    return (postings.join(versions, (postings["customer_id"] == versions["customer_id"]) & in_force, "left")
            .drop(versions["customer_id"], versions["valid_from"], versions["valid_to"]))


def fraud_labels(fraud_reports: DataFrame, label_cutoff: date) -> DataFrame:
    """The reports that arrived before ``label_cutoff``: txn_id, fraud_type, fraud_reported_date."""
    return (fraud_reports.where(F.col("business_date") < F.lit(label_cutoff))
            .select("txn_id", "fraud_type", F.col("business_date").alias("fraud_reported_date")))


def compute_transaction_features(transactions: DataFrame, app_events: DataFrame, customers: DataFrame,
                                 fraud_reports: DataFrame, start_month: date, end_month: date,
                                 label_cutoff: date) -> DataFrame:
    """features.transaction_fraud rows (without _run_id) for card postings in months [start_month, end_month].

    ``transactions`` may hold any dates: postings from ``lookback_start(start_month)`` on feed
    the windows; the label uses fraud reports that arrived before ``label_cutoff``.
    """
    start_month, end_month = check_cutoff(start_month), check_cutoff(end_month)
    end = add_months(end_month, 1)
    months = cutoffs_between(start_month, end_month)  # the month starts, both ends included
    postings = (transactions
                .where((F.col("business_date") >= F.lit(lookback_start(start_month))) & (F.col("business_date") < F.lit(end)))
                .withColumn("epoch", _epoch(F.col("ts")))
                .withColumn("amount", F.col("amount_cny").cast("double"))
                # One shuffle by customer serves the novelty windows (customer and merchant,
                # device or city) and the velocity windows (customer and card): each is then a
                # sort inside the partitions, not a shuffle of its own.
                .repartition("customer_id"))
    postings = novelty(postings)
    cards = velocity(postings.where(F.col("card_id").isNotNull()))
    in_range = (cards.where(F.col("business_date") >= F.lit(start_month))
                .withColumn("txn_month", F.trunc("business_date", "MM")))
    local_hour = F.hour(F.from_utc_timestamp("ts", LOCAL_TZ))
    ln_amount = F.log(F.greatest(F.col("amount"), F.lit(0.01)))
    ref = F.col("reference")[F.col("txn_month")]
    ref_count = F.coalesce(ref["count"], F.lit(0))
    has_ref = ref_count > 0
    median = F.exp(ref["median_ln"])
    z = F.when(has_ref & (ref["mad_ln"] > 0),
               (ln_amount - ref["median_ln"]) / (F.lit(MAD_TO_SIGMA) * ref["mad_ln"])).otherwise(0.0)
    # Every join below but the last is keyed by customer alone, so the card postings keep the
    # partitioning of their one shuffle: a join on (customer, month) or on txn_id would shuffle
    # every posting again (at scale 1 that was three more shuffles of ten million rows). The
    # fraud reports, a tiny table, are broadcast by Spark's size rule (no hint: a bank with
    # years of reports gets a sort-merge join instead of a driver out of memory).
    out = (with_home_city(in_range, customers)
           .join(amount_reference(postings, months), "customer_id", "left")
           .join(password_resets(app_events, start_month, end), "customer_id", "left")
           .join(fraud_labels(fraud_reports, label_cutoff), "txn_id", "left"))
    return out.select(
        "txn_id", "customer_id", "card_id", "ts", "business_date", "txn_month",
        F.col("amount").alias("amount_cny"), "direction", "channel",
        mcc_family(F.col("mcc")).alias("mcc_family"),
        *[c for name in VELOCITY_WINDOWS for c in (f"txn_count_{name}", f"txn_sum_{name}")],
        ref_count.alias("ref_txn_count_90d"),
        F.when(has_ref, median).alias("amount_median_90d"),
        F.when(has_ref, F.col("amount") / median).otherwise(1.0).alias("amount_ratio_90d"),
        z.alias("amount_robust_z_90d"),
        "new_merchant", "new_device", "new_city",
        local_hour.alias("local_hour"),
        local_hour.between(*NIGHT_HOURS).alias("is_night"),
        "is_international",
        distance_class(F.col("home_city_code"), F.col("city_code"), F.col("is_international")).alias("distance_class"),
        hours_since_password_reset().alias("hours_since_password_reset"),
        F.col("fraud_reported_date").isNotNull().alias("is_fraud"),
        "fraud_type", "fraud_reported_date",
        F.lit(label_cutoff).alias("label_cutoff"),
        (F.col("business_date") < F.lit(label_cutoff - timedelta(days=LABEL_DELAY_DAYS))).alias("label_mature"),
    )
