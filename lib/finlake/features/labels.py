"""features.churn_labels: did the customer churn in the 90 days from the cut-off?

Definition ``all_accounts_closed_v1``, from cleaned.accounts only (the generator's truth is for
evaluation, never the label):

- eligible at cut-off D: the customer holds at least one account open at D
  (open_date < D and (close_date is null or close_date >= D));
- churned: every account the customer holds is closed before D + 90 days, and the last
  closure is on or after D (so the customer left inside the window, not before it); an account
  opened inside the window and still open means the customer stayed.
- churn_date: the date of that last closure.

The label of D needs the data through D + 89 days; ``churn_labels`` returns only cut-offs whose
window the data covers (``observed_until`` is the day after the last business date delivered).
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from finlake.features.windows import cutoff_grid

CHURN_DEFINITION = "all_accounts_closed_v1"
HORIZON_DAYS = 90


def label_cutoffs(cutoffs: list[date], observed_until: date) -> list[date]:
    """The cut-offs whose whole label window [D, D + 90 days) lies before ``observed_until``."""
    return [d for d in cutoffs if d + timedelta(days=HORIZON_DAYS) <= observed_until]


def churn_labels(accounts: DataFrame, cutoffs: list[date]) -> DataFrame:
    """features.churn_labels rows (without _run_id) for ``cutoffs`` (callers pass observed ones).

    Uses only account dates: an account with open_date >= D + 90 days does not exist yet for
    the label and is ignored.
    """
    grid = cutoff_grid(accounts.sparkSession, cutoffs)
    end = F.date_add("as_of", HORIZON_DAYS)
    a = accounts.join(grid, F.col("open_date") < end)
    open_at_d = (F.col("open_date") < F.col("as_of")) & (F.col("close_date").isNull() | (F.col("close_date") >= F.col("as_of")))
    open_at_end = F.col("close_date").isNull() | (F.col("close_date") >= end)
    per_customer = a.groupBy("customer_id", "as_of").agg(
        F.max(open_at_d.cast("int")).alias("eligible"),
        F.max(open_at_end.cast("int")).alias("stays"),
        F.max("close_date").alias("last_close"))
    churned = (F.col("stays") == 0) & (F.col("last_close") >= F.col("as_of"))
    return (per_customer.where(F.col("eligible") == 1)
            .select("customer_id", "as_of", churned.alias("churned"),
                    F.when(churned, F.col("last_close")).alias("churn_date"),
                    F.date_add("as_of", HORIZON_DAYS).alias("window_end"),
                    F.lit(CHURN_DEFINITION).alias("definition")))


def label_window_holds() -> Column:
    """True on a churn_labels row whose dates agree with the definition: window_end = as_of + 90
    days, and churn_date lies in [as_of, window_end) when churned, null otherwise. Null (a date
    missing where one is due) counts as false. The feature gate checks it on every row."""
    in_window = (F.col("churn_date") >= F.col("as_of")) & (F.col("churn_date") < F.col("window_end"))
    dates = F.when(F.col("churned"), in_window).otherwise(F.col("churn_date").isNull())
    return F.coalesce((F.col("window_end") == F.date_add("as_of", HORIZON_DAYS)) & dates, F.lit(False))
