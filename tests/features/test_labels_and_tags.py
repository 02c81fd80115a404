"""Churn labels and the tag system on tiny explicit data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from finlake.catalog import default_catalog
from finlake.features.labels import CHURN_DEFINITION, churn_labels, label_cutoffs
from finlake.features.tags import (
    TagRule, TagRuleError, compute_customer_tags, load_tag_rules, model_tag_rows, rule_tags, statistical_tags,
)

D = date(2024, 4, 1)
END = D + timedelta(days=90)


def acct(aid, cid, open_date=date(2020, 1, 1), close_date=None, product="savings"):
    return {"account_id": aid, "customer_id": cid, "open_date": open_date, "close_date": close_date,
            "product_type": product}


def test_churn_is_every_account_closed_inside_the_window(make, spark):
    accounts = make("cleaned.accounts", [
        acct("A1", "Gone", close_date=D), acct("A2", "Gone", close_date=END - timedelta(days=1)),  # both closed in window
        acct("A3", "LastDay", close_date=END),                        # closes on D + 90: outside the window
        acct("A4", "Partly", close_date=D + timedelta(days=10)), acct("A5", "Partly"),
        acct("A6", "Before", close_date=D - timedelta(days=1)),       # already gone at D: not eligible
        acct("A7", "Switch", close_date=D + timedelta(days=5)),
        acct("A8", "Switch", open_date=D + timedelta(days=3)),        # opened inside the window, still open
        acct("A9", "New", open_date=D),                               # opens at D: not eligible at D
    ])
    got = churn_labels(accounts, [D])
    expected = spark.createDataFrame([
        ("Gone", D, True, END - timedelta(days=1), END, CHURN_DEFINITION),
        ("LastDay", D, False, None, END, CHURN_DEFINITION),
        ("Partly", D, False, None, END, CHURN_DEFINITION),
        ("Switch", D, False, None, END, CHURN_DEFINITION)], got.schema)
    assertDataFrameEqual(got, expected)


def test_a_label_exists_only_once_its_whole_window_is_observed():
    cutoffs = [date(2024, 9, 1), date(2024, 10, 1), date(2024, 11, 1)]
    assert label_cutoffs(cutoffs, observed_until=date(2025, 1, 1)) == [date(2024, 9, 1), date(2024, 10, 1)]
    assert label_cutoffs(cutoffs, observed_until=date(2024, 11, 30)) == [date(2024, 9, 1)]


# --- tags ------------------------------------------------------------------------------------

SCHEMA = default_catalog().get("features.customer_monthly").schema


def write_tags(tmp_path, body: str):
    path = tmp_path / "tags.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def rule(name, expression, family="behaviour"):
    return (f"  - name: {name}\n    family: {family}\n    expression: \"{expression}\"\n"
            f"    description: test\n    owner: tests\n")


def test_the_repository_tag_file_is_valid(spark):
    rules = load_tag_rules(spark, SCHEMA)
    assert "active_consumer" in {r.name for r in rules}


@pytest.mark.parametrize("expression, says", [
    ("txn_count_31d >= 2", "txn_count_31d"),          # unknown column
    ("txn_count_30d + 1", "not a boolean"),
    ("txn_count_30d >= ", "invalid"),                 # syntax
    ("sum(txn_count_30d) > 2", "invalid"),            # aggregate
    ("_run_id = 'run-1'", "`_run_id`"),                # bookkeeping: in the table, not in what rules see
])
def test_a_bad_expression_is_an_error_naming_the_tag(spark, tmp_path, expression, says):
    path = write_tags(tmp_path, "tags:\n" + rule("good_one", "txn_count_30d >= 2") + rule("broken_tag", expression))
    with pytest.raises(TagRuleError, match="broken_tag") as err:
        load_tag_rules(spark, SCHEMA, path)
    assert says in str(err.value)


def test_an_unknown_family_is_an_error_naming_the_tag(spark, tmp_path):
    path = write_tags(tmp_path, "tags:\n" + rule("odd", "age > 3", family="social_media"))
    with pytest.raises(TagRuleError, match="tag 'odd'.*family 'social_media'"):
        load_tag_rules(spark, SCHEMA, path)


def _features(spark):
    rows = [("C1", D, 45, "45_54", "F", "110000", "manager", "gt50k", "R4", 2_000_000.0, 5),
            ("C2", D, None, "unknown", None, None, None, None, None, 100.0, 0)]
    return spark.createDataFrame(rows, "customer_id string, as_of date, age int, age_band string, gender string, "
                                       "city_code string, occupation string, income_band string, risk_tolerance string, "
                                       "aum_balance double, txn_count_30d int")


def test_statistical_tags_skip_unknown_attributes(spark):
    got = statistical_tags(_features(spark)).select("customer_id", "tag", "value")
    expected = spark.createDataFrame([
        ("C1", "age_band", "45_54"), ("C1", "gender", "F"), ("C1", "city", "110000"), ("C1", "occupation", "manager"),
        ("C1", "income_band", "gt50k"), ("C1", "risk_tolerance", "R4"), ("C1", "aum_tier", "high_net_worth"),
        ("C2", "age_band", "unknown"), ("C2", "aum_tier", "mass")], got.schema)
    assertDataFrameEqual(got, expected)


def test_rule_tags_give_a_row_per_rule_that_holds(spark):
    rules = [TagRule("active_consumer", "behaviour", "txn_count_30d >= 2", "d", "o"),
             TagRule("senior", "natural", "age >= 60", "d", "o"),
             TagRule("mid_life", "natural", "age BETWEEN 40 AND 59", "d", "o")]
    got = rule_tags(_features(spark), rules)
    expected = spark.createDataFrame([
        ("C1", D, "active_consumer", "behaviour", "true", None, "rule", "txn_count_30d >= 2"),
        ("C1", D, "mid_life", "natural", "true", None, "rule", "age BETWEEN 40 AND 59")], got.schema)
    assertDataFrameEqual(got, expected)


def provide_segments(lake, features):
    """A stand-in model-tag provider, shaped as the models engineer's will be."""
    from pyspark.sql import functions as F

    return features.select("customer_id", "as_of", F.lit("segment").alias("tag"), F.lit("behaviour").alias("family"),
                           F.lit("digital").alias("value"), F.lit(0.8).alias("score"),
                           F.lit("segmentation@1").alias("definition"))


def test_model_tags_come_from_the_listed_providers_marked_as_model(spark):
    features = _features(spark).where("customer_id = 'C1'")
    rows = model_tag_rows(None, features, providers=(f"{__name__}:provide_segments",))
    got = compute_customer_tags(features, [], rows).where("source = 'model'")
    expected = spark.createDataFrame([("C1", D, "segment", "behaviour", "digital", 0.8, "model", "segmentation@1")],
                                     got.schema)
    assertDataFrameEqual(got, expected)
