"""build_audiences through a real lake on tiny explicit tables: Delta tables, export CSVs, caps,
holdout and consent together; and campaign evaluation into marts.campaign_results."""

from __future__ import annotations

import csv
import re
from datetime import date, datetime

import pytest
import yaml

from finlake.marketing import build_audiences
from finlake.marketing.audiences import AudienceDefinitionError
from finlake.marketing.evaluation import Z_95, campaign_results, evaluate_campaigns
from finlake.marketing.export import EXPORT_COLUMNS

from marketing_helpers import AS_OF, consent_all, customers_with, private_lake, table

pytestmark = pytest.mark.xdist_group("marketing")

IDS = [f"C{i:03d}" for i in range(1, 31)]
OPTED_OUT = {"C004", "C011"}
CLEAR_PHONES = {c: f"1380000{i:04d}" for i, c in enumerate(IDS)}


def definition(campaign, channels, seed, share=0.2, product_type=None):
    return {"campaign": campaign, "description": "d", "owner": "o", "product_type": product_type,
            "channels": channels, "filters": {"tags": [{"tag": "aum_tier", "in": ["affluent"]}],
                                              "scores": [{"table": "scores.churn", "decile_max": 2}]},
            "expected_value": {"probability": "scores.churn", "value": "aum_balance"},
            "size_limit": 25, "control_share": share, "seed": seed}


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("marketing-home")
    lake = private_lake(spark, home)
    settings = lake.settings
    consents = consent_all(spark, [c for c in IDS if c not in OPTED_OUT])
    consents += consent_all(spark, sorted(OPTED_OUT), consent=True, at=datetime(2024, 1, 1))
    consents += consent_all(spark, sorted(OPTED_OUT), consent=False, at=datetime(2024, 11, 1))
    inputs = {
        "features.customer_monthly": customers_with(spark, IDS, {c: 100_000 + i * 1000 for i, c in enumerate(IDS)} | {"C001": 1_000_000}),
        "features.customer_tags": table(spark, "features.customer_tags", [
            {"customer_id": c, "as_of": AS_OF, "tag": "aum_tier", "value": "affluent", "family": "asset",
             "source": "statistical", "definition": "d", "_run_id": "r"} for c in IDS]),
        "scores.churn": table(spark, "scores.churn", [
            {"customer_id": c, "as_of": AS_OF, "probability": 0.8, "decile": 1, "model_name": "finlake-churn",
             "model_version": "5", "_run_id": "r"} for c in IDS]),
        "cleaned.consents": table(spark, "cleaned.consents", consents),
        "cleaned.do_not_contact": table(spark, "cleaned.do_not_contact", []),
        "cleaned.complaints": table(spark, "cleaned.complaints", []),
        "cleaned.accounts": table(spark, "cleaned.accounts", []),
        "cleaned.campaigns": table(spark, "cleaned.campaigns", []),
        # one call already made to C001 in the contact month (January 2025)
        "cleaned.contacts": table(spark, "cleaned.contacts", [
            {"contact_id": "K1", "campaign_id": "CMP0001", "customer_id": "C001", "channel": "outbound_call",
             "ts": datetime(2025, 1, 1, 9), "business_date": date(2025, 1, 1), "outcome": "delivered"}]),
        "cleaned.customers": table(spark, "cleaned.customers", [
            {"customer_id": c, "name_masked": "王*", "name_token": f"nt{c}",
             "phone_masked": CLEAR_PHONES[c][:3] + "****" + CLEAR_PHONES[c][-4:], "phone_token": f"pt{c}",
             "is_current": True, "valid_from": date(2024, 1, 1), "valid_to": date(9999, 12, 31)} for c in IDS]),
    }
    for name, df in inputs.items():
        lake.create(name)
        lake.overwrite(name, df)
    files = []
    for i, doc in enumerate([definition("retention", ["outbound_call"], 1),
                             definition("wealth_cross_sell", ["outbound_call"], 2, product_type="wealth")]):
        path = home / f"def{i}.yaml"
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        files.append(path)
    policy = home / "policy.yaml"
    policy.write_text(yaml.safe_dump({"period": "month", "caps": {"outbound_call": 1},
                                      "priority": ["retention", "wealth_cross_sell"]}), encoding="utf-8")
    results = build_audiences(lake, settings, "run-1", as_of=date(2025, 1, 15), definitions=files, policy_file=policy)
    return lake, settings, results, files, policy


def read_csv(path):
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_each_audience_is_a_delta_table_of_the_cutoff_and_a_csv(built):
    lake, _, results, _, _ = built
    assert [(r.table, r.as_of) for r in results] == [("audiences.retention", AS_OF), ("audiences.wealth_cross_sell", AS_OF)]
    for r in results:
        rows = lake.read(r.table).collect()
        assert len(rows) == r.contact + r.control + r.capped <= 25
        assert {row["model_versions"] for row in rows} == {"finlake-churn:5"}
        assert len(read_csv(r.export_path)) == r.contact


def test_opted_out_customers_never_appear(built):
    lake, _, results, _, _ = built
    for r in results:
        assert not OPTED_OUT & {row["customer_id"] for row in lake.read(r.table).collect()}
        assert not OPTED_OUT & {row["customer_id"] for row in read_csv(r.export_path)}


def test_control_group_members_never_appear_in_an_export(built):
    lake, _, results, _, _ = built
    for r in results:
        control = {row["customer_id"] for row in lake.read(r.table).where("status = 'control'").collect()}
        assert control, "the holdout must not be empty for this test to mean anything"
        assert not control & {row["customer_id"] for row in read_csv(r.export_path)}


def test_the_call_cap_holds_across_both_campaigns_including_calls_already_made(built):
    lake, _, results, _, _ = built
    exported = [row["customer_id"] for r in results for row in read_csv(r.export_path)]
    assert len(exported) == len(set(exported)), "a customer got two calls in the month with a cap of 1"
    held_out = {r.table: {x["customer_id"] for x in lake.read(r.table).where("status = 'control'").collect()}
                for r in results}
    members = {x["customer_id"] for x in lake.read("audiences.retention").collect()}
    assert "C001" in members and "C001" not in exported  # the top customer, but already called this month
    # the higher-priority campaign calls everyone it selected; the other only those retention held out
    retention, wealth = ({row["customer_id"] for row in read_csv(r.export_path)} for r in results)
    assert retention == members - held_out["audiences.retention"] - {"C001"}
    assert wealth == (members - held_out["audiences.wealth_cross_sell"]) & held_out["audiences.retention"] - {"C001"}
    assert wealth, "some wealth calls must survive for this test to mean anything"


def test_exports_contain_no_clear_pii(built):
    _, _, results, _, _ = built
    for r in results:
        text = open(r.export_path, encoding="utf-8").read()
        assert text.splitlines()[0].split(",") == list(EXPORT_COLUMNS)
        assert not re.search(r"\d{11}", text), "an 11-digit (clear) phone number is in the export"
        assert all(re.fullmatch(r"\d{3}\*{4}\d{4}", row["phone_masked"]) for row in read_csv(r.export_path))


def test_a_rebuild_gives_the_same_audience(built):
    lake, settings, results, files, policy = built
    before = {r.table: sorted(map(tuple, lake.read(r.table).drop("_run_id").collect())) for r in results}
    build_audiences(lake, settings, "run-2", as_of=AS_OF, definitions=files, policy_file=policy)
    assert {t: sorted(map(tuple, lake.read(t).drop("_run_id").collect())) for t in before} == before


def test_a_bad_where_condition_names_the_file_and_field_and_writes_nothing(built, tmp_path):
    lake, settings, _, _, policy = built
    doc = definition("retention", ["outbound_call"], 1)
    doc["filters"]["where"] = "no_such_column > 1"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    version = lake.version("audiences.retention")
    with pytest.raises(AudienceDefinitionError, match=r"bad\.yaml: field 'filters\.where'"):
        build_audiences(lake, settings, "run-3", definitions=[path], policy_file=policy)
    assert lake.version("audiences.retention") == version


def test_uplift_is_the_difference_of_conversion_rates_with_a_normal_interval(spark, built):
    lake = built[0]
    contacts = [{"contact_id": f"T{i}", "campaign_id": "CMP0001", "customer_id": f"t{i}", "channel": "sms",
                 "outcome": "converted" if i < 30 else ("responded" if i < 50 else "delivered")} for i in range(100)]
    contacts += [{"contact_id": f"H{i}", "campaign_id": "CMP0001", "customer_id": f"h{i}", "channel": None,
                  "control_group": True, "outcome": "converted" if i < 10 else None} for i in range(100)]
    contacts += [{"contact_id": "X1", "campaign_id": "CMP0002", "customer_id": "x", "channel": "sms", "outcome": "converted"}]
    contacts = table(spark, "cleaned.contacts", [{"ts": datetime(2025, 1, 2), "business_date": date(2025, 1, 2),
                                                  "control_group": False, **c} for c in contacts])
    campaigns = table(spark, "cleaned.campaigns", [{"campaign_id": "CMP0001", "product_id": "P1", "channel": "sms",
                                                    "start_date": date(2025, 1, 1)}])
    got = {r["campaign_id"]: r.asDict() for r in campaign_results(contacts, campaigns, "run").collect()}
    one = got["CMP0001"]
    se = (0.3 * 0.7 / 100 + 0.1 * 0.9 / 100) ** 0.5
    assert (one["treated"], one["control"], one["responded"], one["treated_converted"], one["control_converted"]) == (100, 100, 50, 30, 10)
    assert one["uplift"] == pytest.approx(0.2)
    assert (one["uplift_ci_low"], one["uplift_ci_high"]) == pytest.approx((0.2 - Z_95 * se, 0.2 + Z_95 * se))
    assert one["significant"] and one["product_id"] == "P1"
    # without a control group there is no uplift to claim
    assert got["CMP0002"]["uplift"] is None and got["CMP0002"]["significant"] is None
    # and the mart is written from the lake's contacts
    written = evaluate_campaigns(lake, "run-e").collect()
    assert [(r["campaign_id"], r["treated"]) for r in written] == [("CMP0001", 1)]
