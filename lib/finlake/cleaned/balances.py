"""Balance continuity: previous month-end balance + the month's postings = this month-end balance."""

from __future__ import annotations

from decimal import Decimal

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

# Products whose balance moves only by postings. Wealth, fund and insurance balances are
# valuations (market prices, premiums): continuity does not hold for them in any bank.
LEDGER_PRODUCTS = ("savings", "current", "credit_card", "personal_loan", "mortgage")


def check_balance_continuity(balances: DataFrame, transactions: DataFrame, tolerance: Decimal = Decimal("1.00")) -> DataFrame:
    """One row per account and month end that has a previous month end: ``account_id, month_end,
    previous_balance, postings, balance, difference, continuous``.

    ``postings`` sums ``signed_amount_cny`` of the account's transactions with ``business_date``
    after the previous month end and up to this one; ``difference`` = balance - (previous_balance +
    postings); ``continuous`` says |difference| <= ``tolerance`` (FX rounding of foreign postings).
    An account's first month end has nothing to compare with and is left out.
    """
    by_account = Window.partitionBy("account_id").orderBy("month_end")
    months = (balances.select("account_id", "month_end", "balance")
              .withColumn("previous_month_end", F.lag("month_end").over(by_account))
              .withColumn("previous_balance", F.lag("balance").over(by_account))
              .filter(F.col("previous_month_end").isNotNull()))
    postings = (transactions
                .withColumn("month_end", F.last_day("business_date"))
                .groupBy("account_id", "month_end")
                .agg(F.sum("signed_amount_cny").alias("postings")))
    # A month end with no previous month in between (a gap) still compares with the last one
    # delivered: sum every posting month in (previous_month_end, month_end].
    joined = (months.alias("m")
              .join(postings.alias("p"),
                    (F.col("m.account_id") == F.col("p.account_id"))
                    & (F.col("p.month_end") > F.col("m.previous_month_end"))
                    & (F.col("p.month_end") <= F.col("m.month_end")), "left")
              .groupBy("m.account_id", "m.month_end", "m.previous_balance", "m.balance")
              .agg(F.coalesce(F.sum("p.postings"), F.lit(0)).cast("decimal(18,2)").alias("postings")))
    difference = (F.col("balance") - (F.col("previous_balance") + F.col("postings"))).cast("decimal(18,2)")
    return (joined.select("account_id", "month_end", "previous_balance", "postings", "balance")
            .withColumn("difference", difference)
            .withColumn("continuous", F.abs(F.col("difference")) <= F.lit(tolerance)))
