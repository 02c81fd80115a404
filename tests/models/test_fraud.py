"""Fraud: a split that respects label delay, negative sampling, and quality vs the oracle."""

from datetime import datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from finlake.models.classifier import LABEL_COL, WEIGHT_COL
from finlake.models.evaluation import pr_auc
from finlake.models.fraud import fraud_split, sample_negatives

pytestmark = pytest.mark.xdist_group("models")

SCHEMA = "txn_id string, ts timestamp, is_fraud boolean, fraud_reported_at timestamp"


def test_training_labels_are_the_reports_known_when_validation_starts(spark):
    rows = [
        ("early_known", datetime(2025, 1, 5), True, datetime(2025, 1, 20)),
        ("reported_late", datetime(2025, 1, 25), True, datetime(2025, 2, 20)),  # after the cut-off 2025-02-01
        ("legit", datetime(2025, 1, 26), False, None),
        ("in_window", datetime(2025, 2, 10), True, datetime(2025, 3, 1)),
        ("immature", datetime(2025, 3, 10), True, None),  # after the window: labels not settled yet
        ("latest", datetime(2025, 4, 2), False, None),
    ]
    df = spark.createDataFrame(rows, SCHEMA)
    split = fraud_split(df, "is_fraud", "ts", "fraud_reported_at", valid_days=30, maturity_days=30)
    assert split.valid_start == datetime(2025, 2, 1) and split.valid_end == datetime(2025, 3, 3)
    assertDataFrameEqual(split.train.select("txn_id", LABEL_COL), spark.createDataFrame(
        [("early_known", 1.0), ("reported_late", 0.0), ("legit", 0.0)], f"txn_id string, {LABEL_COL} double"))
    assertDataFrameEqual(split.valid.select("txn_id", LABEL_COL), spark.createDataFrame(
        [("in_window", 1.0)], f"txn_id string, {LABEL_COL} double"))


def test_negative_sampling_keeps_every_fraud_and_reweights_the_rest(spark):
    rows = [(f"T{i}", 1.0 if i < 5 else 0.0) for i in range(2005)]
    train = spark.createDataFrame(rows, f"txn_id string, {LABEL_COL} double")
    sampled, rate = sample_negatives(train, "txn_id", negatives_per_positive=40, seed=7)
    assert rate == pytest.approx(200 / 2000)
    counts = {r[LABEL_COL]: (r["n"], r["w"]) for r in
              sampled.groupBy(LABEL_COL).agg({"*": "count", WEIGHT_COL: "sum"})
              .withColumnsRenamed({"count(1)": "n", f"sum({WEIGHT_COL})": "w"}).collect()}
    assert counts[1.0] == (5, 5.0)
    assert 150 <= counts[0.0][0] <= 250
    assert counts[0.0][1] == pytest.approx(counts[0.0][0] / rate)


def test_fraud_model_reaches_70_percent_of_the_oracle_pr_auc(fraud_result, fraud_pdf):
    start = datetime.fromisoformat(fraud_result.extras["valid_start"])
    end = datetime.fromisoformat(fraud_result.extras["valid_end"])
    valid = fraud_pdf[(fraud_pdf["ts"] >= start) & (fraud_pdf["ts"] < end)]
    assert len(valid) == len(fraud_result.labels)
    oracle = pr_auc(valid["is_fraud"], valid["true_p"])
    assert fraud_result.metrics["pr_auc"] >= 0.7 * oracle


def test_alert_threshold_flags_the_budget_share_of_validation(fraud_result):
    flagged = (fraud_result.scores >= fraud_result.extras["alert_threshold"]).mean()
    assert flagged == pytest.approx(0.005, abs=0.003)
    assert 0 <= fraud_result.metrics["recall_at_budget"] <= 1
