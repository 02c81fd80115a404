"""Contact caps across campaigns and the CRM export, on tiny explicit audiences."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from finlake.marketing.channels import ContactPolicy, apply_contact_caps
from finlake.marketing.export import EXPORT_COLUMNS, ExportError, check_export_columns, export_frame

from marketing_helpers import AS_OF, table

pytestmark = pytest.mark.xdist_group("marketing")

POLICY = ContactPolicy(caps={"outbound_call": 2, "sms": 1}, priority=("retention", "wealth_cross_sell", "card_activation"),
                       source_file="policy.yaml")


def audience_rows(spark, rows):
    return table(spark, "audiences.retention", [
        {"campaign": campaign, "as_of": AS_OF, "customer_id": c, "channel": ch, "status": status, "rank": i + 1,
         "reason": "r", "model_versions": "", "_run_id": "run"}
        for i, (campaign, c, ch, status) in enumerate(rows)])


def already(spark, rows):
    return spark.createDataFrame(rows, "customer_id string, channel string, contacted long")


def statuses(df):
    return {(r["campaign"], r["customer_id"]): r["status"] for r in df.collect()}


def test_caps_serve_campaigns_in_priority_order_after_the_contacts_already_made(spark):
    rows = [("card_activation", "c1", "outbound_call", "contact"), ("retention", "c1", "outbound_call", "contact"),
            ("wealth_cross_sell", "c1", "outbound_call", "contact"),
            ("card_activation", "c2", "sms", "contact"), ("retention", "c2", "sms", "control"),
            ("wealth_cross_sell", "c3", "outbound_call", "contact"), ("card_activation", "c3", "email", "contact")]
    got = statuses(apply_contact_caps(audience_rows(spark, rows), POLICY, already(spark, [("c1", "outbound_call", 1)])))
    assert got == {
        # one call already made this month: only the top-priority campaign's call fits under 2
        ("retention", "c1"): "contact", ("wealth_cross_sell", "c1"): "capped", ("card_activation", "c1"): "capped",
        # the control row is never contacted, so it does not use the single SMS
        ("retention", "c2"): "control", ("card_activation", "c2"): "contact",
        # email has no cap
        ("wealth_cross_sell", "c3"): "contact", ("card_activation", "c3"): "contact",
    }


def test_caps_are_never_exceeded_whatever_the_overlap(spark):
    campaigns = POLICY.priority
    rows = [(campaigns[(i + j) % 3], f"c{i}", ("outbound_call", "sms")[(i * j) % 2], "contact")
            for i in range(12) for j in range(3)]
    prior = [(f"c{i}", "outbound_call", i % 3) for i in range(12)]
    out = apply_contact_caps(audience_rows(spark, rows), POLICY, already(spark, prior))
    used = (out.where(F.col("status") == "contact").groupBy("customer_id", "channel").count()
            .join(already(spark, prior), ["customer_id", "channel"], "left").collect())
    assert used, "some contacts must survive the caps"
    for r in used:
        assert (r["contacted"] or 0) + r["count"] <= POLICY.caps[r["channel"]], r
    # every capped row was over the cap: nothing was capped needlessly
    capped = out.where(F.col("status") == "capped").count()
    assert capped == len(rows) - sum(r["count"] for r in used)


def test_an_export_holds_only_contact_rows_and_allow_listed_columns(spark):
    audience = audience_rows(spark, [("retention", "c1", "outbound_call", "contact"),
                                     ("retention", "c2", None, "control"),
                                     ("retention", "c3", "sms", "capped")])
    customers = table(spark, "cleaned.customers", [
        {"customer_id": c, "name_masked": "张*", "phone_masked": "138****0000", "phone_token": f"tok{c}",
         "name_token": "secret-token", "id_number_masked": "1101**********1234", "birth_year": 1980,
         "is_current": True, "valid_to": __import__("datetime").date(9999, 12, 31)} for c in ("c1", "c2", "c3")])
    rows = export_frame(audience, customers).collect()
    assert [r["customer_id"] for r in rows] == ["c1"]
    assert tuple(rows[0].asDict()) == EXPORT_COLUMNS
    assert (rows[0]["name_masked"], rows[0]["phone_masked"], rows[0]["phone_token"]) == ("张*", "138****0000", "tokc1")


def test_a_column_outside_the_allow_list_is_refused():
    with pytest.raises(ExportError, match="phone"):
        check_export_columns(["customer_id", "phone"])
