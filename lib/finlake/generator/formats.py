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
# Two flavours: numpy object arrays for the few per-customer values that are combined further in
# numpy, and Arrow string arrays for the millions of row values, which never become Python objects.
def fmt_date(days: np.ndarray, sep: str = "-") -> np.ndarray:
    """datetime64[D] -> 'YYYY-MM-DD' (or with another separator) as an object array."""
    return arrow_date(days, sep).to_numpy(zero_copy_only=False).astype(object)


def fmt_ts(seconds: np.ndarray) -> np.ndarray:
    """datetime64[s] -> 'YYYY-MM-DD HH:MM:SS' (local time, no offset) as an object array."""
    return arrow_ts(seconds).to_numpy(zero_copy_only=False).astype(object)


def fmt_minor(minor: np.ndarray) -> np.ndarray:
    """Integer minor units (fen, cents) -> '1234.50', keeping the sign, as an object array."""
    return arrow_minor(minor).to_numpy(zero_copy_only=False).astype(object)


def fmt_yn(flags: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(flags, dtype=bool), "Y", "N").astype(object)


def fmt_ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded identifiers such as C00000042, as an object array."""
    return arrow_ids(prefix, numbers, width).to_numpy(zero_copy_only=False).astype(object)


def zfill(numbers: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded text (object array)."""
    return fmt_ids("", numbers, width)


def _strings(values: np.ndarray) -> pa.StringArray:
    return pa.array(np.asarray(values), pa.string()) if len(values) else pa.array([], pa.string())


def arrow_date(days: np.ndarray, sep: str = "-") -> pa.StringArray:
    text = _strings(np.datetime_as_string(np.asarray(days).astype("datetime64[D]"), unit="D"))
    return text if sep == "-" else pc.replace_substring(text, "-", sep)


def arrow_ts(seconds: np.ndarray) -> pa.StringArray:
    text = _strings(np.datetime_as_string(np.asarray(seconds).astype("datetime64[s]"), unit="s"))
    return pc.replace_substring(text, "T", " ")


def arrow_ts_offset(seconds: np.ndarray) -> pa.StringArray:
    """datetime64[s] -> 'YYYY-MM-DDTHH:MM:SS+08:00' (app events)."""
    text = _strings(np.datetime_as_string(np.asarray(seconds).astype("datetime64[s]"), unit="s"))
    return pc.binary_join_element_wise(text, "+08:00", "")


def arrow_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    digits = pc.utf8_lpad(pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "") if prefix else digits


def arrow_minor(minor: np.ndarray) -> pa.StringArray:
    minor = np.asarray(minor, dtype=np.int64)
    absolute = np.abs(minor)
    sign = arrow_labels((minor < 0).astype(np.int8), ("", "-"))
    units = pa.array(absolute // 100).cast(pa.string())
    cents = pc.utf8_lpad(pa.array(absolute % 100).cast(pa.string()), 2, "0")
    return pc.binary_join_element_wise(sign, units, ".", cents, "")


def arrow_labels(codes: np.ndarray, labels) -> pa.StringArray:
    """Integer codes -> their labels, without creating Python strings per row."""
    dictionary = pa.array(list(labels), pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, dtype=np.int32)), dictionary).cast(pa.string())


def arrow_yn(flags: np.ndarray) -> pa.StringArray:
    return arrow_labels(np.asarray(flags, dtype=bool).astype(np.int8), ("N", "Y"))


def as_arrow(values) -> pa.Array:
    return values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(np.asarray(values, dtype=object), pa.string())


class TextRows:
    """The text columns of one source's rows plus routing columns (``_batch``, ``_key``, ``_id``).

    Columns are Arrow string arrays or numpy object arrays; ``values`` turns a column into a
    mutable numpy array (for the few rows a defect rewrites), ``arrow`` into Arrow for output.
    """

    def __init__(self, columns: dict):
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: { {k: len(v) for k, v in columns.items()} }")
        self.columns = dict(columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def values(self, name: str) -> np.ndarray:
        column = self.columns[name]
        if not isinstance(column, np.ndarray):
            column = column.to_numpy(zero_copy_only=False).astype(object)
            self.columns[name] = column
        return column

    def arrow(self, name: str) -> pa.Array:
        return as_arrow(self.columns[name])

    def take(self, idx: np.ndarray) -> "TextRows":
        idx = np.asarray(idx, dtype=np.int64)
        return TextRows({
            k: (v[idx] if isinstance(v, np.ndarray) else v.take(pa.array(idx))) for k, v in self.columns.items()
        })


def routed(columns: dict, batch: np.ndarray, key, ident) -> TextRows:
    """Rows of a source with their routing: batch (a date), order key and business key."""
    batch = np.asarray(batch)
    return TextRows({**columns, "_batch": arrow_date(batch) if batch.dtype.kind == "M" else batch, "_key": key, "_id": ident})


def concat_rows(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames of the same columns, skipping empty ones (their dtypes are unknown)."""
    filled = [f for f in frames if len(f)]
    return pd.concat(filled or frames[:1], ignore_index=True)


def join_csv(rows: TextRows, columns: tuple[str, ...]) -> pa.StringArray:
    """Text columns -> CSV lines (no quoting: values never contain separators, see landing.md)."""
    if len(rows) == 0:
        return pa.array([], pa.string())
    return pc.binary_join_element_wise(*[rows.arrow(col) for col in columns], ",")
