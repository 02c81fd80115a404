"""Tiny explicit marketing inputs: only the columns a test cares about are given.

``table(spark, "cleaned.consents", [{...}])`` returns a DataFrame with the declared schema of
the table; columns a row leaves out get a type default (non-null) or null (nullable), so a test
names exactly the values its assertion depends on.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pyspark.sql import types as T

from finlake.catalog import default_catalog
from finlake.lake import Lake
from finlake.settings import load_settings

AS_OF = date(2025, 1, 1)
BEFORE = datetime(2024, 6, 1)

_TYPE_DEFAULTS = {
    T.StringType: "x", T.DateType: date(2024, 1, 1), T.TimestampType: datetime(2024, 1, 1),
    T.BooleanType: False, T.IntegerType: 0, T.LongType: 0, T.DoubleType: 0.0, T.ShortType: 0,
}


def table(spark, name: str, rows: list[dict]):
    schema = default_catalog().get(name).schema
    out = []
    for row in rows:
        unknown = set(row) - set(schema.fieldNames())
        assert not unknown, f"{name} has no columns {unknown}"
        values = []
        for field in schema.fields:
            if field.name in row:
                value = row[field.name]
            elif field.nullable:
                value = None
            elif isinstance(field.dataType, T.DecimalType):
                value = Decimal(0)
            else:
                value = _TYPE_DEFAULTS[type(field.dataType)]
            values.append(value)
        out.append(values)
    return spark.createDataFrame(out, schema)


def customers_with(spark, ids, aum=None, as_of=AS_OF):
    """features.customer_monthly rows at ``as_of`` with aum_balance per customer."""
    aum = aum or {}
    return table(spark, "features.customer_monthly",
                 [{"customer_id": c, "as_of": as_of, "aum_balance": float(aum.get(c, 100_000)),
                   "deposit_balance": float(aum.get(c, 100_000)), "spend_90d": 1000.0} for c in ids])


def consent_all(spark, ids, channels=("sms", "outbound_call", "app_push", "email"), consent=True, at=BEFORE):
    return [{"customer_id": c, "channel": ch, "consent": consent, "updated_at": at, "business_date": at.date()}
            for c in ids for ch in channels]


def private_lake(spark, home) -> Lake:
    """A lake with its own home (bridge engine, a test PII key), commits attributed to job 'test'."""
    settings = load_settings(overrides={"home": str(home), "lake_engine": "bridge", "spark_master": "local[2]",
                                        "pii_key": "test-key-not-a-secret-0123456789"}, environ={})
    return Lake(spark, settings).for_job("test", "run-1")
