"""The landing sources, declared with their raw tables in ``schemas/raw/<table>.yaml``.

Each raw table's declaration carries a ``landing`` block: which landing sources feed it, their
file format, encoding and delivery cadence, the columns a batch header must contain, and the
business key. The source fields are the table's columns not starting with ``_``, in the order of
schema version 1 of the file (docs/landing.md). Declaring them next to the table keeps one place
to change when a source system changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from finlake.catalog import Catalog, default_catalog
from finlake.errors import SettingsError

FORMATS = ("csv", "jsonl")
ENCODINGS = ("utf-8", "gb18030")
# daily: every business date; monthly: the first business date of each month;
# month_end: the last calendar day of each month; once: a single delivery.
CADENCES = ("daily", "monthly", "month_end", "once")


@dataclass(frozen=True)
class SourceSpec:
    """One landing source and how to read it."""

    source: str  # folder below the landing root, e.g. "customers/branch"
    raw_table: str  # e.g. "raw.customers"
    format: str
    encoding: str
    cadence: str
    fields: tuple[str, ...]  # declared source fields, schema-version-1 order
    required: tuple[str, ...]  # a batch whose header lacks one of these is refused
    key: str | None = None  # business key, for duplicate and re-send counts
    system: str | None = None  # value of the raw table's _system column, when it has one


def load_sources(catalog: Catalog | None = None) -> dict[str, SourceSpec]:
    """Every landing source declared by a raw table of ``catalog``, by source name."""
    catalog = catalog or default_catalog()
    out: dict[str, SourceSpec] = {}
    for name in catalog.names("raw"):
        spec = catalog.get(name)
        doc = yaml.safe_load(Path(spec.source_file).read_text(encoding="utf-8"))
        landing = doc.get("landing")
        where = f"schema file {spec.source_file}"
        if not landing:
            raise SettingsError(f"{where} has no 'landing' block; raw tables declare the sources that feed them")
        fields = tuple(c.name for c in spec.columns if not c.name.startswith("_"))
        required = tuple(landing.get("required") or ())
        unknown = [c for c in required if c not in fields]
        if unknown:
            raise SettingsError(f"{where}: landing.required names columns that are not source fields: {unknown}")
        key = landing.get("key")
        if key is not None and key not in fields:
            raise SettingsError(f"{where}: landing.key '{key}' is not a source field")
        has_system = "_system" in spec.schema.fieldNames()
        for s in landing.get("sources") or ():
            source = str(s["source"])
            fmt, enc, cadence = s.get("format", "csv"), s.get("encoding", "utf-8"), s.get("cadence", "daily")
            for value, allowed, what in ((fmt, FORMATS, "format"), (enc, ENCODINGS, "encoding"), (cadence, CADENCES, "cadence")):
                if value not in allowed:
                    raise SettingsError(f"{where}: source '{source}' has {what} '{value}'; use one of {', '.join(allowed)}")
            if has_system != ("system" in s):
                raise SettingsError(f"{where}: source '{source}' must give 'system' exactly when the table has a _system column")
            if source in out:
                raise SettingsError(f"landing source '{source}' is declared by both {out[source].raw_table} and {name}")
            out[source] = SourceSpec(source=source, raw_table=name, format=fmt, encoding=enc, cadence=cadence,
                                     fields=fields, required=required, key=key, system=s.get("system"))
    return out


def select_sources(all_sources: dict[str, SourceSpec], wanted: list[str] | tuple[str, ...] | None) -> list[SourceSpec]:
    """The sources named in ``wanted`` (all when None), in a dependency-friendly order.

    A raw table name (``customers`` or ``raw.customers``) selects every source feeding it.
    """
    if not wanted:
        chosen = list(all_sources.values())
    else:
        chosen = []
        for name in wanted:
            table = name if name.startswith("raw.") else f"raw.{name}"
            hits = [s for s in all_sources.values() if s.source == name or s.raw_table == table]
            if not hits:
                raise SettingsError(f"unknown landing source '{name}'; known sources: {', '.join(sorted(all_sources))}")
            chosen += [s for s in hits if s not in chosen]
    # Reference data and accounts land before the facts that point at them (orphan counts).
    order = ["products", "campaigns", "customers", "accounts", "fx_rates"]
    rank = {f"raw.{t}": i for i, t in enumerate(order)}
    return sorted(chosen, key=lambda s: (rank.get(s.raw_table, len(order)), s.source))
