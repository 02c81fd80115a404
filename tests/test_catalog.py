"""The table catalog: type strings, schema files and names."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import types as T

from finlake.catalog import Catalog, default_catalog, parse_type
from finlake.errors import CatalogError, TableNotFoundError


@pytest.mark.parametrize("text, expected", [
    ("string", T.StringType()),
    ("BIGINT", T.LongType()),
    ("int", T.IntegerType()),
    ("decimal(18,2)", T.DecimalType(18, 2)),
    ("decimal( 38 , 10 )", T.DecimalType(38, 10)),
    ("timestamp", T.TimestampType()),
    ("date", T.DateType()),
    ("array<string>", T.ArrayType(T.StringType())),
    ("map<string,decimal(18,2)>", T.MapType(T.StringType(), T.DecimalType(18, 2))),
    ("struct<id:string,amount:decimal(10,2),tags:array<string>>",
     T.StructType([T.StructField("id", T.StringType()), T.StructField("amount", T.DecimalType(10, 2)),
                   T.StructField("tags", T.ArrayType(T.StringType()))])),
])
def test_parse_type_reads_spark_sql_types(text, expected):
    assert parse_type(text) == expected


def test_parse_type_refuses_timestamp_ntz_and_unknown_types():
    with pytest.raises(ValueError, match="timestamp_ntz raises the Delta protocol"):
        parse_type("timestamp_ntz")
    with pytest.raises(ValueError, match="unknown type 'money'"):
        parse_type("money")


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


GOOD = """
table: cleaned.accounts
description: One row per account.
partition_by: [opened]
primary_key: [account_id]
properties: {delta.logRetentionDuration: "interval 30 days"}
columns:
  - {name: account_id, type: string, nullable: false}
  - {name: opened, type: date}
  - {name: owner_name, type: string, pii: true, description: clear name}
  - {name: balance, type: "decimal(18,2)"}
"""


def test_a_declaration_gives_schema_keys_pii_and_suite(tmp_path):
    write(tmp_path, "cleaned/accounts.yaml", GOOD)
    spec = Catalog.load(tmp_path).get("cleaned.accounts")
    assert (spec.layer, spec.table) == ("cleaned", "accounts")
    assert spec.schema == T.StructType([
        T.StructField("account_id", T.StringType(), False), T.StructField("opened", T.DateType(), True),
        T.StructField("owner_name", T.StringType(), True), T.StructField("balance", T.DecimalType(18, 2), True),
    ])
    assert (spec.partition_by, spec.primary_key, spec.pii_columns) == (("opened",), ("account_id",), ("owner_name",))
    assert spec.properties == {"delta.logRetentionDuration": "interval 30 days"}
    assert spec.suite_path.parts[-3:] == ("expectations", "cleaned", "accounts.json")
    assert spec.description == "One row per account."


@pytest.mark.parametrize("rel, text, message", [
    ("cleaned/accounts.yaml", "table: cleaned.accounts\n", "must have 'table' and 'columns'"),
    ("cleaned/accounts.yaml", GOOD.replace("table: cleaned.accounts", "table: raw.accounts"),
     "declares 'raw.accounts' but its location says 'cleaned.accounts'"),
    ("cleaned/accounts.yaml", GOOD.replace('type: "decimal(18,2)"', "type: decimal(18,2)"),
     "unknown keys .*quote types that contain a comma"),
    ("cleaned/accounts.yaml", GOOD.replace("type: date", "type: datetime"), "column 'opened': unknown type 'datetime'"),
    ("cleaned/accounts.yaml", GOOD.replace("partition_by: [opened]", "partition_by: [day]"),
     "partition_by names columns that are not declared: \\['day'\\]"),
    ("cleaned/accounts.yaml", GOOD.replace("primary_key: [account_id]", "primary_key: [id]"),
     "primary_key names columns that are not declared"),
])
def test_a_bad_schema_file_is_an_error_naming_the_file(tmp_path, rel, text, message):
    path = write(tmp_path, rel, text)
    with pytest.raises(ValueError, match=message) as err:
        Catalog.load(tmp_path)
    assert str(path) in str(err.value)


def test_an_unknown_name_lists_the_known_tables(tmp_path):
    write(tmp_path, "cleaned/accounts.yaml", GOOD)
    write(tmp_path, "raw/accounts.yaml", GOOD.replace("cleaned.accounts", "raw.accounts"))
    catalog = Catalog.load(tmp_path)
    with pytest.raises(TableNotFoundError, match="unknown table 'cleaned.acounts'.*cleaned.accounts, raw.accounts"):
        catalog.get("cleaned.acounts")
    assert catalog.names() == ["cleaned.accounts", "raw.accounts"]
    assert catalog.names("raw") == ["raw.accounts"]
    assert "raw.accounts" in catalog and "raw.nope" not in catalog


def test_every_project_schema_file_loads():
    catalog = default_catalog()
    for spec in catalog:
        assert spec.schema.fieldNames() == [c.name for c in spec.columns]


RANGED = """
table: features.scores
description: One row per customer.
primary_key: [customer_id]
columns:
  - {name: customer_id, type: string, nullable: false}
  - {name: share, type: double, nullable: false, min: 0, max: 1}
  - {name: count, type: int, min: 0}
  - {name: hour, type: int, max: 23}
"""


def test_a_column_declares_its_range_with_min_and_max(tmp_path):
    write(tmp_path, "features/scores.yaml", RANGED)
    spec = Catalog.load(tmp_path).get("features.scores")
    ranges = {c.name: (c.min_value, c.max_value, c.range_text) for c in spec.columns if c.has_range}
    assert ranges == {"share": (0, 1, "[0, 1]"), "count": (0, None, ">= 0"), "hour": (None, 23, "<= 23")}


@pytest.mark.parametrize("old, new, message", [
    ("min: 0, max: 1", "min: low, max: 1", "column 'share': min must be a finite number, got 'low'"),
    ("min: 0, max: 1", "min: 1e-6", "column 'share': min must be a finite number, got '1e-6' .*1.0e-6"),
    ("min: 0, max: 1", "min: 0, max: .inf", "column 'share': max must be a finite number, got inf"),
    ("min: 0, max: 1", "min: false", "column 'share': min must be a finite number, got False"),
    ("min: 0, max: 1", "min: 1, max: 0", "column 'share': min 1 is above max 0"),
    ("min: 0, max: 1", "range: [0, 1]", r"column 'share' has unknown keys \['range'\].*a range is min and/or max"),
    ("{name: customer_id, type: string, nullable: false}", "{name: customer_id, type: string, min: 0}",
     "column 'customer_id': min/max need a numeric column, but its type is string"),
])
def test_a_malformed_range_is_an_error_naming_the_table_and_column(tmp_path, old, new, message):
    path = write(tmp_path, "features/scores.yaml", RANGED.replace(old, new))
    with pytest.raises(CatalogError, match=message) as err:
        Catalog.load(tmp_path)
    assert f"schema file {path}: table features.scores" in str(err.value)


def test_a_range_outside_the_feature_layer_is_refused_because_nothing_would_check_it(tmp_path):
    write(tmp_path, "cleaned/accounts.yaml", GOOD.replace('type: "decimal(18,2)"}', 'type: "decimal(18,2)", min: 0}'))
    with pytest.raises(CatalogError, match="table cleaned.accounts, column 'balance': min/max are checked only on "
                                           "features tables"):
        Catalog.load(tmp_path)
