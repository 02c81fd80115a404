"""features.customer_tags: the customer profile as statistical, rule and model tags.

Rule tags live in ``conf/tags.yaml``, a file a marketer edits::

    tags:
      - name: active_consumer
        family: behaviour
        expression: "txn_count_30d >= 2"
        description: At least two postings in the 30 days before the cut-off.
        owner: marketing-analytics

``expression`` is a Spark SQL boolean expression over features.customer_monthly columns. The
file is checked before any data is read (``load_tag_rules``): every expression is analysed
against exactly the columns it is later evaluated on (``rule_input``: the declared schema
without the bookkeeping columns such as ``_run_id``), so an unknown column, a non-boolean
result, an aggregate or a syntax error is a TagRuleError naming the tag and the file.

Model tags come from functions listed in ``MODEL_TAG_PROVIDERS`` ("module:function"); each
takes (lake, customer_features) and returns rows with customer_id, as_of, tag, family, value,
score, definition (see ``model_tag_rows``).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from finlake.catalog import PROJECT_ROOT
from finlake.errors import FinlakeError
from finlake.features.reference import aum_tier

FAMILIES = ("natural", "occupation", "financial", "asset", "behaviour")
SOURCES = ("statistical", "rule", "model")
DEFAULT_TAGS_FILE = PROJECT_ROOT / "conf" / "tags.yaml"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Statistical tags: tag name -> (family, the customer_monthly column or derivation it reads).
STATISTICAL_TAGS = {
    "age_band": ("natural", "age_band"),
    "gender": ("natural", "gender"),
    "city": ("natural", "city_code"),
    "occupation": ("occupation", "occupation"),
    "income_band": ("occupation", "income_band"),
    "risk_tolerance": ("financial", "risk_tolerance"),
    "aum_tier": ("asset", "aum_balance (tiers: finlake.features.reference.AUM_TIERS)"),
}
# "module:function" of model-tag providers (see module docstring): the champions' segment and
# churn_risk_high tags (docs/models.md); they return no rows while no champion exists.
MODEL_TAG_PROVIDERS: tuple[str, ...] = ("finlake.models.workflows:model_tags",)
TAG_COLUMNS = ("customer_id", "as_of", "tag", "family", "value", "score", "source", "definition")
INTERNAL_PREFIX = "_"  # bookkeeping columns (_run_id): not features, never visible to a rule


class TagRuleError(FinlakeError, ValueError):
    """conf/tags.yaml is missing or a rule in it is invalid; the message names the tag and the fix."""


@dataclass(frozen=True)
class TagRule:
    name: str
    family: str
    expression: str
    description: str
    owner: str


def rule_input(features: DataFrame) -> DataFrame:
    """The customer_monthly columns tags are computed from: all but the bookkeeping ones."""
    return features.select(*[c for c in features.columns if not c.startswith(INTERNAL_PREFIX)])


def load_tag_rules(spark: SparkSession, schema: T.StructType, path: Path | str | None = None) -> list[TagRule]:
    """Read and validate the rule tags of ``path`` (default conf/tags.yaml) against ``schema``.

    Validation analyses each expression on an empty DataFrame of the columns of ``schema`` that
    ``rule_tags`` evaluates it on (``rule_input``): nothing is computed.
    """
    path = Path(path or DEFAULT_TAGS_FILE)
    if not path.is_file():
        raise TagRuleError(f"tag file {path} does not exist; create it (format: docs/features.md, 'Tag file')")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise TagRuleError(f"tag file {path} is not valid YAML: {exc}") from None
    entries = doc.get("tags") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise TagRuleError(f"tag file {path} must hold a 'tags:' list of rules (name, family, expression, "
                           "description, owner)")
    empty = rule_input(spark.createDataFrame([], schema))
    rules, seen = [], set()
    for index, entry in enumerate(entries):
        rule = _parse_rule(path, index, entry)
        if rule.name in seen or rule.name in STATISTICAL_TAGS:
            raise TagRuleError(f"tag file {path}: tag '{rule.name}' is declared twice (or is a statistical tag)")
        seen.add(rule.name)
        _check_expression(path, rule, empty)
        rules.append(rule)
    return rules


def _parse_rule(path: Path, index: int, entry) -> TagRule:
    where = f"tag file {path}, entry #{index}"
    if not isinstance(entry, dict):
        raise TagRuleError(f"{where} must be a mapping with name, family, expression, description, owner")
    name = entry.get("name")
    if isinstance(name, str):
        where = f"tag file {path}, tag '{name}'"
    missing = [k for k in ("name", "family", "expression", "description", "owner") if not entry.get(k)]
    if missing:
        raise TagRuleError(f"{where}: missing {missing}")
    unknown = sorted(set(entry) - {"name", "family", "expression", "description", "owner"})
    if unknown:
        raise TagRuleError(f"{where}: unknown keys {unknown}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise TagRuleError(f"{where}: name must be lower_snake_case (letters, digits, _)")
    if entry["family"] not in FAMILIES:
        raise TagRuleError(f"{where}: family '{entry['family']}' is not one of {', '.join(FAMILIES)}")
    return TagRule(name=name, family=entry["family"], expression=str(entry["expression"]),
                   description=str(entry["description"]).strip(), owner=str(entry["owner"]))


def _check_expression(path: Path, rule: TagRule, empty: DataFrame) -> None:
    where = f"tag file {path}, tag '{rule.name}' (expression: {rule.expression})"
    try:
        analysed = empty.select(F.expr(rule.expression).alias("v"))
        kind = analysed.schema["v"].dataType
        empty.where(F.expr(rule.expression)).schema  # refuses aggregates and window functions
    except Exception as exc:  # Spark raises ParseException / AnalysisException subclasses
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TagRuleError(f"{where} is invalid: {first}. Use customer_monthly feature columns "
                           "(schemas/features/customer_monthly.yaml; columns starting with "
                           f"'{INTERNAL_PREFIX}', such as _run_id, are bookkeeping, not features) in a boolean "
                           "SQL expression") from None
    if not isinstance(kind, T.BooleanType):
        raise TagRuleError(f"{where} gives {kind.simpleString()}, not a boolean; write a condition "
                           "such as 'txn_count_30d >= 2'")


def statistical_tags(features: DataFrame) -> DataFrame:
    """One row per customer, cut-off and statistical tag (null attributes give no row)."""
    parts = []
    for tag, (family, definition) in STATISTICAL_TAGS.items():
        value = aum_tier(F.col("aum_balance")) if tag == "aum_tier" else F.col(definition)
        parts.append(features.select("customer_id", "as_of", F.lit(tag).alias("tag"), F.lit(family).alias("family"),
                                     value.cast("string").alias("value"), F.lit(None).cast("double").alias("score"),
                                     F.lit("statistical").alias("source"), F.lit(definition).alias("definition")))
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out.where(F.col("value").isNotNull())


def rule_tags(features: DataFrame, rules: list[TagRule]) -> DataFrame:
    """One row per customer, cut-off and rule that holds (value 'true').

    All rules are evaluated in one pass: an array of the names of the rules that hold, exploded.
    They see the columns ``load_tag_rules`` validated them against (``rule_input``).
    """
    features = rule_input(features)
    if not rules:
        return features.limit(0).select(*[F.lit(None).cast(t).alias(c) for c, t in _TAG_TYPES.items()])
    held = F.filter(F.array(*[F.when(F.expr(r.expression), F.lit(r.name)) for r in rules]), lambda x: x.isNotNull())
    meta = F.create_map(*[x for r in rules for x in (F.lit(r.name), F.array(F.lit(r.family), F.lit(r.expression)))])
    return (features.select("customer_id", "as_of", F.explode(held).alias("tag"))
            .select("customer_id", "as_of", "tag", meta[F.col("tag")][0].alias("family"), F.lit("true").alias("value"),
                    F.lit(None).cast("double").alias("score"), F.lit("rule").alias("source"),
                    meta[F.col("tag")][1].alias("definition")))


_TAG_TYPES = {"customer_id": "string", "as_of": "date", "tag": "string", "family": "string", "value": "string",
              "score": "double", "source": "string", "definition": "string"}


def model_tag_rows(lake, features: DataFrame, providers: tuple[str, ...] = MODEL_TAG_PROVIDERS) -> list[DataFrame]:
    """Rows from each model-tag provider, checked and marked source 'model'.

    A provider is ``f(lake, customer_features) -> DataFrame`` with columns customer_id, as_of,
    tag, family, value, score, definition (e.g. "churn_model@3"). It is called only for the
    cut-offs in ``features``; it returns what its model predicts for them.
    """
    out = []
    for entry in providers:
        module, _, name = entry.partition(":")
        provider: Callable = getattr(importlib.import_module(module), name)
        rows = provider(lake, features)
        missing = [c for c in TAG_COLUMNS if c != "source" and c not in rows.columns]
        if missing:
            raise TagRuleError(f"model tag provider {entry} returned rows without {missing}")
        out.append(rows.select(*[F.col(c).cast(_TAG_TYPES[c]) if c != "source" else F.lit("model").alias("source")
                                 for c in TAG_COLUMNS]))
    return out


def compute_customer_tags(features: DataFrame, rules: list[TagRule], model_rows: list[DataFrame] = ()) -> DataFrame:
    """features.customer_tags rows (without _run_id): statistical, rule and model tags."""
    out = statistical_tags(features).unionByName(rule_tags(features, rules))
    for rows in model_rows:
        out = out.unionByName(rows)
    return out

