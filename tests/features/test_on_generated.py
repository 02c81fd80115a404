"""On generator data (scale 0.01): the features show what the generator planted.

generate -> ingest -> clean -> build_features runs once per session (``generated_lake_run``); the
truth files under ``<landing>/_truth/`` are read here only to evaluate, never by a finlake job.
"""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("generated")]


@pytest.fixture(scope="module")
def truth(generated_lake):
    spark, landing = generated_lake.spark, generated_lake.settings.landing_root
    return {name: spark.read.parquet(f"{landing}/_truth/{name}") for name in ("personas", "churn_monthly", "fraud")}


def persona_means(lake, truth, columns):
    features = lake.read("features.customer_monthly").join(truth["personas"], "customer_id")
    rows = features.groupBy("persona").agg(*[F.avg(F.col(c).cast("double")).alias(c) for c in columns]).collect()
    return {r.persona: r.asDict() for r in rows}


def test_personas_differ_in_the_features_the_generator_planted(generated_lake, truth):
    m = persona_means(generated_lake, truth, ["aum_balance", "login_count_30d", "txn_count_30d", "age",
                                              "share_business_90d", "share_third_party_pay_90d", "has_wealth"])
    assert max(m, key=lambda p: m[p]["aum_balance"]) == "affluent_investor"
    assert min(m, key=lambda p: m[p]["txn_count_30d"]) == "dormant"
    assert max(m, key=lambda p: m[p]["login_count_30d"]) == "young_digital"
    assert min(m, key=lambda p: m[p]["age"]) == "student"
    assert max(m, key=lambda p: m[p]["age"]) == "retired_saver"
    assert max(m, key=lambda p: m[p]["share_business_90d"]) == "small_business_owner"
    assert m["affluent_investor"]["has_wealth"] > 2 * m["salaried_mass"]["has_wealth"]


def test_churners_show_the_planted_precursors_before_they_leave(generated_lake, truth):
    """At the same cut-offs, customers who truly churn within 90 days vs those who do not."""
    churn = truth["churn_monthly"].select("customer_id", F.date_add("month_end", 1).alias("as_of"), "churned_90d")
    rows = (generated_lake.read("features.customer_monthly").join(churn, ["customer_id", "as_of"])
            .where(F.col("churned_90d").isNotNull())
            .groupBy("churned_90d")
            .agg(F.avg("txn_trend").alias("txn_trend"), F.avg("balance_trend").alias("balance_trend"),
                 F.avg(F.col("outflow_90d") / (F.col("aum_balance") + 1)).alias("outflow_ratio"),
                 F.avg("complaints_90d").alias("complaints"), F.count(F.lit(1)).alias("n"))
            .collect())
    by = {r.churned_90d: r for r in rows}
    assert by[True].n > 20
    assert by[True].txn_trend < by[False].txn_trend - 0.2
    assert by[True].balance_trend < by[False].balance_trend
    assert by[True].outflow_ratio > by[False].outflow_ratio
    assert by[True].complaints > by[False].complaints


def test_the_churn_label_from_cleaned_accounts_agrees_with_the_truth(generated_lake, truth):
    churn = truth["churn_monthly"].select("customer_id", F.date_add("month_end", 1).alias("as_of"), "churned_90d")
    joined = (generated_lake.read("features.churn_labels").join(churn, ["customer_id", "as_of"])
              .where(F.col("churned_90d").isNotNull()))
    counts = {(r.churned, r.churned_90d): r["count"] for r in joined.groupBy("churned", "churned_90d").count().collect()}
    true_pos, false_pos = counts.get((True, True), 0), counts.get((True, False), 0)
    false_neg = counts.get((False, True), 0)
    assert true_pos > 20
    assert true_pos / (true_pos + false_pos) > 0.9
    assert true_pos / (true_pos + false_neg) > 0.9


def test_fraud_transactions_stand_out_in_the_fraud_features(generated_lake, truth):
    rows = (generated_lake.read("features.transaction_fraud").join(truth["fraud"].select("txn_id", F.col("is_fraud").alias("truth")), "txn_id")
            .groupBy("truth")
            .agg(F.avg(F.col("new_merchant").cast("double")).alias("new_merchant"),
                 F.avg(F.col("is_night").cast("double")).alias("night"),
                 F.avg("txn_count_1h").alias("count_1h"),
                 F.avg(F.col("new_device").cast("double")).alias("new_device"),
                 F.count(F.lit(1)).alias("n"))
            .collect())
    by = {r.truth: r for r in rows}
    assert by[True].n > 10
    assert by[True].new_merchant > 2 * by[False].new_merchant
    assert by[True].count_1h > 2 * by[False].count_1h or by[True].night > 2 * by[False].night


def test_the_fraud_label_is_only_what_reports_delivered(generated_lake, truth):
    """Every labelled transaction is truly fraud; mature rows carry almost every true fraud."""
    tf = generated_lake.read("features.transaction_fraud").join(
        truth["fraud"].select("txn_id", F.col("is_fraud").alias("truth")), "txn_id")
    assert tf.where(F.col("is_fraud") & ~F.col("truth")).count() == 0
    mature = tf.where("label_mature AND truth")
    assert mature.count() > 0
    assert mature.where("is_fraud").count() / mature.count() > 0.95
