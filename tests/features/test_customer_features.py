"""features.customer_monthly on tiny explicit data: windows, defaults and the point-in-time rule."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from finlake.features.customer import (
    ATTRIBUTION_WINDOW_DAYS, CustomerInputs, app_features, balance_features, compute_customer_features, holding_features,
    service_features, transaction_features,
)
from finlake.features.reference import PRODUCT_TYPES
from finlake.quality.gate import DEFAULT_EXPECTATIONS_DIR
from finlake.quality.suites import load_suite, suite_path

pytestmark = pytest.mark.xdist_group("features-customer")

D = date(2024, 7, 1)  # the cut-off under test
FEB, DEC = date(2024, 2, 1), date(2024, 12, 1)
NEXT = date(2024, 8, 1)  # the cut-off after D


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


def days_before(n: int) -> date:
    return D - timedelta(days=n)


def txn(tid, day, amount=10.0, **kw):
    return {"txn_id": tid, "customer_id": kw.pop("customer_id", "C1"), "ts": at(day), "business_date": day,
            "amount": amount, **kw}


def only(df, *cols, as_of=D):
    return df.where(df.as_of == as_of).select("customer_id", "as_of", *cols)


def test_transaction_windows_include_their_first_day_and_exclude_the_cutoff_day(make, spark):
    rows = [txn("T30", days_before(30), mcc="5411"), txn("T31", days_before(31), mcc="5411"),
            txn("T90", days_before(90), mcc="5812"), txn("T91", days_before(91), mcc="5812"),
            txn("T180", days_before(180), mcc="5812"), txn("T181", days_before(181), mcc="5812"),
            txn("T0", D, mcc="5411", amount=999.0)]
    got = only(transaction_features(make("cleaned.transactions", rows), FEB, DEC),
               "days_since_last_txn", "txn_count_30d", "txn_count_90d", "txn_count_180d", "txn_count_prev_90d",
               "spend_30d", "spend_90d", "spend_180d", "share_grocery_90d", "share_dining_90d")
    expected = spark.createDataFrame(
        [("C1", D, 30, 1, 3, 5, 2, 10.0, 30.0, 50.0, 2 / 3, 1 / 3)], got.schema)
    assertDataFrameEqual(got, expected)


def test_share_other_sums_purchases_outside_the_families_and_is_exactly_zero_without_them(make, spark):
    d1, d2 = days_before(3), days_before(4)
    rows = [txn("A1", d1, 0.1, mcc="5411"), txn("A2", d1, 0.2, mcc="5812"), txn("A3", d2, 0.3, mcc="5411"),
            txn("B1", d1, 30.0, mcc="5411", customer_id="C2"), txn("B2", d2, 10.0, mcc="5999", customer_id="C2")]
    got = {r["customer_id"]: r for r in only(transaction_features(make("cleaned.transactions", rows), D, D),
                                             "share_grocery_90d", "share_other_90d").collect()}
    assert got["C1"]["share_other_90d"] == 0.0  # 1 - (0.4 + 0.2) / 0.6 would leave float residue here
    assert (got["C2"]["share_grocery_90d"], got["C2"]["share_other_90d"]) == (0.75, 0.25)


def test_spend_excludes_credits_cash_and_transfers_and_flows_to_other_banks_are_split_by_direction(make, spark):
    day = days_before(5)
    # The core system's month-end postings (interest, repayments ...) count nowhere: not even as a
    # posting, in a channel share or in the recency.
    system = [txn("S1", day, 700.0, channel="system", direction="credit"),
              txn("S2", days_before(1), 90.0, channel="system", mcc="5812", counterparty_bank="ICBC")]
    rows = system + [txn("T1", day, 100.0, mcc="5812"),
            txn("T2", day, 40.0, mcc="6011", channel="atm"),
            txn("T3", day, 500.0, direction="credit", counterparty_bank="CCB", channel="online"),
            txn("T4", day, 300.0, counterparty_bank="ICBC", channel="mobile_app"),
            txn("T5", day, 20.0, mcc="5812", direction="credit")]
    got = only(transaction_features(make("cleaned.transactions", rows), D, D),
               "days_since_last_txn", "txn_count_30d", "spend_count_30d", "spend_30d", "outflow_90d",
               "inflow_other_banks_90d", "net_outflow_90d", "share_pos_90d", "share_atm_90d", "share_online_90d",
               "share_mobile_app_90d")
    expected = spark.createDataFrame([("C1", D, 5, 5, 1, 100.0, 300.0, 500.0, -200.0, 0.4, 0.2, 0.2, 0.2)], got.schema)
    assertDataFrameEqual(got, expected)


def test_trend_compares_the_last_90_days_with_the_90_before(make, spark):
    rows = [txn("A1", days_before(10))] + [txn(f"B{i}", days_before(100 + i)) for i in range(3)]
    got = only(transaction_features(make("cleaned.transactions", rows), D, D), "txn_count_90d", "txn_count_prev_90d",
               "txn_trend")
    assertDataFrameEqual(got, spark.createDataFrame([("C1", D, 1, 3, math.log(2 / 4))], got.schema))


def test_balances_come_from_the_month_end_before_the_cutoff_and_trend_against_three_months(make, spark):
    accounts = make("cleaned.accounts", [{"account_id": "A1", "customer_id": "C1"},
                                         {"account_id": "A2", "customer_id": "C1", "product_type": "fund"},
                                         {"account_id": "A3", "customer_id": "C1", "product_type": "credit_card"}])
    bal = make("cleaned.balances", [
        {"account_id": "A1", "month_end": date(2024, 6, 30), "balance": 900.0},
        {"account_id": "A2", "month_end": date(2024, 6, 30), "balance": 100.0},
        {"account_id": "A3", "month_end": date(2024, 6, 30), "balance": -50.0},
        {"account_id": "A1", "month_end": date(2024, 5, 31), "balance": 200.0},
        {"account_id": "A1", "month_end": date(2024, 4, 30), "balance": 400.0},
        {"account_id": "A1", "month_end": date(2024, 2, 29), "balance": 10_000.0},  # 4 months back: not in the mean
        {"account_id": "A1", "month_end": date(2024, 7, 31), "balance": 5.0},  # after the cut-off
    ])
    got = only(balance_features(bal, accounts, D, D), "aum_balance", "deposit_balance", "investment_balance",
               "debt_balance", "aum_prev_3m_avg")
    assertDataFrameEqual(got, spark.createDataFrame([("C1", D, 1000.0, 900.0, 100.0, 50.0, 300.0)], got.schema))


def test_holdings_count_accounts_open_at_the_cutoff(make, spark):
    accounts = make("cleaned.accounts", [
        {"account_id": "A1", "customer_id": "C1"},
        {"account_id": "A2", "customer_id": "C1", "product_type": "wealth", "open_date": days_before(90)},
        {"account_id": "A3", "customer_id": "C1", "product_type": "fund", "open_date": D},  # opens at the cut-off
        {"account_id": "A4", "customer_id": "C1", "product_type": "mortgage", "close_date": days_before(1)},
        {"account_id": "A5", "customer_id": "C1", "product_type": "insurance", "close_date": D},  # still open on D-1
        {"account_id": "A6", "customer_id": "C1"},  # a second savings account: one more account, no new product
    ])
    got = only(holding_features(accounts, D, D), "accounts_open", "products_held", "has_wealth", "has_fund",
               "has_mortgage", "has_insurance", "accounts_opened_90d", "accounts_closed_90d")
    assertDataFrameEqual(got, spark.createDataFrame([("C1", D, 4, 3, True, False, False, True, 1, 1)], got.schema))


def test_products_held_relies_on_the_accounts_suite_quarantining_unknown_product_types():
    """holding_features counts products as the sum of its has_<type> flags: exact only while the
    cleaned gate quarantines every product_type outside PRODUCT_TYPES."""
    suite = load_suite(suite_path(DEFAULT_EXPECTATIONS_DIR, "cleaned.accounts"), "cleaned.accounts")
    rule = suite.get("product_type_known_code")
    assert rule.quarantine and rule.severity == "blocking"
    assert set(rule.kwargs["value_set"]) == set(PRODUCT_TYPES)


def test_app_engagement_counts_events_and_recency_of_the_last_login(make, spark):
    ev = make("cleaned.app_events", [
        {"event_id": "E1", "customer_id": "C1", "ts": at(days_before(3)), "event_type": "login"},
        {"event_id": "E2", "customer_id": "C1", "ts": at(days_before(40)), "event_type": "login"},
        {"event_id": "E3", "customer_id": "C1", "ts": at(days_before(2)), "event_type": "product_view"},
        {"event_id": "E4", "customer_id": "C1", "ts": at(days_before(60)), "event_type": "apply_start"},
        {"event_id": "E5", "customer_id": "C1", "ts": at(days_before(60)), "event_type": "apply_submit"},
        {"event_id": "E6", "customer_id": "C1", "ts": at(days_before(1)), "event_type": "page_view"},
        {"event_id": "E7", "customer_id": "C1", "ts": at(D), "event_type": "login"},
    ])
    got = only(app_features(ev, D, D), "login_count_30d", "login_count_90d", "product_view_count_30d",
               "apply_start_count_90d", "apply_submit_count_90d", "days_since_last_login")
    assertDataFrameEqual(got, spark.createDataFrame([("C1", D, 1, 2, 1, 1, 1, 3)], got.schema))


def test_control_group_rows_are_not_contacts(make, spark):
    contacts = make("cleaned.contacts", [
        {"contact_id": "K1", "customer_id": "C1", "ts": at(days_before(40)), "outcome": "converted"},
        {"contact_id": "K2", "customer_id": "C1", "ts": at(days_before(20)), "outcome": "opened"},
        {"contact_id": "K3", "customer_id": "C1", "ts": at(days_before(40)), "control_group": True, "channel": None,
         "outcome": "converted"},
    ])
    complaints = make("cleaned.complaints", [{"complaint_id": "Q1", "customer_id": "C1", "ts": at(days_before(120))}])
    got = only(service_features(complaints, contacts, D, D), "complaints_90d", "complaints_180d", "contacts_90d",
               "responses_90d", "conversions_90d")
    assertDataFrameEqual(got, spark.createDataFrame([("C1", D, 0, 1, 2, 1, 1)], got.schema))


def test_outcomes_count_for_the_90_days_before_the_attribution_window_contacts_for_the_last_90(make, spark):
    assert ATTRIBUTION_WINDOW_DAYS == 30  # the lags below are its boundaries
    lags = {30: "converted", 31: "converted", 90: "responded", 91: "responded", 120: "converted", 121: "converted"}
    contacts = make("cleaned.contacts", [{"contact_id": f"K{lag}", "customer_id": "C1", "ts": at(days_before(lag)),
                                          "outcome": outcome} for lag, outcome in lags.items()])
    complaints = make("cleaned.complaints", [])
    got = only(service_features(complaints, contacts, D, D), "contacts_90d", "responses_90d", "conversions_90d")
    # contacts: lags 30, 31, 90; outcomes: lags 31..120, i.e. 31, 90, 91, 120 (converted: 31, 120)
    assertDataFrameEqual(got, spark.createDataFrame([("C1", D, 3, 4, 2)], got.schema))


# --- the point-in-time rule ------------------------------------------------------------------

def _history(make) -> dict[str, list[dict]]:
    """Two customers with a bit of everything before D."""
    return {
        "cleaned.customers": [{"customer_id": "C1", "birth_year": 1980, "open_date": date(2019, 3, 15)},
                              {"customer_id": "C2", "birth_year": 1960, "city_code": "310000"}],
        "cleaned.accounts": [{"account_id": "A1", "customer_id": "C1"},
                             {"account_id": "A2", "customer_id": "C2", "product_type": "wealth"},
                             {"account_id": "A3", "customer_id": "C2", "open_date": date(2024, 5, 3)}],
        "cleaned.transactions": [txn("T1", days_before(3), 120.0, mcc="5411"),
                                 txn("T2", days_before(45), 80.0, mcc="4511", is_international=True),
                                 txn("T3", days_before(100), 5000.0, counterparty_bank="CMB", channel="online"),
                                 txn("T4", days_before(1), 60.0, mcc="5812", customer_id="C2", card_id="K2")],
        "cleaned.balances": [{"account_id": "A1", "month_end": date(2024, 6, 30), "balance": 20_000.0},
                             {"account_id": "A2", "month_end": date(2024, 6, 30), "balance": 500_000.0},
                             {"account_id": "A2", "month_end": date(2024, 5, 31), "balance": 450_000.0}],
        "cleaned.app_events": [{"event_id": "E1", "customer_id": "C1", "ts": at(days_before(2))}],
        "cleaned.complaints": [{"complaint_id": "Q1", "customer_id": "C2", "ts": at(days_before(30))}],
        "cleaned.contacts": [{"contact_id": "K1", "customer_id": "C1", "ts": at(days_before(9)), "outcome": "responded"}],
        "cleaned.fraud_reports": [{"txn_id": "T2", "business_date": days_before(5)}],
    }


# Each: (table, rows added at or after D, or a change to an existing row moved to D or later).
FUTURE_EVENTS = {
    "new transaction on D": ("cleaned.transactions", [txn("T9", D, 1e6, mcc="5411", counterparty_bank="ICBC")]),
    "new transaction after D": ("cleaned.transactions", [txn("T9", D + timedelta(days=20), 50.0, customer_id="C2")]),
    "app events on D": ("cleaned.app_events", [{"event_id": "E9", "customer_id": "C1", "ts": at(D, 0)},
                                               {"event_id": "E8", "customer_id": "C2", "ts": at(D), "event_type": "apply_start"}]),
    "complaint on D": ("cleaned.complaints", [{"complaint_id": "Q9", "customer_id": "C1", "ts": at(D)}]),
    "contact on D": ("cleaned.contacts", [{"contact_id": "K9", "customer_id": "C2", "ts": at(D), "outcome": "converted"}]),
    "fraud report arriving on D": ("cleaned.fraud_reports", [{"txn_id": "T1", "business_date": D}]),
    "balance of the next month end": ("cleaned.balances", [{"account_id": "A1", "month_end": date(2024, 7, 31), "balance": 1.0}]),
    "account opened on D": ("cleaned.accounts", [{"account_id": "A9", "customer_id": "C1", "product_type": "mortgage",
                                                  "open_date": D}]),
    "customer moved city on D": ("cleaned.customers", [{"customer_id": "C1", "birth_year": 1980, "open_date": date(2019, 3, 15),
                                                        "city_code": "440100", "valid_from": D}]),
    "new customer opened on D": ("cleaned.customers", [{"customer_id": "C3", "valid_from": D, "open_date": D}]),
}


def _features(make, history, as_of=D):
    frames = {t: make(t, rows) for t, rows in history.items()}
    inputs = CustomerInputs(*(frames[f"cleaned.{n}"] for n in (
        "customers", "accounts", "transactions", "balances", "app_events", "complaints", "contacts", "fraud_reports")))
    features = compute_customer_features(inputs, FEB, DEC)
    return features if as_of is None else features.where(f"as_of = DATE'{as_of}'")


@pytest.fixture(scope="module")
def rows_at_d(make):
    """customer_monthly rows of D from the history alone, collected once for the module."""
    return _features(make, _history(make)).collect()


def _with_future_event(history: dict[str, list[dict]], case: str) -> dict[str, list[dict]]:
    table, rows = FUTURE_EVENTS[case]
    changed = {t: list(r) for t, r in history.items()}
    if table == "cleaned.customers" and rows[0]["customer_id"] == "C1":
        # SCD2: the change closes the old version at D and opens a new one from D.
        changed[table] = [dict(r, valid_to=D, is_current=False) if r["customer_id"] == "C1" else r
                          for r in changed[table]]
    changed[table] = changed[table] + rows
    return changed


# The keys of one customer's records: prefixed with a case name, the histories of several cases
# live side by side in one set of tables without meeting.
CASE_KEYS = ("customer_id", "account_id", "txn_id", "card_id", "event_id", "complaint_id", "contact_id")
BASE = "history alone"


@pytest.fixture(scope="module")
def rows_at_d_by_case(make):
    """customer_monthly rows of D for the history alone and for each FUTURE_EVENTS case, from one
    computation over all of them side by side (each case's keys prefixed with its name); keys
    unprefixed again. One computation instead of twelve: each costs about 5 s of Spark planning
    whatever the few rows. The history-alone case must equal ``rows_at_d``, computed on its own
    (test below): cases sharing the tables do not change each other's rows."""
    combined: dict[str, list[dict]] = {}
    for case in (BASE, *FUTURE_EVENTS):
        history = _history(make) if case == BASE else _with_future_event(_history(make), case)
        for table, rows in history.items():
            combined.setdefault(table, []).extend(
                {k: f"{case}|{v}" if k in CASE_KEYS and v is not None else v for k, v in r.items()} for r in rows)
    by_case: dict[str, list[Row]] = {case: [] for case in (BASE, *FUTURE_EVENTS)}
    for row in _features(make, combined).collect():
        case, customer = row.customer_id.split("|")
        by_case[case].append(Row(**{**row.asDict(), "customer_id": customer}))
    return by_case


def test_cases_computed_side_by_side_give_the_rows_of_each_alone(rows_at_d, rows_at_d_by_case):
    assertDataFrameEqual(rows_at_d_by_case[BASE], rows_at_d)


@pytest.mark.parametrize("case", sorted(FUTURE_EVENTS))
def test_events_at_or_after_the_cutoff_leave_its_rows_unchanged(rows_at_d, rows_at_d_by_case, case):
    assertDataFrameEqual(rows_at_d_by_case[case], rows_at_d)


def test_changing_an_event_the_day_before_the_cutoff_does_change_its_rows(make, rows_at_d):
    """The counterpart of the point-in-time test: the test data is sensitive to the last visible day."""
    history = _history(make)
    changed = dict(history, **{"cleaned.transactions": history["cleaned.transactions"]
                               + [txn("T8", days_before(1), 5.0, mcc="5411")]})
    with pytest.raises(AssertionError):
        assertDataFrameEqual(_features(make, changed), rows_at_d)


def test_a_contact_outcome_counts_only_once_its_attribution_window_has_closed(make):
    """A contact on D - 5 may convert on D or later: at D its outcome is unknown, so 'converted'
    and 'delivered' give the same rows; the next cut-off, 36 days on, counts the conversion."""
    history = _history(make)
    by_outcome = {}
    for outcome in ("delivered", "converted"):
        late = {"contact_id": "K8", "customer_id": "C1", "ts": at(days_before(5)), "outcome": outcome}
        by_outcome[outcome] = dict(history, **{"cleaned.contacts": history["cleaned.contacts"] + [late]})
    rows = {o: _features(make, h, as_of=None).where(f"as_of IN (DATE'{D}', DATE'{NEXT}')").collect()
            for o, h in by_outcome.items()}  # one computation per history gives every cut-off

    def rows_of(outcome, cutoff):
        return [r for r in rows[outcome] if r.as_of == cutoff]

    def outcomes_of_c1(outcome, cutoff):
        c1 = next(r for r in rows_of(outcome, cutoff) if r.customer_id == "C1")
        return c1.contacts_90d, c1.responses_90d, c1.conversions_90d

    assertDataFrameEqual(rows_of("converted", D), rows_of("delivered", D))
    assert outcomes_of_c1("converted", D) == (2, 0, 0)  # K1 (D - 9) is in its window too
    assert outcomes_of_c1("delivered", NEXT) == (2, 1, 0)  # K1 responded: its window closed too
    assert outcomes_of_c1("converted", NEXT) == (2, 2, 1)


def test_a_customer_without_events_gets_the_documented_defaults(make, rows_at_d):
    history = _history(make)
    row = next(r for r in rows_at_d if r.customer_id == "C1").asDict()
    other = _features(make, dict(history, **{"cleaned.customers": history["cleaned.customers"]
                                             + [{"customer_id": "C4", "birth_year": None, "open_date": None}]}))
    quiet = other.where("customer_id = 'C4'").first().asDict()
    assert row["fraud_victim"] is True and row["intl_spend_share_90d"] == 80.0 / 200.0
    assert (quiet["age"], quiet["age_band"], quiet["tenure_months"], quiet["days_since_last_txn"],
            quiet["days_since_last_login"], quiet["txn_count_90d"], quiet["aum_balance"], quiet["balance_trend"],
            quiet["accounts_open"], quiet["has_savings"], quiet["fraud_victim"], quiet["share_grocery_90d"]) == (
        None, "unknown", 0, 181, 181, 0, 0.0, 0.0, 0, False, False, 0.0)


def test_closed_customers_get_no_row(make):
    history = _history(make)
    history["cleaned.customers"] = [dict(r, status="closed") if r["customer_id"] == "C2" else r
                                    for r in history["cleaned.customers"]]
    assert [r.customer_id for r in _features(make, history).collect()] == ["C1"]


def test_the_output_has_the_declared_column_types(make):
    from finlake.catalog import default_catalog

    declared = {f.name: f.dataType for f in default_catalog().get("features.customer_monthly").schema if f.name != "_run_id"}
    got = {f.name: f.dataType for f in _features(make, _history(make)).schema}
    assert got == declared
