"""Audience definitions and the contact policy: the shipped files load; bad ones name file and field."""

from __future__ import annotations

import pytest
import yaml

from finlake.catalog import PROJECT_ROOT
from finlake.marketing.audiences import AudienceDefinitionError, load_definition, load_definitions
from finlake.marketing.channels import ContactPolicyError, load_contact_policy

GOOD = {
    "campaign": "retention", "description": "d", "owner": "o", "product_type": None,
    "channels": ["outbound_call", "sms"],
    "filters": {"tags": [{"tag": "aum_tier", "in": ["affluent"]}], "scores": [{"table": "scores.churn", "decile_max": 2}]},
    "expected_value": {"probability": "scores.churn", "value": "aum_balance"},
    "size_limit": 10, "control_share": 0.1, "seed": 1,
}


def write(tmp_path, doc, name="def.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_shipped_definitions_and_policy_load_and_every_campaign_has_a_priority():
    defs = load_definitions(PROJECT_ROOT / "conf" / "audiences")
    assert {d.campaign for d in defs} == {"retention", "wealth_cross_sell", "card_activation"}
    policy = load_contact_policy(PROJECT_ROOT / "conf" / "contact_policy.yaml")
    policy.check_campaigns([d.campaign for d in defs])
    retention = next(d for d in defs if d.campaign == "retention")
    assert retention.score_filters[0].decile_max == 2
    assert retention.tag_filters[0].values == ("affluent", "high_net_worth", "private_banking")


def test_a_valid_definition_parses(tmp_path):
    d = load_definition(write(tmp_path, GOOD))
    assert (d.table, d.channels, d.probability_table, d.value_column) == (
        "audiences.retention", ("outbound_call", "sms"), "scores.churn", "aum_balance")


@pytest.mark.parametrize("change, field", [
    ({"campaign": "Bad-Name"}, "campaign"),
    ({"campaign": "undeclared_campaign"}, "campaign"),
    ({"channels": ["fax"]}, "channels"),
    ({"product_type": "yacht"}, "product_type"),
    ({"size_limit": 0}, "size_limit"),
    ({"control_share": 0}, "control_share"),
    ({"control_share": 1.5}, "control_share"),
    ({"seed": "abc"}, "seed"),
    ({"expected_value": {"value": "no_such_column"}}, "expected_value.value"),
    ({"expected_value": {"value": "aum_balance", "probability": "scores.nope"}}, "expected_value.probability"),
    ({"filters": {"scores": [{"table": "scores.churn", "decile_max": 11}]}}, "filters.scores[0].decile_max"),
    ({"filters": {"scores": [{"table": "scores.churn"}]}}, "filters.scores[0]"),
    ({"filters": {"tags": [{"name": "x"}]}}, "filters.tags[0]"),
    ({"filters": {"tags": [{"tag": "x", "in": []}]}}, "filters.tags[0].in"),
    ({"colour": "red"}, "colour"),
    ({"owner": None}, "owner"),
])
def test_a_bad_definition_names_the_file_and_the_field(tmp_path, change, field):
    path = write(tmp_path, {**GOOD, **change})
    with pytest.raises(AudienceDefinitionError) as err:
        load_definition(path)
    assert str(path) in str(err.value) and f"field '{field}'" in str(err.value)


def test_two_files_defining_one_campaign_are_refused(tmp_path):
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(AudienceDefinitionError, match="also defined in"):
        load_definitions(tmp_path)


@pytest.mark.parametrize("doc, field", [
    ({"period": "week", "caps": {}, "priority": ["a"]}, "period"),
    ({"period": "month", "caps": {"fax": 1}, "priority": ["a"]}, "caps.fax"),
    ({"period": "month", "caps": {"sms": -1}, "priority": ["a"]}, "caps.sms"),
    ({"period": "month", "caps": {}, "priority": ["a", "a"]}, "priority"),
])
def test_a_bad_contact_policy_names_the_field(tmp_path, doc, field):
    path = write(tmp_path, doc)
    with pytest.raises(ContactPolicyError, match=f"field '{field}'"):
        load_contact_policy(path)


def test_a_campaign_missing_from_the_priority_list_is_refused(tmp_path):
    policy = load_contact_policy(write(tmp_path, {"period": "month", "caps": {}, "priority": ["retention"]}))
    with pytest.raises(ContactPolicyError, match="card_activation"):
        policy.check_campaigns(["retention", "card_activation"])
