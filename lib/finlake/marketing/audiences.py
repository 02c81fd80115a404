"""Audiences: marketer-readable YAML definitions (conf/audiences/*.yaml) turned into customer lists.

A definition names a campaign, the filters a customer must meet (tags of
features.customer_tags, scores of scores.*, an optional SQL condition over
features.customer_monthly), how to order qualifying customers (expected value = probability x
customer value), a size limit and the share kept as a random holdout control group. Exclusions
are not optional: consent per channel and the do-not-contact list always win, a complaint in
the last ``COMPLAINT_DAYS`` days or an active account of the offered product type excludes the
customer. Format and examples: docs/marketing.md.

``select_audience`` is a pure transform over the inputs of one cut-off; contact caps across
campaigns are applied afterwards (finlake.marketing.channels), then finlake.marketing.build
writes the tables and exports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import yaml
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from finlake.catalog import Catalog, default_catalog
from finlake.errors import FinlakeError

CHANNELS = ("sms", "outbound_call", "app_push", "email")
PRODUCT_TYPES = ("savings", "current", "credit_card", "personal_loan", "mortgage", "wealth", "fund", "insurance")
COMPLAINT_DAYS = 30
STATUSES = ("contact", "control", "capped")

_KEYS = {"campaign", "description", "owner", "product_type", "channels", "filters", "expected_value",
         "size_limit", "control_share", "seed"}
_REQUIRED = ("campaign", "description", "owner", "channels", "size_limit", "control_share", "seed")


class AudienceDefinitionError(FinlakeError, ValueError):
    """An audience definition file is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class TagFilter:
    """The customer carries ``tag`` at the cut-off (with a value among ``values`` when given)."""

    tag: str
    values: tuple[str, ...] | None = None

    def describe(self) -> str:
        return self.tag if self.values is None else f"{self.tag} in {'/'.join(self.values)}"


@dataclass(frozen=True)
class ScoreFilter:
    """A bound on a score table's ``decile`` (1 = highest) and/or ``probability``."""

    table: str
    decile_max: int | None = None
    probability_min: float | None = None


@dataclass(frozen=True)
class AudienceDefinition:
    campaign: str
    description: str
    owner: str
    product_type: str | None
    channels: tuple[str, ...]
    tag_filters: tuple[TagFilter, ...]
    score_filters: tuple[ScoreFilter, ...]
    where: str | None
    probability_table: str | None
    value_column: str
    size_limit: int
    control_share: float
    seed: int
    source_file: str

    @property
    def table(self) -> str:
        return f"audiences.{self.campaign}"

    @property
    def score_tables(self) -> tuple[str, ...]:
        tables = [f.table for f in self.score_filters]
        if self.probability_table:
            tables.append(self.probability_table)
        return tuple(dict.fromkeys(tables))


def load_definition(path: Path | str, catalog: Catalog | None = None) -> AudienceDefinition:
    """Parse and validate one definition file; every error names the file and the field."""
    path = Path(path)
    catalog = catalog or default_catalog()

    def fail(field: str, message: str):
        raise AudienceDefinitionError(f"{path}: field '{field}': {message}")

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AudienceDefinitionError(f"audience definition {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise AudienceDefinitionError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise AudienceDefinitionError(f"{path}: must be a mapping with the fields {sorted(_KEYS)}")
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        fail(unknown[0], f"unknown field; allowed fields are {sorted(_KEYS)}")
    for key in _REQUIRED:
        if doc.get(key) in (None, ""):
            fail(key, "is required")

    campaign = doc["campaign"]
    if not isinstance(campaign, str) or not campaign.replace("_", "").isalnum() or not campaign.islower():
        fail("campaign", f"'{campaign}' must be lower_snake_case")
    if f"audiences.{campaign}" not in catalog:
        fail("campaign", f"table 'audiences.{campaign}' is not declared; copy schemas/audiences/retention.yaml "
                         f"to schemas/audiences/{campaign}.yaml and change its 'table' and 'description'")
    if "status" not in catalog.get(f"audiences.{campaign}").schema.fieldNames():
        fail("campaign", f"table 'audiences.{campaign}' is not a campaign audience table (no status column); "
                         f"choose another campaign name")

    product_type = doc.get("product_type")
    if product_type is not None and product_type not in PRODUCT_TYPES:
        fail("product_type", f"'{product_type}' is not one of {list(PRODUCT_TYPES)} (or null)")

    channels = doc["channels"]
    if not isinstance(channels, list) or not channels:
        fail("channels", f"must be a non-empty list of {list(CHANNELS)}")
    for channel in channels:
        if channel not in CHANNELS:
            fail("channels", f"'{channel}' is not one of {list(CHANNELS)}")

    filters = doc.get("filters") or {}
    if not isinstance(filters, dict) or set(filters) - {"tags", "scores", "where"}:
        fail("filters", "must be a mapping with 'tags', 'scores' and/or 'where'")
    tag_filters = tuple(_tag_filter(item, i, fail) for i, item in enumerate(filters.get("tags") or []))
    score_filters = tuple(_score_filter(item, i, fail, catalog) for i, item in enumerate(filters.get("scores") or []))
    where = filters.get("where")
    if where is not None and (not isinstance(where, str) or not where.strip()):
        fail("filters.where", "must be a Spark SQL condition over features.customer_monthly columns")

    ev = doc.get("expected_value") or {}
    if not isinstance(ev, dict) or set(ev) - {"probability", "value"} or "value" not in ev:
        fail("expected_value", "must be a mapping with 'value' (a features.customer_monthly column) and optional "
                               "'probability' (a scores.* table with a probability column)")
    monthly = catalog.get("features.customer_monthly").schema
    value_type = monthly[ev["value"]].dataType.typeName() if ev["value"] in monthly.fieldNames() else None
    if value_type not in ("double", "float", "integer", "long", "decimal", "short"):
        fail("expected_value.value", f"'{ev['value']}' is not a numeric column of features.customer_monthly")
    probability_table = ev.get("probability")
    if probability_table is not None:
        _check_score_table(probability_table, "expected_value.probability", fail, catalog)

    size_limit = doc["size_limit"]
    if not isinstance(size_limit, int) or isinstance(size_limit, bool) or size_limit < 1:
        fail("size_limit", f"{size_limit!r} must be a positive integer")
    share = doc["control_share"]
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share < 1:
        fail("control_share", f"{share!r} must be a number strictly between 0 and 1 (every campaign keeps a holdout)")
    seed = doc["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool):
        fail("seed", f"{seed!r} must be an integer")

    return AudienceDefinition(
        campaign=campaign, description=str(doc["description"]), owner=str(doc["owner"]),
        product_type=product_type, channels=tuple(channels), tag_filters=tag_filters,
        score_filters=score_filters, where=where, probability_table=probability_table,
        value_column=ev["value"], size_limit=size_limit, control_share=float(share), seed=seed,
        source_file=str(path),
    )


def _tag_filter(item, i, fail) -> TagFilter:
    field = f"filters.tags[{i}]"
    if not isinstance(item, dict) or "tag" not in item or set(item) - {"tag", "in"}:
        fail(field, "must be {tag: <name>} or {tag: <name>, in: [<values>]}")
    values = item.get("in")
    if values is not None and (not isinstance(values, list) or not values):
        fail(f"{field}.in", "must be a non-empty list of tag values")
    return TagFilter(str(item["tag"]), tuple(str(v) for v in values) if values else None)


def _score_filter(item, i, fail, catalog) -> ScoreFilter:
    field = f"filters.scores[{i}]"
    if not isinstance(item, dict) or "table" not in item or set(item) - {"table", "decile_max", "probability_min"}:
        fail(field, "must be {table: scores.<name>, decile_max: <1-10>} and/or probability_min: <0-1>")
    _check_score_table(item["table"], f"{field}.table", fail, catalog)
    decile, prob = item.get("decile_max"), item.get("probability_min")
    if decile is None and prob is None:
        fail(field, "needs decile_max and/or probability_min")
    if decile is not None and (not isinstance(decile, int) or not 1 <= decile <= 10):
        fail(f"{field}.decile_max", f"{decile!r} must be an integer from 1 to 10")
    if prob is not None and (not isinstance(prob, (int, float)) or not 0 <= prob <= 1):
        fail(f"{field}.probability_min", f"{prob!r} must be a number from 0 to 1")
    return ScoreFilter(item["table"], decile, None if prob is None else float(prob))


def _check_score_table(name, field, fail, catalog) -> None:
    if not isinstance(name, str) or not name.startswith("scores.") or name not in catalog:
        fail(field, f"'{name}' is not a declared scores.* table; known: {catalog.names('scores')}")
    columns = catalog.get(name).schema.fieldNames()
    missing = [c for c in ("probability", "decile", "model_name", "model_version") if c not in columns]
    if missing:
        fail(field, f"'{name}' lacks the columns {missing} a score filter needs")


def load_definitions(directory: Path | str, catalog: Catalog | None = None) -> list[AudienceDefinition]:
    """Every ``*.yaml`` definition of ``directory``; campaign names must be unique."""
    defs = [load_definition(p, catalog) for p in sorted(Path(directory).glob("*.yaml"))]
    seen: dict[str, str] = {}
    for d in defs:
        if d.campaign in seen:
            raise AudienceDefinitionError(f"{d.source_file}: field 'campaign': '{d.campaign}' is also defined in {seen[d.campaign]}")
        seen[d.campaign] = d.source_file
    return defs


# --- selection --------------------------------------------------------------------------------

def excluded_customers(as_of: date, product_type: str | None, dnc: DataFrame, complaints: DataFrame,
                       accounts: DataFrame) -> DataFrame:
    """(customer_id) of customers no campaign may select at ``as_of``.

    On the do-not-contact list by the end of ``as_of`` (entries are never removed), a complaint
    in the ``COMPLAINT_DAYS`` days up to ``as_of``, or an active account of ``product_type``.
    """
    end = F.lit(as_of + timedelta(days=1)).cast("timestamp")
    parts = [
        dnc.where(F.col("listed_at") < end).select("customer_id"),
        complaints.where(F.col("business_date").between(F.lit(as_of - timedelta(days=COMPLAINT_DAYS - 1)), F.lit(as_of)))
        .select("customer_id"),
    ]
    if product_type is not None:
        parts.append(accounts.where((F.col("product_type") == product_type) & (F.col("status") == "active")
                                    & (F.col("open_date") <= F.lit(as_of))).select("customer_id"))
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out.distinct()


def select_audience(defn: AudienceDefinition, as_of: date, *, monthly: DataFrame, tags: DataFrame,
                    scores: dict[str, DataFrame], excluded: DataFrame, channel_choice: DataFrame,
                    run_id: str) -> DataFrame:
    """The audience of ``defn`` at ``as_of`` in the schema of ``audiences.<campaign>``.

    ``monthly``, ``tags`` and ``scores`` are the feature, tag and score tables (any cut-offs; the
    ``as_of`` rows are used). ``excluded`` is ``excluded_customers(...)``; ``channel_choice`` is
    ``channels.choose_channel(...)`` for this campaign: customers without a consented channel
    are absent from it and so never selected. Status is ``control`` for the holdout and
    ``contact`` for everyone else (contact caps come later).
    """
    at = F.lit(as_of)
    base = monthly.where(F.col("as_of") == at).select(
        "customer_id", F.col(defn.value_column).cast("double").alias("customer_value"))
    reasons = [F.lit(f.describe()) for f in defn.tag_filters if f.values is None]
    for f in defn.tag_filters:
        matching = tags.where((F.col("as_of") == at) & (F.col("tag") == f.tag))
        if f.values is not None:
            matching = matching.where(F.col("value").isin(list(f.values)))
            alias = f"_tag_{len(reasons)}"
            base = base.join(matching.select("customer_id", F.col("value").alias(alias)).distinct(), "customer_id")
            reasons.append(F.concat(F.lit(f"{f.tag}="), F.col(alias)))
        else:
            base = base.join(matching.select("customer_id").distinct(), "customer_id", "left_semi")
    versions = []
    for table in defn.score_tables:
        alias = table.split(".", 1)[1]
        score = scores[table].where(F.col("as_of") == at).select(
            "customer_id", F.col("probability").alias(f"_{alias}_p"), F.col("decile").alias(f"_{alias}_d"),
            F.concat_ws(":", "model_name", "model_version").alias(f"_{alias}_v"))
        base = base.join(score, "customer_id")
        versions.append(F.col(f"_{alias}_v"))
    for f in defn.score_filters:
        alias = f.table.split(".", 1)[1]
        if f.decile_max is not None:
            base = base.where(F.col(f"_{alias}_d") <= f.decile_max)
        if f.probability_min is not None:
            base = base.where(F.col(f"_{alias}_p") >= f.probability_min)
        reasons.append(F.format_string(f"{alias} decile %d (p=%.2f)", F.col(f"_{alias}_d"), F.col(f"_{alias}_p")))
    if defn.where:
        keep = monthly.where(F.col("as_of") == at)
        try:
            keep = keep.where(defn.where)
        except Exception as exc:  # AnalysisException / ParseException: report the file and field
            raise AudienceDefinitionError(f"{defn.source_file}: field 'filters.where': {defn.where!r} is not a valid "
                                          f"condition over features.customer_monthly: {str(exc).splitlines()[0]}") from None
        base = base.join(keep.select("customer_id"), "customer_id", "left_semi")
        reasons.append(F.lit(defn.where))

    base = (base.join(excluded, "customer_id", "left_anti")
            .join(channel_choice.select("customer_id", "channel"), "customer_id"))
    probability = F.col(f"_{defn.probability_table.split('.', 1)[1]}_p") if defn.probability_table else F.lit(1.0)
    ordered = (base.withColumn("probability", probability.cast("double"))
               .withColumn("customer_value", F.coalesce("customer_value", F.lit(0.0)))
               .withColumn("expected_value", F.col("probability") * F.col("customer_value")))
    rank = F.row_number().over(Window.orderBy(F.desc("expected_value"), "customer_id"))
    top = ordered.withColumn("rank", rank).where(F.col("rank") <= defn.size_limit)
    control = holdout_draw(defn.seed, F.col("customer_id")) < defn.control_share
    reasons.append(F.format_string("expected value %.0f", F.col("expected_value")))
    return top.select(
        F.lit(defn.campaign).alias("campaign"), at.alias("as_of"), "customer_id",
        F.lit(defn.product_type).cast("string").alias("product_type"),
        F.when(control, F.lit(None)).otherwise(F.col("channel")).alias("channel"),
        F.col("rank").cast("int").alias("rank"), "probability", "customer_value", "expected_value",
        F.when(control, "control").otherwise("contact").alias("status"),
        F.concat_ws("; ", *reasons).alias("reason"),
        (F.concat_ws(",", *versions) if versions else F.lit("")).alias("model_versions"),
        F.lit(run_id).alias("_run_id"),
    )


def holdout_draw(seed: int, customer_id) -> "F.Column":
    """A uniform number in [0, 1) from the seed and the customer id alone.

    Deterministic across runs, machines and Spark versions (SHA-256, not Spark's hash), so the
    same customer falls in the same group whenever the audience is rebuilt.
    """
    digest = F.sha2(F.concat(F.lit(f"{seed}:"), customer_id), 256)
    return F.conv(F.substring(digest, 1, 8), 16, 10).cast("double") / float(16 ** 8)
