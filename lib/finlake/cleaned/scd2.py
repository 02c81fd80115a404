"""SCD type 2 history: build the rows a merge needs to keep one version per attribute change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

OPEN_END = dt.date(9999, 12, 31)


def attributes_hash(columns: Sequence[str]) -> F.Column:
    """SHA-256 over the tracked attributes (nulls distinguished from empty strings)."""
    parts = [F.coalesce(F.col(c).cast("string"), F.lit("\u0000")) for c in columns]
    return F.sha2(F.concat_ws("\u0001", *parts), 256)


def build_scd2_changes(existing: DataFrame, incoming: DataFrame, key: str = "customer_id") -> DataFrame:
    """Rows to upsert by (``key``, ``valid_from``) so the history reflects ``incoming``.

    ``existing`` is the SCD2 table (with ``valid_from``, ``valid_to``, ``is_current``,
    ``attributes_hash``); ``incoming`` has the same columns except ``valid_to`` and ``is_current``,
    one row per key and ``valid_from``. An incoming row whose ``attributes_hash`` equals the version
    before it is not a change and is dropped; the others become versions. ``valid_to`` of every
    version of an affected key is recomputed (the next version's ``valid_from``, or 9999-12-31 with
    ``is_current`` true), and the result holds the new versions plus the existing versions whose
    ``valid_to``/``is_current`` changed. An incoming row with the ``valid_from`` of an existing
    version replaces it.
    """
    columns = existing.columns
    new = (incoming.withColumn("valid_to", F.lit(None).cast("date"))
           .withColumn("is_current", F.lit(None).cast("boolean"))
           .select(*columns).withColumn("_incoming", F.lit(True)))
    old = (existing.join(incoming.select(key).distinct(), key, "left_semi")
           .join(incoming.select(key, "valid_from"), [key, "valid_from"], "left_anti")
           .select(*columns).withColumn("_incoming", F.lit(False)))
    by_key = Window.partitionBy(key).orderBy("valid_from")
    chain = (old.unionByName(new)
             .withColumn("_previous_hash", F.lag("attributes_hash").over(by_key))
             .filter(~F.col("_incoming") | F.col("_previous_hash").isNull()
                     | (F.col("_previous_hash") != F.col("attributes_hash")))
             .withColumn("_next_from", F.lead("valid_from").over(by_key)))
    recomputed = (chain
                  .withColumn("_valid_to", F.coalesce(F.col("_next_from"), F.lit(OPEN_END)))
                  .withColumn("_is_current", F.col("_next_from").isNull()))
    changed = (F.col("_incoming") | (F.col("valid_to") != F.col("_valid_to"))
               | (F.col("is_current") != F.col("_is_current")))
    return (recomputed.filter(changed)
            .withColumn("valid_to", F.col("_valid_to"))
            .withColumn("is_current", F.col("_is_current"))
            .select(*columns))
