"""The table catalog: every table declared once, in ``schemas/<layer>/<table>.yaml``.

A declaration a data steward can read::

    table: cleaned.customers
    description: One row per customer version (SCD type 2).
    partition_by: []
    primary_key: [customer_id, valid_from]
    columns:
      - {name: customer_id, type: string, nullable: false, description: Core-system id}
      - {name: phone_token, type: string, description: HMAC-SHA256 of the phone number}
      - {name: phone, type: string, pii: true, description: clear phone (raw only)}

Column ``type`` is a Spark SQL type (``string``, ``bigint``, ``decimal(18,2)``, ``timestamp``,
``array<string>``, ``struct<id:string,os:string>`` ...). A numeric column of a ``features``
table may declare its range, both ends inclusive, either end optional: ``min: 0, max: 1``. The
feature gate checks every declared range (``finlake.features.build``); a null is not checked
against it (``nullable`` says whether nulls are allowed). The quality suite is
``expectations/<layer>/<table>.json`` by convention. Code addresses tables by name only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from pyspark.sql import types as T

from finlake.archive import project_root
from finlake.errors import CatalogError, TableNotFoundError

PROJECT_ROOT = project_root(__file__)  # the checkout, or the files shipped in dist/finlake.zip
LAYERS = ("raw", "cleaned", "quarantine", "features", "scores", "audiences", "marts", "quality", "ops")
COLUMN_KEYS = ("name", "type", "nullable", "pii", "description", "min", "max")
# Layers whose job checks declared ranges: the feature gate (finlake.features.build). A range on
# another layer's column would be checked by nothing, so it is refused rather than ignored.
RANGE_LAYERS = ("features",)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    pii: bool = False
    description: str = ""
    min_value: int | float | None = None  # declared range, both ends inclusive (``min:`` / ``max:``)
    max_value: int | float | None = None

    @property
    def has_range(self) -> bool:
        return self.min_value is not None or self.max_value is not None

    @property
    def range_text(self) -> str:
        """``[0, 1]``, ``>= 0`` or ``<= 23``, for messages."""
        if self.min_value is not None and self.max_value is not None:
            return f"[{self.min_value}, {self.max_value}]"
        if self.min_value is not None:
            return f">= {self.min_value}"
        return f"<= {self.max_value}" if self.max_value is not None else "any"


@dataclass(frozen=True)
class TableSpec:
    """One table's declaration."""

    name: str
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...] = ()
    primary_key: tuple[str, ...] = ()
    description: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    source_file: str = ""

    @property
    def layer(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def pii_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.pii)

    @property
    def suite_path(self) -> Path:
        return PROJECT_ROOT / "expectations" / self.layer / f"{self.table}.json"

    @property
    def schema(self) -> T.StructType:
        return T.StructType([T.StructField(c.name, parse_type(c.type), c.nullable) for c in self.columns])


class Catalog:
    """All declared tables, loaded from a schemas directory."""

    def __init__(self, specs: dict[str, TableSpec]):
        self._specs = dict(sorted(specs.items()))

    @classmethod
    def load(cls, schemas_dir: Path | str | None = None) -> "Catalog":
        root = Path(schemas_dir) if schemas_dir else PROJECT_ROOT / "schemas"
        specs = {}
        for path in sorted(root.glob("*/*.yaml")):
            spec = _load_spec(path)
            if spec.name in specs:
                raise CatalogError(f"table '{spec.name}' is declared twice: {specs[spec.name].source_file} and {path}")
            specs[spec.name] = spec
        return cls(specs)

    def get(self, name: str) -> TableSpec:
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(self._specs) or "(none)"
            raise TableNotFoundError(
                f"unknown table '{name}'; declare it in schemas/<layer>/<table>.yaml. Known tables: {known}"
            ) from None

    def names(self, layer: str | None = None) -> list[str]:
        return [n for n, s in self._specs.items() if layer is None or s.layer == layer]

    def __contains__(self, name: str) -> bool:
        return name in self._specs

    def __iter__(self):
        return iter(self._specs.values())


@lru_cache(maxsize=None)
def default_catalog() -> Catalog:
    """The catalog of this checkout's ``schemas/`` directory."""
    return Catalog.load()


def _load_spec(path: Path) -> TableSpec:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    where = f"schema file {path}"
    if not isinstance(doc, dict) or "table" not in doc or "columns" not in doc:
        raise CatalogError(f"{where} must have 'table' and 'columns'")
    name = doc["table"]
    expected = f"{path.parent.name}.{path.stem}"
    if name != expected:
        raise CatalogError(f"{where} declares '{name}' but its location says '{expected}'")
    columns = []
    for raw in doc["columns"]:
        unknown = set(raw) - set(COLUMN_KEYS)
        if unknown:
            raise CatalogError(f"{where}: table {name}, column {raw.get('name')!r} has unknown keys "
                               f"{sorted(unknown)}; a column takes {', '.join(COLUMN_KEYS)} (a range is min and/or "
                               "max; quote types that contain a comma: type: \"decimal(18,2)\")")
        col = Column(
            name=raw["name"],
            type=str(raw["type"]),
            nullable=bool(raw.get("nullable", True)),
            pii=bool(raw.get("pii", False)),
            description=str(raw.get("description", "")),
            min_value=raw.get("min"),
            max_value=raw.get("max"),
        )
        try:
            dtype = parse_type(col.type)
        except ValueError as exc:
            raise CatalogError(f"{where}: column '{col.name}': {exc}") from None
        _check_range(f"{where}: table {name}, column '{col.name}'", name, col, dtype)
        columns.append(col)
    names = [c.name for c in columns]
    for key in ("partition_by", "primary_key"):
        missing = [c for c in doc.get(key) or [] if c not in names]
        if missing:
            raise CatalogError(f"{where}: {key} names columns that are not declared: {missing}")
    return TableSpec(
        name=name,
        columns=tuple(columns),
        partition_by=tuple(doc.get("partition_by") or ()),
        primary_key=tuple(doc.get("primary_key") or ()),
        description=str(doc.get("description", "")).strip(),
        properties={str(k): str(v) for k, v in (doc.get("properties") or {}).items()},
        source_file=str(path),
    )


def _check_range(where: str, table: str, col: Column, dtype: T.DataType) -> None:
    """A declared range must be numbers (finite, min <= max) on a numeric column of a layer whose
    gate checks ranges."""
    if not col.has_range:
        return
    layer = table.split(".", 1)[0]
    if layer not in RANGE_LAYERS:
        raise CatalogError(f"{where}: min/max are checked only on {', '.join(RANGE_LAYERS)} tables (by the "
                           f"feature gate); nothing would check them on a {layer} table")
    if not isinstance(dtype, T.NumericType):
        raise CatalogError(f"{where}: min/max need a numeric column, but its type is {col.type}")
    for key, value in (("min", col.min_value), ("max", col.max_value)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CatalogError(f"{where}: {key} must be a finite number, got {value!r} "
                               "(write a float with a dot and a signed exponent: 1.0e-6)")
    if col.min_value is not None and col.max_value is not None and col.min_value > col.max_value:
        raise CatalogError(f"{where}: min {col.min_value} is above max {col.max_value}")


_SIMPLE = {
    "string": T.StringType(),
    "boolean": T.BooleanType(),
    "tinyint": T.ByteType(),
    "smallint": T.ShortType(),
    "int": T.IntegerType(),
    "integer": T.IntegerType(),
    "bigint": T.LongType(),
    "long": T.LongType(),
    "float": T.FloatType(),
    "double": T.DoubleType(),
    "date": T.DateType(),
    "timestamp": T.TimestampType(),
    "binary": T.BinaryType(),
}


def parse_type(text: str) -> T.DataType:
    """Parse a Spark SQL type string without a running session."""
    text = text.strip()
    low = text.lower()
    if low in _SIMPLE:
        return _SIMPLE[low]
    m = re.fullmatch(r"decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)", low)
    if m:
        return T.DecimalType(int(m.group(1)), int(m.group(2)))
    if low.startswith("array<") and low.endswith(">"):
        return T.ArrayType(parse_type(text[6:-1]))
    if low.startswith("map<") and low.endswith(">"):
        key, value = _split_top(text[4:-1])
        return T.MapType(parse_type(key), parse_type(value))
    if low.startswith("struct<") and low.endswith(">"):
        fields = []
        for part in _split_top(text[7:-1]):
            fname, ftype = part.split(":", 1)
            fields.append(T.StructField(fname.strip(), parse_type(ftype)))
        return T.StructType(fields)
    if low == "timestamp_ntz":
        raise CatalogError("timestamp_ntz raises the Delta protocol to reader 3 / writer 7; use timestamp (UTC)")
    raise CatalogError(f"unknown type '{text}'")


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside <> or ()."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]
