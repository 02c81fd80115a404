"""The segmentation job and scoring over real Delta feature tables and an embedded MLflow store."""

import dataclasses
from datetime import date

import pandas as pd
import pytest
from pyspark.sql import functions as F

import synthetic
from finlake.errors import QualityGateError
from finlake.lake import Lake
from finlake.models import workflows
from finlake.quality.results import CheckResult, record

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("models")]

AS_OF = date(2025, 6, 1)
TABLE = "features.customer_monthly"


def _customer_monthly(lake, customers: pd.DataFrame) -> None:
    """features.customer_monthly rows for AS_OF: the planted persona features, every other column a default."""
    spec = lake.spec(TABLE)
    defaults = {"int": 0, "double": 0.0, "boolean": False, "string": "unknown", "date": AS_OF}
    frame = pd.DataFrame({c.name: [defaults[c.type]] * len(customers) for c in spec.columns})
    frame["customer_id"] = customers["customer_id"]
    frame["aum_balance"] = customers["aum_balance"].fillna(0.0)
    frame["spend_90d"] = customers["spend_90d"]
    frame["age"] = customers["age"]
    frame["txn_count_90d"] = customers["txn_count_30d"] * 3
    frame["login_count_90d"] = customers["login_count_30d"] * 3
    rows = frame[[c.name for c in spec.columns]].astype(object).values.tolist()
    lake.overwrite(TABLE, lake.spark.createDataFrame(rows, spec.schema))


@pytest.fixture(scope="module")
def job_lake(spark, settings, tmp_path_factory):
    root = tmp_path_factory.mktemp("models-jobs")
    own = dataclasses.replace(settings, table_root=str(root / "tables"), mlflow_uri=f"sqlite:///{root}/mlflow/m.db")
    lake = Lake(spark, own).for_job("test-models")
    customers = synthetic.customers(300)
    _customer_monthly(lake, customers)
    record(lake, [CheckResult(TABLE, "primary_key_unique", "blocking", True)], "features-run-1", TABLE, 0)
    return lake, own, customers


def test_train_then_score_then_rescore_is_a_no_op(job_lake):
    lake, settings, customers = job_lake
    outcome = workflows.train_segmentation_model(lake, settings, k_values=(4,), max_iter=10)
    assert outcome.decision.promote
    assert [(i.name, i.gate) for i in outcome.inputs] == [(TABLE, "passed")]

    first = workflows.score(lake, settings, "score-1", kinds=("segmentation",))
    assert [(r.table, r.as_of, r.rows) for r in first] == [("scores.customer_segments", AS_OF, 300)]
    scores = lake.read("scores.customer_segments").toPandas()
    assert set(scores["model_version"]) == {outcome.version} and scores["segment_name"].notna().all()
    version = lake.version("scores.customer_segments")

    again = workflows.score(lake, settings, "score-2", kinds=("segmentation",))
    assert again[0].commit.skipped and lake.version("scores.customer_segments") == version

    tags = workflows.model_tags(lake, lake.read(TABLE)).toPandas()
    assert len(tags) == 300 and set(tags["tag"]) == {"segment"}
    assert set(tags["definition"]) == {f"finlake-segmentation@{outcome.version}"}


def test_scoring_refuses_features_whose_gate_failed(job_lake):
    lake, settings, _ = job_lake
    record(lake, [CheckResult(TABLE, "primary_key_unique", "blocking", False)], "features-run-2", TABLE, 0)
    before = lake.version("scores.customer_segments") if lake.exists("scores.customer_segments") else None
    with pytest.raises(QualityGateError, match="features-run-2"):
        workflows.score(lake, settings, "score-3", kinds=("segmentation",))
    after = lake.version("scores.customer_segments") if lake.exists("scores.customer_segments") else None
    assert before == after
