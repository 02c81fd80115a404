"""Binary classifiers shared by churn and fraud: GBT and logistic regression pipelines.

Both algorithms sit behind the same feature stages (median imputation, assembly; logistic
regression also gets log1p of skewed columns and standardisation, which trees do not need).
The fitted ``PipelineModel`` takes the raw feature columns and adds ``probability``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finlake.models.evaluation import classification_metrics, collect_scores, positive_probability
from finlake.models.pipeline import skewed_columns, vector_stages

log = logging.getLogger(__name__)

ALGORITHMS = ("gbt", "logistic")
FEATURES_COL = "model_features"
LABEL_COL = "__label"
WEIGHT_COL = "__weight"

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "gbt": {"maxIter": 50, "maxDepth": 5, "stepSize": 0.1, "subsamplingRate": 0.8},
    "logistic": {"maxIter": 100, "regParam": 0.001, "elasticNetParam": 0.0},
}


@dataclass(frozen=True)
class ClassifierResult:
    """A fitted classifier, the metrics of every candidate on the validation rows, and the
    validation (label, score) arrays the plots are drawn from."""

    model: PipelineModel
    algorithm: str
    metrics: dict[str, float]
    candidates: dict[str, dict[str, float]]
    feature_importance: pd.DataFrame  # feature, importance; sorted, largest first
    labels: np.ndarray
    scores: np.ndarray
    params: dict[str, Any]
    feature_cols: list[str]
    extras: dict[str, Any] = field(default_factory=dict)


def _estimator(algorithm: str, params: Mapping[str, Any], weighted: bool, seed: int):
    common = {"featuresCol": FEATURES_COL, "labelCol": LABEL_COL}
    if weighted:
        common["weightCol"] = WEIGHT_COL
    if algorithm == "gbt":
        return GBTClassifier(**common, seed=seed, **params)
    if algorithm == "logistic":
        return LogisticRegression(**common, **params)
    raise ValueError(f"unknown algorithm '{algorithm}'; choose from {ALGORITHMS}")


def fit_classifier(train: DataFrame, feature_cols: list[str], algorithm: str, params: Mapping[str, Any] | None = None,
                   weighted: bool = False, seed: int = 7) -> PipelineModel:
    """Fit one pipeline on ``train`` (which holds ``__label`` and, if weighted, ``__weight``)."""
    linear = algorithm == "logistic"
    log_cols = skewed_columns(train, feature_cols) if linear else []
    merged = {**DEFAULT_PARAMS[algorithm], **(params or {})}
    stages = [*vector_stages(feature_cols, log_cols, FEATURES_COL, scale=linear),
              _estimator(algorithm, merged, weighted, seed)]
    return Pipeline(stages=stages).fit(train)


def predict_scores(model: PipelineModel, df: DataFrame, label_col: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probability of class 1) of ``model`` on ``df``."""
    return collect_scores(model.transform(df), label_col, positive_probability())


def feature_importance(model: PipelineModel, feature_cols: list[str]) -> pd.DataFrame:
    """Importance per feature: GBT split gains, or |coefficient| on standardised features for
    logistic regression; normalised to sum to 1."""
    last = model.stages[-1]
    raw = last.featureImportances.toArray() if hasattr(last, "featureImportances") else np.abs(last.coefficients.toArray())
    total = raw.sum() or 1.0
    frame = pd.DataFrame({"feature": feature_cols, "importance": raw / total})
    return frame.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


def with_label(df: DataFrame, label: F.Column) -> DataFrame:
    return df.withColumn(LABEL_COL, label.cast("double"))


def compare_algorithms(train: DataFrame, valid: DataFrame, feature_cols: list[str], valid_label_col: str,
                       algorithms: tuple[str, ...], main_metric: str, params: Mapping[str, Mapping[str, Any]] | None,
                       weighted: bool, seed: int, metric_args: Mapping[str, Any] | None = None) -> ClassifierResult:
    """Fit every algorithm on ``train``, evaluate each on ``valid``, keep the best by ``main_metric``
    (ties broken by PR-AUC, then by the order of ``algorithms``)."""
    params = params or {}
    fitted: dict[str, tuple[PipelineModel, np.ndarray, np.ndarray, dict[str, float]]] = {}
    for algorithm in algorithms:
        model = fit_classifier(train, feature_cols, algorithm, params.get(algorithm), weighted, seed)
        y, s = predict_scores(model, valid, valid_label_col)
        metrics = classification_metrics(y, s, **(metric_args or {}))
        log.info("%s: %s", algorithm, {k: round(v, 4) for k, v in metrics.items()})
        fitted[algorithm] = (model, y, s, metrics)
    best = max(algorithms, key=lambda a: (np.nan_to_num(fitted[a][3][main_metric], nan=-1.0),
                                          np.nan_to_num(fitted[a][3]["pr_auc"], nan=-1.0), -algorithms.index(a)))
    model, y, s, metrics = fitted[best]
    return ClassifierResult(model=model, algorithm=best, metrics=metrics,
                            candidates={a: f[3] for a, f in fitted.items()},
                            feature_importance=feature_importance(model, feature_cols), labels=y, scores=s,
                            params={**DEFAULT_PARAMS[best], **dict(params.get(best) or {})},
                            feature_cols=list(feature_cols))
