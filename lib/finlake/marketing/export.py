"""Exports for the CRM and the call centre: who to contact, through which channel, and why.

Only the ``contact`` rows of an audience leave the lake (never the control group, never capped
rows), and only masked display values and tokens identify the customer: the columns are a
fixed allow-list checked again before writing, so adding a clear field anywhere upstream cannot
leak into a file.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finlake.errors import FinlakeError

EXPORT_COLUMNS = ("campaign", "as_of", "rank", "customer_id", "name_masked", "phone_masked", "phone_token",
                  "channel", "product_type", "reason")


class ExportError(FinlakeError):
    """An export would carry a column outside the allow-list."""


def export_frame(audience: DataFrame, customers: DataFrame) -> DataFrame:
    """The rows to contact, with masked display fields from the current cleaned.customers version."""
    current = customers.where(F.col("is_current")).select("customer_id", "name_masked", "phone_masked", "phone_token")
    frame = (audience.where(F.col("status") == "contact")
             .join(current, "customer_id", "left")
             .select(*EXPORT_COLUMNS))
    check_export_columns(frame.columns)
    return frame


def check_export_columns(columns) -> None:
    extra = [c for c in columns if c not in EXPORT_COLUMNS]
    if extra:
        raise ExportError(f"export would carry columns outside the allow-list {list(EXPORT_COLUMNS)}: {extra}")


def write_export_csv(frame: DataFrame, path: Path | str) -> Path:
    """Write ``frame`` (an ``export_frame``) as one UTF-8 CSV ordered by rank, atomically."""
    check_export_columns(frame.columns)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    frame.orderBy("rank").toPandas().to_csv(tmp, index=False, encoding="utf-8")
    tmp.replace(path)
    return path
