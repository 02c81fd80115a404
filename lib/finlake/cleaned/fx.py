"""Currency conversion to CNY with the daily rates of cleaned.fx_rates."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def convert_to_cny(rates: DataFrame, amount: str = "amount", currency: str = "currency", on_date: str = "business_date"):
    """Transform adding ``fx_rate`` (CNY per unit on ``on_date``; 1 for CNY) and ``amount_cny``
    (``amount`` x rate, rounded half-up to fen). Without a rate for that currency and date both are
    null, which the quarantine rules catch: a missing rate is a data problem, not a zero.

    ``rates`` has ``rate_date``, ``currency``, ``cny_per_unit`` (cleaned.fx_rates).
    """

    def apply(df: DataFrame) -> DataFrame:
        r = F.broadcast(rates.select(F.col("rate_date").alias("_fx_date"), F.col("currency").alias("_fx_currency"),
                                     F.col("cny_per_unit").alias("_fx_rate")))
        joined = df.join(r, (F.col(on_date) == F.col("_fx_date")) & (F.col(currency) == F.col("_fx_currency")), "left")
        rate = F.when(F.col(currency) == "CNY", F.lit(1).cast("decimal(18,6)")).otherwise(F.col("_fx_rate"))
        return (joined.withColumn("fx_rate", rate.cast("decimal(18,6)"))
                .withColumn("amount_cny", F.round(F.col(amount) * F.col("fx_rate"), 2).cast("decimal(18,2)"))
                .drop("_fx_date", "_fx_currency", "_fx_rate"))

    return apply
