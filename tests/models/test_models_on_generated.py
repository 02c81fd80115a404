"""The models the shared generated lake (tests/conftest.py) trained: what their versions record."""

from __future__ import annotations

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
