"""build_cleaned over tiny hand-written raw batches: accounting, dedup, late corrections, SCD2,
orphans, PII in quarantine, incremental runs and reruns. Whole results compared."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from finlake.catalog import PROJECT_ROOT
from finlake.cleaned import build_cleaned
from finlake.errors import CatalogError, QualityGateError, SettingsError
from finlake.quality import QualityGate
from finlake.quality import gate as gate_module

pytestmark = pytest.mark.xdist_group("cleaned-build")

W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, W)) % 11]


ID1 = resident_id("11010119900307123")   # male, 1990-03-07
ID3 = resident_id("31010119851231002")   # female, 1985-12-31
BAD_ID = ID1[:17] + ("0" if ID1[17] != "0" else "1")


def customer(cid, name, idn, phone, city, birth, system_fmt="core", **over):
    sep = "/" if system_fmt == "branch" else "-"
    row = {"customer_id": cid, "name": name, "id_number": idn, "phone": phone, "gender": None,
           "birth_date": birth.replace("-", sep), "city": city, "occupation": "employee", "income_band": "5k_10k",
           "risk_tolerance": "R3", "open_date": f"2020{sep}01{sep}15", "acquisition_channel": "online", "status": "active"}
    row.update(over)
    return row


def txn(tid, account, amount, currency="CNY", ts="2024-03-01 10:00:00", **over):
    row = {"txn_id": tid, "account_id": account, "customer_id": "C00000001", "card_id": None, "ts": ts,
           "amount": amount, "currency": currency, "direction": "debit", "channel": "online", "merchant_id": None,
           "mcc": None, "city": "Beijing", "device_id": None, "counterparty_bank": None, "is_international": "N"}
    row.update(over)
    return row


def land_scenario(raw):
    raw.batch("raw.fx_rates", "2024-03-01", [{"rate_date": "2024-03-01", "currency": "USD", "cny_per_unit": "7.100000"}])
    raw.batch("raw.fx_rates", "2024-03-02", [{"rate_date": "2024-03-02", "currency": "USD", "cny_per_unit": "7.200000"}])
    raw.batch("raw.customers", "2024-03-01", [
        customer("C00000001", "张三", ID1, "13812345678", "Beijing", "1990-03-07", gender="M"),
        customer("C00000002", "李四", BAD_ID, "13912345678", "北京市", "1990-03-07"),   # check digit wrong
    ], _system="core")
    raw.batch("raw.customers", "2024-03-01", [
        customer("C00000003", "王芳", ID3, "15012345678", "上海", "1985-12-31", "branch"),
    ], _system="branch", _source_file="customers/branch/2024-03-01/customers_20240301.csv")
    raw.batch("raw.customers", "2024-03-02", [
        customer("C00000001", "张三", ID1, "13812345678", "上海市", "1990-03-07", gender="M"),  # moved
    ], _system="core")
    raw.batch("raw.customers", "2024-03-02", [
        customer("C00000003", "王芳", ID3, "15012345678", "上海", "1985-12-31", "branch"),  # unchanged
    ], _system="branch", _source_file="customers/branch/2024-03-02/customers_20240302.csv")
    raw.batch("raw.accounts", "2024-03-01", [
        {"account_id": "A0000000001", "customer_id": "C00000001", "product_type": "savings", "open_date": "2020-01-15",
         "status": "active"},
        {"account_id": "A0000000002", "customer_id": "C00000002", "product_type": "savings", "open_date": "2020-01-15",
         "status": "active"},   # its customer is quarantined but was delivered: kept
        {"account_id": "A0000000003", "customer_id": "C99999999", "product_type": "savings", "open_date": "2020-01-15",
         "status": "active"},   # customer never delivered: orphan
    ])
    raw.batch("raw.transactions", "2024-03-01", [
        txn("T00000000000001", "A0000000001", "100.00"),
        txn("T00000000000002", "A0000000001", "10.05", "USD", is_international="Y", city="Hong Kong"),
        txn("T00000000000002", "A0000000001", "10.05", "USD", is_international="Y", city="Hong Kong"),  # exact dup
        txn("T00000000000003", "A0000000001", "0.00"),                  # impossible amount
        txn("T00000000000004", "A9999999999", "5.00"),                  # orphan account
        txn("T00000000000006", "A0000000001", "7.00", ts="2024-13-45 26:61:00"),  # malformed ts
    ])
    raw.batch("raw.transactions", "2024-03-02", [
        txn("T00000000000001", "A0000000001", "120.00"),                # late correction of T1
        txn("T00000000000005", "A0000000002", "50.00", ts="2024-03-02 01:30:00", direction="credit"),
    ])


def accounting(lake, target):
    return (lake.read("quality.accounting").filter(F.col("target_table") == target)
            .select("batch_id", "raw_rows", "cleaned_rows", "quarantined_rows", "duplicates_dropped", "late_resends",
                    "balanced"))


def versions(lake):
    return {n: lake.version(n) for n in lake.catalog.names() if n.split(".")[0] in ("cleaned", "quarantine", "quality")
            and lake.exists(n)}


def test_incremental_build_accounts_dedups_corrects_and_keeps_history(clean_lake, spark, tmp_path, monkeypatch):
    lake, settings, raw = clean_lake
    land_scenario(raw)

    first = build_cleaned(lake, settings, "run-1", as_of=dt.date(2024, 3, 1))
    assert first.run_seq == 1 and first.balanced
    second = build_cleaned(lake, settings, "run-2")
    assert second.run_seq == 2 and second.balanced

    assertDataFrameEqual(accounting(lake, "cleaned.transactions"), spark.createDataFrame([
        ("2024-03-01", 6, 2, 3, 1, 0, True),   # T1, T2 cleaned; T3 amount, T4 orphan, T6 ts quarantined; T2 dup
        ("2024-03-02", 2, 2, 0, 0, 1, True),   # T1 corrected (late re-send), T5
    ], "batch_id string, raw_rows bigint, cleaned_rows bigint, quarantined_rows bigint, duplicates_dropped bigint, "
       "late_resends bigint, balanced boolean"))

    got = lake.read("cleaned.transactions").select("txn_id", "ts", "business_date", "amount", "currency", "fx_rate",
                                                   "amount_cny", "signed_amount_cny", "city_code", "_batch_id")
    assertDataFrameEqual(got, spark.createDataFrame([
        ("T00000000000001", dt.datetime(2024, 3, 1, 2, 0), dt.date(2024, 3, 1), Decimal("120.00"), "CNY",
         Decimal("1.000000"), Decimal("120.00"), Decimal("-120.00"), "110000", "2024-03-02"),
        ("T00000000000002", dt.datetime(2024, 3, 1, 2, 0), dt.date(2024, 3, 1), Decimal("10.05"), "USD",
         Decimal("7.100000"), Decimal("71.36"), Decimal("-71.36"), "HKG", "2024-03-01"),
        # 01:30 local on 2 March is 17:30 UTC on 1 March; the business date stays local
        ("T00000000000005", dt.datetime(2024, 3, 1, 17, 30), dt.date(2024, 3, 2), Decimal("50.00"), "CNY",
         Decimal("1.000000"), Decimal("50.00"), Decimal("50.00"), "110000", "2024-03-02"),
    ], "txn_id string, ts timestamp, business_date date, amount decimal(18,2), currency string, fx_rate decimal(18,6), "
       "amount_cny decimal(18,2), signed_amount_cny decimal(18,2), city_code string, _batch_id string"))

    # Each quarantined row says where it was delivered: the landing file and its line there.
    quarantined = lake.read("quarantine.transactions").select("txn_id", F.array_sort("_rules_broken").alias("rules"),
                                                              "_source_file", "_line_number")
    landed = "transactions/2024-03-01/transactions_20240301.csv"
    assertDataFrameEqual(quarantined, spark.createDataFrame([
        ("T00000000000003", ["amount_non_zero_within_limits"], landed, 5),
        ("T00000000000004", ["transaction_account_exists"], landed, 6),
        ("T00000000000006", ["ts_valid"], landed, 7),
    ], "txn_id string, rules array<string>, _source_file string, _line_number bigint"))
    from finlake.commands.quality import _quarantined  # what 'finlake quality --run' shows a steward

    assert [(r["table"], r["rule"], r["rows"], r["first"]) for r in _quarantined(lake, "run-1")] == [
        ("cleaned.accounts", "account_customer_exists", 1, "accounts/2024-03-01/accounts_20240301.csv:4"),
        ("cleaned.customers", "resident_id_check_digit_and_birth_date", 1,
         "customers/2024-03-01/customers_20240301.csv:3"),
        ("cleaned.transactions", "amount_non_zero_within_limits", 1, f"{landed}:5"),
        ("cleaned.transactions", "transaction_account_exists", 1, f"{landed}:6"),
        ("cleaned.transactions", "ts_valid", 1, f"{landed}:7"),
    ]

    assertDataFrameEqual(lake.read("cleaned.accounts").select("account_id"),
                         spark.createDataFrame([("A0000000001",), ("A0000000002",)], "account_id string"))

    history = lake.read("cleaned.customers").select("customer_id", "city_code", "gender", "birth_year", "valid_from",
                                                    "valid_to", "is_current", "source_system")
    assertDataFrameEqual(history, spark.createDataFrame([
        ("C00000001", "110000", "M", 1990, dt.date(2024, 3, 1), dt.date(2024, 3, 2), False, "core"),
        ("C00000001", "310000", "M", 1990, dt.date(2024, 3, 2), dt.date(9999, 12, 31), True, "core"),
        ("C00000003", "310000", "F", 1985, dt.date(2024, 3, 1), dt.date(9999, 12, 31), True, "branch"),
    ], "customer_id string, city_code string, gender string, birth_year int, valid_from date, valid_to date, "
       "is_current boolean, source_system string"))
    assertDataFrameEqual(accounting(lake, "cleaned.customers"), spark.createDataFrame([
        ("2024-03-01", 3, 2, 1, 0, 0, True), ("2024-03-02", 2, 2, 0, 0, 0, True),
    ], "batch_id string, raw_rows bigint, cleaned_rows bigint, quarantined_rows bigint, duplicates_dropped bigint, "
       "late_resends bigint, balanced boolean"))

    # The quarantined customer keeps only tokens and masks, like the cleaned table.
    q = lake.read("quarantine.customers").select("customer_id", "name_masked", "id_number_masked", "phone_masked",
                                                 "_rules_broken").first()
    assert (q["customer_id"], q["name_masked"], q["phone_masked"]) == ("C00000002", "李*", "139****5678")
    assert q["id_number_masked"] == BAD_ID[:3] + "*" * 11 + BAD_ID[14:]
    assert q["_rules_broken"] == ["resident_id_check_digit_and_birth_date"]

    before = versions(lake)
    third = build_cleaned(lake, settings, "run-3")
    assert third.run_seq is None
    assert versions(lake) == before

    # A blocking failure (a private copy of the suites with a rule the next batch breaks) raises
    # before any write: no cleaned, quarantine or accounting table moves.
    exp_dir = tmp_path / "expectations"
    shutil.copytree(PROJECT_ROOT / "expectations", exp_dir)
    suite = json.loads((exp_dir / "cleaned" / "fx_rates.json").read_text())
    suite["expectations"].append({"type": "expect_column_max_to_be_between",
                                  "kwargs": {"column": "cny_per_unit", "max_value": 1},
                                  "meta": {"severity": "blocking", "owner": "test", "rationale": "forces a failure"}})
    (exp_dir / "cleaned" / "fx_rates.json").write_text(json.dumps(suite))
    raw.batch("raw.fx_rates", "2024-03-03", [{"rate_date": "2024-03-03", "currency": "USD", "cny_per_unit": "7.300000"}])
    monkeypatch.setattr(gate_module, "DEFAULT_EXPECTATIONS_DIR", exp_dir)
    with pytest.raises(QualityGateError):
        build_cleaned(lake, settings, "run-4")
    after = versions(lake)
    assert {k: v for k, v in after.items() if k != "quality.results"} == \
        {k: v for k, v in before.items() if k != "quality.results"}


def test_one_run_over_several_batches_keeps_each_keys_latest_accepted_delivery(clean_lake, spark):
    """Three batches in one run: a quarantined re-delivery does not replace the accepted row it
    follows, an accepted one does (and counts as a late re-send), duplicates count once."""
    lake, settings, raw = clean_lake
    land_scenario(raw)
    raw.batch("raw.transactions", "2024-03-03", [
        txn("T00000000000001", "A0000000001", "0.00"),                  # re-sent with an impossible amount
        txn("T00000000000005", "A0000000002", "55.00", ts="2024-03-02 01:30:00", direction="credit"),  # corrected again
        txn("T00000000000007", "A0000000001", "9.00"),
        txn("T00000000000007", "A0000000001", "9.00"),                  # exact dup
    ])

    report = build_cleaned(lake, settings, "run-1")
    assert report.run_seq == 1 and report.balanced

    assertDataFrameEqual(accounting(lake, "cleaned.transactions"), spark.createDataFrame([
        ("2024-03-01", 6, 2, 3, 1, 0, True),
        ("2024-03-02", 2, 2, 0, 0, 1, True),   # T1 replaces batch 1's; T5 is new
        ("2024-03-03", 4, 2, 1, 1, 1, True),   # T5 replaces batch 2's; T7 is new; T1 quarantined
    ], "batch_id string, raw_rows bigint, cleaned_rows bigint, quarantined_rows bigint, duplicates_dropped bigint, "
       "late_resends bigint, balanced boolean"))
    got = lake.read("cleaned.transactions").select("txn_id", "amount", "_batch_id")
    assertDataFrameEqual(got, spark.createDataFrame([
        ("T00000000000001", Decimal("120.00"), "2024-03-02"),
        ("T00000000000002", Decimal("10.05"), "2024-03-01"),
        ("T00000000000005", Decimal("55.00"), "2024-03-03"),
        ("T00000000000007", Decimal("9.00"), "2024-03-03"),
    ], "txn_id string, amount decimal(18,2), _batch_id string"))
    quarantined = lake.read("quarantine.transactions").filter(F.col("_batch_id") == "2024-03-03")
    assert [r["txn_id"] for r in quarantined.collect()] == ["T00000000000001"]
    # The cleaned rules read checks computed while cleaning: re-gating the quarantine says so.
    with pytest.raises(CatalogError, match=r"cannot re-process quarantine.transactions: .*_check_well_formed"):
        QualityGate(lake, settings, run_id="steward").reprocess("cleaned.transactions")

    from finlake.commands.quality import _accounting, accounting_by_table  # 'finlake quality --run'

    [txns] = [t for t in accounting_by_table(_accounting(lake, "run-1")["quality.accounting"])
              if t["table"] == "cleaned.transactions"]
    assert txns == {"table": "cleaned.transactions", "batches": 3, "raw_rows": 12, "cleaned_rows": 6,
                    "quarantined_rows": 4, "duplicates_dropped": 2, "late_resends": 2, "unbalanced_batches": []}


def test_a_missed_days_batch_arriving_after_a_later_correction_does_not_revert_it(clean_lake, spark):
    """Batch 2024-03-02 is delivered only after 2024-03-03 was cleaned: its older T1 is accepted
    and counted as a re-send but not written, and its new key lands.
    Also: a do-not-contact entry with a malformed phone is a warning, and still opts out."""
    lake, settings, raw = clean_lake
    raw.batch("raw.do_not_contact", "2024-03-01", [
        {"customer_id": "C00000001", "phone": "1381234567", "listed_at": "2024-03-01 09:00:00",
         "reason": "customer_request"}])
    raw.batch("raw.accounts", "2024-03-01", [
        {"account_id": "A0000000001", "customer_id": "C00000001", "product_type": "savings",
         "open_date": "2020-01-15", "status": "active"}])
    raw.batch("raw.customers", "2024-03-01", [
        customer("C00000001", "张三", ID1, "13812345678", "Beijing", "1990-03-07", gender="M")], _system="core")
    raw.batch("raw.transactions", "2024-03-01", [
        txn("T00000000000001", "A0000000001", "100.00"),
        txn("T00000000000009", "A0000000001", "9.00", "GBP"),   # an ISO code the bank has no rate for
        txn("T00000000000010", "A0000000001", "9.00", "RMB"),   # not an ISO code
    ])
    raw.batch("raw.transactions", "2024-03-03", [txn("T00000000000001", "A0000000001", "130.00")])  # correction
    build_cleaned(lake, settings, "run-1")
    quarantined = lake.read("quarantine.transactions").select("txn_id", F.array_sort("_rules_broken").alias("rules"))
    assertDataFrameEqual(quarantined, spark.createDataFrame([
        ("T00000000000009", ["fx_rate_available"]), ("T00000000000010", ["currency_iso4217", "fx_rate_available"]),
    ], "txn_id string, rules array<string>"))
    dnc = lake.read("cleaned.do_not_contact").select("customer_id", "phone_masked").collect()
    assert [tuple(r) for r in dnc] == [("C00000001", "**********")]
    [phone_rule] = (lake.read("quality.results").filter((F.col("table") == "cleaned.do_not_contact")
                                                        & (F.col("expectation") == "phone_format")).collect())
    assert (phone_rule["severity"], phone_rule["success"], phone_rule["unexpected_count"]) == ("warning", False, 1)

    raw.batch("raw.transactions", "2024-03-02", [
        txn("T00000000000001", "A0000000001", "120.00"),   # the earlier correction, delivered late
        txn("T00000000000008", "A0000000001", "8.00", ts="2024-03-02 09:00:00"),
    ])
    report = build_cleaned(lake, settings, "run-2")
    assert report.balanced

    got = lake.read("cleaned.transactions").select("txn_id", "amount", "_batch_id")
    assertDataFrameEqual(got, spark.createDataFrame([
        ("T00000000000001", Decimal("130.00"), "2024-03-03"),
        ("T00000000000008", Decimal("8.00"), "2024-03-02"),
    ], "txn_id string, amount decimal(18,2), _batch_id string"))
    assertDataFrameEqual(accounting(lake, "cleaned.transactions").filter(F.col("batch_id") == "2024-03-02"),
                         spark.createDataFrame([("2024-03-02", 2, 2, 0, 0, 1, True)],
                                               "batch_id string, raw_rows bigint, cleaned_rows bigint, "
                                               "quarantined_rows bigint, duplicates_dropped bigint, "
                                               "late_resends bigint, balanced boolean"))


def test_runs_that_crash_while_writing_are_finished_by_a_later_run_under_the_pinned_run_id(clean_lake, spark,
                                                                                           monkeypatch):
    """Two injected crashes. Run 1 dies right after its accounting, before its continuity rows.
    Run 2 completes seq 1: it logs the break under run-1, the run id the accounting pinned (so
    every run in the log maps to its run_seq), then dies on its first write of a cleaned table.
    Run 3 finishes the tables and keeps the break (the breaks used to be written last: a crash
    after the last merge lost them); run 4 has nothing to do. Three small tables (customer,
    account, balances): every run recomputes all of them, so the scenario is kept to what the
    continuity log needs."""
    from finlake.lake import Lake

    lake, settings, raw = clean_lake
    raw.batch("raw.customers", "2024-03-01", [
        customer("C00000001", "张三", ID1, "13812345678", "Beijing", "1990-03-07", gender="M")], _system="core")
    raw.batch("raw.accounts", "2024-03-01", [
        {"account_id": "A0000000001", "customer_id": "C00000001", "product_type": "savings", "open_date": "2020-01-15",
         "status": "active"}])
    raw.batch("raw.balances", "2024-03-01", [
        {"account_id": "A0000000001", "month_end": "2024-01-31", "balance": "0.00"},
        {"account_id": "A0000000001", "month_end": "2024-02-29", "balance": "500.00"},  # no February posting
    ])
    append, merge = Lake.append, Lake.merge
    crash_at = "quality.balance_continuity"  # the first write whose name starts with it fails
    written = []

    def crashing(self, name, *args, **kwargs):
        if name.startswith(crash_at):
            raise RuntimeError(f"injected crash before writing {name}")
        written.append(name)
        return (append if name == "quality.balance_continuity" else merge)(self, name, *args, **kwargs)

    def logged():
        return lake.read("quality.balance_continuity").select("run_id", "account_id", "month_end", "difference")

    pinned_break = spark.createDataFrame([("run-1", "A0000000001", dt.date(2024, 2, 29), Decimal("500.00"))],
                                         "run_id string, account_id string, month_end date, difference decimal(18,2)")
    monkeypatch.setattr(Lake, "append", crashing)
    monkeypatch.setattr(Lake, "merge", crashing)
    with pytest.raises(RuntimeError, match="before writing quality.balance_continuity"):
        build_cleaned(lake, settings, "run-1")
    assert written == [] and lake.read("cleaned.balances").count() == 0

    crash_at = "cleaned."
    with pytest.raises(RuntimeError, match="before writing cleaned."):
        build_cleaned(lake, settings, "run-2")
    monkeypatch.undo()
    assert written == ["quality.balance_continuity"]  # before any cleaned table
    assert lake.read("cleaned.balances").count() == 0
    assertDataFrameEqual(logged(), pinned_break)

    report = build_cleaned(lake, settings, "run-3")
    assert report.run_seq == 1 and report.recovered and report.balanced and report.balance_breaks == 1
    assertDataFrameEqual(logged(), pinned_break)  # the append of seq 1 is not repeated
    assert lake.read("cleaned.balances").count() == 2
    seqs = lake.read("quality.accounting").select("run_id", "run_seq").distinct().collect()
    assert [tuple(r) for r in seqs] == [("run-1", 1)]
    before = versions(lake)
    assert build_cleaned(lake, settings, "run-4").run_seq is None
    assert versions(lake) == before


def test_cleaning_customers_without_a_pii_key_is_a_clear_error(clean_lake, spark):
    lake, settings, raw = clean_lake
    import dataclasses
    keyless = dataclasses.replace(settings, pii_key=None, pii_key_file=None)
    raw.batch("raw.customers", "2024-03-01", [customer("C00000001", "张三", ID1, "13812345678", "Beijing", "1990-03-07")],
              _system="core")
    with pytest.raises(SettingsError, match="no PII key"):
        build_cleaned(type(lake)(spark, keyless), keyless, "run-1")
    assert not lake.exists("cleaned.customers")


def test_a_source_whose_batches_were_all_empty_still_gets_its_cleaned_table(clean_lake):
    """No fraud reported yet: raw.fraud_reports has only empty batches, and features still needs cleaned.fraud_reports."""
    from deltalake import DeltaTable

    lake, settings, raw = clean_lake
    raw.batch("raw.fraud_reports", "2024-03-01", [])
    raw.batch("raw.fx_rates", "2024-03-01", [{"rate_date": "2024-03-01", "currency": "USD", "cny_per_unit": "7.100000"}])
    build_cleaned(lake, settings, "run-1")
    table = DeltaTable(lake.path("cleaned.fraud_reports")).to_pyarrow_table()
    assert table.num_rows == 0
    assert table.schema.names == [c.name for c in lake.spec("cleaned.fraud_reports").columns]


def _spark_jobs(spark, group, action):
    """The value of ``action()`` and the number of Spark jobs it ran."""
    sc = spark.sparkContext
    sc.setJobGroup(group, group)
    try:
        value = action()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    return value, len(sc.statusTracker().getJobIdsForGroup(group))


def test_the_plan_reads_new_batches_from_the_delta_log_and_scans_only_when_a_file_mixes_batches(clean_lake, spark):
    """Daily ingests write one batch per file: the plan lists batches from the file statistics
    with no Spark job. A file holding two batches (a bulk load) sends it back to a scan, with the
    same answer; ``as_of`` cuts on the business date either way."""
    from finlake.cleaned.build import _batches

    lake, settings, raw = clean_lake
    rate = {"currency": "USD", "cny_per_unit": "7.100000"}
    for day in ("2024-03-01", "2024-03-02", "2024-03-03"):
        raw.batch("raw.fx_rates", day, [{**rate, "rate_date": day}])
    version = lake.version("raw.fx_rates")
    found, jobs = _spark_jobs(spark, "plan-log", lambda: _batches(lake, "raw.fx_rates", version, None))
    assert (found, jobs) == ({"2024-03-01", "2024-03-02", "2024-03-03"}, 0)
    found, jobs = _spark_jobs(spark, "plan-log-as-of",
                              lambda: _batches(lake, "raw.fx_rates", version, dt.date(2024, 3, 2)))
    assert (found, jobs) == ({"2024-03-01", "2024-03-02"}, 0)

    # Two batches in one data file: the log cannot tell them apart.
    two = lake.read("raw.fx_rates").filter(F.col("_batch_id") == "2024-03-03").withColumn("_batch_id", F.lit("2024-03-04"))
    lake.append("raw.fx_rates", lake.read("raw.fx_rates").filter(F.col("_batch_id") == "2024-03-03")
                .unionByName(two).coalesce(1))
    version = lake.version("raw.fx_rates")
    found, jobs = _spark_jobs(spark, "plan-scan", lambda: _batches(lake, "raw.fx_rates", version, None))
    assert found == {"2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"} and jobs > 0
    found, _ = _spark_jobs(spark, "plan-scan-as-of", lambda: _batches(lake, "raw.fx_rates", version, dt.date(2024, 3, 2)))
    assert found == {"2024-03-01", "2024-03-02"}


def test_the_plan_reads_the_batches_of_a_table_partitioned_by_business_date_from_its_partition_values(clean_lake, spark):
    """raw.transactions is partitioned by _business_date: the dates come from the partition
    directories in the log, typed as dates, and ``as_of`` cuts on them with no Spark job."""
    from finlake.cleaned.build import _batches

    lake, settings, raw = clean_lake
    for day in ("2024-03-01", "2024-03-02", "2024-03-03"):
        raw.batch("raw.transactions", day, [txn(f"T0000000000000{day[-1]}", "A0000000001", "10.00", ts=f"{day} 10:00:00")])
    version = lake.version("raw.transactions")
    ranges = lake.file_ranges("raw.transactions", ("_business_date",), version=version)
    assert sorted(r["_business_date"] for r in ranges) == [
        (dt.date(2024, 3, d), dt.date(2024, 3, d), 0) for d in (1, 2, 3)]
    found, jobs = _spark_jobs(spark, "plan-partitioned", lambda: _batches(lake, "raw.transactions", version,
                                                                          dt.date(2024, 3, 2)))
    assert (found, jobs) == ({"2024-03-01", "2024-03-02"}, 0)
