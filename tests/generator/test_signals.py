"""The planted signals are in the landing files, where the models will look for them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

PATTERNS = {"card_testing", "account_takeover", "impossible_travel", "compromised_merchant"}


@pytest.fixture(scope="session")
def churn(landing) -> pd.DataFrame:
    return landing.truth("churn")


def test_yearly_churn_is_about_ten_to_fifteen_percent(churn):
    assert 0.08 <= churn["churn_date"].notna().mean() <= 0.17


def _before_churn(churn: pd.DataFrame, daily: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per customer, the sum of ``daily`` (customer_id, day, value) in the 90 days before each
    churner's churn date, for churners and for non-churners over the same calendar windows."""
    churners = churn[pd.to_datetime(churn["churn_date"]) >= pd.Timestamp("2024-05-01")]
    stayers = churn.loc[churn["churn_date"].isna(), "customer_id"]
    mine, theirs = [], []
    for end, group in churners.groupby(pd.to_datetime(churners["churn_date"]).dt.to_period("M")):
        stop = end.to_timestamp()
        window = daily[(daily["day"] >= stop - pd.Timedelta(days=90)) & (daily["day"] < stop)].groupby("customer_id")["value"].sum()
        mine.append(window.reindex(group["customer_id"], fill_value=0))
        theirs.append(window.reindex(stayers, fill_value=0).sample(len(group) * 5, replace=True, random_state=0))
    return pd.concat(mine), pd.concat(theirs)


def test_churners_are_clearly_less_active_in_the_90_days_before_churning(churn, transactions):
    """Each churner's last 90 days against non-churners over the same calendar window."""
    daily = transactions.assign(day=transactions["ts"].dt.floor("D"), value=1)
    churners, stayers = _before_churn(churn, daily)
    assert len(churners) >= 30
    assert churners.mean() < 0.6 * stayers.mean(), (churners.mean(), stayers.mean())


def test_churners_move_money_to_other_banks_before_leaving(churn, transactions):
    out = transactions[(transactions["direction"] == "debit") & (transactions["counterparty_bank"] != "")]
    daily = out.assign(day=out["ts"].dt.floor("D"), value=out["amount"])
    churners, stayers = _before_churn(churn, daily)
    assert churners.median() > 3 * stayers.median(), (churners.median(), stayers.median())


def test_churners_complain_more_before_leaving(churn, landing, read_csv):
    complaints = read_csv(landing, "complaints")
    daily = complaints.assign(day=pd.to_datetime(complaints["ts"]).dt.floor("D"), value=1)
    churners, stayers = _before_churn(churn, daily)
    assert churners.mean() > 2 * stayers.mean(), (churners.mean(), stayers.mean())


def test_churn_oracle_probabilities_are_calibrated_and_informative(landing):
    monthly = landing.truth("churn_monthly").dropna(subset=["churned_90d"])
    churned = monthly["churned_90d"].astype(bool)
    assert abs(monthly["p_churn_90d"].mean() - churned.mean()) < 0.02
    assert monthly.loc[churned, "p_churn_90d"].mean() > 5 * monthly.loc[~churned, "p_churn_90d"].mean()


def test_fraud_is_a_tenth_to_three_tenths_percent_of_card_transactions_with_every_pattern(landing, transactions):
    fraud = landing.truth("fraud")
    card = transactions[transactions["card_id"] != ""].merge(fraud, on="txn_id")
    rate = card["is_fraud"].mean()
    assert 0.001 <= rate <= 0.003, rate
    assert PATTERNS <= set(fraud.loc[fraud["is_fraud"], "fraud_type"])
    assert set(fraud["p_fraud"].between(0, 1)) == {True}


def test_fraud_patterns_leave_their_signature(landing, transactions, read_csv):
    fraud = landing.truth("fraud")
    t = transactions.merge(fraud, on="txn_id")
    testing = t[t["fraud_type"] == "card_testing"]
    assert (testing["amount"] < 10).mean() > 0.7  # tiny probing payments
    assert testing["merchant_id"].str.startswith("M99").all()  # at merchants nobody else uses
    takeover = t[(t["fraud_type"] == "account_takeover") & (t["channel"] == "mobile_app")]
    assert (takeover["ts"].dt.hour < 6).all() and (takeover["counterparty_bank"] != "").all()
    events = [json.loads(x) for b in landing.batches("app_events") for x in landing.data_file(b).read_text(encoding="utf-8").splitlines() if x.endswith("}}")]
    resets = {e["customer_id"] for e in events if e["event_type"] == "password_reset"}
    assert set(takeover["customer_id"]) <= resets


def test_personas_differ_in_the_features_they_should(landing, transactions, customers, read_csv):
    personas = landing.truth("personas").set_index("customer_id")["persona"]
    balances = read_csv(landing, "balances")
    balances["balance"] = pd.to_numeric(balances["balance"], errors="coerce")
    # Account ids embed the customer number (A + 8 digits of the customer + 2 of the account).
    positive = balances[balances["balance"] > 0]
    aum = positive.groupby("C" + positive["account_id"].str[1:9])["balance"].sum() / 12
    age = 2024 - pd.to_numeric(customers.set_index("customer_id")["birth_date"].str[:4], errors="coerce")
    spend = transactions[transactions["card_id"] != ""].groupby("customer_id")["amount"].median()
    count = transactions.groupby("customer_id").size()
    apps = transactions[transactions["channel"] == "third_party_pay"].groupby("customer_id").size() / count
    features = pd.DataFrame({"persona": personas, "aum": aum, "age": age, "spend": spend, "count": count, "third_party": apps})
    by = features.groupby("persona").median()
    assert by["aum"].idxmax() == "affluent_investor"
    assert by["age"].idxmax() == "retired_saver" and by["age"].idxmin() == "student"
    assert by["count"].fillna(0).idxmin() == "dormant"
    assert by["third_party"].idxmax() in {"student", "young_digital"}
    assert by.loc["affluent_investor", "spend"] > by.loc["student", "spend"] * 3


def test_campaign_responses_are_one_to_five_percent_and_follow_affinity(landing, read_csv):
    contacts = read_csv(landing, "contacts")
    treated = contacts[contacts["control_group"] == "N"]
    control = contacts[contacts["control_group"] == "Y"]
    responded = treated["outcome"].isin(["responded", "converted"]).mean()
    assert 0.01 <= responded <= 0.05, responded
    assert (control["channel"] == "").all() and set(control["outcome"]) <= {"", "converted"}
    truth = landing.truth("contacts")
    assert np.isclose(truth.loc[truth["contact_id"].isin(treated["contact_id"]), "p_response"].mean(), responded, atol=0.015)
