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


def _customer_monthly(lake, customers: pd.DataFrame, cutoffs=(AS_OF,)) -> None:
    """features.customer_monthly rows for ``cutoffs``: the planted persona features, every other column a default."""
    spec = lake.spec(TABLE)
    rows = []
    for cutoff in cutoffs:
        defaults = {"int": 0, "double": 0.0, "boolean": False, "string": "unknown", "date": cutoff}
        frame = pd.DataFrame({c.name: [defaults[c.type]] * len(customers) for c in spec.columns})
        frame["customer_id"] = customers["customer_id"]
        frame["aum_balance"] = customers["aum_balance"].fillna(0.0)
        frame["spend_90d"] = customers["spend_90d"]
        frame["age"] = customers["age"]
        frame["txn_count_90d"] = customers["txn_count_30d"] * 3
        frame["login_count_90d"] = customers["login_count_30d"] * 3
        rows += frame[[c.name for c in spec.columns]].astype(object).values.tolist()
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


def test_a_rebuilt_past_month_is_tagged_by_the_champion_of_its_time_never_by_a_later_model(spark, settings, tmp_path):
    """Model tags of cut-off D come from a model trained on data before D: the current champion
    from its data_until on, the champion of that time for older months, and none before the first."""
    from mlflow import MlflowClient

    april, may, june = date(2025, 4, 1), date(2025, 5, 1), date(2025, 6, 1)
    own = dataclasses.replace(settings, table_root=str(tmp_path / "tables"),
                              mlflow_uri=f"sqlite:///{tmp_path}/mlflow/m.db")
    lake = Lake(spark, own).for_job("test-model-tags")
    _customer_monthly(lake, synthetic.customers(120), cutoffs=(april, may, june))
    record(lake, [CheckResult(TABLE, "primary_key_unique", "blocking", True)], "features-run-1", TABLE, 0)
    first = workflows.train_segmentation_model(lake, own, as_of=may, k_values=(4,), max_iter=5)
    second = workflows.train_segmentation_model(lake, own, as_of=june, k_values=(4,), max_iter=5)
    client = MlflowClient(own.mlflow_uri, own.mlflow_uri)
    assert client.get_model_version("finlake-segmentation", first.version).tags["finlake.data_until"] == "2025-05-01"
    client.set_registered_model_alias("finlake-segmentation", "champion", second.version)  # promoted or not

    tags = workflows.model_tags(lake, lake.read(TABLE)).toPandas()
    by_cutoff = tags.groupby("as_of")["definition"].agg(lambda d: sorted(set(d))).to_dict()
    assert by_cutoff == {may: [f"finlake-segmentation@{first.version}"],
                         june: [f"finlake-segmentation@{second.version}"]}  # april: no model saw only its past
    assert (tags.groupby("as_of").size() == 120).all()


def test_scoring_refuses_features_whose_gate_failed(job_lake):
    lake, settings, _ = job_lake
    record(lake, [CheckResult(TABLE, "primary_key_unique", "blocking", False)], "features-run-2", TABLE, 0)
    before = lake.version("scores.customer_segments") if lake.exists("scores.customer_segments") else None
    with pytest.raises(QualityGateError, match="features-run-2"):
        workflows.score(lake, settings, "score-3", kinds=("segmentation",))
    after = lake.version("scores.customer_segments") if lake.exists("scores.customer_segments") else None
    assert before == after
