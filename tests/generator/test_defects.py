"""Every defect in ``_truth/defects.json`` is recounted from the files alone, exactly.

The recount reads the files as raw ingestion would (docs/landing.md) and classifies each line
by what is wrong with it; it shares no code with the generator.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime

CHANNELS = {"mobile_app", "online", "pos", "atm", "branch_counter", "third_party_pay", "system"}
CURRENCIES = {"CNY", "USD", "EUR", "HKD", "JPY"}


def _lines(landing, source):
    """(batch, header, raw line bytes) of every data line of a CSV source."""
    for batch in landing.batches(source):
        raw = landing.data_file(batch).read_bytes().split(b"\n")[:-1]
        header = raw[0].decode("ascii").split(",")
        for line in raw[1:]:
            yield batch.name, header, line


def _valid(text, fmt):
    try:
        return datetime.strptime(text, fmt)
    except ValueError:
        return None


def recount_transactions(landing, known_accounts):
    found = defaultdict(set)  # kind -> {(batch, txn_id)}
    seen = defaultdict(list)  # txn_id -> batches of its well-formed lines
    for batch, header, line in _lines(landing, "transactions"):
        fields = line.decode("utf-8").split(",")
        if len(fields) < len(header):
            found["truncated_line"].add((batch, fields[0]))
            continue
        row = dict(zip(header, fields))
        seen[row["txn_id"]].append(batch)
        if "" in (row["account_id"], row["ts"], row["amount"], row["currency"]):
            found["null_required"].add((batch, row["txn_id"]))
        elif _valid(row["ts"], "%Y-%m-%d %H:%M:%S") is None:
            found["malformed_date"].add((batch, row["txn_id"]))
        elif not 0 < float(row["amount"]) < 100_000_000:
            found["impossible_amount"].add((batch, row["txn_id"]))
        elif row["channel"] not in CHANNELS or row["currency"] not in CURRENCIES:
            found["unknown_code"].add((batch, row["txn_id"]))
        elif row["account_id"] not in known_accounts:
            found["orphan_fk"].add((batch, row["txn_id"]))
    counts = Counter({k: len(v) for k, v in found.items()})
    for txn_id, batches in seen.items():
        per_batch = Counter(batches)
        counts["exact_duplicate"] += sum(n - 1 for n in per_batch.values())
        counts["late_resend"] += len(per_batch) - 1
    return counts, found


def recount_customers(landing, source, encoding, date_format):
    counts = Counter()
    for batch, header, line in _lines(landing, source):
        try:
            text = line.decode(encoding)
        except UnicodeDecodeError:
            counts["broken_encoding"] += 1
            continue
        row = dict(zip(header, text.split(",")))
        if "" in (row["name"], row["id_number"], row["phone"]):
            counts["null_required"] += 1
            continue
        birth = _valid(row["birth_date"], date_format)
        if birth is None:
            counts["malformed_date"] += 1
            continue
        on = date.fromisoformat(batch)
        age = (on - birth.date()).days / 365.25
        if not 0 <= age <= 120:
            counts["out_of_range_age"] += 1
    return counts


def recount_app_events(landing):
    counts = Counter()
    for batch in landing.batches("app_events"):
        ids = Counter()
        for line in landing.data_file(batch).read_text(encoding="utf-8").splitlines():
            try:
                ids[json.loads(line)["event_id"]] += 1
            except json.JSONDecodeError:
                counts["truncated_line"] += 1
        counts["exact_duplicate"] += sum(n - 1 for n in ids.values())
    return counts


def recount_schema_drift(landing):
    counts = Counter()
    for batch in landing.batches("transactions"):
        header = landing.data_file(batch).read_bytes().split(b"\n", 1)[0].decode("ascii").split(",")
        counts["schema_drift_added_column"] += "auth_code" in header
        counts["schema_drift_renamed_column"] += "merchant_category_code" in header and "mcc" not in header
    return counts


def test_defect_counts_equal_an_independent_recount_from_the_files(landing, read_csv):
    accounts = set(read_csv(landing, "accounts")["account_id"])
    txn_counts, _ = recount_transactions(landing, accounts)
    by_source = {
        "transactions": txn_counts,
        "customers/core": recount_customers(landing, "customers/core", "utf-8", "%Y-%m-%d"),
        "customers/branch": recount_customers(landing, "customers/branch", "gb18030", "%Y/%m/%d"),
        "app_events": recount_app_events(landing),
    }
    by_source["transactions"] += recount_schema_drift(landing)
    declared = landing.defects()

    for source, counts in by_source.items():
        assert {k: v for k, v in counts.items() if v} == declared["by_source"].get(source, {}), source
    totals = sum(by_source.values(), Counter())
    assert {k: v for k, v in declared["counts"].items() if v} == dict(+totals)
    # At the test size every kind of defect is present.
    assert all(declared["counts"].values()), declared["counts"]


def test_defect_records_point_at_the_defective_lines(landing, read_csv):
    accounts = set(read_csv(landing, "accounts")["account_id"])
    _, found = recount_transactions(landing, accounts)
    records = landing.defects()["records"]
    for kind in ("truncated_line", "null_required", "malformed_date", "impossible_amount", "unknown_code", "orphan_fk"):
        recorded = {(r["batch"], r["key"]) for r in records if r["kind"] == kind and r["source"] == "transactions"}
        assert recorded == found[kind], kind
    resends = [r for r in records if r["kind"] == "late_resend"]
    assert resends and all(0 < (date.fromisoformat(r["batch"]) - date.fromisoformat(r["original_batch"])).days <= 7 for r in resends)


def test_manifest_rows_include_defective_lines(landing):
    batch = landing.batches("transactions")[100]
    manifest = json.loads((batch / "_manifest.json").read_text())
    delivered = landing.data_file(batch).read_bytes().count(b"\n") - 1
    assert manifest["files"][0]["rows"] == delivered
