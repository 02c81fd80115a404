"""Helpers of the cleaned-layer tests (a uniquely named module: importable from any test file).

``RawWriter`` lands tiny explicit raw batches through the lake API with the lineage columns raw
ingestion adds, so the build can be tested without the generator. The end-to-end tests
(``test_cleaned_end_to_end.py``) use the generator and raw ingestion instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from finlake.lake import Lake
from finlake.settings import load_settings

TEST_KEY = "cleaned-test-key-not-a-secret-0123"


def private_settings(settings, home):
    """The session's Spark settings with a home (tables, quality) of the test's own."""
    return load_settings(overrides={
        "home": str(home), "lake_engine": settings.lake_engine, "spark_master": settings.spark_master,
        "spark_conf": settings.spark_conf, "pii_key": TEST_KEY,
    }, environ={})


class RawWriter:
    """Append raw rows given as dicts of source fields, one call per batch."""

    def __init__(self, lake: Lake):
        self.lake = lake

    def batch(self, table: str, batch: str, rows: list[dict], **fixed) -> None:
        self.lake.create(table)
        self.lake.append(table, self.frame(table, batch, rows, **fixed))

    def frame(self, table: str, batch: str, rows: list[dict], **fixed):
        """The raw rows as a DataFrame of ``table``'s schema (line i+2 of one file), not written."""
        spec = self.lake.spec(table)
        fields = [c.name for c in spec.columns if not c.name.startswith("_")]
        out = []
        for i, row in enumerate(rows):
            values = {f: row.get(f) for f in fields}
            line = ",".join("" if v is None else str(v) for v in values.values())
            values.update({
                "_extra": row.get("_extra"), "_line": line, "_line_bytes": None,
                "_malformed": bool(row.get("_malformed", False)), "_parse_error": row.get("_parse_error"),
                "_source_file": f"{table.split('.')[1]}/{batch}/{table.split('.')[1]}_{batch.replace('-', '')}.csv",
                "_batch_id": batch, "_business_date": dt.date.fromisoformat(batch), "_line_number": i + 2,
                "_row_hash": hashlib.sha256(line.encode()).hexdigest(),
                "_ingested_at": dt.datetime(2024, 12, 31, tzinfo=dt.timezone.utc),
            })
            values.update(fixed)
            out.append(tuple(values.get(c.name) for c in spec.columns))
        return self.lake.spark.createDataFrame(out, spec.schema)
