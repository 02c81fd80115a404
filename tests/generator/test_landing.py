"""The landing files follow docs/landing.md: layout, manifests, encodings, volumes, identifiers."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

import pytest

from finlake.generator.errors import GeneratorError

DAILY = (
    "customers/core", "customers/branch", "accounts", "transactions", "app_events", "contacts",
    "complaints", "fraud_reports", "consents", "do_not_contact", "fx_rates",
)
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def gb11643_check(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def test_every_daily_source_delivers_every_business_date(landing):
    expected = [(date(2024, 1, 1) + timedelta(days=i)).isoformat() for i in range(366)]
    for source in DAILY:
        assert [b.name for b in landing.batches(source)] == expected, source
    assert [b.name for b in landing.batches("balances")][:3] == ["2024-01-31", "2024-02-29", "2024-03-31"]
    assert len(landing.batches("balances")) == 12


def test_manifests_describe_the_delivered_files(landing):
    checked = 0
    for source_dir in [p for p in landing.root.rglob("_manifest.json")]:
        manifest = json.loads(source_dir.read_text(encoding="utf-8"))
        (entry,) = manifest["files"]
        data = (source_dir.parent / entry["name"]).read_bytes()
        lines = data.split(b"\n")[:-1]  # every line ends with a newline
        header = 1 if entry["format"] == "csv" else 0
        assert entry["rows"] == len(lines) - header, source_dir
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert sorted(p.name for p in source_dir.parent.iterdir()) == sorted(["_manifest.json", entry["name"]])
        checked += 1
    assert checked == landing.result.batches


def test_volumes_are_within_tolerance_of_the_scale_targets(landing):
    # Scale 0.01: 1,000 customers exactly (counted from the raw lines, defective ones included);
    # ~100,000 customer transactions a year (+-20%), plus the core system's month-end posting of
    # each ledger account (one a month from its second month end in the period).
    ids = {
        line.split(b",", 1)[0]
        for system in ("customers/core", "customers/branch")
        for batch in landing.batches(system)
        for line in landing.data_file(batch).read_bytes().split(b"\n")[1:-1]
    }
    assert len(ids) == 1000
    system = sum(line.count(b",system,") for batch in landing.batches("transactions")
                 for line in landing.data_file(batch).read_bytes().split(b"\n")[1:])
    assert 80_000 <= landing.result.rows["transactions"] - system <= 120_000
    assert 1.5 * 11 <= system / 1000 <= 3.5 * 11  # 1.5 to 3.5 ledger accounts a customer, 11 month ends
    # Customers hold several accounts on average.
    assert 2.0 <= landing.result.rows["accounts"] / 1000 <= 6.0


def test_branch_system_delivers_gb18030_with_several_spellings_of_a_city(landing, customers):
    branch = landing.data_file(landing.batches("customers/branch")[0]).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        branch.decode("utf-8")
    assert "北京" in branch.decode("gb18030")
    spellings = set(customers.loc[customers["city"].isin(["Beijing", "北京市", "北京"]), "city"])
    assert spellings == {"Beijing", "北京市", "北京"}


def test_resident_ids_have_valid_check_digits_and_embed_the_birth_date(customers):
    clean = customers[(customers["id_number"].str.len() == 18)]
    birth = clean["birth_date"].str.replace("/", "-").str.replace("-", "")
    ok_birth = birth.str.fullmatch(r"\d{8}")
    assert (clean["id_number"].str[:17].map(gb11643_check) == clean["id_number"].str[17]).all()
    assert (clean.loc[ok_birth, "id_number"].str[6:14] == birth[ok_birth]).mean() > 0.97  # the rest are planted age defects
    assert clean["phone"].str.fullmatch(r"1[3-9]\d{9}").mean() > 0.98


def test_international_postings_are_in_foreign_currency_with_rates_available(landing, transactions):
    abroad = transactions[transactions["is_international"] == "Y"]
    assert len(abroad) > 50
    assert set(abroad["currency"]) <= {"USD", "EUR", "HKD", "JPY"}
    assert (transactions.loc[transactions["is_international"] == "N", "currency"] == "CNY").all()
    rates = (landing.data_file(landing.batches("fx_rates")[0])).read_text().splitlines()
    assert rates[0] == "rate_date,currency,cny_per_unit" and len(rates) == 5


def test_app_events_are_json_lines_with_nested_device_and_geo(landing):
    lines = landing.data_file(landing.batches("app_events")[40]).read_text(encoding="utf-8").splitlines()
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # planted truncated line
    assert events and set(events[0]) == {"event_id", "customer_id", "session_id", "ts", "event_type", "page", "product_id", "device", "geo"}
    assert set(events[0]["device"]) == {"id", "os", "model"} and set(events[0]["geo"]) == {"city"}
    assert events[0]["ts"].endswith("+08:00")


def test_fraud_reports_arrive_10_to_60_days_after_the_posting(landing, transactions, read_csv):
    reports = read_csv(landing, "fraud_reports")
    joined = reports.merge(transactions[["txn_id", "ts"]], on="txn_id")
    lag = (joined["reported_at"].astype("datetime64[s]") - joined["ts"]).dt.days
    assert len(joined) > 20 and lag.between(10, 60).all()


def test_invalid_parameters_raise_a_named_error_with_the_fix(spark, tmp_path):
    from finlake.generator import generate

    with pytest.raises(GeneratorError, match="--scale must be positive"):
        generate(spark, tmp_path, scale=0, seed=1)
    with pytest.raises(GeneratorError, match="--defect-rate"):
        generate(spark, tmp_path, scale=0.01, seed=1, defect_rate=0.5)
