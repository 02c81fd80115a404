"""Balance continuity: previous month-end balance + the month's postings = this month-end balance."""

from __future__ import annotations

from decimal import Decimal

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

# Products whose balance moves only by postings. Wealth, fund and insurance balances are
# valuations (market prices, premiums): continuity does not hold for them in any bank.
LEDGER_PRODUCTS = ("savings", "current", "credit_card", "personal_loan", "mortgage")


def check_balance_continuity(balances: DataFrame, transactions: DataFrame, tolerance: Decimal = Decimal("1.00"),
                             changed: str | None = None) -> DataFrame:
    """One row per account and month end that has a previous month end: ``account_id, month_end,
    previous_balance, postings, balance, difference, continuous``.

    ``postings`` sums ``signed_amount_cny`` of the account's transactions with ``business_date``
    after the previous month end and up to this one; ``difference`` = balance - (previous_balance +
    postings); ``continuous`` says |difference| <= ``tolerance`` (FX rounding of foreign postings).
    An account's first month end has nothing to compare with and is left out.

    ``changed`` names a boolean column of both inputs that marks the rows a run changed. Then only
    the month ends whose result those rows can move are returned: a changed month end, the next
    one after it (its previous balance), and the first month end at or after the business date of
    a changed transaction (its month's, or the next one delivered when that month's is missing).
    """
    by_account = Window.partitionBy("account_id").orderBy("month_end")
    months = (balances.select("account_id", "month_end", "balance", *([changed] if changed else []))
              .withColumn("previous_month_end", F.lag("month_end").over(by_account))
              .withColumn("previous_balance", F.lag("balance").over(by_account)))
    if changed:
        months = months.withColumn("_balance_changed", F.col(changed) | F.lag(changed, 1, False).over(by_account))
    months = months.filter(F.col("previous_month_end").isNotNull())
    postings = (transactions
                .withColumn("month_end", F.last_day("business_date"))
                .groupBy("account_id", "month_end")
                .agg(F.sum("signed_amount_cny").alias("postings"),
                     *([F.bool_or(changed).alias("_posting_changed")] if changed else [])))
    # A month end with no previous month in between (a gap) still compares with the last one
    # delivered: sum every posting month in (previous_month_end, month_end]. A changed posting
    # marks the same interval, so the month ends to return come out of the same join.
    joined = (months.alias("m")
              .join(postings.alias("p"),
                    (F.col("m.account_id") == F.col("p.account_id"))
                    & (F.col("p.month_end") > F.col("m.previous_month_end"))
                    & (F.col("p.month_end") <= F.col("m.month_end")), "left")
              .groupBy("m.account_id", "m.month_end", "m.previous_balance", "m.balance",
                       *(["m._balance_changed"] if changed else []))
              .agg(F.coalesce(F.sum("p.postings"), F.lit(0)).cast("decimal(18,2)").alias("postings"),
                   *([F.bool_or("p._posting_changed").alias("_posting_changed")] if changed else [])))
    if changed:
        joined = joined.filter(F.col("_balance_changed") | F.coalesce(F.col("_posting_changed"), F.lit(False)))
    difference = (F.col("balance") - (F.col("previous_balance") + F.col("postings"))).cast("decimal(18,2)")
    return (joined.select("account_id", "month_end", "previous_balance", "postings", "balance")
            .withColumn("difference", difference)
            .withColumn("continuous", F.abs(F.col("difference")) <= F.lit(tolerance)))
