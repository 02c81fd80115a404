"""Scores from fitted models: pure functions from (model, feature rows) to ``scores.*`` rows.

The models come from ``registry.load_champion``; loading, gate checks and writing are the
workflow's job (``finlake.models.workflows.score``). Model tags for ``features.customer_tags``
are derived from the same scores (``model_tag_rows``).
"""

from __future__ import annotations

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from finlake.models.evaluation import positive_probability

CHURN_HIGH_DECILE = 1  # the decile the retention team calls: tagged churn_risk_high


def _model_cols(model_name: str, model_version: str, run_id: str) -> list:
    return [F.lit(model_name).alias("model_name"), F.lit(model_version).alias("model_version"),
            F.lit(run_id).alias("_run_id")]


def segment_scores(model: PipelineModel, features: DataFrame, model_name: str, model_version: str,
                   run_id: str) -> DataFrame:
    """scores.customer_segments rows: the segment of each (customer_id, as_of) in ``features``."""
    return model.transform(features).select(
        "customer_id", "as_of", F.col("segment_id").cast("int"), "segment_name",
        *_model_cols(model_name, model_version, run_id))


def churn_scores(model: PipelineModel, features: DataFrame, model_name: str, model_version: str,
                 run_id: str) -> DataFrame:
    """scores.churn rows: probability and risk decile (1 = the 10% most at risk within each as_of;
    ties broken by customer_id so a rerun gives the same deciles)."""
    scored = model.transform(features).select("customer_id", "as_of", positive_probability().alias("probability"))
    by_risk = Window.partitionBy("as_of").orderBy(F.col("probability").desc(), F.col("customer_id"))
    return scored.select("customer_id", "as_of", "probability", F.ntile(10).over(by_risk).cast("int").alias("decile"),
                         *_model_cols(model_name, model_version, run_id))


def fraud_scores(model: PipelineModel, transactions: DataFrame, as_of, alert_threshold: float, model_name: str,
                 model_version: str, run_id: str) -> DataFrame:
    """scores.fraud rows: probability and alert flag per transaction."""
    scored = model.transform(transactions).withColumn("probability", positive_probability())
    return scored.select(
        "txn_id", "customer_id", "ts", "business_date", F.lit(as_of).cast("date").alias("as_of"), "probability",
        (F.col("probability") >= F.lit(alert_threshold)).alias("alert"),
        F.lit(float(alert_threshold)).alias("alert_threshold"), *_model_cols(model_name, model_version, run_id))


def model_tag_rows(segments: DataFrame | None, churn: DataFrame | None) -> DataFrame | None:
    """features.customer_tags rows (without source and _run_id) from scores rows.

    - ``segment``: value = the segment name, score = null, one row per customer.
    - ``churn_risk_high``: value 'true', score = the churn probability; only for customers in
      the top risk decile (like a rule tag, the row exists only when the tag holds).
    ``definition`` is ``<model name>@<version>``.
    """
    parts = []
    if segments is not None:
        parts.append(segments.select(
            "customer_id", "as_of", F.lit("segment").alias("tag"), F.lit("behaviour").alias("family"),
            F.col("segment_name").alias("value"), F.lit(None).cast("double").alias("score"),
            F.concat_ws("@", "model_name", "model_version").alias("definition")))
    if churn is not None:
        parts.append(churn.where(F.col("decile") == CHURN_HIGH_DECILE).select(
            "customer_id", "as_of", F.lit("churn_risk_high").alias("tag"), F.lit("behaviour").alias("family"),
            F.lit("true").alias("value"), F.col("probability").alias("score"),
            F.concat_ws("@", "model_name", "model_version").alias("definition")))
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out
