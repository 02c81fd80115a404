"""Deduplication: exact duplicates and repeated business keys, latest delivery wins.

Raw keeps every delivered line. A business key may arrive more than once: the identical line twice
in one file (exact duplicate), or the same record again in a later batch (late re-send or a
correction). The cleaned layer keeps one row per key: the one from the latest batch, and inside a
batch the last line. Rows are marked rather than dropped so the accounting can count them per batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

DUPLICATE = "_duplicate"


def mark_duplicates(keys: Sequence[str], order_by: Sequence[str] = ("_batch_id", "_line_number")):
    """Transform adding boolean ``_duplicate``: true for every row of a key but the latest by
    ``order_by`` (descending; nulls last). Exactly one row per key has ``_duplicate`` false."""
    keys = list(keys)

    def apply(df: DataFrame) -> DataFrame:
        window = Window.partitionBy(*keys).orderBy(*[F.col(c).desc_nulls_last() for c in order_by])
        return df.withColumn(DUPLICATE, F.row_number().over(window) > 1)

    return apply


def deduplicate(keys: Sequence[str], order_by: Sequence[str] = ("_batch_id", "_line_number")):
    """Transform keeping only the latest row per key (see :func:`mark_duplicates`)."""

    def apply(df: DataFrame) -> DataFrame:
        return df.transform(mark_duplicates(keys, order_by)).filter(~F.col(DUPLICATE)).drop(DUPLICATE)

    return apply
