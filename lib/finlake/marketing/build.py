"""Build the audiences of a cut-off: select every campaign, cap contacts across them, write, export.

Everything is computed and checked before the first write, so a failure leaves every
``audiences.*`` table as it was; each table write replaces the ``as_of`` partition, so a rerun
gives the same result (the holdout draw is deterministic) and completes a half-done run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finlake.catalog import PROJECT_ROOT
from finlake.errors import FinlakeError
from finlake.lake import Lake
from finlake.marketing.audiences import (AudienceDefinition, STATUSES, excluded_customers, load_definition,
                                         load_definitions, select_audience)
from finlake.marketing.channels import (apply_contact_caps, channel_response_rates, choose_channel,
                                        consented_channels, contact_period, contacts_in_period, load_contact_policy)
from finlake.marketing.export import export_frame, write_export_csv
from finlake.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_DEFINITIONS_DIR = PROJECT_ROOT / "conf" / "audiences"
DEFAULT_POLICY_FILE = PROJECT_ROOT / "conf" / "contact_policy.yaml"


class AudienceInputError(FinlakeError):
    """The tables an audience needs are missing or hold no cut-off."""


@dataclass(frozen=True)
class AudienceResult:
    campaign: str
    table: str
    as_of: date
    contact: int
    control: int
    capped: int
    export_path: str


def build_audiences(lake: Lake, settings: Settings, run_id: str, as_of: date | None = None,
                    definitions: list[Path | str] | None = None, policy_file: Path | str | None = None
                    ) -> list[AudienceResult]:
    """Build ``definitions`` (default: every conf/audiences/*.yaml) at the cut-off ``as_of``.

    ``as_of`` resolves to the latest features.customer_monthly cut-off on or before it (the
    latest one when None). Contacts already made in the contact month (cleaned.contacts) and the
    ``contact`` rows of audiences of the same cut-off not rebuilt now count against the caps.
    """
    defs = ([load_definition(p, lake.catalog) for p in definitions] if definitions
            else load_definitions(DEFAULT_DEFINITIONS_DIR, lake.catalog))
    if not defs:
        raise AudienceInputError(f"no audience definitions in {DEFAULT_DEFINITIONS_DIR}")
    policy = load_contact_policy(policy_file or DEFAULT_POLICY_FILE)
    policy.check_campaigns([d.campaign for d in defs])
    as_of = resolve_as_of(lake, as_of)
    log.info("building audiences %s at %s (run %s)", [d.campaign for d in defs], as_of, run_id)

    read = input_reader(lake)
    contacts = read("cleaned.contacts")
    consented = consented_channels(read("cleaned.consents"), as_of)
    rates = channel_response_rates(contacts, as_of)
    monthly, tags = read("features.customer_monthly"), read("features.customer_tags")
    scores = {t: read(t) for d in defs for t in d.score_tables}
    dnc, complaints, accounts = read("cleaned.do_not_contact"), read("cleaned.complaints"), read("cleaned.accounts")

    selected = None
    for d in defs:
        audience = select_audience(
            d, as_of, monthly=monthly, tags=tags, scores=scores,
            excluded=excluded_customers(as_of, d.product_type, dnc, complaints, accounts),
            channel_choice=choose_channel(d.channels, consented, rates), run_id=run_id)
        selected = audience if selected is None else selected.unionByName(audience)

    start, end = contact_period(as_of)
    already = contacts_in_period(contacts, start, end)
    others = _other_audience_contacts(lake, [d.campaign for d in defs], as_of)
    if others is not None:
        already = (already.unionByName(others).groupBy("customer_id", "channel")
                   .agg(F.sum("contacted").alias("contacted")))
    final = apply_contact_caps(selected, policy, already).localCheckpoint()
    _check(final, defs)

    customers = read("cleaned.customers")
    exports = {d.campaign: export_frame(final.where(F.col("campaign") == d.campaign), customers).localCheckpoint()
               for d in defs}
    counts = {(r["campaign"], r["status"]): r["n"] for r in final.groupBy("campaign", "status").agg(F.count("*").alias("n")).collect()}

    results = []
    for d in defs:
        lake.create(d.table)
        lake.replace_where(d.table, final.where(F.col("campaign") == d.campaign), f"as_of = DATE'{as_of.isoformat()}'")
        path = write_export_csv(exports[d.campaign], export_path(settings, d.campaign, as_of))
        result = AudienceResult(d.campaign, d.table, as_of, *(counts.get((d.campaign, s), 0) for s in STATUSES), str(path))
        log.info("%s", result)
        results.append(result)
    return results


def export_path(settings: Settings, campaign: str, as_of: date) -> Path:
    """Where the CRM / call-centre CSV of an audience goes: <home>/exports/<campaign>/<campaign>_<as_of>.csv."""
    return Path(settings.home) / "exports" / campaign / f"{campaign}_{as_of.isoformat()}.csv"


def resolve_as_of(lake: Lake, as_of: date | None) -> date:
    monthly = input_reader(lake)("features.customer_monthly")
    if as_of is not None:
        monthly = monthly.where(F.col("as_of") <= F.lit(as_of))
    latest = monthly.agg(F.max("as_of")).first()[0]
    if latest is None:
        raise AudienceInputError(f"features.customer_monthly holds no cut-off on or before {as_of}; "
                                 f"run 'finlake features' (and 'finlake score') first")
    return latest


def input_reader(lake: Lake):
    """A function reading a table by name, or AudienceInputError saying how to build it."""
    def read(name: str) -> DataFrame:
        if not lake.exists(name):
            raise AudienceInputError(f"marketing needs table '{name}', which does not exist yet; run the pipeline "
                                     f"up to 'finlake score' first ('finlake run')")
        return lake.read(name)
    return read


def _other_audience_contacts(lake: Lake, building: list[str], as_of: date) -> DataFrame | None:
    """(customer_id, channel, contacted) of the existing audiences of ``as_of`` not rebuilt now."""
    out = None
    for name in lake.catalog.names("audiences"):
        campaign_table = "status" in lake.catalog.get(name).schema.fieldNames()  # not audiences.lookalikes
        if not campaign_table or name.split(".", 1)[1] in building or not lake.exists(name):
            continue
        rows = (lake.read(name).where((F.col("as_of") == F.lit(as_of)) & (F.col("status") == "contact"))
                .groupBy("customer_id", "channel").agg(F.count("*").alias("contacted")))
        out = rows if out is None else out.unionByName(rows)
    return out


def _check(final: DataFrame, defs: list[AudienceDefinition]) -> None:
    """Refuse to write an audience that breaks the rules the tables promise."""
    dupes = final.groupBy("campaign", "customer_id").count().where("count > 1").limit(5).collect()
    if dupes:
        raise FinlakeError(f"audience selection produced duplicate customers: {[tuple(r)[:2] for r in dupes]}")
    limits = {d.campaign: d.size_limit for d in defs}
    for row in final.groupBy("campaign").count().collect():
        if row["count"] > limits[row["campaign"]]:
            raise FinlakeError(f"audience {row['campaign']} has {row['count']} rows, over its size_limit {limits[row['campaign']]}")
