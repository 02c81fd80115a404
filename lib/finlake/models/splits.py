"""Train/holdout splits that are repeatable and honest about time.

A champion and its challenger must be compared on the same rows, so no split here is random:
key-based splits hash the entity key, time-based splits cut at dates derived from the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


class SplitError(ValueError):
    """The data cannot be split as asked (too few periods, empty side)."""


def holdout_by_key(df: DataFrame, key_col: str, percent: int = 20) -> tuple[DataFrame, DataFrame]:
    """(train, holdout): rows whose key hashes into the first ``percent`` of 100 buckets are holdout.

    The same key always lands on the same side, across runs and retrains.
    """
    bucket = F.pmod(F.xxhash64(F.col(key_col).cast("string")), F.lit(100))
    return df.where(bucket >= percent), df.where(bucket < percent)


@dataclass(frozen=True)
class TimeSplit:
    """An out-of-time split: train on periods up to ``train_end``, validate from ``valid_start``."""

    train: DataFrame
    valid: DataFrame
    train_end: date
    valid_start: date

    def describe(self) -> dict[str, str]:
        return {"train_end": self.train_end.isoformat(), "valid_start": self.valid_start.isoformat()}


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def out_of_time_split(df: DataFrame, time_col: str, valid_periods: int, gap_days: int) -> TimeSplit:
    """Validate on the last ``valid_periods`` distinct values of ``time_col``; train on earlier ones.

    ``gap_days``: training periods must end at least this long before validation starts. For a
    label that looks ``h`` days ahead, a model deployed at the validation date could only have
    seen labels of periods ``h`` days older, so ``gap_days = h`` keeps the comparison honest.
    """
    periods = sorted(_as_date(r[0]) for r in df.select(time_col).distinct().collect())
    if len(periods) <= valid_periods:
        raise SplitError(f"'{time_col}' has {len(periods)} periods; need more than {valid_periods} to validate "
                         f"on the last {valid_periods}")
    valid_start = periods[-valid_periods]
    train_end_limit = valid_start - timedelta(days=gap_days)
    train_periods = [p for p in periods if p <= train_end_limit]
    if not train_periods:
        raise SplitError(f"no '{time_col}' period ends {gap_days} days before the validation start {valid_start}; "
                         f"periods are {[p.isoformat() for p in periods]}")
    train_end = train_periods[-1]
    return TimeSplit(train=df.where(F.col(time_col) <= F.lit(train_end)),
                     valid=df.where(F.col(time_col) >= F.lit(valid_start)),
                     train_end=train_end, valid_start=valid_start)
