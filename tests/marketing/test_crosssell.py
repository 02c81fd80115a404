"""Cross-sell on tiny explicit holdings: FPGrowth rule measures and ALS never recommending owned products."""

from __future__ import annotations

import pytest

from finlake.marketing.crosssell import association_rules, holdings, next_best_products

from marketing_helpers import AS_OF, table

pytestmark = pytest.mark.xdist_group("marketing")

BASKETS = {"c1": ["savings", "wealth"], "c2": ["savings", "wealth"], "c3": ["savings", "wealth", "fund"],
           "c4": ["savings"], "c5": ["credit_card"]}


def held(spark):
    rows = [{"account_id": f"{c}-{p}", "customer_id": c, "product_type": p, "status": "active"}
            for c, ps in BASKETS.items() for p in ps]
    rows.append({"account_id": "late", "customer_id": "c5", "product_type": "mortgage", "status": "active",
                 "open_date": AS_OF.replace(year=AS_OF.year + 1)})
    rows.append({"account_id": "gone", "customer_id": "c5", "product_type": "insurance", "status": "closed"})
    return holdings(table(spark, "cleaned.accounts", rows), AS_OF)


def test_holdings_are_active_accounts_open_at_the_cutoff(spark):
    assert sorted(r["product_type"] for r in held(spark).where("customer_id = 'c5'").collect()) == ["credit_card"]


def test_rules_carry_support_confidence_and_lift(spark):
    rules = {(tuple(r["antecedent"]), r["consequent"]): r for r in association_rules(held(spark), 0.2, 0.5).collect()}
    r = rules[(("savings",), "wealth")]
    # savings in 4 of 5 baskets, savings+wealth in 3: confidence 3/4, lift (3/4)/(3/5)
    assert (r["support"], r["confidence"], r["lift"]) == pytest.approx((0.6, 0.75, 1.25))
    assert (("wealth",), "savings") in rules and rules[(("wealth",), "savings")]["confidence"] == pytest.approx(1.0)


def test_next_best_products_exclude_owned_ones(spark):
    owned = held(spark)
    feedback = owned.selectExpr("customer_id", "product_type", "3.0 as strength")
    recs = next_best_products(feedback, owned, k=2).collect()
    owned_pairs = {(r["customer_id"], r["product_type"]) for r in owned.collect()}
    assert recs and not {(r["customer_id"], r["product_type"]) for r in recs} & owned_pairs
    c4 = [r["product_type"] for r in sorted((r for r in recs if r["customer_id"] == "c4"), key=lambda r: r["position"])]
    assert c4[0] == "wealth"  # savings holders mostly hold wealth too
