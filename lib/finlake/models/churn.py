"""Churn: who will leave within 90 days of a month end, validated out of time.

``train_churn`` takes monthly snapshots (one row per customer and ``as_of``) with a 0/1 label.
It validates on the latest months and trains only on months whose labels a model deployed at
the validation date could have seen (``as_of + horizon`` before the first validation month),
fits GBT and logistic regression, and keeps the one with the better lift in the top 10%: the
retention team calls the top decile, so that is what the model is judged on.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finlake.models.classifier import ALGORITHMS, LABEL_COL, ClassifierResult, compare_algorithms, with_label
from finlake.models.pipeline import check_feature_columns
from finlake.models.splits import SplitError, out_of_time_split

log = logging.getLogger(__name__)

MAIN_METRIC = "lift_at_10"
HORIZON_DAYS = 90


def train_churn(
    df: DataFrame,
    feature_cols: list[str],
    label_col: str = "churned",
    time_col: str = "as_of",
    valid_periods: int = 2,
    horizon_days: int = HORIZON_DAYS,
    algorithms: tuple[str, ...] = ALGORITHMS,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 7,
) -> ClassifierResult:
    """Fit and compare churn classifiers on ``df``; rows with a null label are not used."""
    check_feature_columns(df, feature_cols, label_col, time_col)
    labelled = with_label(df.where(F.col(label_col).isNotNull()), F.col(label_col))
    split = out_of_time_split(labelled, time_col, valid_periods, gap_days=horizon_days)
    train = split.train.cache()
    valid = split.valid.cache()
    try:
        counts = {name: part.groupBy().agg(F.count("*").alias("n"), F.sum(LABEL_COL).alias("pos")).first()
                  for name, part in (("train", train), ("valid", valid))}
        for name, row in counts.items():
            if not row["pos"] or row["pos"] == row["n"]:
                raise SplitError(f"the {name} side of the churn split ({split.describe()}) has {row['pos'] or 0} churners "
                                 f"in {row['n']} rows; it needs both classes")
        result = compare_algorithms(train, valid, feature_cols, LABEL_COL, algorithms, MAIN_METRIC, params,
                                    weighted=False, seed=seed)
    finally:
        train.unpersist()
        valid.unpersist()
    extras = {**split.describe(), "train_rows": counts["train"]["n"], "valid_rows": counts["valid"]["n"],
              "horizon_days": horizon_days}
    log.info("churn: chose %s, %s=%.3f", result.algorithm, MAIN_METRIC, result.metrics[MAIN_METRIC])
    return replace(result, extras=extras)


def validation_rows(df: DataFrame, label_col: str = "churned", time_col: str = "as_of", valid_periods: int = 2,
                    horizon_days: int = HORIZON_DAYS) -> DataFrame:
    """The validation rows ``train_churn`` evaluates on, for scoring a champion on the same holdout."""
    labelled = with_label(df.where(F.col(label_col).isNotNull()), F.col(label_col))
    return out_of_time_split(labelled, time_col, valid_periods, gap_days=horizon_days).valid
