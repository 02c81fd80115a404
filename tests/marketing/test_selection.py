"""Audience selection on tiny explicit data: filters, exclusions, ordering, size limit, holdout, reasons."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date, datetime

import pytest

from finlake.marketing.audiences import (AudienceDefinition, ScoreFilter, TagFilter, excluded_customers,
                                         select_audience)
from finlake.marketing.channels import channel_response_rates, choose_channel, consented_channels

from marketing_helpers import AS_OF, consent_all, customers_with, table

pytestmark = pytest.mark.xdist_group("marketing")

RETENTION = AudienceDefinition(
    campaign="retention", description="d", owner="o", product_type=None, channels=("outbound_call", "sms"),
    tag_filters=(TagFilter("aum_tier", ("affluent", "high_net_worth")),),
    score_filters=(ScoreFilter("scores.churn", decile_max=2),), where=None, probability_table="scores.churn",
    value_column="aum_balance", size_limit=100, control_share=0.0001, seed=7, source_file="test.yaml")


def tags(spark, rows):
    return table(spark, "features.customer_tags",
                 [{"customer_id": c, "as_of": AS_OF, "tag": t, "value": v, "family": "asset", "source": "statistical",
                   "definition": "d", "_run_id": "r"} for c, t, v in rows])


def churn(spark, rows):
    return table(spark, "scores.churn", [{"customer_id": c, "as_of": AS_OF, "probability": p, "decile": d,
                                          "model_name": "finlake-churn", "model_version": "3", "_run_id": "r"}
                                         for c, p, d in rows])


def select(spark, defn, ids, *, aum=None, tag_rows, churn_rows, consents=None, dnc=(), complaints=(), accounts=(),
           contacts=()):
    consents = table(spark, "cleaned.consents", consent_all(spark, ids) if consents is None else consents)
    excluded = excluded_customers(AS_OF, defn.product_type, table(spark, "cleaned.do_not_contact", list(dnc)),
                                  table(spark, "cleaned.complaints", list(complaints)),
                                  table(spark, "cleaned.accounts", list(accounts)))
    rates = channel_response_rates(table(spark, "cleaned.contacts", list(contacts)), AS_OF)
    choice = choose_channel(defn.channels, consented_channels(consents, AS_OF), rates)
    out = select_audience(defn, AS_OF, monthly=customers_with(spark, ids, aum), tags=tags(spark, tag_rows),
                          scores={"scores.churn": churn(spark, churn_rows)}, excluded=excluded,
                          channel_choice=choice, run_id="run-1")
    return {r["customer_id"]: r.asDict() for r in out.collect()}


def test_filters_keep_only_customers_meeting_every_tag_and_score_condition(spark):
    ids = ["c1", "c2", "c3", "c4"]
    got = select(spark, RETENTION, ids,
                 tag_rows=[("c1", "aum_tier", "affluent"), ("c2", "aum_tier", "mass"),
                           ("c3", "aum_tier", "high_net_worth"), ("c4", "aum_tier", "affluent")],
                 churn_rows=[("c1", 0.9, 1), ("c2", 0.9, 1), ("c3", 0.5, 2), ("c4", 0.2, 3)])
    assert set(got) == {"c1", "c3"}
    assert got["c1"]["reason"] == "aum_tier=affluent; churn decile 1 (p=0.90); expected value 90000"
    assert got["c1"]["model_versions"] == "finlake-churn:3"


def test_order_is_probability_times_value_and_the_size_limit_keeps_the_best(spark):
    ids = ["c1", "c2", "c3"]
    got = select(spark, replace(RETENTION, size_limit=2), ids, aum={"c1": 100_000, "c2": 1_000_000, "c3": 500_000},
                 tag_rows=[(c, "aum_tier", "affluent") for c in ids],
                 churn_rows=[("c1", 0.9, 1), ("c2", 0.2, 2), ("c3", 0.5, 1)])
    # expected values: c1 90k, c2 200k, c3 250k
    assert {c: r["rank"] for c, r in got.items()} == {"c3": 1, "c2": 2}
    assert got["c3"]["expected_value"] == pytest.approx(250_000)


def test_exclusions_opt_out_do_not_contact_recent_complaint_and_owned_product(spark):
    ids = [f"c{i}" for i in range(1, 9)]
    opted_out_later = datetime(2024, 12, 1)
    consents = [r for r in consent_all(spark, ids) if r["customer_id"] not in ("c2", "c8")]
    consents += consent_all(spark, ["c2"], channels=("outbound_call", "sms"), consent=False, at=opted_out_later)
    consents += [r for r in consent_all(spark, ["c2"]) if r["channel"] in ("outbound_call", "sms")]
    # c8 has no consent rows at all: never contacted
    defn = replace(RETENTION, product_type="wealth")
    got = select(
        spark, defn, ids, consents=consents,
        tag_rows=[(c, "aum_tier", "affluent") for c in ids], churn_rows=[(c, 0.5, 1) for c in ids],
        dnc=[{"customer_id": "c3", "listed_at": datetime(2024, 3, 1), "business_date": date(2024, 3, 1), "reason": "regulator"},
             {"customer_id": "c7", "listed_at": datetime(2025, 1, 5), "business_date": date(2025, 1, 5), "reason": "complaint"}],
        complaints=[{"complaint_id": "k1", "customer_id": "c4", "ts": datetime(2024, 12, 20), "business_date": date(2024, 12, 20)},
                    {"complaint_id": "k2", "customer_id": "c5", "ts": datetime(2024, 11, 20), "business_date": date(2024, 11, 20)}],
        accounts=[{"account_id": "a1", "customer_id": "c6", "product_type": "wealth", "status": "active"},
                  {"account_id": "a2", "customer_id": "c1", "product_type": "wealth", "status": "closed"}],
    )
    # c2 opted out of both allowed channels, c3 on the DNC list, c4 complained 12 days before,
    # c6 owns an active wealth account, c8 never consented. c5's complaint is 42 days old; c7
    # was listed after the cut-off; c1's wealth account is closed.
    assert set(got) == {"c1", "c5", "c7"}


def test_opt_out_of_one_channel_moves_the_customer_to_the_next_consented_one(spark):
    consents = consent_all(spark, ["c1"], channels=("sms",)) + consent_all(spark, ["c1"], channels=("outbound_call",), consent=False)
    got = select(spark, RETENTION, ["c1"], consents=consents,
                 tag_rows=[("c1", "aum_tier", "affluent")], churn_rows=[("c1", 0.5, 1)])
    assert got["c1"]["channel"] == "sms"


def test_preferred_channel_is_the_one_the_customer_responded_to(spark):
    contacts = [{"contact_id": f"k{i}", "customer_id": "c1", "channel": ch, "outcome": out,
                 "ts": datetime(2024, 10, 1), "business_date": date(2024, 10, 1)}
                for i, (ch, out) in enumerate([("outbound_call", "delivered"), ("outbound_call", "delivered"),
                                               ("sms", "responded")])]
    got = select(spark, RETENTION, ["c1", "c2"], contacts=contacts,
                 tag_rows=[(c, "aum_tier", "affluent") for c in ("c1", "c2")], churn_rows=[("c1", 0.5, 1), ("c2", 0.5, 1)])
    # c1 answered SMS, not calls; c2 has no history and gets the campaign's first channel
    assert (got["c1"]["channel"], got["c2"]["channel"]) == ("sms", "outbound_call")


def expected_control(seed, customer_id, share):
    digest = hashlib.sha256(f"{seed}:{customer_id}".encode()).hexdigest()
    return int(digest[:8], 16) / 16 ** 8 < share


def test_control_group_is_drawn_from_seed_and_customer_id_and_has_no_channel(spark):
    ids = [f"c{i:02d}" for i in range(40)]
    defn = replace(RETENTION, control_share=0.3, seed=11)
    got = select(spark, defn, ids, tag_rows=[(c, "aum_tier", "affluent") for c in ids],
                 churn_rows=[(c, 0.5, 1) for c in ids])
    control = {c for c, r in got.items() if r["status"] == "control"}
    assert control == {c for c in ids if expected_control(11, c, 0.3)}
    assert 0 < len(control) < len(ids)
    assert all(got[c]["channel"] is None for c in control)
    assert {r["status"] for c, r in got.items() if c not in control} == {"contact"}
