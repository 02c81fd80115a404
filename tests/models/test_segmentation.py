"""Segmentation finds planted personas, names them, and keeps ids stable across retrains."""

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

import synthetic
from finlake.lake import Lake
from finlake.models import registry
from finlake.models import segmentation as seg
from finlake.models.pipeline import FeatureColumnsError
from finlake.models.registry import TrainingRecord

pytestmark = pytest.mark.xdist_group("models")


def test_silhouette_picks_the_planted_number_of_personas(segmentation_result):
    assert set(segmentation_result.silhouette_by_k) == {3, 4, 5}
    assert segmentation_result.k == 4
    assert segmentation_result.silhouette == max(segmentation_result.silhouette_by_k.values())


def test_segments_recover_planted_personas(segmentation_result, customers_df, customers_pdf):
    scored = segmentation_result.model.transform(customers_df).select("customer_id", "segment_id").toPandas()
    joined = scored.merge(customers_pdf[["customer_id", "persona"]], on="customer_id")
    assert adjusted_rand_score(joined["persona"], joined["segment_id"]) >= 0.9


def test_profile_describes_every_segment_with_a_unique_readable_name(segmentation_result):
    profile = segmentation_result.profile
    assert profile["size"].sum() == 400
    assert profile["share"].sum() == pytest.approx(1.0)
    assert profile["segment_name"].is_unique
    affluent = profile.loc[profile["z_aum_balance"].idxmax(), "segment_name"]
    assert "high-AUM" in affluent
    dormant = profile.loc[profile["z_txn_count_30d"].idxmin(), "segment_name"]
    assert "low-" in dormant
    assert set(profile["segment_id"]) == set(range(4))


def test_the_model_writes_segment_id_and_name_itself(segmentation_result, customers_df):
    row = segmentation_result.model.transform(customers_df.limit(1)).select("segment_id", "segment_name").first()
    assert segmentation_result.names[row["segment_id"]] == row["segment_name"]


def test_the_registered_model_predicts_segment_ids_through_mlflow_pyfunc(spark, registry_settings,
                                                                        segmentation_result, customers_df):
    """A consumer outside finlake loads the logged model with mlflow.pyfunc and gets segment ids."""
    import mlflow

    record = TrainingRecord(kind="segmentation", model=segmentation_result.model,
                            main_score=segmentation_result.silhouette, feature_cols=synthetic.SEGMENT_FEATURES,
                            example=customers_df.select(*synthetic.SEGMENT_FEATURES).limit(3), metrics={})
    outcome = registry.record_training(registry_settings, Lake(spark, registry_settings), record, [], None, None)
    loaded = mlflow.pyfunc.load_model(f"runs:/{outcome.run_id}/model")
    rows = customers_df.orderBy("customer_id").limit(25)
    expected = [r["segment_id"] for r in segmentation_result.model.transform(rows).select("segment_id").collect()]
    # every feature is declared a double (an integer column could not carry a missing value)
    inputs = rows.select(*synthetic.SEGMENT_FEATURES).toPandas().astype("float64")
    assert [int(v) for v in loaded.predict(inputs)] == expected
    assert loaded.metadata.get_output_schema().input_names() == ["prediction"]
    inputs.loc[inputs.index[0], "age"] = None
    assert len(loaded.predict(inputs)) == len(expected)


def test_retrain_keeps_segment_ids_and_logs_the_migration(segmentation_result, customers_df):
    previous = segmentation_result.model.transform(customers_df).select("customer_id", "segment_id")
    retrained = seg.train_segmentation(customers_df, synthetic.SEGMENT_FEATURES, k_values=(4,), max_iter=10,
                                       seed=123, previous=previous)
    migration = retrained.migration
    assert list(migration.index) == list(migration.columns) == [0, 1, 2, 3]
    stayed = sum(migration.loc[i, i] for i in migration.index)
    assert stayed / migration.to_numpy().sum() >= 0.95
    assert retrained.names == segmentation_result.names


def test_match_segments_pairs_nearest_centroids_and_gives_new_clusters_fresh_ids():
    new = pd.DataFrame({"f0": [5.0, 0.1, -3.0], "n": [10, 10, 10]}, index=[0, 1, 2])
    old = pd.DataFrame({"f0": [0.0, 5.2], "n": [10, 10]}, index=[7, 3])
    assert seg.match_segments(new, old) == {0: 3, 1: 7, 2: 8}


@pytest.mark.parametrize("column, z, expected", [
    ("aum_balance", 1.2, "high-AUM"), ("age", -0.9, "younger"), ("days_since_last_txn", 1.1, "inactive"),
    ("share_travel_90d", 0.8, "high-travel-spending"), ("login_count_90d", 0.7, "high-app"),
])
def test_segment_names_read_as_traits(column, z, expected):
    assert seg.segment_name({column: z, "other": 0.1}) == f"{expected} customers"


def test_segment_without_distinct_trait_is_mainstream():
    assert seg.segment_name({"aum_balance": 0.2, "age": -0.3}) == "mainstream customers"


def test_missing_feature_column_is_named(customers_df):
    with pytest.raises(FeatureColumnsError, match="no_such_column"):
        seg.train_segmentation(customers_df, ["aum_balance", "no_such_column"], k_values=(3,))


def test_pca_keeps_one_component_per_shared_pattern_and_drops_the_noise_around_it(spark):
    """Three hidden factors each drive four noisy features. The Kaiser rule (eigenvalue > 1 on
    standardised features) keeps the three shared patterns and drops the nine components of noise."""
    import numpy as np
    from pyspark.ml.linalg import Vectors

    rng = np.random.default_rng(3)
    factors = rng.normal(size=(2000, 3))
    data = np.repeat(factors, 4, axis=1) + 0.5 * rng.normal(size=(2000, 12))
    data = (data - data.mean(axis=0)) / data.std(axis=0)
    df = spark.createDataFrame([(Vectors.dense(row),) for row in data.tolist()], [seg.FEATURES_COL])
    pca = seg.principal_components(df, 12)
    assert pca.getK() == 3
    # within a block the features correlate r = 1 / 1.25: eigenvalue 1 + 3r each, of 12 in total
    assert sum(pca.explainedVariance.toArray()) == pytest.approx(3 * (1 + 3 / 1.25) / 12, abs=0.03)
