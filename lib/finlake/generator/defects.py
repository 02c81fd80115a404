"""Render a source's rows as delivered lines, injecting the defects of docs/landing.md.

Each defect kind hits each row of the sources it applies to with probability ``defect_rate``;
the kinds partition one uniform draw, so a row carries at most one defect and every injected
defect is recorded (kind, source, batch, business key, field). A defect that cannot be applied
(a re-send that would fall after the period, a name whose GB18030 bytes happen to be valid
UTF-8) is not applied and not recorded, so the records are exact.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from finlake.generator.formats import TXN_COLUMNS, Source, fmt_date, join_csv
from finlake.generator.plan import Plan

KINDS = {
    "transactions": (
        "null_required", "exact_duplicate", "late_resend", "malformed_date",
        "impossible_amount", "unknown_code", "orphan_fk", "truncated_line",
    ),
    "app_events": ("exact_duplicate", "truncated_line"),
    "customers/core": ("null_required", "malformed_date", "out_of_range_age", "broken_encoding"),
    "customers/branch": ("null_required", "malformed_date", "out_of_range_age"),
}
ALL_KINDS = (
    "null_required", "exact_duplicate", "late_resend", "malformed_date", "impossible_amount",
    "unknown_code", "orphan_fk", "out_of_range_age", "broken_encoding", "truncated_line",
    "schema_drift_added_column", "schema_drift_renamed_column",
)
REQUIRED = {
    "transactions": ("account_id", "ts", "amount", "currency"),
    "customers/core": ("name", "id_number", "phone"),
    "customers/branch": ("name", "id_number", "phone"),
}
DATE_FIELD = {"transactions": "ts", "customers/core": "birth_date", "customers/branch": "birth_date"}
UNKNOWN_CODES = {
    "channel": ("MOBILE", "wechat", "pos_terminal", "99", "ussd"),
    "currency": ("RMB", "CNH", "XXX", "usd", "GBP"),
}
IMPOSSIBLE_AMOUNTS = ("0.00", "999999999999.99", "100000000.00")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ENVELOPE_COLUMNS = ["source", "batch", "key", "payload"]


def render(source: Source, frame: pd.DataFrame, plan: Plan, rng: np.random.Generator) -> tuple[pa.RecordBatch, list[dict]]:
    """(envelope rows: source, batch, key, payload bytes; defect records) of one source."""
    kinds = KINDS.get(source.name, ()) if plan.defect_rate > 0 else ()
    n = len(frame)
    if kinds:
        slot = (rng.random(n) / plan.defect_rate).astype(int)
        kind = np.where(slot < len(kinds), slot, -1)
    else:
        kind = np.full(n, -1)
    rows = {name: np.flatnonzero(kind == k) for k, name in enumerate(kinds)}
    f = frame.copy()
    records: list[dict] = []

    def record(name: str, idx: np.ndarray, fields=None, batches=None, original=None) -> None:
        for j, r in enumerate(idx):
            records.append({
                "kind": name, "source": source.name,
                "batch": f["_batch"].iat[r] if batches is None else batches[j],
                "key": f["_id"].iat[r],
                "field": None if fields is None else fields[j],
                "original_batch": None if original is None else original[j],
            })

    if "null_required" in rows:
        idx = rows["null_required"]
        fields = np.array(REQUIRED[source.name], dtype=object)[rng.integers(0, len(REQUIRED[source.name]), len(idx))]
        for r, field in zip(idx, fields):
            f.iat[r, f.columns.get_loc(field)] = ""
        record("null_required", idx, fields)
    if "malformed_date" in rows:
        idx = rows["malformed_date"]
        col = f.columns.get_loc(DATE_FIELD[source.name])
        forms = rng.integers(0, 3, len(idx))
        for r, form in zip(idx, forms):
            f.iat[r, col] = _malformed(f.iat[r, col], int(form))
        record("malformed_date", idx, [DATE_FIELD[source.name]] * len(idx))
    if "out_of_range_age" in rows:
        idx = rows["out_of_range_age"]
        batch_day = f["_batch"].to_numpy()[idx].astype("datetime64[D]")
        future = batch_day + rng.integers(30, 3000, len(idx)).astype("timedelta64[D]")
        ancient = batch_day - rng.integers(121 * 366, 170 * 365, len(idx)).astype("timedelta64[D]")
        birth = np.where(rng.random(len(idx)) < 0.5, future, ancient)
        sep = "/" if source.name == "customers/branch" else "-"
        f.iloc[idx, f.columns.get_loc("birth_date")] = fmt_date(birth, sep)
        record("out_of_range_age", idx, ["birth_date"] * len(idx))
    if "impossible_amount" in rows:
        idx = rows["impossible_amount"]
        col = f.columns.get_loc("amount")
        for r, form in zip(idx, rng.integers(0, 4, len(idx))):
            f.iat[r, col] = "-" + f.iat[r, col] if form == 3 else IMPOSSIBLE_AMOUNTS[form]
        record("impossible_amount", idx, ["amount"] * len(idx))
    if "unknown_code" in rows:
        idx = rows["unknown_code"]
        fields = np.where(rng.random(len(idx)) < 0.5, "channel", "currency")
        for r, field in zip(idx, fields):
            codes = UNKNOWN_CODES[field]
            f.iat[r, f.columns.get_loc(field)] = codes[rng.integers(0, len(codes))]
        record("unknown_code", idx, list(fields))
    if "orphan_fk" in rows:
        idx = rows["orphan_fk"]
        f.iloc[idx, f.columns.get_loc("account_id")] = ["A99" + f"{v:08d}" for v in rng.integers(0, 10**8, len(idx))]
        record("orphan_fk", idx, ["account_id"] * len(idx))

    batch = f["_batch"].to_numpy().astype(object)
    key = f["_key"].to_numpy().astype(object)
    lines = _lines(source, f, batch, plan)
    if "truncated_line" in rows:
        idx = rows["truncated_line"]
        lines = _replace(lines, idx, [_truncate(lines[int(r)].as_py(), source.fmt, rng) for r in idx], pa.string())
        record("truncated_line", idx)

    extras = []  # (batch, key, lines) appended after the rows
    if "exact_duplicate" in rows:
        idx = rows["exact_duplicate"]
        extras.append((batch[idx], key[idx], lines.take(pa.array(idx, pa.int64()))))
        record("exact_duplicate", idx)
    if "late_resend" in rows:
        idx = rows["late_resend"]
        later = batch[idx].astype("datetime64[D]") + rng.integers(1, 8, len(idx)).astype("timedelta64[D]")
        ok = later < plan.end64
        idx, later = idx[ok], fmt_date(later[ok])
        extras.append((later, key[idx], _lines(source, f.iloc[idx], later, plan)))
        record("late_resend", idx, batches=list(later), original=list(batch[idx]))

    payload = _encode(lines, source.encoding)
    if "broken_encoding" in rows:
        applied, raw_lines = [], []
        for r in rows["broken_encoding"]:
            raw = lines[int(r)].as_py().encode("gb18030")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                applied.append(r)
                raw_lines.append(raw)
        payload = _replace(payload, np.array(applied, dtype=int), raw_lines, pa.binary())
        record("broken_encoding", np.array(applied, dtype=int), ["name"] * len(applied))

    envelope = pa.RecordBatch.from_arrays(
        [
            pa.array(np.full(len(f) + sum(len(e[0]) for e in extras), source.name, dtype=object), pa.string()),
            pa.array(np.concatenate([batch] + [e[0] for e in extras]).astype(object), pa.string()),
            pa.array(np.concatenate([key] + [e[1] for e in extras]).astype(object), pa.string()),
            pa.concat_arrays([payload] + [_encode(e[2], source.encoding) for e in extras]),
        ],
        names=ENVELOPE_COLUMNS,
    )
    return envelope, records


def _replace(values: pa.Array, idx: np.ndarray, replacements: list, kind: pa.DataType) -> pa.Array:
    """``values`` with the entries at ``idx`` replaced (Arrow arrays are immutable)."""
    if len(idx) == 0:
        return values
    mask = np.zeros(len(values), dtype=bool)
    mask[idx] = True
    order = np.argsort(idx, kind="stable")
    return pc.replace_with_mask(values, pa.array(mask), pa.array([replacements[i] for i in order], kind))


def _encode(lines: pa.StringArray, encoding: str) -> pa.BinaryArray:
    if encoding == "utf-8":
        return lines.cast(pa.binary())  # Arrow strings are UTF-8 already
    return pa.array([line.encode(encoding) for line in lines.to_pylist()], pa.binary())


def _lines(source: Source, f: pd.DataFrame, batch: np.ndarray, plan: Plan) -> pa.StringArray:
    if source.fmt == "jsonl":
        return _json_lines(f)
    if source.name != "transactions":
        return join_csv(f, source.columns)
    lines = join_csv(f, TXN_COLUMNS)
    if plan.drift_from is not None and len(lines):
        v2 = pa.array(np.asarray(batch, dtype=object) >= plan.drift_from.isoformat())
        with_auth = pc.binary_join_element_wise(lines, pa.array(f["_auth_code"].to_numpy(), pa.string()), ",")
        lines = pc.if_else(v2, with_auth, lines)
    return lines


def _json_lines(f: pd.DataFrame) -> pa.StringArray:
    """App events as JSON objects; values are ids, codes and city names, so nothing needs escaping."""
    if len(f) == 0:
        return pa.array([], pa.string())
    q = lambda col: pa.array(f[col].to_numpy(), pa.string())  # noqa: E731
    product = pc.fill_null(pc.binary_join_element_wise('"', q("product_id"), '"', ""), "null")
    parts = [
        '{"event_id":"', q("event_id"), '","customer_id":"', q("customer_id"), '","session_id":"', q("session_id"),
        '","ts":"', q("ts"), '","event_type":"', q("event_type"), '","page":"', q("page"),
        '","product_id":', product, ',"device":{"id":"', q("device_id"), '","os":"', q("os"),
        '","model":"', q("model"), '"},"geo":{"city":"', q("city"), '"}}',
    ]
    return pc.binary_join_element_wise(*parts, "")


def _malformed(value: str, form: int) -> str:
    """A date or timestamp that no strict parser of the documented format accepts."""
    sep = value[4]
    if form == 0:  # month out of range
        return value[:5] + f"{int(value[5:7]) + 12:02d}" + value[7:]
    if form == 1:  # separators dropped
        return value.replace(sep, "").replace(":", "")
    return value[:5] + MONTHS[int(value[5:7]) - 1] + value[7:]  # month as text


def _truncate(line: str, fmt: str, rng: np.random.Generator) -> str:
    """Cut a line inside a field so it has fewer fields than the header (or is not valid JSON)."""
    if fmt == "jsonl":
        return line[: int(rng.integers(10, len(line) - 1))]
    commas = [i for i, ch in enumerate(line) if ch == ","]
    return line[: int(rng.integers(commas[2] + 1, commas[-1] + 1))]


def drift_records(plan: Plan) -> list[dict]:
    """One record per transactions batch with the added column, and one for the renamed header."""
    if plan.drift_from is None:
        return []
    out = []
    day = plan.drift_from
    while day < plan.end:
        out.append({"kind": "schema_drift_added_column", "source": "transactions", "batch": day.isoformat(),
                    "key": None, "field": "auth_code", "original_batch": None})
        day += dt.timedelta(days=1)
    out.append({"kind": "schema_drift_renamed_column", "source": "transactions", "batch": plan.renamed_batch.isoformat(),
                "key": None, "field": "mcc", "original_batch": None})
    return out
