"""Campaign evaluation: response and conversion of the contacted audience against its holdout.

The control group was selected like the audience and deliberately not contacted, so the
difference of conversion rates (treated minus control) is the campaign's uplift. Its 95%
confidence interval uses the normal approximation for a difference of two independent
proportions: uplift +/- 1.96 * sqrt(pt(1-pt)/nt + pc(1-pc)/nc). Response is only observable for
contacted customers, so it is reported for the treated group alone.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finlake.lake import Lake
from finlake.marketing.channels import RESPONSE_OUTCOMES

Z_95 = 1.959963984540054
RESULTS_TABLE = "marts.campaign_results"


def campaign_results(contacts: DataFrame, campaigns: DataFrame, run_id: str) -> DataFrame:
    """One row per campaign of ``contacts`` in the schema of marts.campaign_results."""
    treated, control = ~F.col("control_group"), F.col("control_group")
    converted = F.col("outcome") == "converted"
    counts = contacts.groupBy("campaign_id").agg(
        F.countDistinct(F.when(treated, F.col("customer_id"))).alias("treated"),
        F.countDistinct(F.when(control, F.col("customer_id"))).alias("control"),
        F.countDistinct(F.when(treated & F.col("outcome").isin(*RESPONSE_OUTCOMES), F.col("customer_id"))).alias("responded"),
        F.countDistinct(F.when(treated & converted, F.col("customer_id"))).alias("treated_converted"),
        F.countDistinct(F.when(control & converted, F.col("customer_id"))).alias("control_converted"),
    )
    pt = F.col("treated_converted") / F.col("treated")
    pc = F.col("control_converted") / F.col("control")
    has_both = (F.col("treated") > 0) & (F.col("control") > 0)
    se = F.sqrt(pt * (1 - pt) / F.col("treated") + pc * (1 - pc) / F.col("control"))
    uplift = F.when(has_both, pt - pc)
    low, high = F.when(has_both, pt - pc - Z_95 * se), F.when(has_both, pt - pc + Z_95 * se)
    return (counts
            .withColumn("response_rate", F.when(F.col("treated") > 0, F.col("responded") / F.col("treated")))
            .withColumn("treated_conversion_rate", F.when(F.col("treated") > 0, pt))
            .withColumn("control_conversion_rate", F.when(F.col("control") > 0, pc))
            .withColumn("uplift", uplift).withColumn("uplift_ci_low", low).withColumn("uplift_ci_high", high)
            .withColumn("significant", (F.col("uplift_ci_low") > 0) | (F.col("uplift_ci_high") < 0))
            .join(campaigns.select("campaign_id", "product_id", "channel", "start_date"), "campaign_id", "left")
            .withColumn("_run_id", F.lit(run_id)))


def evaluate_campaigns(lake: Lake, run_id: str) -> DataFrame:
    """Recompute marts.campaign_results from cleaned.contacts and cleaned.campaigns (one overwrite)."""
    results = campaign_results(lake.read("cleaned.contacts"), lake.read("cleaned.campaigns"), run_id).localCheckpoint()
    lake.create(RESULTS_TABLE)
    lake.overwrite(RESULTS_TABLE, results)
    return lake.read(RESULTS_TABLE)
