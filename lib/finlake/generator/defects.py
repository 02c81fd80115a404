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
import pyarrow as pa
import pyarrow.compute as pc

from finlake.generator.formats import TXN_COLUMNS, Source, TextRows, fmt_date, join_csv
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


def render(source: Source, rows: TextRows, plan: Plan, rng: np.random.Generator) -> tuple[pa.RecordBatch, list[dict]]:
    """(envelope rows: source, batch, key, payload bytes; defect records) of one source.

    The value defects rewrite ``rows`` in place: a block's rows are rendered exactly once.
    """
    kinds = KINDS.get(source.name, ()) if plan.defect_rate > 0 else ()
    n = len(rows)
    if kinds:
        slot = (rng.random(n) / plan.defect_rate).astype(int)
        kind = np.where(slot < len(kinds), slot, -1)
    else:
        kind = np.full(n, -1)
    hit = {name: np.flatnonzero(kind == k) for k, name in enumerate(kinds)}
    records: list[dict] = []
    batch = rows.values("_batch") if kinds else None
    ident = rows.values("_id") if kinds else None

    def record(name: str, idx: np.ndarray, fields=None, batches=None, original=None) -> None:
        for j, r in enumerate(idx):
            records.append({
                "kind": name, "source": source.name,
                "batch": batch[r] if batches is None else batches[j],
                "key": ident[r],
                "field": None if fields is None else fields[j],
                "original_batch": None if original is None else original[j],
            })

    if "null_required" in hit:
        idx = hit["null_required"]
        fields = np.array(REQUIRED[source.name], dtype=object)[rng.integers(0, len(REQUIRED[source.name]), len(idx))]
        for r, field in zip(idx, fields):
            rows.values(field)[r] = ""
        record("null_required", idx, fields)
    if "malformed_date" in hit:
        idx = hit["malformed_date"]
        values = rows.values(DATE_FIELD[source.name])
        for r, form in zip(idx, rng.integers(0, 3, len(idx))):
            values[r] = _malformed(values[r], int(form))
        record("malformed_date", idx, [DATE_FIELD[source.name]] * len(idx))
    if "out_of_range_age" in hit:
        idx = hit["out_of_range_age"]
        batch_day = batch[idx].astype("datetime64[D]")
        future = batch_day + rng.integers(30, 3000, len(idx)).astype("timedelta64[D]")
        ancient = batch_day - rng.integers(121 * 366, 170 * 365, len(idx)).astype("timedelta64[D]")
        birth = np.where(rng.random(len(idx)) < 0.5, future, ancient)
        rows.values("birth_date")[idx] = fmt_date(birth, "/" if source.name == "customers/branch" else "-")
        record("out_of_range_age", idx, ["birth_date"] * len(idx))
    if "impossible_amount" in hit:
        idx = hit["impossible_amount"]
        values = rows.values("amount")
        for r, form in zip(idx, rng.integers(0, 4, len(idx))):
            values[r] = "-" + values[r] if form == 3 else IMPOSSIBLE_AMOUNTS[form]
        record("impossible_amount", idx, ["amount"] * len(idx))
    if "unknown_code" in hit:
        idx = hit["unknown_code"]
        fields = np.where(rng.random(len(idx)) < 0.5, "channel", "currency")
        for r, field in zip(idx, fields):
            codes = UNKNOWN_CODES[field]
            rows.values(field)[r] = codes[rng.integers(0, len(codes))]
        record("unknown_code", idx, list(fields))
    if "orphan_fk" in hit:
        idx = hit["orphan_fk"]
        rows.values("account_id")[idx] = ["A99" + f"{v:08d}" for v in rng.integers(0, 10**8, len(idx))]
        record("orphan_fk", idx, ["account_id"] * len(idx))

    lines = _lines(source, rows, plan)
    if "truncated_line" in hit:
        idx = hit["truncated_line"]
        lines = _replace(lines, idx, [_truncate(lines[int(r)].as_py(), source.fmt, rng) for r in idx], pa.string())
        record("truncated_line", idx)

    blocks = [(rows.arrow("_batch"), rows.arrow("_key"), lines)]  # (batch, key, lines) blocks
    if "exact_duplicate" in hit:
        idx = hit["exact_duplicate"]
        take = pa.array(idx, pa.int64())
        blocks.append((rows.arrow("_batch").take(take), rows.arrow("_key").take(take), lines.take(take)))
        record("exact_duplicate", idx)
    if "late_resend" in hit:
        idx = hit["late_resend"]
        later = batch[idx].astype("datetime64[D]") + rng.integers(1, 8, len(idx)).astype("timedelta64[D]")
        ok = later < plan.end64
        idx, later = idx[ok], fmt_date(later[ok])
        resent = rows.take(idx)
        resent.columns["_batch"] = later
        blocks.append((resent.arrow("_batch"), resent.arrow("_key"), _lines(source, resent, plan)))
        record("late_resend", idx, batches=list(later), original=list(batch[idx]))

    payloads = [_encode(b[2], source.encoding) for b in blocks]
    if "broken_encoding" in hit:
        applied, raw_lines = [], []
        for r in hit["broken_encoding"]:
            raw = lines[int(r)].as_py().encode("gb18030")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                applied.append(r)
                raw_lines.append(raw)
        payloads[0] = _replace(payloads[0], np.array(applied, dtype=int), raw_lines, pa.binary())
        record("broken_encoding", np.array(applied, dtype=int), ["name"] * len(applied))

    total = sum(len(p) for p in payloads)
    envelope = pa.RecordBatch.from_arrays(
        [
            pa.array(np.full(total, source.name, dtype=object), pa.string()),
            pa.concat_arrays([b[0].cast(pa.string()) for b in blocks]),
            pa.concat_arrays([b[1].cast(pa.string()) for b in blocks]),
            pa.concat_arrays(payloads),
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


def _lines(source: Source, rows: TextRows, plan: Plan) -> pa.StringArray:
    if source.fmt == "jsonl":
        return _json_lines(rows)
    if source.name != "transactions":
        return join_csv(rows, source.columns)
    lines = join_csv(rows, TXN_COLUMNS)
    if plan.drift_from is not None and len(lines):
        v2 = pc.greater_equal(rows.arrow("_batch"), plan.drift_from.isoformat())
        lines = pc.if_else(v2, pc.binary_join_element_wise(lines, rows.arrow("_auth_code"), ","), lines)
    return lines


def _json_lines(rows: TextRows) -> pa.StringArray:
    """App events as JSON objects; values are ids, codes and city names, so nothing needs escaping."""
    if len(rows) == 0:
        return pa.array([], pa.string())
    q = rows.arrow
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
