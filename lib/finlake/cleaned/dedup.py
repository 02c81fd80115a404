"""Deduplication: which delivery of a business key counts.

Raw keeps every delivered line. A business key may arrive more than once: the identical line twice
in one file (exact duplicate), or the same record again in a later batch (late re-send or a
correction). Deliveries are ordered by ``DELIVERY``: batch, then line. A batch may hold several
files (customers come from the core and the branch system on the same business date), so two
rows of one key can share a batch and a line number: the row hash breaks that tie, so every run
picks the same row. Rows are marked rather than dropped so the accounting can count them per batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

DUPLICATE = "_duplicate"
DELIVERY = ("_batch_id", "_line_number", "_row_hash")


def delivery() -> Column:
    """A row's place in the order of deliveries (compare two with ``<``, take ``max`` or ``min``)."""
    return F.struct(*DELIVERY)


def mark_duplicates(keys: Sequence[str]):
    """Transform adding boolean ``_duplicate``: inside one batch, true for every row of a key but
    the last delivered. Rows without a complete key are never duplicates (their missing key is for
    the quarantine rules to report). Which batch wins across batches is the build's re-send logic.

    The window sorts by (keys, batch, line, hash): a later window over the keys alone reuses that
    sort instead of sorting again.
    """
    keys = list(keys)
    present = F.lit(True)
    for k in keys:
        present = present & F.col(k).isNotNull()
    last_first = Window.partitionBy(*keys, DELIVERY[0]).orderBy(*[F.col(c).desc() for c in DELIVERY[1:]])

    def apply(df: DataFrame) -> DataFrame:
        return df.withColumn(DUPLICATE, present & (F.row_number().over(last_first) > 1))

    return apply
