"""The table catalog: type strings, schema files and names."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import types as T

from finlake.catalog import Catalog, default_catalog, parse_type
from finlake.errors import TableNotFoundError


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
