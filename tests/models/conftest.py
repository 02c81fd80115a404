"""Model fixtures: planted synthetic data and models trained once per test process.

MLlib on two cores is slow, so each model is trained once (session scope) on a few hundred rows
with few iterations, and the tests that use it carry ``xdist_group("models")`` so they share
the worker that trained it.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# Under pytest-xdist the worker's __main__ has neither __spec__ nor __file__, which
# pyspark.sql.connect (imported by mlflow.spark.log_model) takes for a doctest run, and exits.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<pytest-xdist worker>"

import synthetic  # noqa: E402

FAST = {"gbt": {"maxIter": 8, "maxDepth": 3}, "logistic": {"maxIter": 25}}


@pytest.fixture
def registry_settings(settings, tmp_path):
    """Settings with an empty embedded MLflow store of its own."""
    return dataclasses.replace(settings, mlflow_uri=f"sqlite:///{tmp_path}/mlflow/mlflow.db")


@pytest.fixture(scope="session")
def customers_pdf():
    return synthetic.customers(400)


@pytest.fixture(scope="session")
def customers_df(spark, customers_pdf):
    return synthetic.to_spark(spark, customers_pdf).cache()


@pytest.fixture(scope="session")
def segmentation_result(customers_df):
    from finlake.models.segmentation import train_segmentation

    return train_segmentation(customers_df, synthetic.SEGMENT_FEATURES, k_values=(3, 4, 5), max_iter=10)


@pytest.fixture(scope="session")
def churn_pdf():
    return synthetic.churn_snapshots(n_customers=200, months=8)


@pytest.fixture(scope="session")
def churn_df(spark, churn_pdf):
    return synthetic.to_spark(spark, churn_pdf).cache()


@pytest.fixture(scope="session")
def churn_result(churn_df):
    from finlake.models.churn import train_churn

    return train_churn(churn_df, synthetic.CHURN_FEATURES, horizon_days=60, params=FAST)


@pytest.fixture(scope="session")
def fraud_pdf():
    return synthetic.card_transactions(n=5000, days=150)


@pytest.fixture(scope="session")
def fraud_df(spark, fraud_pdf):
    return synthetic.to_spark(spark, fraud_pdf).cache()


@pytest.fixture(scope="session")
def fraud_result(fraud_df):
    from finlake.models.fraud import train_fraud

    return train_fraud(fraud_df, synthetic.FRAUD_FEATURES, valid_days=40, maturity_days=30, params=FAST)
