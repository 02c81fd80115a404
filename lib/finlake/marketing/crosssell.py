"""Cross-sell: which products go together (FPGrowth rules) and the next best product (ALS).

Product holdings are the product types of each customer's active accounts at a cut-off.
Association rules over them give support, confidence and lift; ALS on implicit feedback ranks
the product types a customer does not own yet. The feedback of a (customer, product type) adds
up three signals seen before the cut-off, weighted by how much intent each shows
(``FEEDBACK_WEIGHTS``):

- holding an active account of the type: 3.0. A purchase is the strongest evidence, and the
  co-ownership patterns are what ALS generalises from;
- responding to (or converting on) a campaign for a product of the type: 2.0. Declared interest
  in an offer, but a response is not a purchase;
- viewing a product of the type in the app in the ``VIEW_DAYS`` days before the cut-off: 0.5 per
  view, at most ``MAX_VIEWS`` views counted. Browsing is cheap and noisy; the cap keeps a heavy
  browser's views (at most 2.5) below an owned product.

``build_crosssell`` writes the rules to marts.product_rules and the top products per customer to
marts.next_best_product for one cut-off (docs/marketing.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.ml.fpm import FPGrowth
from pyspark.ml.recommendation import ALS
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from finlake.lake import Lake
from finlake.marketing.build import input_reader, resolve_as_of
from finlake.marketing.channels import RESPONSE_OUTCOMES

log = logging.getLogger(__name__)

FEEDBACK_WEIGHTS = {"holding": 3.0, "response": 2.0, "product_view": 0.5}
MAX_VIEWS = 5
VIEW_DAYS = 180
RULES_TABLE = "marts.product_rules"
NEXT_BEST_TABLE = "marts.next_best_product"
MIN_SUPPORT = 0.01
MIN_CONFIDENCE = 0.1
TOP_K = 3


def holdings(accounts: DataFrame, as_of: date) -> DataFrame:
    """(customer_id, product_type) of the accounts open and active at ``as_of``."""
    return (accounts.where((F.col("open_date") <= F.lit(as_of)) & (F.col("status") == "active"))
            .select("customer_id", "product_type").distinct())


def association_rules(held: DataFrame, min_support: float = 0.01, min_confidence: float = 0.1) -> DataFrame:
    """(antecedent array, consequent, support, confidence, lift) over the customers' product baskets."""
    baskets = held.groupBy("customer_id").agg(F.collect_set("product_type").alias("items"))
    model = FPGrowth(itemsCol="items", minSupport=min_support, minConfidence=min_confidence).fit(baskets)
    return (model.associationRules
            .select(F.array_sort("antecedent").alias("antecedent"), F.col("consequent")[0].alias("consequent"),
                    "support", "confidence", "lift"))


def next_best_products(feedback: DataFrame, owned: DataFrame, k: int = 3, rank: int = 8, seed: int = 7) -> DataFrame:
    """(customer_id, product_type, score, position) for the top ``k`` products not in ``owned``.

    ``feedback`` is (customer_id, product_type, strength) implicit feedback (ALS implicitPrefs).
    """
    customers = feedback.select("customer_id").distinct().withColumn(
        "_u", F.row_number().over(Window.orderBy("customer_id")) - 1)
    products = feedback.select("product_type").distinct().withColumn(
        "_i", F.row_number().over(Window.orderBy("product_type")) - 1)
    ratings = (feedback.groupBy("customer_id", "product_type").agg(F.sum("strength").alias("strength"))
               .join(customers, "customer_id").join(products, "product_type"))
    model = ALS(userCol="_u", itemCol="_i", ratingCol="strength", implicitPrefs=True, rank=rank, maxIter=10,
                regParam=0.05, seed=seed, coldStartStrategy="drop").fit(ratings)
    scored = (customers.crossJoin(products)
              .join(owned.select("customer_id", "product_type"), ["customer_id", "product_type"], "left_anti"))
    best = Window.partitionBy("customer_id").orderBy(F.desc("score"), "product_type")
    return (model.transform(scored).withColumnRenamed("prediction", "score")
            .withColumn("position", F.row_number().over(best)).where(F.col("position") <= k)
            .select("customer_id", "product_type", F.col("score").cast("double").alias("score"), "position"))


def product_views(app_events: DataFrame, products: DataFrame, as_of: date) -> DataFrame:
    """(customer_id, product_type, views): app product views in the VIEW_DAYS days before ``as_of``."""
    return (app_events.where((F.col("event_type") == "product_view") & F.col("product_id").isNotNull()
                             & (F.col("business_date") >= F.lit(as_of - timedelta(days=VIEW_DAYS)))
                             & (F.col("business_date") < F.lit(as_of)))
            .join(products.select("product_id", "product_type"), "product_id")
            .groupBy("customer_id", "product_type").agg(F.count("*").alias("views")))


def campaign_responses(contacts: DataFrame, campaigns: DataFrame, products: DataFrame, as_of: date) -> DataFrame:
    """(customer_id, product_type, responses): treated contacts before ``as_of`` that responded or converted."""
    return (contacts.where(~F.col("control_group") & F.col("outcome").isin(*RESPONSE_OUTCOMES)
                           & (F.col("business_date") < F.lit(as_of)))
            .join(campaigns.select("campaign_id", "product_id"), "campaign_id")
            .join(products.select("product_id", "product_type"), "product_id")
            .groupBy("customer_id", "product_type").agg(F.count("*").alias("responses")))


def implicit_feedback(held: DataFrame, views: DataFrame, responses: DataFrame,
                      weights: dict[str, float] = FEEDBACK_WEIGHTS) -> DataFrame:
    """(customer_id, product_type, strength): the weighted sum of the three signals (module docstring)."""
    parts = [
        held.select("customer_id", "product_type", F.lit(weights["holding"]).alias("strength")),
        responses.select("customer_id", "product_type", (F.col("responses") * weights["response"]).alias("strength")),
        views.select("customer_id", "product_type",
                     (F.least(F.col("views"), F.lit(MAX_VIEWS)) * weights["product_view"]).alias("strength")),
    ]
    union = parts[0].unionByName(parts[1]).unionByName(parts[2])
    return union.groupBy("customer_id", "product_type").agg(F.sum("strength").cast("double").alias("strength"))


@dataclass(frozen=True)
class CrossSellResult:
    as_of: date
    rules: int
    customers: int
    recommendations: int


def build_crosssell(lake: Lake, run_id: str, as_of: date | None = None) -> CrossSellResult:
    """Rules and next best products at the cut-off ``as_of`` into marts.product_rules / marts.next_best_product.

    ``as_of`` resolves to the latest features.customer_monthly cut-off on or before it (the run
    graph passes its month cut-off). Both results are computed before the first write; each
    table's ``as_of`` rows are replaced, so a rerun gives the same tables.
    """
    as_of = resolve_as_of(lake, as_of)
    read = input_reader(lake)
    products = read("cleaned.products")
    held = holdings(read("cleaned.accounts"), as_of).localCheckpoint()
    feedback = implicit_feedback(
        held, product_views(read("cleaned.app_events"), products, as_of),
        campaign_responses(read("cleaned.contacts"), read("cleaned.campaigns"), products, as_of))
    at = F.lit(as_of)
    rules = (association_rules(held, MIN_SUPPORT, MIN_CONFIDENCE)
             .select("antecedent", "consequent", "support", "confidence", "lift", at.alias("as_of"),
                     F.lit(run_id).alias("_run_id"))
             .localCheckpoint())
    best = (next_best_products(feedback, held, k=TOP_K)
            .select("customer_id", at.alias("as_of"), F.col("position").cast("int").alias("position"),
                    "product_type", "score", F.lit(run_id).alias("_run_id"))
            .localCheckpoint())
    n_rules, n_best = rules.count(), best.count()
    customers = best.select("customer_id").distinct().count()
    predicate = f"as_of = DATE'{as_of.isoformat()}'"
    for table, frame in ((RULES_TABLE, rules), (NEXT_BEST_TABLE, best)):
        lake.create(table)
        lake.replace_where(table, frame, predicate)
    result = CrossSellResult(as_of, n_rules, customers, n_best)
    log.info("%s", result)
    return result
