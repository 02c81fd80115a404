"""The models the shared generated lake (tests/conftest.py) trained: what their versions record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pyspark.sql import functions as F

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("generated")]


def test_each_version_records_the_first_date_its_training_data_did_not_cover(generated_lake_run):
    from mlflow import MlflowClient

    lake, settings = generated_lake_run.lake, generated_lake_run.settings
    client = MlflowClient(settings.mlflow_uri, settings.mlflow_uri)
    segmentation = client.get_model_version_by_alias("finlake-segmentation", "champion")
    churn = client.get_model_version_by_alias("finlake-churn", "champion")
    latest = lake.read("features.customer_monthly").agg(F.max("as_of")).first()[0]
    labels = lake.read("features.churn_labels").agg(F.max("as_of"), F.max("window_end")).first()
    # segmentation: the snapshot of the latest cut-off, which sees the days before it
    assert segmentation.tags["finlake.data_until"] == latest.isoformat()
    # churn: the last labelled cut-off's 90-day window, which ends months before the latest cut-off
    assert churn.tags["finlake.data_until"] == labels[1].isoformat() > labels[0].isoformat()
    assert labels[1] <= latest
    # fraud: the day after the last posting or report its table held
    last = lake.read("features.transaction_fraud").agg(F.max("business_date"), F.max("fraud_reported_date")).first()
    fraud = client.get_model_version_by_alias("finlake-fraud", "champion")
    assert fraud.tags["finlake.data_until"] == (max(d for d in last if d is not None) + timedelta(days=1)).isoformat()


def test_the_fraud_champion_scores_the_postings_of_the_month_before_the_cut_off_at_its_alert_threshold(
        generated_lake_run):
    from mlflow import MlflowClient

    from finlake.models.workflows import add_months

    lake, settings = generated_lake_run.lake, generated_lake_run.settings
    champion = MlflowClient(settings.mlflow_uri, settings.mlflow_uri).get_model_version_by_alias(
        "finlake-fraud", "champion")
    threshold = float(champion.tags["alert_threshold"])
    assert 0 < threshold < 1 and float(champion.tags["alert_budget"]) > 0
    as_of = lake.read("features.customer_monthly").agg(F.max("as_of")).first()[0]
    scores = lake.read("scores.fraud").persist()
    month = (lake.read("features.transaction_fraud").where(F.col("txn_month") == add_months(as_of, -1))
             .select("txn_id", "customer_id"))
    assert scores.count() == month.count() > 0
    assert scores.select("txn_id", "customer_id").exceptAll(month).isEmpty()
    summary = scores.agg(
        F.count_if(F.col("as_of") != as_of).alias("other_cutoffs"),
        F.count_if(F.col("model_version") != champion.version).alias("other_models"),
        F.count_if(F.col("alert") != (F.col("probability") >= threshold)).alias("wrong_alerts"),
        F.count_if(F.col("alert_threshold") != threshold).alias("wrong_thresholds"),
        F.count_if(~F.col("probability").between(0, 1)).alias("not_probabilities"),
    ).first().asDict()
    scores.unpersist()
    assert summary == dict.fromkeys(summary, 0)
