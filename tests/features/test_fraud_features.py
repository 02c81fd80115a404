"""features.transaction_fraud on tiny explicit data: every window's boundaries, the reference, the label."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from finlake.features.fraud import compute_transaction_features

T0 = datetime(2024, 6, 15, 4, 0, 0)  # UTC: 12:00 in Shanghai
JUN, CUTOFF = date(2024, 6, 1), date(2024, 9, 1)
LABEL_COLUMNS = ("is_fraud", "fraud_type", "fraud_reported_date", "label_cutoff", "label_mature")

pytestmark = pytest.mark.xdist_group("features-fraud")


def post(tid, ts, amount=10.0, card="K1", **kw):
    day = (ts + timedelta(hours=8)).date()  # local posting date
    return {"txn_id": tid, "customer_id": kw.pop("customer_id", "C1"), "card_id": card, "ts": ts,
            "business_date": day, "amount": amount, "city_code": kw.pop("city_code", "110000"), **kw}


def features(make, txns, events=(), customers=None, reports=(), start=JUN, end=JUN, cutoff=CUTOFF):
    customers = customers or [{"customer_id": "C1", "city_code": "110000", "valid_from": date(2023, 1, 1)}]
    return compute_transaction_features(make("cleaned.transactions", txns), make("cleaned.app_events", list(events)),
                                        make("cleaned.customers", customers), make("cleaned.fraud_reports", list(reports)),
                                        start, end, cutoff)


def row(df, tid):
    return df.where(df.txn_id == tid)


def test_velocity_windows_count_earlier_postings_on_the_same_card_up_to_exactly_w_seconds_back(make, spark):
    s = timedelta(seconds=1)
    txns = [post("T0", T0, 1.0),
            post("Tsame", T0, 2.0),                                  # same second: not strictly earlier
            post("H", T0 - timedelta(hours=1), 4.0),                 # exactly 1 h back: in 1h
            post("H1", T0 - timedelta(hours=1) - s, 8.0),            # one second more: 24h only
            post("D", T0 - timedelta(days=1), 16.0),                 # exactly 24 h back: in 24h
            post("D1", T0 - timedelta(days=1) - s, 32.0),            # 7d only
            post("W", T0 - timedelta(days=7), 64.0),                 # exactly 7 days back: in 7d
            post("W1", T0 - timedelta(days=7) - s, 128.0),           # outside every window
            post("X", T0 - timedelta(minutes=5), 256.0, card="K2"),  # another card
            post("Later", T0 + s, 512.0)]                            # after: never counted
    got = row(features(make, txns), "T0").select(
        "txn_id", "txn_count_1h", "txn_sum_1h", "txn_count_24h", "txn_sum_24h", "txn_count_7d", "txn_sum_7d")
    expected = spark.createDataFrame([("T0", 1, 4.0, 3, 28.0, 5, 124.0)], got.schema)
    assertDataFrameEqual(got, expected)


def test_non_card_postings_get_no_row_and_do_not_count_in_card_velocity(make):
    txns = [post("T0", T0), post("P", T0 - timedelta(minutes=1), card=None, channel="mobile_app")]
    got = features(make, txns)
    assert [(r.txn_id, r.txn_count_1h) for r in got.collect()] == [("T0", 0)]


def test_novelty_looks_back_180_days_at_all_earlier_postings_of_the_customer(make, spark):
    base = T0 - timedelta(days=180)
    txns = [post("T0", T0, merchant_id="M2", device_id="D1", city_code="310000"),
            post("T1", T0 + timedelta(hours=1), merchant_id="M2", device_id="D1", city_code="310000"),
            post("Old", base, merchant_id="M2", card=None, device_id="D2", city_code="110000"),  # exactly 180 d
            post("Older", base - timedelta(seconds=1), merchant_id="M1", device_id="D1"),        # 180 d + 1 s
            post("T2", T0 + timedelta(hours=2), merchant_id=None, device_id=None, city_code=None)]
    got = features(make, txns).select("txn_id", "new_merchant", "new_device", "new_city")
    expected = spark.createDataFrame([("T0", False, True, True), ("T1", False, False, False),
                                      ("T2", False, False, False)], got.schema)
    assertDataFrameEqual(got, expected)


def test_novelty_does_not_count_a_posting_in_the_same_second(make):
    txns = [post("T0", T0, merchant_id="M5"), post("S", T0, card="K2", merchant_id="M5")]
    assert {r.new_merchant for r in features(make, txns).collect()} == {True}


def test_amount_reference_is_the_median_and_mad_of_card_debits_in_the_90_days_before_the_month(make):
    jun = datetime(2024, 6, 1)
    amounts = [10.0, 20.0, 40.0, 80.0, 160.0]  # ln: median ln 40, MAD = ln 2 * 1 (deviations 2,1,0,1,2 x ln2)
    ref = [post(f"R{i}", jun - timedelta(days=5 + i), a) for i, a in enumerate(amounts)]
    outside = [post("Old", jun - timedelta(days=92), 1e6),       # before the 90 days
               post("Cr", jun - timedelta(days=3), 1e6, direction="credit"),
               post("May31", datetime(2024, 5, 31, 10), 1e6, card=None)]  # not a card posting
    same_month = [post("Early", T0 - timedelta(days=3), 1e6)]   # in June: not in June's reference
    got = row(features(make, ref + outside + same_month + [post("T0", T0, 160.0)]), "T0").first()
    assert got.ref_txn_count_90d == 5
    assert got.amount_median_90d == pytest.approx(40.0)
    assert got.amount_ratio_90d == pytest.approx(4.0)
    assert got.amount_robust_z_90d == pytest.approx(math.log(4) / (1.4826 * math.log(2)))


def test_an_even_reference_count_takes_the_lower_middle_value_for_median_and_mad(make):
    jun = datetime(2024, 6, 1)
    ref = [post(f"R{i}", jun - timedelta(days=5 + i), a) for i, a in enumerate([10.0, 20.0, 80.0, 160.0])]
    got = row(features(make, ref + [post("T0", T0, 160.0)]), "T0").first()
    assert got.ref_txn_count_90d == 4
    assert got.amount_median_90d == pytest.approx(20.0)  # not 80, nor a mean of the two middle values
    # deviations from ln 20 sorted: 0, ln 2, ln 4, ln 8; the MAD is the second, ln 2
    assert got.amount_robust_z_90d == pytest.approx(math.log(8) / (1.4826 * math.log(2)))


def test_without_a_reference_ratio_is_one_and_z_is_zero(make):
    got = features(make, [post("T0", T0, 500.0)]).first()
    assert (got.ref_txn_count_90d, got.amount_median_90d, got.amount_ratio_90d, got.amount_robust_z_90d) == (0, None, 1.0, 0.0)


def test_context_night_distance_and_password_reset(make, spark):
    night = datetime(2024, 6, 14, 19, 30)  # 03:30 local on the 15th
    txns = [post("Home", T0, city_code="110000"),
            post("Near", T0 + timedelta(hours=1), city_code="120000"),   # Tianjin, ~110 km
            post("Far", T0 + timedelta(hours=2), city_code="440300"),
            post("Abroad", T0 + timedelta(hours=3), city_code="TYO", is_international=True),
            post("Night", night, city_code=None)]
    events = [{"event_id": "E1", "customer_id": "C1", "ts": T0 - timedelta(hours=2), "event_type": "password_reset"},
              {"event_id": "E2", "customer_id": "C1", "ts": T0 + timedelta(hours=1), "event_type": "password_reset"},
              {"event_id": "E3", "customer_id": "C1", "ts": T0 - timedelta(minutes=1), "event_type": "login"}]
    got = features(make, txns, events).select("txn_id", "local_hour", "is_night", "distance_class",
                                              "hours_since_password_reset")
    expected = spark.createDataFrame([
        ("Home", 12, False, "home", 2.0),
        ("Near", 13, False, "near", 3.0),          # the reset in the same second does not count
        ("Far", 14, False, "domestic", 1.0),
        ("Abroad", 15, False, "abroad", 2.0),
        ("Night", 3, True, "unknown", 720.0)], got.schema)
    assertDataFrameEqual(got, expected)


def test_password_reset_counts_up_to_720_hours_back(make):
    reset = {"event_id": "E1", "customer_id": "C1", "ts": T0 - timedelta(hours=720) + timedelta(seconds=1),
             "event_type": "password_reset"}
    txns = [post("In", T0), post("Out", T0 + timedelta(seconds=2))]
    got = {r.txn_id: r.hours_since_password_reset for r in features(make, txns, [reset]).collect()}
    assert got["In"] == pytest.approx(720 - 1 / 3600)
    assert got["Out"] == 720.0  # 720 h and one second ago: outside the window, the cap


def test_customer_keyed_inputs_stay_with_their_customer(make):
    customers = [{"customer_id": "C1", "city_code": "110000", "valid_from": date(2023, 1, 1)}]  # C2 has no version
    txns = [post("R", datetime(2024, 5, 20), 50.0, customer_id="C2"), post("T1", T0), post("T2", T0, customer_id="C2")]
    reset = {"event_id": "E", "customer_id": "C2", "ts": T0 - timedelta(hours=1), "event_type": "password_reset"}
    got = {r.txn_id: r for r in features(make, txns, [reset], customers).collect()}
    assert sorted(got) == ["T1", "T2"]
    assert (got["T1"].ref_txn_count_90d, got["T1"].hours_since_password_reset, got["T1"].distance_class) == (0, 720.0, "home")
    assert (got["T2"].ref_txn_count_90d, got["T2"].hours_since_password_reset, got["T2"].distance_class) == (1, 1.0, "unknown")


def test_home_city_is_the_version_in_force_before_the_posting_date(make):
    customers = [{"customer_id": "C1", "city_code": "110000", "valid_from": date(2023, 1, 1), "valid_to": date(2024, 6, 15)},
                 {"customer_id": "C1", "city_code": "440300", "valid_from": date(2024, 6, 15)}]
    got = features(make, [post("T0", T0, city_code="440300")], customers=customers).first()
    assert got.distance_class == "domestic"  # the move delivered on the posting date is not known yet


def test_label_counts_only_reports_that_arrived_before_the_cutoff(make, spark):
    cutoff = date(2024, 8, 25)  # mature: posted before 2024-06-26 (60 days earlier)
    txns = [post("Known", T0), post("Late", T0 + timedelta(hours=1)), post("Recent", datetime(2024, 6, 30, 4))]
    reports = [{"txn_id": "Known", "business_date": date(2024, 7, 20), "fraud_type": "card_testing"},
               {"txn_id": "Late", "business_date": cutoff, "fraud_type": "other"}]
    got = features(make, txns, reports=reports, cutoff=cutoff).select("txn_id", *LABEL_COLUMNS)
    expected = spark.createDataFrame([
        ("Known", True, "card_testing", date(2024, 7, 20), cutoff, True),
        ("Late", False, None, None, cutoff, True),
        ("Recent", False, None, None, cutoff, False)], got.schema)
    assertDataFrameEqual(got, expected)


# --- the point-in-time rule ------------------------------------------------------------------

HISTORY = [post("A", T0 - timedelta(days=40), 30.0, merchant_id="M1", device_id="D1"),
           post("B", T0 - timedelta(days=2), 50.0, merchant_id="M2"),
           post("C", T0 - timedelta(minutes=30), 70.0, merchant_id="M3", city_code="310000"),
           post("T0", T0, 900.0, merchant_id="M3", device_id="D9")]
EVENTS = [{"event_id": "E1", "customer_id": "C1", "ts": T0 - timedelta(hours=5), "event_type": "password_reset"}]
LATER = {
    "posting on the same card in the same second": [post("S", T0, 5.0, merchant_id="M9")],
    "posting a second later": [post("S", T0 + timedelta(seconds=1), 5.0, merchant_id="M9", device_id="D9")],
    "postings next day and next month": [post("S", T0 + timedelta(days=1), 5.0),
                                         post("S2", datetime(2024, 7, 2), 5.0, merchant_id="M1")],
    "password reset in the same second": "reset",
    "customer moved city on the posting date": "move",
}


POINT_IN_TIME_IDS = "txn_id IN ('A', 'B', 'C', 'T0')"


@pytest.fixture(scope="module")
def history_rows(make):
    """Feature columns (labels excluded: they look forward by design) of the history's postings."""
    df = features(make, HISTORY, EVENTS)
    return df.select(*[c for c in df.columns if c not in LABEL_COLUMNS]).where(POINT_IN_TIME_IDS).collect()


@pytest.mark.parametrize("case", sorted(LATER))
def test_events_at_or_after_a_transaction_leave_its_features_unchanged(make, history_rows, case):
    txns, events, customers = list(HISTORY), list(EVENTS), None
    change = LATER[case]
    if change == "reset":
        events.append({"event_id": "E2", "customer_id": "C1", "ts": T0, "event_type": "password_reset"})
    elif change == "move":
        customers = [{"customer_id": "C1", "city_code": "110000", "valid_from": date(2023, 1, 1), "valid_to": T0.date()},
                     {"customer_id": "C1", "city_code": "310000", "valid_from": (T0 + timedelta(hours=8)).date()}]
    else:
        txns += change
    after = features(make, txns, events, customers, end=date(2024, 7, 1)).where(POINT_IN_TIME_IDS)
    assertDataFrameEqual(after.select(*history_rows[0].__fields__), history_rows)


def test_an_earlier_posting_does_change_the_features(make):
    """Counterpart: the point-in-time test data is sensitive to what lies just before ts."""
    cols = ["txn_id", "txn_count_1h", "new_merchant"]
    before = row(features(make, HISTORY, EVENTS), "T0").select(*cols)
    after = row(features(make, HISTORY + [post("P", T0 - timedelta(seconds=1), 1.0, merchant_id="M9")], EVENTS),
                "T0").select(*cols)
    with pytest.raises(AssertionError):
        assertDataFrameEqual(after, before)


def test_the_output_has_the_declared_column_types(make):
    from finlake.catalog import default_catalog

    declared = {f.name: f.dataType for f in default_catalog().get("features.transaction_fraud").schema if f.name != "_run_id"}
    assert {f.name: f.dataType for f in features(make, HISTORY, EVENTS).schema} == declared
