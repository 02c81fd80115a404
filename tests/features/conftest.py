"""Tiny cleaned tables built from explicit rows: only the columns a test cares about are given.

``cleaned(spark, "cleaned.transactions", [{...}, ...])`` returns a DataFrame with the declared
schema of the table; columns a row leaves out get a plausible constant (see DEFAULTS), so a test
names exactly the values its assertion depends on.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from finlake.catalog import default_catalog

DEFAULTS = {
    "cleaned.customers": {"gender": "F", "birth_year": 1990, "city_code": "110000", "occupation": "employee",
                          "income_band": "5k_10k", "risk_tolerance": "R2", "open_date": date(2020, 1, 1),
                          "acquisition_channel": "mobile_app", "status": "active", "source_system": "core",
                          "attributes_hash": "h", "valid_from": date(2024, 1, 1), "valid_to": date(9999, 12, 31),
                          "is_current": True},
    "cleaned.accounts": {"product_type": "savings", "open_date": date(2020, 1, 1), "status": "active",
                         "updated_date": date(2024, 1, 1)},
    "cleaned.transactions": {"account_id": "A0000000001", "currency": "CNY", "fx_rate": 1, "direction": "debit",
                             "channel": "pos", "is_international": False},
    "cleaned.balances": {},
    "cleaned.app_events": {"event_type": "login"},
    "cleaned.complaints": {"category": "service"},
    "cleaned.contacts": {"campaign_id": "G1", "channel": "sms", "control_group": False},
    "cleaned.fraud_reports": {"fraud_type": "other"},
}
LINEAGE = {"_batch_id": "b", "_row_hash": "r", "_clean_run_id": "test"}


def _complete(table: str, row: dict) -> dict:
    out = {**LINEAGE, **DEFAULTS[table], **row}
    if table in ("cleaned.transactions", "cleaned.app_events", "cleaned.complaints", "cleaned.contacts"):
        out.setdefault("business_date", out["ts"].date())
    if table == "cleaned.transactions":
        out.setdefault("amount_cny", out["amount"])
        out.setdefault("signed_amount_cny", -out["amount"] if out["direction"] == "debit" else out["amount"])
        out.setdefault("is_card", out.get("card_id") is not None)
    if table == "cleaned.fraud_reports":
        out.setdefault("reported_at", datetime.combine(out["business_date"], datetime.min.time()))
    return out


def cleaned(spark, table: str, rows: list[dict]):
    """A DataFrame of ``table``'s declared schema holding ``rows`` (missing columns defaulted)."""
    from decimal import Decimal

    spec = default_catalog().get(table)
    names = [c.name for c in spec.columns]
    data = []
    for row in rows:
        full = _complete(table, row)
        values = []
        for f in spec.schema.fields:
            v = full.get(f.name)
            if v is not None and f.dataType.typeName() == "decimal":
                v = Decimal(str(v))
            values.append(v)
        data.append(values)
    return spark.createDataFrame(data, spec.schema).select(*names)


@pytest.fixture(scope="session")
def make(spark):
    return lambda table, rows: cleaned(spark, table, rows)


@pytest.fixture(scope="session")
def generated_lake(generated_lake_run):
    """The shared generated lake (tests/conftest.py), built through features."""
    return generated_lake_run.lake
