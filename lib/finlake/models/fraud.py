"""Fraud: which card transactions to alert on, under a fixed alert budget.

Label delay. Fraud is confirmed by reports that arrive 10-60 days after the transaction, so a
model trained at date C only knows the frauds reported before C. ``fraud_split`` reproduces
that: the validation window is the ``valid_days`` that end ``maturity_days`` before the latest
transaction (so their reports have had time to arrive), and training uses the transactions
before the window, labelled fraud only if the report was received before the window starts.

Class imbalance (0.1-0.3% fraud). Negative sampling with weight correction: every fraud is
kept, legitimate transactions are sampled down to ``negatives_per_positive`` per fraud (by a
hash of the transaction id, so the sample is repeatable) and each kept one carries the weight
1/rate. The loss the model minimises is then an unbiased estimate of the full-data loss, so the
probabilities stay calibrated, while training reads a few percent of the rows. Up-weighting the
frauds instead would leave every row in and distort the probabilities the alert threshold and
the Brier score rely on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finlake.models.classifier import (ALGORITHMS, LABEL_COL, WEIGHT_COL, ClassifierResult, compare_algorithms,
                                       with_label)
from finlake.models.evaluation import ALERT_BUDGET, threshold_for_budget
from finlake.models.pipeline import check_feature_columns
from finlake.models.splits import SplitError

log = logging.getLogger(__name__)

MAIN_METRIC = "pr_auc"
MATURITY_DAYS = 60
VALID_DAYS = 30
NEGATIVES_PER_POSITIVE = 50


@dataclass(frozen=True)
class FraudSplit:
    train: DataFrame  # ts < valid_start; label = reported before valid_start
    valid: DataFrame  # valid_start <= ts < valid_end; label = every report
    valid_start: datetime
    valid_end: datetime

    def describe(self) -> dict[str, str]:
        return {"valid_start": self.valid_start.isoformat(), "valid_end": self.valid_end.isoformat()}


def fraud_split(df: DataFrame, label_col: str, time_col: str, reported_col: str,
                valid_days: int = VALID_DAYS, maturity_days: int = MATURITY_DAYS) -> FraudSplit:
    """Out-of-time split that respects label delay (see the module docstring)."""
    latest = df.agg(F.max(time_col)).first()[0]
    if latest is None:
        raise SplitError(f"no transactions to split: '{time_col}' is empty")
    latest = latest if isinstance(latest, datetime) else datetime.combine(latest, datetime.min.time())
    valid_end = latest - timedelta(days=maturity_days)
    valid_start = valid_end - timedelta(days=valid_days)
    ts = F.col(time_col)
    known_at_start = F.col(label_col) & F.col(reported_col).isNotNull() & (F.col(reported_col) < F.lit(valid_start))
    train = with_label(df.where(ts < F.lit(valid_start)), F.coalesce(known_at_start, F.lit(False)))
    valid = with_label(df.where((ts >= F.lit(valid_start)) & (ts < F.lit(valid_end))),
                       F.coalesce(F.col(label_col), F.lit(False)))
    return FraudSplit(train, valid, valid_start, valid_end)


def sample_negatives(train: DataFrame, id_col: str, negatives_per_positive: int, seed: int) -> tuple[DataFrame, float]:
    """(all positives + sampled negatives with weight 1/rate, the negative sampling rate)."""
    row = train.agg(F.sum(LABEL_COL).alias("pos"), F.count("*").alias("n")).first()
    positives, negatives = int(row["pos"] or 0), int(row["n"] - (row["pos"] or 0))
    if positives == 0:
        raise SplitError("no fraud reported before the validation window: nothing to learn from; "
                         "train on a longer history")
    rate = min(1.0, negatives_per_positive * positives / max(negatives, 1))
    u = F.pmod(F.xxhash64(F.col(id_col).cast("string"), F.lit(seed)), F.lit(1_000_000)) / F.lit(1_000_000.0)
    sampled = (train.where((F.col(LABEL_COL) == 1) | (u < rate))
               .withColumn(WEIGHT_COL, F.when(F.col(LABEL_COL) == 1, 1.0).otherwise(1.0 / rate)))
    return sampled, rate


def train_fraud(
    df: DataFrame,
    feature_cols: list[str],
    label_col: str = "is_fraud",
    time_col: str = "ts",
    reported_col: str = "fraud_reported_at",
    id_col: str = "txn_id",
    valid_days: int = VALID_DAYS,
    maturity_days: int = MATURITY_DAYS,
    negatives_per_positive: int = NEGATIVES_PER_POSITIVE,
    alert_budget: float = ALERT_BUDGET,
    algorithms: tuple[str, ...] = ALGORITHMS,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 7,
) -> ClassifierResult:
    """Fit and compare fraud classifiers; the best PR-AUC on the validation window wins.

    ``extras['alert_threshold']`` is the probability above which the top ``alert_budget`` of the
    validation transactions are flagged; scoring flags with it.
    """
    check_feature_columns(df, feature_cols, label_col, time_col, reported_col, id_col)
    split = fraud_split(df, label_col, time_col, reported_col, valid_days, maturity_days)
    train, rate = sample_negatives(split.train, id_col, negatives_per_positive, seed)
    train = train.cache()
    valid = split.valid.cache()
    try:
        valid_row = valid.agg(F.sum(LABEL_COL).alias("pos"), F.count("*").alias("n")).first()
        if not valid_row["pos"]:
            raise SplitError(f"the fraud validation window {split.describe()} holds {valid_row['n']} transactions "
                             "and no reported fraud; it cannot be evaluated")
        result = compare_algorithms(train, valid, feature_cols, LABEL_COL, algorithms, MAIN_METRIC, params,
                                    weighted=True, seed=seed, metric_args={"alert_budget": alert_budget})
        train_rows = train.count()
    finally:
        train.unpersist()
        valid.unpersist()
    extras = {**split.describe(), "negative_rate": rate, "train_rows": train_rows, "valid_rows": int(valid_row["n"]),
              "alert_budget": alert_budget, "alert_threshold": threshold_for_budget(result.scores, alert_budget)}
    log.info("fraud: chose %s, PR-AUC=%.3f, recall at %.1f%% budget=%.3f", result.algorithm,
             result.metrics["pr_auc"], alert_budget * 100, result.metrics["recall_at_budget"])
    return replace(result, extras=extras)


def validation_rows(df: DataFrame, label_col: str = "is_fraud", time_col: str = "ts",
                    reported_col: str = "fraud_reported_at", valid_days: int = VALID_DAYS,
                    maturity_days: int = MATURITY_DAYS) -> DataFrame:
    """The validation rows ``train_fraud`` evaluates on, for scoring a champion on the same holdout."""
    return fraud_split(df, label_col, time_col, reported_col, valid_days, maturity_days).valid
