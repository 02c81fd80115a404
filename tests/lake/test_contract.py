"""The lake API contract, run against the active engine (bridge here; FINLAKE_TEST_ENGINE=native
runs it unchanged on a cluster with delta-spark).

Every test drives the table only through ``Lake`` and checks the result with an independent
reader (delta-rs and Polars): at every version, they see exactly the rows finlake says the
table holds.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pyspark.sql import types as T

from lakecheck import canonical, files_on_disk, spark_rows
from finlake.errors import SchemaMismatchError
from finlake.lake import WriteTxn

pytestmark = pytest.mark.xdist_group("lake")

EVENTS = "contract.events"
ACCOUNTS = "contract.accounts"
REGIONS = "contract.regions"
D1, D2, D3 = date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)


def ts(hour: int, micro: int = 0) -> datetime:
    return datetime(2026, 1, 1, hour, 0, 0, micro, tzinfo=timezone.utc)


def ev(event_id, day, customer="c1", amount="10.00", hour=1, os="ios"):
    return (event_id, day, customer, Decimal(amount), ts(hour), (os, 17) if os else None)


def acct(account_id, balance, segment="mass", opened=D1, hour=1):
    return (account_id, Decimal(balance), opened, ts(hour), segment)


def table_rows(lake, name, version=None):
    columns = lake.schema(name).fieldNames()
    return canonical(spark_rows(lake.read(name, version=version)), columns)


def expected(lake, name, rows):
    """Tuples in table column order, as the readers' canonical rows (structs as name -> value)."""
    schema = lake.schema(name)

    def value(field, v):
        if isinstance(field.dataType, T.StructType) and isinstance(v, tuple):
            return dict(zip(field.dataType.fieldNames(), v))
        return v

    return canonical([{f.name: value(f, v) for f, v in zip(schema.fields, r)} for r in rows], schema.fieldNames())


# --- create, append, overwrite ---------------------------------------------------------------
def test_create_makes_an_empty_table_with_the_declared_schema(lake, reader, catalog, assert_readers_agree):
    assert not lake.exists(EVENTS)
    version = lake.create(EVENTS)
    assert version == 0 and lake.exists(EVENTS)
    assert lake.create(EVENTS) == 0  # creating again is a no-op
    assert lake.schema(EVENTS) == catalog.get(EVENTS).schema
    assert reader.rows(lake.path(EVENTS), reader.columns(lake.path(EVENTS))) == []
    assert lake.read(EVENTS).count() == 0
    assert_readers_agree(EVENTS)


def test_append_adds_rows_and_each_version_keeps_its_rows(lake, df, assert_readers_agree):
    first = [ev(1, D1), ev(2, D2, amount="-3.50")]
    second = [ev(3, D2, customer=None, os=None), ev(4, D3, amount="99999999.99")]
    r1 = lake.append(EVENTS, df(EVENTS, first))
    r2 = lake.append(EVENTS, df(EVENTS, second))
    assert (r1.version, r1.rows_written, r2.version, r2.rows_written) == (1, 2, 2, 2)
    assert table_rows(lake, EVENTS, 1) == expected(lake, EVENTS, first)
    assert table_rows(lake, EVENTS) == expected(lake, EVENTS, first + second)
    assert_readers_agree(EVENTS)


def test_overwrite_replaces_every_row(lake, df, assert_readers_agree):
    lake.append(EVENTS, df(EVENTS, [ev(1, D1), ev(2, D2)]))
    result = lake.overwrite(EVENTS, df(EVENTS, [ev(9, D3)]))
    assert result.operation == "OVERWRITE" and result.files_removed >= 2
    assert table_rows(lake, EVENTS) == expected(lake, EVENTS, [ev(9, D3)])
    assert_readers_agree(EVENTS)


def test_appending_zero_rows_commits_a_version_without_files(lake, df, reader, assert_readers_agree):
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00")]))
    result = lake.append(ACCOUNTS, df(ACCOUNTS, []), txn=WriteTxn("loader", 1))
    assert (result.rows_written, result.files_added) == (0, 0)
    assert lake.txn_version(ACCOUNTS, "loader") == 1
    assert table_rows(lake, ACCOUNTS) == expected(lake, ACCOUNTS, [acct("a", "1.00")])
    assert len(reader.add_actions(lake.path(ACCOUNTS))) == 1
    assert_readers_agree(ACCOUNTS)


def test_append_rows_commits_driver_rows_like_a_dataframe_append(lake, df, reader, assert_readers_agree):
    """The driver-side append (quality results, ledgers): same rows, stats and history as ``append``."""
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00")]))
    rows = [{"account_id": "b", "balance": Decimal("-2.50"), "opened": D2, "updated_at": ts(3, 250), "segment": "vip"},
            {"account_id": "c", "balance": Decimal("99999999.99"), "opened": None, "updated_at": ts(4)}]  # no segment
    result = lake.for_job("ledger", "r-9").append_rows(ACCOUNTS, rows, txn=WriteTxn("ledger", 1))
    assert (result.table, result.operation, result.version, result.rows_written, result.files_added) == (
        ACCOUNTS, "APPEND", 2, 2, 1)
    want = [acct("a", "1.00"), ("b", Decimal("-2.50"), D2, ts(3, 250), "vip"),
            ("c", Decimal("99999999.99"), None, ts(4), None)]
    assert table_rows(lake, ACCOUNTS) == expected(lake, ACCOUNTS, want)
    assert_readers_agree(ACCOUNTS)
    newest = max(reader.add_actions(lake.path(ACCOUNTS)), key=lambda a: a["modification_time"])
    assert newest["num_records"] == 2 and newest["null_count.segment"] == 1
    assert (newest["min.account_id"], newest["max.account_id"]) == ("b", "c")
    (entry,) = lake.history(ACCOUNTS, limit=1)
    assert (entry.operation, entry.job, entry.run_id, entry.txn) == ("APPEND", "ledger", "r-9", "ledger:1")
    again = lake.append_rows(ACCOUNTS, rows, txn=WriteTxn("ledger", 1))
    assert again.skipped and lake.version(ACCOUNTS) == 2


def test_append_rows_refuses_bad_rows_and_leaves_the_table(lake, df, reader):
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00")]))
    path = lake.path(ACCOUNTS)
    before = files_on_disk(path)
    bad = {
        "account_id": [{"account_id": None, "balance": Decimal("1.00")}],  # NOT NULL
        "owner": [{"account_id": "x", "owner": "someone"}],  # not a column
        "balance": [{"account_id": "x", "balance": "a lot"}],  # not a decimal
    }
    for column, rows in bad.items():
        with pytest.raises(SchemaMismatchError) as err:
            lake.append_rows(ACCOUNTS, rows)
        assert ACCOUNTS in str(err.value) and column in str(err.value), str(err.value)
    with pytest.raises(ValueError, match="contract.events.*partitioned by \\['day'\\]"):
        lake.append_rows(EVENTS, [{"event_id": 1, "day": D1}])
    assert lake.version(ACCOUNTS) == 1 and reader.version(path) == 1
    assert files_on_disk(path) == before


# --- replace_where ---------------------------------------------------------------------------
def test_replace_where_on_a_partition_replaces_only_that_partition(lake, df, assert_readers_agree):
    lake.append(EVENTS, df(EVENTS, [ev(1, D1), ev(2, D2), ev(3, D2), ev(4, D3)]))
    new = [ev(20, D2, amount="1.00"), ev(21, D2, amount="2.00")]
    result = lake.replace_where(EVENTS, df(EVENTS, new), "day = DATE'2026-01-02'")
    assert result.operation == "REPLACE WHERE"
    assert table_rows(lake, EVENTS) == expected(lake, EVENTS, [ev(1, D1), ev(4, D3)] + new)
    assert_readers_agree(EVENTS)


def test_replace_where_on_a_data_column_keeps_other_rows_of_the_same_files(lake, df, assert_readers_agree):
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00", "mass"), acct("b", "2.00", "vip"), acct("c", "3.00", "mass")]))
    new = [acct("d", "4.00", "vip")]
    lake.replace_where(ACCOUNTS, df(ACCOUNTS, new), "segment = 'vip'")
    assert table_rows(lake, ACCOUNTS) == expected(lake, ACCOUNTS, [acct("a", "1.00", "mass"), acct("c", "3.00", "mass")] + new)
    assert_readers_agree(ACCOUNTS)


def test_replace_where_rejects_rows_outside_the_predicate_and_leaves_the_table(lake, df, reader):
    lake.append(EVENTS, df(EVENTS, [ev(1, D1)]))
    path = lake.path(EVENTS)
    before = files_on_disk(path)
    with pytest.raises(SchemaMismatchError, match="predicate"):
        lake.replace_where(EVENTS, df(EVENTS, [ev(2, D2), ev(3, D3)]), "day = DATE'2026-01-02'")
    assert lake.version(EVENTS) == 1 and reader.version(path) == 1
    assert files_on_disk(path) == before


# --- merge -----------------------------------------------------------------------------------
def test_merge_updates_matches_and_inserts_new_keys(lake, df, assert_readers_agree):
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00"), acct("b", "2.00"), acct("c", "3.00")]))
    result = lake.merge(ACCOUNTS, df(ACCOUNTS, [acct("b", "20.00", "vip"), acct("d", "4.00")]))
    assert result.operation == "MERGE"
    assert table_rows(lake, ACCOUNTS) == expected(
        lake, ACCOUNTS, [acct("a", "1.00"), acct("b", "20.00", "vip"), acct("c", "3.00"), acct("d", "4.00")])
    assert_readers_agree(ACCOUNTS)


def test_merge_without_update_only_inserts_new_keys(lake, df, assert_readers_agree):
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00")]))
    lake.merge(ACCOUNTS, df(ACCOUNTS, [acct("a", "100.00"), acct("b", "2.00")]), update=False)
    assert table_rows(lake, ACCOUNTS) == expected(lake, ACCOUNTS, [acct("a", "1.00"), acct("b", "2.00")])
    assert_readers_agree(ACCOUNTS)


def test_merge_delete_when_removes_matches_and_skips_inserting_deleted_keys(lake, df, spark, assert_readers_agree):
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00"), acct("b", "2.00"), acct("c", "3.00")]))
    schema = T.StructType(df(ACCOUNTS, []).schema.fields + [T.StructField("closed", T.BooleanType())])
    # The source carries a flag the table lacks; it drives delete_when and is not written.
    source = spark.createDataFrame([(*acct("a", "0.00"), True), (*acct("b", "5.00"), False),
                                    (*acct("x", "9.00"), True), (*acct("y", "7.00"), None)], schema)
    lake.merge(ACCOUNTS, source, delete_when="closed")
    assert table_rows(lake, ACCOUNTS) == expected(
        lake, ACCOUNTS, [acct("b", "5.00"), acct("c", "3.00"), acct("y", "7.00")])
    assert lake.schema(ACCOUNTS).fieldNames() == ["account_id", "balance", "opened", "updated_at", "segment"]
    assert_readers_agree(ACCOUNTS)


def test_merge_source_needing_a_widening_cast_and_a_delete_flag(lake, df, spark, assert_readers_agree):
    lake.append(EVENTS, df(EVENTS, [ev(1, D1), ev(2, D1)]))
    base = df(EVENTS, []).schema
    fields = [T.StructField("event_id", T.IntegerType(), False)] + base.fields[1:] + [T.StructField("gone", T.BooleanType())]
    source = spark.createDataFrame([(*ev(1, D1, amount="5.00"), False), (*ev(2, D1), True)], T.StructType(fields))
    lake.merge(EVENTS, source, delete_when="gone")
    assert table_rows(lake, EVENTS) == expected(lake, EVENTS, [ev(1, D1, amount="5.00")])
    assert_readers_agree(EVENTS)


def test_merge_into_a_partitioned_table_moves_a_row_between_partitions(lake, df, assert_readers_agree):
    lake.append(EVENTS, df(EVENTS, [ev(1, D1), ev(2, D2)]))
    lake.merge(EVENTS, df(EVENTS, [ev(1, D3, amount="7.00"), ev(5, D1)]))
    assert table_rows(lake, EVENTS) == expected(lake, EVENTS, [ev(1, D3, amount="7.00"), ev(2, D2), ev(5, D1)])
    assert_readers_agree(EVENTS)


def test_merge_into_an_empty_table_inserts_everything(lake, df, assert_readers_agree):
    lake.create(ACCOUNTS)
    lake.merge(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00"), acct("b", "2.00")]))
    assert table_rows(lake, ACCOUNTS) == expected(lake, ACCOUNTS, [acct("a", "1.00"), acct("b", "2.00")])
    assert_readers_agree(ACCOUNTS)


def test_merge_rejects_duplicate_source_keys_and_leaves_the_table(lake, df, reader):
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00")]))
    with pytest.raises(ValueError, match="more than one row for key"):
        lake.merge(ACCOUNTS, df(ACCOUNTS, [acct("b", "1.00"), acct("b", "2.00")]))
    assert lake.version(ACCOUNTS) == 1 and reader.version(lake.path(ACCOUNTS)) == 1


# --- delete ----------------------------------------------------------------------------------
def test_delete_where_removes_only_matching_rows(lake, df, assert_readers_agree):
    lake.append(EVENTS, df(EVENTS, [ev(1, D1, customer="keep"), ev(2, D1, customer="drop"), ev(3, D2, customer="drop")]))
    result = lake.delete(EVENTS, "customer = 'drop'")
    assert result.operation == "DELETE"
    assert table_rows(lake, EVENTS) == expected(lake, EVENTS, [ev(1, D1, customer="keep")])
    assert_readers_agree(EVENTS)


def test_delete_matching_nothing_leaves_the_rows(lake, df, assert_readers_agree):
    lake.append(EVENTS, df(EVENTS, [ev(1, D1)]))
    lake.delete(EVENTS, "customer = 'nobody'")
    assert table_rows(lake, EVENTS) == expected(lake, EVENTS, [ev(1, D1)])
    assert_readers_agree(EVENTS)


# --- reads: version, timestamp ---------------------------------------------------------------
def test_read_at_version_and_at_timestamp(lake, df, reader):
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00")]))
    time.sleep(1.1)
    between = datetime.now(timezone.utc)
    time.sleep(1.1)
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("b", "2.00")]))
    assert table_rows(lake, ACCOUNTS, version=1) == expected(lake, ACCOUNTS, [acct("a", "1.00")])
    at_time = canonical(spark_rows(lake.read(ACCOUNTS, timestamp=between)), lake.schema(ACCOUNTS).fieldNames())
    assert at_time == expected(lake, ACCOUNTS, [acct("a", "1.00")])
    naive_utc = between.replace(tzinfo=None)  # a naive timestamp means UTC
    assert lake.read(ACCOUNTS, timestamp=naive_utc).count() == 1
    assert lake.read(ACCOUNTS, timestamp=datetime.now(timezone.utc)).count() == 2
    with pytest.raises(ValueError):
        lake.read(ACCOUNTS, version=1, timestamp=between)


# --- history ---------------------------------------------------------------------------------
def test_history_records_operation_job_and_run_per_version(lake, df):
    lake.create(ACCOUNTS)
    lake.for_job("ingest", "r-1").append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00")]), txn=WriteTxn("ingest", 7))
    lake.for_job("clean", "r-2").merge(ACCOUNTS, df(ACCOUNTS, [acct("a", "2.00")]))
    lake.for_job("gdpr", "r-3").delete(ACCOUNTS, "account_id = 'a'")
    got = [(h.version, h.operation, h.job, h.run_id, h.txn) for h in lake.history(ACCOUNTS)]
    assert sorted(got) == [
        (0, "CREATE TABLE", "contract-test", "run-1", None),
        (1, "APPEND", "ingest", "r-1", "ingest:7"),
        (2, "MERGE", "clean", "r-2", None),
        (3, "DELETE", "gdpr", "r-3", None),
    ]
    assert all(h.timestamp is not None for h in lake.history(ACCOUNTS))
    assert [h.version for h in lake.history(ACCOUNTS, limit=2)] == [3, 2]


# --- maintenance -----------------------------------------------------------------------------
def test_compact_keeps_the_data_and_leaves_fewer_files(lake, df, reader, assert_readers_agree):
    rows = []
    for i in range(4):
        batch = [ev(10 * i + 1, D1), ev(10 * i + 2, D1)]
        rows += batch
        lake.append(EVENTS, df(EVENTS, batch).coalesce(1))
    before = len(reader.add_actions(lake.path(EVENTS)))
    result = lake.compact(EVENTS)
    after = len(reader.add_actions(lake.path(EVENTS)))
    assert result.operation == "OPTIMIZE" and after < before and after == 1
    assert table_rows(lake, EVENTS) == expected(lake, EVENTS, rows)
    assert_readers_agree(EVENTS)


def test_vacuum_deletes_unreferenced_files_only_after_retention(lake, df, reader):
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00")]))
    lake.overwrite(ACCOUNTS, df(ACCOUNTS, [acct("b", "2.00")]))
    path = lake.path(ACCOUNTS)
    live = {a["path"] for a in reader.add_actions(path)}
    assert len(files_on_disk(path)) == 2
    assert lake.vacuum(ACCOUNTS, retention_hours=168) == []
    assert len(files_on_disk(path)) == 2
    removed = lake.vacuum(ACCOUNTS, retention_hours=0)
    assert len(removed) == 1
    assert files_on_disk(path) == live
    # Nothing left to delete: delta-rs would list the gone file again and commit; finlake does neither.
    version = lake.version(ACCOUNTS)
    assert lake.vacuum(ACCOUNTS, retention_hours=0) == []
    assert lake.version(ACCOUNTS) == version
    assert table_rows(lake, ACCOUNTS) == expected(lake, ACCOUNTS, [acct("b", "2.00")])
    assert lake.version(ACCOUNTS) == reader.version(path)


def test_table_properties_come_from_the_declaration_and_can_be_set(lake, reader):
    from deltalake import DeltaTable

    lake.create(ACCOUNTS)
    assert lake.properties(ACCOUNTS)["delta.logRetentionDuration"] == "interval 30 days"
    lake.set_properties(ACCOUNTS, {"delta.deletedFileRetentionDuration": "interval 14 days"})
    props = lake.properties(ACCOUNTS)
    assert props["delta.deletedFileRetentionDuration"] == "interval 14 days"
    assert props["delta.logRetentionDuration"] == "interval 30 days"
    assert DeltaTable(lake.path(ACCOUNTS)).metadata().configuration == props


def test_info_reports_version_rows_files_and_bytes(lake, df, reader):
    assert not lake.info(ACCOUNTS).exists
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00"), acct("b", "2.00")]).coalesce(1))
    info = lake.info(ACCOUNTS)
    adds = reader.add_actions(lake.path(ACCOUNTS))
    assert (info.exists, info.version, info.rows, info.files) == (True, 1, 2, len(adds))
    assert info.bytes == sum(a["size_bytes"] for a in adds)
    assert info.last_write is not None


# --- idempotent writes -----------------------------------------------------------------------
def test_a_repeated_transaction_is_a_no_op_that_says_so(lake, df, assert_readers_agree):
    rows = [acct("a", "1.00")]
    first = lake.append(ACCOUNTS, df(ACCOUNTS, rows), txn=WriteTxn("loader", 5))
    again = lake.append(ACCOUNTS, df(ACCOUNTS, rows), txn=WriteTxn("loader", 5))
    older = lake.overwrite(ACCOUNTS, df(ACCOUNTS, []), txn=WriteTxn("loader", 4))
    merged = lake.merge(ACCOUNTS, df(ACCOUNTS, rows), txn=WriteTxn("loader", 5))
    deleted = lake.delete(ACCOUNTS, "true", txn=WriteTxn("loader", 3))
    assert not first.skipped
    for skipped in (again, older, merged, deleted):
        assert skipped.skipped and skipped.version == first.version
        assert "loader" in skipped.message and "already committed" in skipped.message
    assert lake.version(ACCOUNTS) == first.version
    newer = lake.append(ACCOUNTS, df(ACCOUNTS, [acct("b", "2.00")]), txn=WriteTxn("loader", 6))
    assert not newer.skipped and newer.version == first.version + 1
    assert lake.txn_version(ACCOUNTS, "loader") == 6
    assert lake.txn_version(ACCOUNTS, "someone-else") is None
    assert table_rows(lake, ACCOUNTS) == expected(lake, ACCOUNTS, [acct("a", "1.00"), acct("b", "2.00")])
    assert_readers_agree(ACCOUNTS)


# --- schema enforcement ----------------------------------------------------------------------
def test_schema_mismatch_lists_every_differing_column(lake, spark):
    bad = spark.createDataFrame(
        [("a", "1.00", 3)],
        "account_id string, balance string, extra int",  # balance wrong type; opened/updated_at/segment missing
    )
    with pytest.raises(SchemaMismatchError) as err:
        lake.append(ACCOUNTS, bad)
    text = str(err.value)
    assert "contract.accounts" in text
    for column in ("balance", "extra", "opened", "updated_at", "segment"):
        assert column in text
    assert "account_id" not in text.split("does not match")[1]


def test_int_into_bigint_is_widened(lake, spark, assert_readers_agree):
    schema = "event_id int, day date, customer string, amount decimal(10,2), at timestamp, device struct<os:string,version:int>"
    lake.append(EVENTS, spark.createDataFrame([ev(1, D1)], schema))
    assert lake.schema(EVENTS)["event_id"].dataType == T.LongType()
    assert lake.schema(EVENTS)["amount"].dataType == T.DecimalType(18, 2)
    assert table_rows(lake, EVENTS) == expected(lake, EVENTS, [ev(1, D1)])
    assert_readers_agree(EVENTS)


def test_narrowing_or_changing_scale_is_refused(lake, spark):
    schema = "account_id string, balance decimal(18,4), opened date, updated_at timestamp, segment int"
    with pytest.raises(SchemaMismatchError, match="balance.*segment"):
        lake.append(ACCOUNTS, spark.createDataFrame([("a", Decimal("1.0000"), D1, ts(1), 3)], schema))


def test_merge_schema_adds_a_nullable_column_both_readers_see(lake, df, spark, reader, assert_readers_agree):
    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00")]))
    wider = T.StructType(df(ACCOUNTS, []).schema.fields + [T.StructField("email_token", T.StringType(), False)])
    with pytest.raises(SchemaMismatchError, match="email_token"):
        lake.append(ACCOUNTS, spark.createDataFrame([(*acct("b", "2.00"), "tok")], wider))
    lake.append(ACCOUNTS, spark.createDataFrame([(*acct("b", "2.00"), "tok")], wider), merge_schema=True)
    field = lake.schema(ACCOUNTS)["email_token"]
    assert field.nullable and field.dataType == T.StringType()
    path = lake.path(ACCOUNTS)
    assert reader.columns(path)[-1] == "email_token"
    columns = reader.columns(path)
    assert reader.rows(path, columns) == canonical(
        [dict(zip(columns, (*acct("a", "1.00"), None))), dict(zip(columns, (*acct("b", "2.00"), "tok")))], columns)
    assert_readers_agree(ACCOUNTS)


def test_nulls_in_a_non_nullable_column_are_refused_and_the_table_is_unchanged(lake, df, reader):
    lake.append(EVENTS, df(EVENTS, [ev(1, D1)]))
    path = lake.path(EVENTS)
    before = files_on_disk(path)
    nullable = T.StructType([T.StructField(f.name, f.dataType, True) for f in df(EVENTS, []).schema.fields])
    with pytest.raises(SchemaMismatchError) as err:
        lake.append(EVENTS, df(EVENTS, [ev(2, D1), ev(None, D2)], schema=nullable))
    assert "contract.events" in str(err.value) and "event_id" in str(err.value)
    assert lake.version(EVENTS) == 1 and reader.version(path) == 1
    assert files_on_disk(path) == before


# --- file stats ------------------------------------------------------------------------------
def test_commits_carry_file_stats_without_partition_columns(lake, df, reader):
    lake.append(EVENTS, df(EVENTS, [ev(1, D1, amount="1.25", hour=3), ev(7, D1, customer=None, amount="-2.00", hour=5)]).coalesce(1))
    (add,) = reader.add_actions(lake.path(EVENTS))
    assert add["num_records"] == 2
    assert (add["min.event_id"], add["max.event_id"]) == (1, 7)
    assert (add["min.customer"], add["max.customer"], add["null_count.customer"]) == ("c1", "c1", 1)
    assert add["null_count.event_id"] == 0
    assert Decimal(str(add["min.amount"])) == Decimal("-2.00") and Decimal(str(add["max.amount"])) == Decimal("1.25")
    assert add["min.at"].astimezone(timezone.utc) == ts(3) and add["max.at"].astimezone(timezone.utc) == ts(5)
    assert add["min.device.os"] == "ios"
    assert add["partition.day"] == D1
    assert not [k for k in add if k.split(".", 1)[-1] == "day" and not k.startswith("partition.")]


def test_timestamp_max_stat_is_an_upper_bound_at_millisecond_precision(lake, df, reader):
    lake.append(EVENTS, df(EVENTS, [(1, D1, "c", Decimal("1.00"), ts(1, 123456), None)]))
    (add,) = reader.add_actions(lake.path(EVENTS))
    lo, hi = add["min.at"].astimezone(timezone.utc), add["max.at"].astimezone(timezone.utc)
    assert lo <= ts(1, 123456) <= hi and hi - lo <= timedelta(milliseconds=1)
    # A predicate on the exact value still finds the row (stats-based skipping must not drop it).
    from deltalake import DeltaTable

    hits = DeltaTable(lake.path(EVENTS)).to_pyarrow_table(filters=[("at", "=", ts(1, 123456))])
    assert hits.num_rows == 1


# --- partition values ------------------------------------------------------------------------
def test_partition_values_with_special_characters_and_nulls_round_trip(lake, df, assert_readers_agree):
    rows = [(1, "north/east", "slash"), (2, "a b", "space"), (3, "50%=half", "percent equals"),
            (4, None, "null"), (5, "", "empty"), (6, "ümlaut:#?", "unicode colon hash")]
    lake.append(REGIONS, df(REGIONS, rows))
    # As in Spark and Delta, an empty partition value is stored as null.
    assert table_rows(lake, REGIONS) == expected(lake, REGIONS, [r if r[1] != "" else (5, None, "empty") for r in rows])
    lake.delete(REGIONS, "region = 'north/east'")
    lake.merge(REGIONS, df(REGIONS, [(2, "a b", "space again")]), keys=["id"])
    lake.replace_where(REGIONS, df(REGIONS, [(7, "50%=half", "replaced")]), "region = '50%=half'")
    got = {r[0]: r[2] for r in table_rows(lake, REGIONS)}
    assert got == {2: "space again", 4: "null", 5: "empty", 6: "unicode colon hash", 7: "replaced"}
    # Compaction rewrites the files under the engine's own directory naming; values must survive.
    lake.append(REGIONS, df(REGIONS, [(8, "a b", "second file")]))
    lake.compact(REGIONS)
    assert {r[0]: r[1] for r in table_rows(lake, REGIONS)} == {
        2: "a b", 4: None, 5: None, 6: "ümlaut:#?", 7: "50%=half", 8: "a b"}
    assert_readers_agree(REGIONS)


def test_merge_matches_null_keys_null_safely(lake, df, assert_readers_agree):
    lake.append(REGIONS, df(REGIONS, [(1, "a", "x"), (2, None, "y")]))
    lake.merge(REGIONS, df(REGIONS, [(3, None, "z"), (4, "b", "w")]), keys=["region"])
    assert table_rows(lake, REGIONS) == expected(lake, REGIONS, [(1, "a", "x"), (3, None, "z"), (4, "b", "w")])
    assert_readers_agree(REGIONS)


def test_a_write_that_fails_midway_leaves_no_files_behind(lake, df, reader):
    from pathlib import Path

    from pyspark.sql import functions as F

    lake.append(ACCOUNTS, df(ACCOUNTS, [acct("a", "1.00")]))
    path = lake.path(ACCOUNTS)
    before = files_on_disk(path)
    failing = df(ACCOUNTS, [acct("b", "2.00"), acct("c", "3.00")]).withColumn(
        "segment", F.when(F.col("account_id") == "c", F.raise_error(F.lit("source system hiccup"))).otherwise(F.col("segment")))
    with pytest.raises(Exception, match="source system hiccup"):
        lake.append(ACCOUNTS, failing)
    assert lake.version(ACCOUNTS) == 1 and reader.version(path) == 1
    assert files_on_disk(path) == before
    staging = Path(path, "_staging")
    assert not staging.exists() or not any(staging.iterdir())
