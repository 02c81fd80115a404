"""Channels: consent, each customer's preferred channel, and contact caps across campaigns.

Consent always wins: a customer is reachable on a channel only when the latest consent row for
(customer, channel) up to the cut-off says yes; no row means no consent. Among a campaign's
allowed channels the customer gets the one they responded to best in the past (ties and
customers without history follow the campaign's own order). Caps (conf/contact_policy.yaml)
bound the contacts per customer per channel per period over all campaigns of the period, with
the contacts already made in the period counted first and campaigns served in priority order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import yaml
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from finlake.errors import FinlakeError
from finlake.marketing.audiences import CHANNELS

RESPONSE_OUTCOMES = ("responded", "converted")


class ContactPolicyError(FinlakeError, ValueError):
    """conf/contact_policy.yaml is invalid; the message names the field."""


@dataclass(frozen=True)
class ContactPolicy:
    caps: dict[str, int]
    priority: tuple[str, ...]
    source_file: str

    def check_campaigns(self, campaigns) -> None:
        missing = [c for c in campaigns if c not in self.priority]
        if missing:
            raise ContactPolicyError(f"{self.source_file}: field 'priority': campaigns {missing} are not listed; "
                                     f"add them where they rank among {list(self.priority)}")


def load_contact_policy(path: Path | str) -> ContactPolicy:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContactPolicyError(f"contact policy {path} does not exist") from None
    if not isinstance(doc, dict) or set(doc) - {"period", "caps", "priority"}:
        raise ContactPolicyError(f"{path}: must be a mapping with 'period', 'caps' and 'priority'")
    if doc.get("period") != "month":
        raise ContactPolicyError(f"{path}: field 'period': {doc.get('period')!r}; only 'month' is supported")
    caps = doc.get("caps") or {}
    for channel, cap in caps.items():
        if channel not in CHANNELS:
            raise ContactPolicyError(f"{path}: field 'caps.{channel}': not one of {list(CHANNELS)}")
        if not isinstance(cap, int) or isinstance(cap, bool) or cap < 0:
            raise ContactPolicyError(f"{path}: field 'caps.{channel}': {cap!r} must be a non-negative integer")
    priority = doc.get("priority")
    if not isinstance(priority, list) or not priority or len(set(priority)) != len(priority):
        raise ContactPolicyError(f"{path}: field 'priority': must be a list of distinct campaign names, first served first")
    return ContactPolicy(dict(caps), tuple(priority), str(path))


def contact_period(as_of: date) -> tuple[date, date]:
    """The month the contacts of an audience cut at ``as_of`` go out: the month of ``as_of + 1 day``."""
    start = (as_of + timedelta(days=1)).replace(day=1)
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return start, end


def consented_channels(consents: DataFrame, as_of: date) -> DataFrame:
    """(customer_id, channel) with consent at the end of ``as_of`` (latest row per channel wins)."""
    end = F.lit(as_of + timedelta(days=1)).cast("timestamp")
    latest = Window.partitionBy("customer_id", "channel").orderBy(F.desc("updated_at"))
    return (consents.where(F.col("updated_at") < end)
            .withColumn("_n", F.row_number().over(latest))
            .where((F.col("_n") == 1) & F.col("consent"))
            .select("customer_id", "channel"))


def channel_response_rates(contacts: DataFrame, as_of: date) -> DataFrame:
    """(customer_id, channel, contacts, responses, response_rate) from treated contacts up to ``as_of``."""
    treated = contacts.where(~F.col("control_group") & F.col("channel").isNotNull()
                             & (F.col("business_date") <= F.lit(as_of)))
    return (treated.groupBy("customer_id", "channel")
            .agg(F.count("*").alias("contacts"),
                 F.sum(F.col("outcome").isin(*RESPONSE_OUTCOMES).cast("int")).alias("responses"))
            .withColumn("response_rate", F.col("responses") / F.col("contacts")))


def choose_channel(allowed: tuple[str, ...], consented: DataFrame, rates: DataFrame) -> DataFrame:
    """(customer_id, channel): the customer's best consented channel among ``allowed``.

    Best = highest past response rate; without history (or on ties) the campaign's order.
    Customers with no consented allowed channel are absent.
    """
    order = F.create_map(*[x for i, c in enumerate(allowed) for x in (F.lit(c), F.lit(i))])
    pick = Window.partitionBy("customer_id").orderBy(F.desc("_rate"), "_order")
    return (consented.where(F.col("channel").isin(list(allowed)))
            .join(rates.select("customer_id", "channel", "response_rate"), ["customer_id", "channel"], "left")
            .withColumn("_rate", F.coalesce("response_rate", F.lit(0.0)))
            .withColumn("_order", order[F.col("channel")])
            .withColumn("_n", F.row_number().over(pick))
            .where(F.col("_n") == 1)
            .select("customer_id", "channel"))


def contacts_in_period(contacts: DataFrame, start: date, end: date) -> DataFrame:
    """(customer_id, channel, contacted): treated contacts already made between ``start`` and ``end``."""
    return (contacts.where(~F.col("control_group") & F.col("channel").isNotNull()
                           & F.col("business_date").between(F.lit(start), F.lit(end)))
            .groupBy("customer_id", "channel").agg(F.count("*").alias("contacted")))


def apply_contact_caps(audiences: DataFrame, policy: ContactPolicy, already: DataFrame) -> DataFrame:
    """``audiences`` (rows of several campaigns) with ``contact`` rows over a cap set to ``capped``.

    Per (customer, channel), contacts are granted in campaign priority order after the
    ``already`` made contacts of the period (customer_id, channel, contacted); a channel without
    a cap is not limited. Control rows are never contacted and so never count.
    """
    policy.check_campaigns([r[0] for r in audiences.select("campaign").distinct().collect()])
    priority = F.create_map(*[x for i, c in enumerate(policy.priority) for x in (F.lit(c), F.lit(i))])
    caps = F.create_map(*[x for c, n in policy.caps.items() for x in (F.lit(c), F.lit(n))]) if policy.caps else None
    contact = F.col("status") == "contact"
    seq = F.sum(contact.cast("int")).over(
        Window.partitionBy("customer_id", "channel").orderBy(priority[F.col("campaign")], "campaign")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow))
    cap = caps[F.col("channel")] if caps is not None else F.lit(None)
    over = contact & cap.isNotNull() & (F.coalesce("contacted", F.lit(0)) + seq > cap)
    columns = audiences.columns
    return (audiences.join(already, ["customer_id", "channel"], "left")
            .withColumn("status", F.when(over, "capped").otherwise(F.col("status")))
            .select(*columns))
