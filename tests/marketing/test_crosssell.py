"""Cross-sell on tiny explicit holdings: FPGrowth rule measures, the implicit-feedback weights, and
ALS never recommending owned products, as library calls and through marts.* tables."""

from __future__ import annotations

from datetime import timedelta

import pytest

from finlake.marketing.crosssell import (association_rules, build_crosssell, campaign_responses, holdings,
                                         implicit_feedback, next_best_products, product_views)

from marketing_helpers import AS_OF, customers_with, private_lake, table

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


def test_feedback_weighs_holdings_responses_and_capped_views(spark):
    held = spark.createDataFrame([("c1", "savings")], "customer_id string, product_type string")
    views = spark.createDataFrame([("c1", "fund", 9), ("c1", "savings", 2)],
                                  "customer_id string, product_type string, views long")
    responses = spark.createDataFrame([("c1", "fund", 1), ("c2", "wealth", 2)],
                                      "customer_id string, product_type string, responses long")
    got = {(r["customer_id"], r["product_type"]): r["strength"]
           for r in implicit_feedback(held, views, responses).collect()}
    # holding 3.0 + 2 views x 0.5; response 2.0 + views capped at 5 x 0.5; two responses x 2.0
    assert got == {("c1", "savings"): 4.0, ("c1", "fund"): 4.5, ("c2", "wealth"): 4.0}


@pytest.fixture(scope="module")
def crosssell_lake(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("crosssell-home")
    lake = private_lake(spark, home)
    before = AS_OF - timedelta(days=10)
    inputs = {
        "features.customer_monthly": customers_with(spark, list(BASKETS)),
        "cleaned.accounts": table(spark, "cleaned.accounts", [
            {"account_id": f"{c}-{p}", "customer_id": c, "product_type": p, "status": "active"}
            for c, ps in BASKETS.items() for p in ps]),
        "cleaned.products": table(spark, "cleaned.products", [
            {"product_id": f"P-{p}", "product_type": p} for p in ("savings", "wealth", "fund", "credit_card")]),
        # c4 browses funds; c5 browses the credit card it owns; a view at the cut-off is not seen
        "cleaned.app_events": table(spark, "cleaned.app_events", [
            {"event_id": f"E{i}", "customer_id": c, "event_type": "product_view", "product_id": f"P-{p}",
             "business_date": d} for i, (c, p, d) in enumerate([
                ("c4", "fund", before), ("c4", "fund", before), ("c5", "credit_card", before),
                ("c5", "fund", AS_OF)])]),
        "cleaned.campaigns": table(spark, "cleaned.campaigns", [{"campaign_id": "K1", "product_id": "P-wealth"}]),
        "cleaned.contacts": table(spark, "cleaned.contacts", [
            {"contact_id": "T1", "campaign_id": "K1", "customer_id": "c5", "outcome": "responded",
             "business_date": before}]),
    }
    for name, df in inputs.items():
        lake.create(name)
        lake.overwrite(name, df)
    build_crosssell(lake, "run-1", AS_OF)
    return lake


def test_crosssell_writes_the_hand_computed_rules(crosssell_lake):
    got = sorted((tuple(r["antecedent"]), r["consequent"], r["support"], r["confidence"], r["lift"], r["as_of"])
                 for r in crosssell_lake.read("marts.product_rules").collect())
    # 5 baskets: {s,w} {s,w} {s,w,f} {s} {cc}; support of the union, confidence, lift = conf / share(consequent)
    s, f, w = "savings", "fund", "wealth"
    expected = sorted([
        ((s,), w, 0.6, 3 / 4, 1.25), ((w,), s, 0.6, 1.0, 1.25),
        ((s,), f, 0.2, 1 / 4, 1.25), ((f,), s, 0.2, 1.0, 1.25),
        ((w,), f, 0.2, 1 / 3, 5 / 3), ((f,), w, 0.2, 1.0, 5 / 3),
        ((s, w), f, 0.2, 1 / 3, 5 / 3), ((f, s), w, 0.2, 1.0, 5 / 3), ((f, w), s, 0.2, 1.0, 1.25),
    ])
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    assert [x for g in got for x in g[2:5]] == pytest.approx([x for e in expected for x in e[2:]])
    assert {g[5] for g in got} == {AS_OF}


def test_views_before_the_cutoff_and_treated_responses_become_product_type_signals(crosssell_lake):
    read, products = crosssell_lake.read, crosssell_lake.read("cleaned.products")
    views = {(r["customer_id"], r["product_type"]): r["views"]
             for r in product_views(read("cleaned.app_events"), products, AS_OF).collect()}
    responded = campaign_responses(read("cleaned.contacts"), read("cleaned.campaigns"), products, AS_OF)
    responses = {(r["customer_id"], r["product_type"]): r["responses"] for r in responded.collect()}
    assert (views, responses) == ({("c4", "fund"): 2, ("c5", "credit_card"): 1}, {("c5", "wealth"): 1})


def test_next_best_products_never_include_owned_ones(crosssell_lake):
    recs = crosssell_lake.read("marts.next_best_product").collect()
    owned = {(c, p) for c, ps in BASKETS.items() for p in ps}
    assert recs and not {(r["customer_id"], r["product_type"]) for r in recs} & owned
    by_customer = {}
    for r in sorted(recs, key=lambda r: (r["customer_id"], r["position"])):
        by_customer.setdefault(r["customer_id"], []).append(r["product_type"])
    # c5 owns only a credit card: the three other product types anyone holds are left
    assert sorted(by_customer["c5"]) == ["fund", "savings", "wealth"]
    assert {r["as_of"] for r in recs} == {AS_OF}


def test_the_crosssell_command_rebuilds_the_same_marts_and_prints_their_counts(crosssell_lake, capsys):
    from finlake.cli import main

    before = {name: sorted(map(repr, crosssell_lake.read(name).drop("_run_id").collect()))
              for name in ("marts.product_rules", "marts.next_best_product")}
    settings = crosssell_lake.settings
    assert main(["crosssell", "--as-of", AS_OF.isoformat(), "--home", settings.home, "--engine", "bridge"]) == 0
    out = capsys.readouterr().out
    assert f"marts.product_rules: {len(before['marts.product_rules'])} rules at {AS_OF}" in out
    assert f"for 5 customers at {AS_OF}" in out
    after = {name: sorted(map(repr, crosssell_lake.read(name).drop("_run_id").collect())) for name in before}
    assert after == before  # the command recomputes the cut-off in place: same rows, nothing doubled
