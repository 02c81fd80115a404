"""The cleaned layer's bank rule pack, one tiny row per rule.

For each raw table a valid row breaks no rule; each case changes that row in one or two fields
and must break exactly the rules it names. Quarantine rules are read from ``_rules_broken``
(``QualityGate.flag``, as the build does); warning rules from the GX expectation's own column
(``rules.broken``). The last test checks that every per-row rule of expectations/cleaned/ has a
case here, so a new rule cannot land without one. Key uniqueness (a rule over many rows) is
tested by the build tests.
"""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from cleaned_helpers import RawWriter
from finlake.cleaned.build import STEPS
from finlake.cleaned.sources import Lookups
from finlake.quality import QualityGate
from finlake.quality.rules import broken

pytestmark = pytest.mark.xdist_group("cleaned-rules")

W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, W)) % 11]


BATCH = "2024-03-01"
ID = resident_id("11010119900307123")  # male, born 1990-03-07
VALID = {
    "raw.fx_rates": {"rate_date": "2024-03-01", "currency": "USD", "cny_per_unit": "7.100000"},
    "raw.products": {"product_id": "P001", "product_type": "savings", "name": "活期宝", "risk_rating": "R1",
                     "min_amount": "1.00", "expected_yield": "0.0150"},
    "raw.campaigns": {"campaign_id": "CMP0001", "product_id": "P001", "channel": "sms", "start_date": "2024-03-01",
                      "end_date": "2024-03-31"},
    "raw.customers": {"customer_id": "C00000001", "name": "张三", "id_number": ID, "phone": "13812345678",
                      "gender": "M", "birth_date": "1990-03-07", "city": "北京市", "occupation": "employee",
                      "income_band": "5k_10k", "risk_tolerance": "R3", "open_date": "2020-01-15",
                      "acquisition_channel": "online", "status": "active"},
    "raw.accounts": {"account_id": "A0000000001", "customer_id": "C00000001", "product_type": "credit_card",
                     "open_date": "2020-01-15", "close_date": None, "credit_limit": "50000.00", "status": "active"},
    "raw.transactions": {"txn_id": "T00000000000001", "account_id": "A0000000001", "customer_id": "C00000001",
                         "card_id": "K0000000001", "ts": "2024-03-01 10:00:00", "amount": "100.00", "currency": "USD",
                         "direction": "debit", "channel": "pos", "merchant_id": "M000001", "mcc": "5411",
                         "city": "Beijing", "device_id": None, "counterparty_bank": None, "is_international": "N"},
    "raw.balances": {"account_id": "A0000000001", "month_end": "2024-02-29", "balance": "1200.00"},
    "raw.app_events": {"event_id": "E0000000001", "customer_id": "C00000001", "session_id": "S1",
                       "ts": "2024-03-01T10:00:00+08:00", "event_type": "login", "page": None, "product_id": None,
                       "device": '{"id": "D1", "os": "iOS", "model": "iPhone 15"}', "geo": '{"city": "北京"}'},
    "raw.contacts": {"contact_id": "CT000000000001", "campaign_id": "CMP0001", "customer_id": "C00000001",
                     "ts": "2024-03-01 10:00:00", "channel": "sms", "outcome": "opened", "control_group": "N"},
    "raw.complaints": {"complaint_id": "CP000000000001", "customer_id": "C00000001", "ts": "2024-03-01 10:00:00",
                       "category": "fees"},
    "raw.fraud_reports": {"txn_id": "T00000000000001", "reported_at": "2024-03-01 10:00:00",
                          "fraud_type": "card_testing"},
    "raw.consents": {"customer_id": "C00000001", "channel": "sms", "consent": "Y", "updated_at": "2024-03-01 10:00:00"},
    "raw.do_not_contact": {"customer_id": "C00000001", "phone": "13812345678", "listed_at": "2024-03-01 10:00:00",
                           "reason": "customer_request"},
}
FIXED = {"raw.customers": {"_system": "core"}}  # lineage a raw table adds beyond the common columns
MALFORMED = {"_malformed": True, "_parse_error": "truncated_line: 3 of 13 fields"}

# (raw table, the rule the case is about, the fields changed, every rule the row must break)
CASES = [
    ("raw.fx_rates", "raw_line_well_formed", MALFORMED, None),
    ("raw.fx_rates", "rate_date_valid", {"rate_date": "2024-02-30"}, None),
    ("raw.fx_rates", "currency_iso4217", {"currency": "RMB"}, None),
    ("raw.fx_rates", "rate_valid", {"cny_per_unit": "7.1"}, None),          # six decimals are the contract
    ("raw.fx_rates", "rate_positive", {"cny_per_unit": "0.000000"}, None),
    ("raw.products", "raw_line_well_formed", MALFORMED, None),
    ("raw.products", "product_id_present", {"product_id": " "}, None),
    ("raw.products", "product_type_known_code", {"product_type": "Savings"}, None),  # codes keep their case
    ("raw.products", "risk_rating_known_code", {"risk_rating": "R9"}, None),
    ("raw.campaigns", "raw_line_well_formed", MALFORMED, None),
    ("raw.campaigns", "campaign_id_present", {"campaign_id": None}, None),
    ("raw.campaigns", "channel_present", {"channel": ""}, {"channel_present"}),
    ("raw.campaigns", "channel_known_code", {"channel": "fax"}, None),
    ("raw.campaigns", "start_date_valid", {"start_date": "2024/03/01"}, None),
    ("raw.customers", "raw_line_well_formed", MALFORMED, None),
    ("raw.customers", "customer_id_present", {"customer_id": None}, None),
    ("raw.customers", "customer_id_format", {"customer_id": "C1"}, None),
    ("raw.customers", "name_present", {"name": None}, None),
    ("raw.customers", "resident_id_present", {"id_number": None}, None),
    ("raw.customers", "phone_present", {"phone": None}, None),
    ("raw.customers", "resident_id_check_digit_and_birth_date", {"id_number": ID[:17] + ("0" if ID[17] != "0" else "1")},
     None),
    ("raw.customers", "phone_format", {"phone": "12812345678"}, None),
    ("raw.customers", "birth_date_format", {"birth_date": "07/03/1990"}, None),
    # An ID born in 1890 with a matching birth date: the ID is valid, the customer 134 years old.
    ("raw.customers", "age_between_0_and_120", {"id_number": resident_id("11010118900307123"),
                                                "birth_date": "1890-03-07"}, None),
    ("raw.customers", "birth_date_matches_resident_id", {"birth_date": "1990-03-08"}, None),
    ("raw.customers", "city_known", {"city": "Atlantis"}, None),
    ("raw.customers", "occupation_known_code", {"occupation": "astronaut"}, None),
    ("raw.customers", "income_band_known_code", {"income_band": "lots"}, None),
    ("raw.customers", "risk_tolerance_known_code", {"risk_tolerance": "R0"}, None),
    ("raw.customers", "acquisition_channel_known_code", {"acquisition_channel": "pigeon"}, None),
    ("raw.customers", "status_known_code", {"status": "asleep"}, None),
    ("raw.customers", "open_date_present", {"open_date": None}, None),
    ("raw.customers", "gender_matches_resident_id", {"gender": "F"}, None),  # the ID says male: a warning
    ("raw.accounts", "raw_line_well_formed", MALFORMED, None),
    ("raw.accounts", "account_id_present", {"account_id": None}, None),
    ("raw.accounts", "account_id_format", {"account_id": "A12"}, None),
    ("raw.accounts", "customer_id_present", {"customer_id": None}, None),
    ("raw.accounts", "account_customer_exists", {"customer_id": "C99999999"}, None),
    ("raw.accounts", "product_type_known_code", {"product_type": "bitcoin"}, None),
    ("raw.accounts", "open_date_present", {"open_date": "2020-13-01"}, None),
    ("raw.accounts", "close_date_format", {"close_date": "2024/03/01"}, None),
    ("raw.accounts", "close_date_after_open_date", {"close_date": "2019-12-31"}, None),
    ("raw.accounts", "status_known_code", {"status": "frozen!"}, None),
    ("raw.accounts", "credit_limit_within_limits", {"credit_limit": "20000000.00"}, None),
    ("raw.transactions", "raw_line_well_formed", MALFORMED, None),
    ("raw.transactions", "txn_id_present", {"txn_id": None}, None),
    ("raw.transactions", "txn_id_format", {"txn_id": "T1"}, None),
    ("raw.transactions", "account_id_present", {"account_id": None}, None),
    ("raw.transactions", "customer_id_present", {"customer_id": None}, None),
    ("raw.transactions", "ts_valid", {"ts": "2024-03-01T10:00"}, {"ts_valid", "fx_rate_available"}),  # no date, no rate
    ("raw.transactions", "amount_valid", {"amount": "100"}, None),
    ("raw.transactions", "amount_non_zero_within_limits", {"amount": "100000000.00"}, None),
    ("raw.transactions", "currency_present", {"currency": None}, {"currency_present", "fx_rate_available"}),
    ("raw.transactions", "currency_iso4217", {"currency": "usd"}, {"currency_iso4217", "fx_rate_available"}),
    ("raw.transactions", "direction_present", {"direction": None}, None),
    ("raw.transactions", "direction_known_code", {"direction": "sideways"}, None),
    ("raw.transactions", "channel_present", {"channel": None}, None),
    ("raw.transactions", "channel_known_code", {"channel": "telepathy"}, None),
    ("raw.transactions", "fx_rate_available", {"currency": "GBP"}, None),
    ("raw.transactions", "is_international_valid", {"is_international": "maybe"}, None),
    ("raw.transactions", "transaction_account_exists", {"account_id": "A9999999999"}, None),
    ("raw.transactions", "mcc_format", {"mcc": "54A1"}, None),
    ("raw.transactions", "city_known", {"city": "Atlantis"}, None),                    # warnings from here
    ("raw.transactions", "mcc_known", {"mcc": "0001"}, None),
    ("raw.transactions", "posting_within_account_life", {"ts": "2019-06-01 10:00:00", "currency": "CNY"}, None),
    ("raw.balances", "raw_line_well_formed", MALFORMED, None),
    ("raw.balances", "account_id_present", {"account_id": None}, None),
    ("raw.balances", "month_end_valid", {"month_end": "2024-02-30"}, None),
    ("raw.balances", "month_end_is_last_day_of_month", {"month_end": "2024-02-28"}, None),
    ("raw.balances", "balance_valid", {"balance": "1,200.00"}, None),
    ("raw.balances", "balance_account_exists", {"account_id": "A9999999999"}, None),
    ("raw.balances", "balance_within_account_life", {"month_end": "2019-12-31"}, None),  # a warning
    ("raw.app_events", "raw_line_well_formed", MALFORMED, None),
    ("raw.app_events", "event_id_present", {"event_id": None}, None),
    ("raw.app_events", "customer_id_present", {"customer_id": None}, None),
    ("raw.app_events", "ts_valid", {"ts": "2024-03-01 10:00:00"}, None),                # no offset
    ("raw.app_events", "event_type_present", {"event_type": None}, None),
    ("raw.app_events", "event_type_known_code", {"event_type": "dance"}, None),
    ("raw.app_events", "device_os_known_code", {"device": '{"id": "D1", "os": "Symbian"}'}, None),  # warning
    ("raw.contacts", "raw_line_well_formed", MALFORMED, None),
    ("raw.contacts", "contact_id_present", {"contact_id": None}, None),
    ("raw.contacts", "campaign_id_present", {"campaign_id": None}, None),
    ("raw.contacts", "customer_id_present", {"customer_id": None}, None),
    ("raw.contacts", "ts_valid", {"ts": "yesterday"}, None),
    ("raw.contacts", "control_group_valid", {"control_group": "T"}, None),
    ("raw.contacts", "channel_known_code", {"channel": "fax"}, None),
    ("raw.contacts", "outcome_known_code", {"outcome": "ignored"}, None),
    ("raw.complaints", "raw_line_well_formed", MALFORMED, None),
    ("raw.complaints", "complaint_id_present", {"complaint_id": None}, None),
    ("raw.complaints", "customer_id_present", {"customer_id": None}, None),
    ("raw.complaints", "ts_valid", {"ts": "2024-03-01"}, None),
    ("raw.complaints", "category_known_code", {"category": "weather"}, None),
    ("raw.fraud_reports", "raw_line_well_formed", MALFORMED, None),
    ("raw.fraud_reports", "txn_id_present", {"txn_id": None}, None),
    ("raw.fraud_reports", "reported_at_valid", {"reported_at": "soon"}, None),
    ("raw.fraud_reports", "fraud_type_known_code", {"fraud_type": "unlucky"}, None),
    ("raw.consents", "raw_line_well_formed", MALFORMED, None),
    ("raw.consents", "customer_id_present", {"customer_id": None}, None),
    ("raw.consents", "channel_present", {"channel": None}, None),
    ("raw.consents", "channel_known_code", {"channel": "fax"}, None),
    ("raw.consents", "consent_valid", {"consent": "yes"}, None),
    ("raw.consents", "updated_at_valid", {"updated_at": "2024-03-01"}, None),
    ("raw.do_not_contact", "raw_line_well_formed", MALFORMED, None),
    ("raw.do_not_contact", "customer_id_present", {"customer_id": None}, None),
    ("raw.do_not_contact", "listed_at_valid", {"listed_at": "2024-03-01"}, None),
    ("raw.do_not_contact", "reason_known_code", {"reason": "bored"}, None),
    ("raw.do_not_contact", "phone_format", {"phone": "1381234567"}, None),              # warning
]


class _Context:
    """What a cleaning step reads from the build's state: the lookups and the PII key."""

    def __init__(self, spark):
        self.pii_key = b"rule-test-key-not-a-secret-0123"
        self._spark = spark

    def lookups(self) -> Lookups:
        import datetime as dt
        from decimal import Decimal

        s = self._spark
        return Lookups(
            fx_rates=s.createDataFrame([(dt.date(2024, 3, 1), "USD", Decimal("7.100000")),
                                        (dt.date(2024, 3, 1), "CNY", Decimal("1.000000"))],
                                       "rate_date date, currency string, cny_per_unit decimal(18,6)"),
            accounts=s.createDataFrame([("A0000000001", dt.date(2020, 1, 15), None)],
                                       "account_id string, open_date date, close_date date"),
            delivered_customers=s.createDataFrame([("C00000001",)], "customer_id string"),
        )


def _broken_by_line(lake, settings, spark, raw_table: str, rows: list[dict]) -> dict[int, set[str]]:
    """Line number -> every rule (quarantine or warning) the row breaks, cleaned as the build does."""
    step = next(s for s in STEPS if s.source == raw_table)
    gate = QualityGate(lake, settings, run_id="rules-test")
    cleaned = step.clean(RawWriter(lake).frame(raw_table, BATCH, rows, **FIXED.get(raw_table, {})), _Context(spark))
    flagged = gate.flag(cleaned, step.target)
    warnings = [e for e in gate.suite(step.target).expectations
                if e.severity == "warning" and e.column and e.name]
    out = {}
    for r in flagged.select("_line_number", "_rules_broken",
                            *[broken(e).alias(f"_w{i}") for i, e in enumerate(warnings)]).collect():
        out[r["_line_number"]] = set(r["_rules_broken"]) | {e.name for i, e in enumerate(warnings) if r[f"_w{i}"]}
    return out


@pytest.mark.parametrize("raw_table", sorted(VALID))
def test_each_rule_breaks_on_its_own_row_and_the_valid_row_breaks_none(clean_lake, spark, raw_table):
    lake, settings, _ = clean_lake
    cases = [c for c in CASES if c[0] == raw_table]
    rows = [VALID[raw_table]] + [{**VALID[raw_table], **changed} for _, _, changed, _ in cases]
    got = _broken_by_line(lake, settings, spark, raw_table, rows)
    expected = {2: set()} | {i + 3: (rules or {rule}) for i, (_, rule, _, rules) in enumerate(cases)}
    assert got == expected


def test_every_per_row_rule_of_the_cleaned_suites_has_a_case(clean_lake):
    lake, settings, _ = clean_lake
    gate = QualityGate(lake, settings, run_id="rules-test")
    declared = {(step.source, e.name) for step in STEPS for e in gate.suite(step.target).expectations
                if e.column and e.name and e.type != "expect_column_values_to_be_unique"}
    assert declared == {(table, rule) for table, rule, _, _ in CASES}
