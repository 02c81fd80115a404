"""Bad input gives a named error that says which table or path is wrong and what to do."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from deltalake import DeltaTable, Field, Schema

from finlake.errors import (
    NotADeltaTableError,
    SchemaMismatchError,
    TableNotFoundError,
    UnsupportedTableFeatureError,
)

pytestmark = pytest.mark.xdist_group("lake")

ACCOUNTS = "contract.accounts"


def test_unknown_table_lists_the_known_ones(lake, df):
    with pytest.raises(TableNotFoundError) as err:
        lake.read("contract.acounts")
    text = str(err.value)
    assert "contract.acounts" in text
    assert "contract.accounts" in text and "contract.events" in text and "contract.regions" in text
    with pytest.raises(TableNotFoundError, match="contract.acounts"):
        lake.append("contract.acounts", df(ACCOUNTS, []))


@pytest.mark.parametrize("call", ["read", "version", "history", "schema", "properties"])
def test_declared_but_never_created_table_says_how_to_create_it(lake, call):
    with pytest.raises(TableNotFoundError) as err:
        getattr(lake, call)(ACCOUNTS)
    text = str(err.value)
    assert ACCOUNTS in text and lake.path(ACCOUNTS) in text
    assert "lake.create('contract.accounts')" in text and "finlake run" in text


def test_a_directory_of_non_delta_files_is_refused_and_left_alone(lake, df):
    path = Path(lake.path(ACCOUNTS))
    path.mkdir(parents=True)
    (path / "accounts.csv").write_text("account_id,balance\na,1.00\n")
    for attempt in (lambda: lake.exists(ACCOUNTS), lambda: lake.read(ACCOUNTS),
                    lambda: lake.append(ACCOUNTS, df(ACCOUNTS, []))):
        with pytest.raises(NotADeltaTableError) as err:
            attempt()
        assert str(path) in str(err.value) and "_delta_log" in str(err.value)
    assert sorted(p.name for p in path.iterdir()) == ["accounts.csv"]


@pytest.mark.parametrize("configuration, feature", [
    ({"delta.enableDeletionVectors": "true"}, "deletionVectors"),
    ({"delta.columnMapping.mode": "name"}, "columnMapping"),
])
def test_reader_features_the_bridge_cannot_apply_are_refused(lake, df, configuration, feature):
    if lake.engine.name != "bridge":
        pytest.skip("delta-spark reads these features itself")
    path = lake.path(ACCOUNTS)
    DeltaTable.create(path, schema=Schema([Field("account_id", "string", False)]), configuration=configuration)
    assert lake.exists(ACCOUNTS)
    for attempt in (lambda: lake.read(ACCOUNTS), lambda: lake.schema(ACCOUNTS),
                    lambda: lake.append(ACCOUNTS, df(ACCOUNTS, []))):
        with pytest.raises(UnsupportedTableFeatureError) as err:
            attempt()
        text = str(err.value)
        assert path in text and feature in text and "native" in text
    assert DeltaTable(path).version() == 0


def test_a_schema_mismatch_names_the_table_and_columns(lake, spark):
    frame = spark.createDataFrame([("a", 1.5)], "account_id string, balance double")
    with pytest.raises(SchemaMismatchError) as err:
        lake.append(ACCOUNTS, frame)
    text = str(err.value)
    assert "contract.accounts" in text and "'balance' is double" in text and "decimal(18,2)" in text
    assert "opened" in text and "segment" in text


def test_reading_a_version_or_time_the_table_does_not_have(lake, df):
    lake.append(ACCOUNTS, df(ACCOUNTS, [("a", Decimal("1.00"), None, None, None)]))
    with pytest.raises(ValueError, match="no version 7"):
        lake.read(ACCOUNTS, version=7)
    with pytest.raises(ValueError, match="no version at or before 2001"):
        lake.read(ACCOUNTS, timestamp=datetime(2001, 1, 1, tzinfo=timezone.utc))


def test_merge_without_keys_or_with_unknown_source_columns(lake, df, spark):
    lake.create("contract.regions")
    with pytest.raises(ValueError, match="needs keys"):
        lake.merge("contract.regions", df("contract.regions", [(1, "x", "y")]))
    lake.create(ACCOUNTS)
    wider = spark.createDataFrame([("a", Decimal("1.00"), None, None, None, 1)],
                                  "account_id string, balance decimal(18,2), opened date, updated_at timestamp, "
                                  "segment string, stray int")
    with pytest.raises(SchemaMismatchError, match="stray"):
        lake.merge(ACCOUNTS, wider)
