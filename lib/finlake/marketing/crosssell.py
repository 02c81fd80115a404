"""Cross-sell: which products go together (FPGrowth rules) and the next best product (ALS).

Product holdings are the product types of each customer's active accounts at a cut-off.
Association rules over them give support, confidence and lift; ALS on implicit feedback
(holdings, and any further weighted signals a caller adds such as product views or campaign
responses) ranks the product types a customer does not own yet.
"""

from __future__ import annotations

from datetime import date

from pyspark.ml.fpm import FPGrowth
from pyspark.ml.recommendation import ALS
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


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
