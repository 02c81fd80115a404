"""Churn: out-of-time validation and quality against the planted probabilities."""

from datetime import date

import pytest
from pyspark.testing import assertDataFrameEqual

from finlake.models.evaluation import roc_auc
from finlake.models.splits import SplitError, out_of_time_split

pytestmark = pytest.mark.xdist_group("models")


def test_out_of_time_split_leaves_a_label_horizon_gap(spark):
    months = [date(2025, m, 1) for m in range(1, 9)]
    df = spark.createDataFrame([(f"C{m}", d) for m, d in enumerate(months)], "customer_id string, as_of date")
    split = out_of_time_split(df, "as_of", valid_periods=2, gap_days=90)
    assert split.valid_start == date(2025, 7, 1)
    assert split.train_end == date(2025, 4, 1)  # 2025-04-01 + 90 days <= 2025-07-01 < 2025-05-01 + 90 days
    assertDataFrameEqual(split.valid.select("as_of"),
                         spark.createDataFrame([(date(2025, 7, 1),), (date(2025, 8, 1),)], "as_of date"))
    assert split.train.agg({"as_of": "max"}).first()[0] == date(2025, 4, 1)


def test_split_without_enough_history_says_so(spark):
    df = spark.createDataFrame([("C1", date(2025, 1, 1)), ("C1", date(2025, 2, 1))], "customer_id string, as_of date")
    with pytest.raises(SplitError, match="90 days before"):
        out_of_time_split(df, "as_of", valid_periods=1, gap_days=90)


def test_gbt_and_logistic_regression_are_compared(churn_result):
    assert set(churn_result.candidates) == {"gbt", "logistic"}
    chosen = churn_result.candidates[churn_result.algorithm]
    assert all(chosen["lift_at_10"] >= other["lift_at_10"] for other in churn_result.candidates.values())
    for key in ("roc_auc", "pr_auc", "lift_at_10", "capture_at_10", "brier"):
        assert 0 <= churn_result.metrics[key] < 10


def test_churn_model_reaches_90_percent_of_the_oracle_roc_auc(churn_result, churn_pdf):
    valid = churn_pdf[churn_pdf["as_of"] >= date.fromisoformat(churn_result.extras["valid_start"])]
    assert len(valid) == len(churn_result.labels)
    oracle = roc_auc(valid["churned"], valid["true_p"])
    assert churn_result.metrics["roc_auc"] >= 0.9 * oracle


def test_planted_drivers_rank_as_most_important(churn_result):
    top3 = set(churn_result.feature_importance["feature"].head(3))
    assert {"txn_trend", "balance_trend"} <= top3
