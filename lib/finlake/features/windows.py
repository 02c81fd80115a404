"""Cut-off dates and day windows: the point-in-time rules every feature shares.

A cut-off (``as_of``) is the first day of a month, read as the instant 00:00 Asia/Shanghai on
that day. A feature for cut-off D reads only events whose local business date is before D; a
window of N days is the business dates [D - N days, D). Events are aggregated to one row per
(customer, day) first, then each daily row is sent to the cut-offs whose windows can see it
(``explode_to_cutoffs``), so all months are computed in one pass with conditional sums
(``in_window``), never one job per month.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

# The longest window any customer feature looks back over (days).
MAX_LOOKBACK_DAYS = 180


class CutoffError(ValueError):
    """A cut-off date is not the first day of a month, or a range of cut-offs is empty."""


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def cutoffs_between(start_date: date, end_date: date) -> list[date]:
    """The cut-offs (first days of months) in [start_date, end_date], both inclusive."""
    first = start_date if start_date.day == 1 else add_months(month_start(start_date), 1)
    out = []
    while first <= end_date:
        out.append(first)
        first = add_months(first, 1)
    return out


def check_cutoff(day: date) -> date:
    if day.day != 1:
        raise CutoffError(f"as_of {day} is not a cut-off: feature as_of dates are first days of months "
                          f"(as_of {month_start(day)} covers the month before it)")
    return day


def cutoff_grid(spark, cutoffs: Sequence[date]) -> DataFrame:
    """A one-column DataFrame ``as_of`` of the given cut-offs (small: broadcast it)."""
    if not cutoffs:
        raise CutoffError("no cut-off dates to compute")
    return F.broadcast(spark.createDataFrame([(c,) for c in cutoffs], "as_of date"))


def lookback_start(start_date: date, days: int = MAX_LOOKBACK_DAYS) -> date:
    """The earliest business date a window of ``days`` ending at ``start_date`` can see."""
    return start_date - timedelta(days=days)


def events_for(df: DataFrame, date_column: str, start_date: date, end_date: date,
               max_lag_days: int = MAX_LOOKBACK_DAYS) -> DataFrame:
    """The rows any cut-off in [start_date, end_date] can see (filter early, before aggregating)."""
    d = F.col(date_column)
    return df.where((d >= F.lit(lookback_start(start_date, max_lag_days))) & (d < F.lit(end_date)))


def explode_to_cutoffs(df: DataFrame, date_column: str, start_date: date, end_date: date,
                       max_lag_days: int = MAX_LOOKBACK_DAYS) -> DataFrame:
    """Each row once per cut-off D in [start_date, end_date] with 1 <= D - date <= max_lag_days.

    Adds ``as_of`` and ``lag_days`` (= D - date, so ``lag_days <= 30`` is the 30-day window).
    The cut-offs are month starts, so the candidates of a row are the consecutive month starts
    after its date: a ``sequence`` per row, no join. Rows dated at or after a cut-off never reach
    it (lag >= 1): that is the point-in-time rule.
    """
    start_date, end_date = check_cutoff(start_date), check_cutoff(end_date)
    d = F.col(date_column)
    first = F.greatest(F.add_months(F.trunc(d, "MM"), 1), F.lit(start_date))
    last = F.least(F.date_add(d, max_lag_days), F.lit(end_date))
    return (events_for(df, date_column, start_date, end_date, max_lag_days)
              .where(first <= last)
              .withColumn("as_of", F.explode(F.sequence(first, last, F.expr("INTERVAL 1 MONTH"))))
              .where(F.datediff("as_of", d) <= max_lag_days)
              .withColumn("lag_days", F.datediff("as_of", d)))


def in_window(value: Column | str, first_lag: int, last_lag: int) -> Column:
    """``value`` when the row's lag_days is in [first_lag, last_lag], else 0 (for sum()).

    ``in_window(x, 1, 30)`` is the 30-day window [D - 30, D); ``in_window(x, 91, 180)`` the 90
    days before the last 90.
    """
    v = F.col(value) if isinstance(value, str) else value
    return F.when(F.col("lag_days").between(first_lag, last_lag), v).otherwise(F.lit(0))


def window_sum(value: Column | str, first_lag: int, last_lag: int) -> Column:
    return F.coalesce(F.sum(in_window(value, first_lag, last_lag)), F.lit(0))
