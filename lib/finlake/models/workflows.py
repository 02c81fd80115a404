"""The model jobs: the feature layer wired to the training functions, the registry and scoring.

``train(lake, settings, kind)`` reads the feature tables at their current Delta versions (and
records those versions with their gate results), trains, scores the current champion on the
same holdout, and logs, registers and decides. ``score(lake, settings, run_id, as_of)`` loads
the champions, refuses features whose gate failed, and replaces the ``scores.*`` rows of the
as_of. ``model_tags`` is the provider that puts model tags into ``features.customer_tags``.
"""

from __future__ import annotations

import logging
from functools import reduce
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finlake.errors import QualityGateError, TableNotFoundError
from finlake.features.labels import HORIZON_DAYS
from finlake.lake.api import CommitResult, WriteTxn
from finlake.models import churn, fraud, plots, registry, scoring, segmentation
from finlake.models.registry import TrainingOutcome, TrainingRecord
from finlake.models.splits import holdout_by_key

log = logging.getLogger(__name__)

CUSTOMER_MONTHLY = "features.customer_monthly"
CHURN_LABELS = "features.churn_labels"
TRANSACTION_FRAUD = "features.transaction_fraud"
SCORE_TABLES = {"segmentation": "scores.customer_segments", "churn": "scores.churn", "fraud": "scores.fraud"}

# Segments are built on value and behaviour, the axes marketers plan by (DOMAIN.md): age and
# tenure, assets (deposits, investments) and debt, activity and spend, what they spend on, which
# channels they use, and how recently they engaged.
SEGMENTATION_FEATURES = [
    "age", "tenure_months", "aum_balance", "investment_balance", "debt_balance", "products_held",
    "txn_count_90d", "spend_90d", "avg_spend_90d", "days_since_last_txn",
    "share_grocery_90d", "share_dining_90d", "share_travel_90d", "share_retail_90d", "share_securities_90d",
    "share_business_90d", "share_education_90d",
    "share_mobile_app_90d", "share_branch_counter_90d", "share_atm_90d", "share_third_party_pay_90d",
    "intl_spend_share_90d", "login_count_90d", "product_view_count_90d",
    "deposit_balance", "share_online_90d", "days_since_last_login",
]
_NOT_FEATURES = {"customer_id", "as_of", "_run_id", "card_id", "txn_id", "txn_month", "ts", "business_date",
                 "is_fraud", "fraud_type", "fraud_reported_date", "label_cutoff", "label_mature"}
# Categorical transaction columns, one indicator per value (values from schemas/features).
_FRAUD_CATEGORIES = {
    "distance_class": ("home", "near", "domestic", "abroad", "unknown"),
    "channel": ("mobile_app", "online", "pos", "atm", "branch_counter", "third_party_pay"),
    "mcc_family": ("grocery", "dining", "travel", "fuel_utilities", "retail", "health", "education", "securities",
                   "business", "other", "cash", "none"),
}


def numeric_features(df: DataFrame) -> list[str]:
    """Every numeric or boolean column that is not a key, a timestamp or a label."""
    numeric = ("int", "bigint", "smallint", "tinyint", "double", "float", "boolean")
    return [c for c, t in df.dtypes if c not in _NOT_FEATURES and (t in numeric or t.startswith("decimal"))]


def fraud_model_input(df: DataFrame) -> DataFrame:
    """transaction_fraud rows plus 0/1 indicators of the categorical columns (training and scoring)."""
    indicators = [(F.col(col) == F.lit(value)).alias(f"{col}_{value}")
                  for col, values in _FRAUD_CATEGORIES.items() for value in values]
    return df.select("*", *indicators)


def latest_as_of(features: DataFrame) -> date:
    latest = features.agg(F.max("as_of")).first()[0]
    if latest is None:
        raise TableNotFoundError(f"{CUSTOMER_MONTHLY} holds no rows; run 'finlake features' first")
    return latest


def _write_frame(frame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=True)


def _json_safe(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in params.items()}


# --- training ---------------------------------------------------------------------------------
def train_segmentation_model(lake, settings, as_of: date | None = None,
                             k_values: tuple[int, ...] | None = None,
                             max_iter: int = 30) -> TrainingOutcome:
    """Segment the customers of one cut-off (default: the latest) and register the model.

    ``k_values``: the candidate numbers of segments (default: the ``segmentation_k`` setting)."""
    k_values = k_values or settings.segmentation_k_values()
    inputs = registry.input_tables(lake, [CUSTOMER_MONTHLY])
    features = lake.read(CUSTOMER_MONTHLY, version=inputs[0].version)
    as_of = as_of or latest_as_of(features)
    snapshot = features.where(F.col("as_of") == F.lit(as_of)).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        champion = registry.find_champion(settings, "segmentation")
        previous = None
        if champion is not None:
            try:
                previous = champion.model.transform(snapshot).select("customer_id", "segment_id").persist()
                previous.count()
            except Exception as exc:  # the old model cannot read today's features: no matching
                log.warning("segmentation: champion cannot segment the new snapshot (%s); ids restart", exc)
                previous = None
        result = segmentation.train_segmentation(snapshot, SEGMENTATION_FEATURES, k_values=k_values,
                                                 previous=previous, max_iter=max_iter)
        holdout = holdout_by_key(snapshot, "customer_id")[1]
        champion_score, note = registry.score_champion(
            champion, lambda m: segmentation.evaluate_segmentation(m, holdout))

        def artifacts(folder: Path) -> None:
            plots.silhouette_png(result.silhouette_by_k, result.k, folder / "plots" / "silhouette.png")
            plots.segment_profile_png(result.profile, result.feature_cols, folder / "plots" / "segment_profiles.png")
            _write_frame(result.profile.set_index("segment_id"), folder / "tables" / "segment_profile.csv")
            if result.migration is not None:
                _write_frame(result.migration, folder / "tables" / "migration_matrix.csv")

        metrics = {"silhouette": result.silhouette, "k": float(result.k),
                   **{f"silhouette_k{k}": v for k, v in result.silhouette_by_k.items()}}
        if result.migration is not None:
            m = result.migration
            kept = sum(int(m.loc[i, i]) for i in m.index if i in m.columns)
            metrics["stayed_in_segment_share"] = kept / max(1, int(m.to_numpy().sum()))
        record = TrainingRecord(
            kind="segmentation", model=result.model, main_score=result.silhouette,
            feature_cols=result.feature_cols, example=snapshot.select(*result.feature_cols).limit(5),
            params=_json_safe({"as_of": as_of, "k_values": list(k_values), "k": result.k, "max_iter": max_iter,
                               "log_features": ",".join(result.log_cols), "algorithm": "kmeans"}),
            metrics=metrics, write_artifacts=artifacts,
            version_tags={**{f"segment.{sid}": name for sid, name in result.names.items()},
                          registry.DATA_UNTIL: as_of.isoformat()})
        outcome = registry.record_training(settings, lake, record, inputs, champion, champion_score, note)
        if previous is not None:
            previous.unpersist()
        return outcome
    finally:
        snapshot.unpersist()


def churn_training_rows(lake, inputs: list[registry.InputTable]) -> DataFrame:
    """customer_monthly joined to churn_labels, at the versions in ``inputs``."""
    versions = {i.name: i.version for i in inputs}
    features = lake.read(CUSTOMER_MONTHLY, version=versions[CUSTOMER_MONTHLY])
    labels = lake.read(CHURN_LABELS, version=versions[CHURN_LABELS]).select("customer_id", "as_of", "churned")
    return features.join(labels, ["customer_id", "as_of"])


def _classifier_artifacts(result, model: str):
    def write(folder: Path) -> None:
        plots.classifier_pngs(result.labels, result.scores, result.feature_importance, folder / "plots", model)
        _write_frame(result.feature_importance.set_index("feature"), folder / "tables" / "feature_importance.csv")
        from finlake.models.evaluation import reliability_curve
        _write_frame(reliability_curve(result.labels, result.scores), folder / "tables" / "reliability.csv")
    return write


def _classifier_metrics(result) -> dict[str, float]:
    metrics = dict(result.metrics)
    for algorithm, values in result.candidates.items():
        metrics.update({f"{algorithm}.{k}": v for k, v in values.items()})
    return metrics


def train_churn_model(lake, settings, params: dict | None = None) -> TrainingOutcome:
    """Train churn on every labelled month (out-of-time validation) and register the model."""
    inputs = registry.input_tables(lake, [CUSTOMER_MONTHLY, CHURN_LABELS])
    rows = churn_training_rows(lake, inputs).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        feature_cols = numeric_features(rows.drop("churned"))
        result = churn.train_churn(rows, feature_cols, params=params)
        holdout = churn.validation_rows(rows)
        champion = registry.find_champion(settings, "churn")
        champion_score, note = registry.score_champion(
            champion, lambda m: _main_metric(m, holdout, "lift_at_10"))
        record = TrainingRecord(
            kind="churn", model=result.model, main_score=result.metrics[churn.MAIN_METRIC], feature_cols=feature_cols,
            example=rows.select(*feature_cols).limit(5),
            params=_json_safe({"algorithm": result.algorithm, **result.params, **result.extras}),
            metrics=_classifier_metrics(result), write_artifacts=_classifier_artifacts(result, "churn"),
            # the labels of the last cut-off read the data of its whole window
            version_tags={registry.DATA_UNTIL: (rows.agg(F.max("as_of")).first()[0]
                                                + timedelta(days=HORIZON_DAYS)).isoformat()})
        return registry.record_training(settings, lake, record, inputs, champion, champion_score, note)
    finally:
        rows.unpersist()


def _main_metric(model, holdout: DataFrame, metric: str) -> float:
    from finlake.models.classifier import LABEL_COL, predict_scores
    from finlake.models.evaluation import classification_metrics

    y, s = predict_scores(model, holdout, LABEL_COL)
    return classification_metrics(y, s)[metric]


def train_fraud_model(lake, settings, params: dict | None = None, valid_days: int = fraud.VALID_DAYS,
                      maturity_days: int = fraud.MATURITY_DAYS) -> TrainingOutcome:
    """Train fraud on card transactions (label-delay-aware split) and register the model."""
    inputs = registry.input_tables(lake, [TRANSACTION_FRAUD])
    rows = fraud_model_input(lake.read(TRANSACTION_FRAUD, version=inputs[0].version))
    feature_cols = numeric_features(rows)
    split_args = dict(label_col="is_fraud", time_col="ts", reported_col="fraud_reported_date",
                      valid_days=valid_days, maturity_days=maturity_days)
    result = fraud.train_fraud(rows, feature_cols, id_col="txn_id", params=params, **split_args)
    holdout = fraud.validation_rows(rows, **split_args).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        champion = registry.find_champion(settings, "fraud")
        champion_score, note = registry.score_champion(champion, lambda m: _main_metric(m, holdout, "pr_auc"))
    finally:
        holdout.unpersist()
    # The validation window's labels are every report on record: the data ends with the last
    # posting or report the table holds.
    last_day = rows.agg(F.greatest(F.max("business_date"), F.max("fraud_reported_date"))).first()[0]
    record = TrainingRecord(
        kind="fraud", model=result.model, main_score=result.metrics[fraud.MAIN_METRIC], feature_cols=feature_cols,
        example=rows.select(*feature_cols).limit(5),
        params=_json_safe({"algorithm": result.algorithm, **result.params, **result.extras}),
        metrics=_classifier_metrics(result), write_artifacts=_classifier_artifacts(result, "fraud"),
        version_tags={"alert_threshold": repr(result.extras["alert_threshold"]),
                      "alert_budget": repr(result.extras["alert_budget"]),
                      registry.DATA_UNTIL: (last_day + timedelta(days=1)).isoformat()})
    return registry.record_training(settings, lake, record, inputs, champion, champion_score, note)


def train(lake, settings, kind: str, **kwargs) -> TrainingOutcome:
    """``finlake train <kind>``."""
    trainers = {"segmentation": train_segmentation_model, "churn": train_churn_model, "fraud": train_fraud_model}
    return trainers[kind](lake, settings, **kwargs)


# --- scoring ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreResult:
    kind: str
    table: str
    as_of: date
    model_version: str
    rows: int
    commit: CommitResult


def _refuse_failed_gate(lake, table: str) -> None:
    status, run_id, _ = registry.gate_status(lake, table)
    if status == "failed":
        raise QualityGateError(f"{table}: the latest quality gate (run {run_id}) has blocking failures; scoring "
                               f"refuses these features. See 'finlake quality', fix the data and rebuild features")
    if status == "unknown":
        log.warning("%s has no quality-gate result on record; scoring it anyway", table)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def score(lake, settings, run_id: str, as_of: date | None = None,
          kinds: tuple[str, ...] = registry.KINDS) -> list[ScoreResult]:
    """Score the cut-off ``as_of`` (default: the latest in customer_monthly) with every champion.

    Everything is computed and counted before the first write; each scores table is then
    replaced for the as_of in one commit keyed by (table, as_of, model version), so a rerun with
    the same champion changes nothing and a new champion replaces the rows.
    """
    _refuse_failed_gate(lake, CUSTOMER_MONTHLY)
    customers = lake.read(CUSTOMER_MONTHLY)
    as_of = as_of or latest_as_of(customers)
    customers = customers.where(F.col("as_of") == F.lit(as_of)).persist(StorageLevel.MEMORY_AND_DISK)
    if customers.isEmpty():
        raise TableNotFoundError(f"{CUSTOMER_MONTHLY} has no rows for as_of {as_of} (a cut-off is the first day of "
                                 f"a month); run 'finlake features --as-of {as_of}' first")
    champions = {k: registry.find_champion(settings, k) for k in kinds}
    missing = [k for k, c in champions.items() if c is None]
    if len(missing) == len(kinds):
        raise registry.ModelRegistryError(f"no @champion for {', '.join(registry.model_name(k) for k in kinds)} in "
                                          f"{settings.mlflow_uri}; run 'finlake train <kind>' first")
    for kind in missing:
        log.warning("%s has no @champion; %s is not scored", registry.model_name(kind), SCORE_TABLES[kind])
    frames: dict[str, DataFrame] = {}
    for kind, champ in champions.items():
        if champ is None:
            continue
        if kind == "segmentation":
            frames[kind] = scoring.segment_scores(champ.model, customers, champ.name, champ.version, run_id)
        elif kind == "churn":
            frames[kind] = scoring.churn_scores(champ.model, customers, champ.name, champ.version, run_id)
        else:
            _refuse_failed_gate(lake, TRANSACTION_FRAUD)
            txns = fraud_model_input(lake.read(TRANSACTION_FRAUD)
                                     .where(F.col("txn_month") == F.lit(add_months(as_of, -1))))
            frames[kind] = scoring.fraud_scores(champ.model, txns, as_of, float(champ.tags["alert_threshold"]),
                                                champ.name, champ.version, run_id)
    counts = {}
    for kind, frame in frames.items():  # compute (and fail) before the first write
        frames[kind] = frame.persist(StorageLevel.MEMORY_AND_DISK)
        counts[kind] = frames[kind].count()
    results = []
    try:
        for kind, frame in frames.items():
            table, version = SCORE_TABLES[kind], champions[kind].version
            txn = WriteTxn(f"finlake-score:{table}:{as_of.isoformat()}", int(version))
            commit = lake.replace_where(table, frame, f"as_of = DATE'{as_of.isoformat()}'", txn=txn)
            log.info("%s: %d rows for as_of %s by %s v%s%s", table, counts[kind], as_of, champions[kind].name,
                     version, " (already written)" if commit.skipped else "")
            results.append(ScoreResult(kind, table, as_of, version, counts[kind], commit))
    finally:
        for frame in frames.values():
            frame.unpersist()
        customers.unpersist()
    return results


def model_tags(lake, features: DataFrame) -> DataFrame:
    """Model-tag provider for ``features.customer_tags`` (``finlake.features.tags.MODEL_TAG_PROVIDERS``
    entry ``"finlake.models.workflows:model_tags"``): ``segment`` and ``churn_risk_high`` tags of the
    customers in ``features``; no rows when there is no champion.

    Each cut-off is tagged by a model trained on data before it (``registry.models_for_cutoffs``):
    the champion, or for a rebuilt past month the champion of that time, or none."""
    settings = lake.settings
    cutoffs = [r["as_of"] for r in features.select("as_of").distinct().collect()]

    def scored(kind: str, score_rows) -> DataFrame | None:
        parts = [score_rows(champ.model, features.where(F.col("as_of").isin(days)), champ.name, champ.version, "")
                 for champ, days in registry.models_for_cutoffs(settings, kind, cutoffs)]
        return reduce(DataFrame.unionByName, parts) if parts else None

    rows = scoring.model_tag_rows(scored("segmentation", scoring.segment_scores), scored("churn", scoring.churn_scores))
    if rows is None:
        schema = ("customer_id string, as_of date, tag string, family string, value string, score double, "
                  "definition string")
        return lake.spark.createDataFrame([], schema)
    return rows
