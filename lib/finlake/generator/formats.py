"""The landing sources as docs/landing.md declares them, and vectorised value formatting.

A source's rows travel from block generation to the file writer as a frame of *text* columns
(already formatted as they appear in the file) plus three routing columns: ``_batch`` (the
business date of the folder), ``_key`` (the order inside the file) and ``_id`` (the business key
that defect records cite).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

ROUTING = ("_batch", "_key", "_id")


@dataclass(frozen=True)
class Source:
    """One landing source: where its batches go and how its files are written."""

    name: str  # folder below the landing root, e.g. "customers/branch"
    stem: str  # file name stem: <stem>_<yyyymmdd>.<ext>
    columns: tuple[str, ...]  # schema version 1
    fmt: str = "csv"  # csv | jsonl
    encoding: str = "utf-8"
    system: str = "core"
    cadence: str = "daily"  # daily | monthly | month_end | once

    @property
    def ext(self) -> str:
        return "jsonl" if self.fmt == "jsonl" else "csv"


CUSTOMER_COLUMNS = (
    "customer_id", "name", "id_number", "phone", "gender", "birth_date", "city", "occupation",
    "income_band", "risk_tolerance", "open_date", "acquisition_channel", "status",
)
TXN_COLUMNS = (
    "txn_id", "account_id", "customer_id", "card_id", "ts", "amount", "currency", "direction",
    "channel", "merchant_id", "mcc", "city", "device_id", "counterparty_bank", "is_international",
)
TXN_ADDED_COLUMN = "auth_code"  # schema v2 of transactions
TXN_RENAMED = ("mcc", "merchant_category_code")  # the one batch with a renamed header column

SOURCES = {
    s.name: s
    for s in (
        Source("products", "products", ("product_id", "product_type", "name", "risk_rating", "min_amount", "expected_yield"), cadence="once"),
        Source("campaigns", "campaigns", ("campaign_id", "product_id", "channel", "start_date", "end_date"), system="marketing", cadence="monthly"),
        Source("customers/core", "customers", CUSTOMER_COLUMNS),
        Source("customers/branch", "customers", CUSTOMER_COLUMNS, encoding="gb18030", system="branch"),
        Source("accounts", "accounts", ("account_id", "customer_id", "product_type", "open_date", "close_date", "credit_limit", "status")),
        Source("transactions", "transactions", TXN_COLUMNS),
        Source("balances", "balances", ("account_id", "month_end", "balance"), cadence="month_end"),
        Source("app_events", "app_events", ("event_id", "customer_id", "session_id", "ts", "event_type", "page", "product_id", "device", "geo"), fmt="jsonl", system="mobile_app"),
        Source("contacts", "contacts", ("contact_id", "campaign_id", "customer_id", "ts", "channel", "outcome", "control_group"), system="marketing"),
        Source("complaints", "complaints", ("complaint_id", "customer_id", "ts", "category"), system="crm"),
        Source("fraud_reports", "fraud_reports", ("txn_id", "reported_at", "fraud_type"), system="risk"),
        Source("consents", "consents", ("customer_id", "channel", "consent", "updated_at"), system="marketing"),
        Source("do_not_contact", "do_not_contact", ("customer_id", "phone", "listed_at", "reason"), system="marketing"),
        Source("fx_rates", "fx_rates", ("rate_date", "currency", "cny_per_unit"), system="treasury"),
    )
}


def header_columns(source: Source, batch: str, drift_from: str | None, renamed_batch: str | None) -> tuple[str, ...]:
    """The column list of one batch file, including schema drift of transactions."""
    columns = source.columns
    if source.name != "transactions":
        return columns
    if drift_from is not None and batch >= drift_from:
        columns = columns + (TXN_ADDED_COLUMN,)
    if renamed_batch is not None and batch == renamed_batch:
        columns = tuple(TXN_RENAMED[1] if c == TXN_RENAMED[0] else c for c in columns)
    return columns


def schema_version(source: Source, batch: str, drift_from: str | None) -> int:
    return 2 if source.name == "transactions" and drift_from is not None and batch >= drift_from else 1


# --- value formatting (vectorised) ----------------------------------------------------------------
def fmt_date(days: np.ndarray, sep: str = "-") -> np.ndarray:
    """datetime64[D] -> 'YYYY-MM-DD' (or with another separator) as an object array."""
    text = np.datetime_as_string(days.astype("datetime64[D]"), unit="D").astype(object)
    if sep != "-":
        text = np.array([t.replace("-", sep) for t in text], dtype=object)
    return text


def fmt_compact_date(days: np.ndarray) -> np.ndarray:
    """datetime64[D] -> 'YYYYMMDD'."""
    return np.array([t.replace("-", "") for t in fmt_date(days)], dtype=object)


def fmt_ts(seconds: np.ndarray) -> np.ndarray:
    """datetime64[s] -> 'YYYY-MM-DD HH:MM:SS' (local time, no offset)."""
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    return np.char.replace(text, "T", " ").astype(object)


def fmt_ts_offset(seconds: np.ndarray) -> np.ndarray:
    """datetime64[s] -> 'YYYY-MM-DDTHH:MM:SS+08:00' (app events)."""
    return np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s").astype(object) + "+08:00"


def fmt_minor(minor: np.ndarray) -> np.ndarray:
    """Integer minor units (fen, cents) -> '1234.50', keeping the sign."""
    minor = np.asarray(minor, dtype=np.int64)
    sign = np.where(minor < 0, "-", "").astype(object)
    absolute = np.abs(minor)
    units = (absolute // 100).astype(str).astype(object)
    cents = zfill(absolute % 100, 2)
    return sign + units + "." + cents


def fmt_yn(flags: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(flags, dtype=bool), "Y", "N").astype(object)


def zfill(numbers: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded text (object array; empty input allowed)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if numbers.size == 0:
        return np.array([], dtype=object)
    return np.char.zfill(numbers.astype(str), width).astype(object)


def fmt_ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded identifiers such as C00000042."""
    return prefix + zfill(numbers, width)


def routed(frame: pd.DataFrame, batch: np.ndarray, key: np.ndarray, ident: np.ndarray) -> pd.DataFrame:
    """Attach the routing columns (batch as 'YYYY-MM-DD', order key, business key)."""
    out = frame.copy()
    out["_batch"] = fmt_date(batch) if np.asarray(batch).dtype.kind == "M" else batch
    out["_key"] = key
    out["_id"] = ident
    return out


def concat_rows(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames of the same columns, skipping empty ones (their dtypes are unknown)."""
    filled = [f for f in frames if len(f)]
    return pd.concat(filled or frames[:1], ignore_index=True)


def join_csv(frame: pd.DataFrame, columns: tuple[str, ...]) -> pa.StringArray:
    """Text columns -> CSV lines (no quoting: values never contain separators, see landing.md)."""
    if len(frame) == 0:
        return pa.array([], pa.string())
    return pc.binary_join_element_wise(*[pa.array(frame[col].to_numpy(), pa.string()) for col in columns], ",")
