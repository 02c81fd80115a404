"""One landing with every parser path, ingested once; each test checks one behaviour of the result.

The landing (docs/landing.md layout, written by hand): transactions in schema v1, with a renamed
column and with an added column; customers from core (UTF-8, one line with GB18030 bytes) and
branch (GB18030); app events as nested JSON lines; accounts; fx rates with one corrupt batch.
"""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from ingest_helpers import CUSTOMER_HEADER, TXN_HEADER, make_env, txn_line
from finlake.ingest import IngestError

pytestmark = pytest.mark.xdist_group("ingest")

BROKEN = (b"C00000002," + "李四".encode("gb18030") + b",110101199001011234,13800000000,M,1990-01-01,"
          + "北京市".encode("gb18030") + b",employee,5k_10k,R2,2020-01-01,online,active")
TRUNCATED = "T00000000000009,A0000000001,C00000001,K0000000001,2024-03-05 10"
EVENT = ('{"event_id":"E1","customer_id":"C00000001","session_id":"S1","ts":"2024-03-05T21:14:03+08:00",'
         '"event_type":"product_view","page":"wealth/detail","product_id":"P014",'
         '"device":{"id":"D0a1b2c3d4e5f","os":"iOS","model":"iPhone 14"},"geo":{"city":"北京"}}')


@pytest.fixture(scope="module")
def landed(settings, spark, tmp_path_factory):
    env = make_env(settings, spark, tmp_path_factory.mktemp("ingest_parsing"))
    land = env.landing
    land.batch("transactions", "2024-03-05",
               [txn_line(1), txn_line(2), txn_line(2), TRUNCATED, txn_line(3, account=""),
                txn_line(4, account="A9999999999")], TXN_HEADER)
    land.batch("transactions", "2024-03-06", [txn_line(5, "2024-03-06")],
               TXN_HEADER.replace(",mcc,", ",merchant_category_code,"))
    land.batch("transactions", "2024-03-07", [txn_line(6, "2024-03-07") + ",AB12CD", txn_line(1) + ","],
               TXN_HEADER + ",auth_code", schema_version=2)
    land.batch("customers/core", "2024-03-05",
               ["C00000001,王五,110101199001011234,13800000001,M,1990-01-01,Beijing,employee,5k_10k,R2,2020-01-01,online,active",
                BROKEN], CUSTOMER_HEADER)
    land.batch("customers/branch", "2024-03-05",
               ["C00000003,张三,110101198001011234,13900000000,M,1980/01/01,北京,retired,lt5k,R1,2010/05/06,branch,active"],
               CUSTOMER_HEADER, encoding="gb18030")
    land.batch("app_events", "2024-03-05", [EVENT, EVENT[:40]], fmt="jsonl")
    land.batch("accounts", "2024-03-05", ["A0000000001,C00000001,credit_card,2020-01-01,,50000.00,active"],
               "account_id,customer_id,product_type,open_date,close_date,credit_limit,status")
    for day in ("2024-03-05", "2024-03-06", "2024-03-07"):
        land.batch("fx_rates", day, [f"{day},USD,7.100000"], "rate_date,currency,cny_per_unit",
                   sha256="0" * 64 if day == "2024-03-07" else None)
    with pytest.raises(IngestError) as info:
        env.ingest(sources=["transactions", "customers", "app_events", "accounts", "fx_rates"])
    return env, info.value


def test_csv_rows_land_as_strings_with_lineage_and_line_numbers(landed, spark):
    env, _ = landed
    got = (env.raw("raw.transactions").where("_batch_id = '2024-03-05'")
           .select("txn_id", "account_id", "amount", "mcc", "device_id", "_line_number", "_malformed", "_source_file"))
    f = "transactions/2024-03-05/transactions_20240305.csv"
    expected = spark.createDataFrame([
        ("T00000000000001", "A0000000001", "12.50", "5411", None, 2, False, f),
        ("T00000000000002", "A0000000001", "12.50", "5411", None, 3, False, f),
        ("T00000000000002", "A0000000001", "12.50", "5411", None, 4, False, f),
        ("T00000000000009", "A0000000001", None, None, None, 5, True, f),
        ("T00000000000003", None, "12.50", "5411", None, 6, False, f),
        ("T00000000000004", "A9999999999", "12.50", "5411", None, 7, False, f),
    ], "txn_id string, account_id string, amount string, mcc string, device_id string, _line_number bigint, "
       "_malformed boolean, _source_file string")
    assertDataFrameEqual(got, expected)


def test_truncated_line_keeps_its_text_and_the_error(landed):
    env, _ = landed
    row = env.raw("raw.transactions").where("_malformed").select("_line", "_parse_error", "_business_date").first()
    assert row["_line"] == TRUNCATED
    assert row["_parse_error"] == "truncated_line: expected 15 fields, found 5"
    assert str(row["_business_date"]) == "2024-03-05"


def test_identical_lines_share_a_row_hash(landed):
    env, _ = landed
    hashes = env.raw("raw.transactions").where("txn_id = 'T00000000000002'").select("_row_hash").distinct().count()
    assert hashes == 1


def test_gb18030_branch_file_is_decoded(landed, spark):
    env, _ = landed
    got = env.raw("raw.customers").where("_system = 'branch'").select("customer_id", "name", "city", "birth_date",
                                                                       "_malformed", "_line_bytes")
    expected = spark.createDataFrame([("C00000003", "张三", "北京", "1980/01/01", False, None)],
                                     "customer_id string, name string, city string, birth_date string, "
                                     "_malformed boolean, _line_bytes binary")
    assertDataFrameEqual(got, expected)


def test_line_with_invalid_utf8_is_flagged_and_its_bytes_kept(landed):
    env, _ = landed
    row = env.raw("raw.customers").where("customer_id = 'C00000002'").first()
    assert row["_malformed"] is True
    assert row["_parse_error"] == "invalid_encoding: the line is not valid utf-8"
    assert bytes(row["_line_bytes"]) == BROKEN
    assert row["_system"] == "core" and row["phone"] == "13800000000"  # the other fields still parse


def test_json_lines_keep_nested_objects_as_json_text_and_flag_broken_lines(landed, spark):
    env, _ = landed
    got = env.raw("raw.app_events").select("event_id", "product_id", "device", "geo", "_malformed", "_parse_error",
                                            "_line_number")
    expected = spark.createDataFrame([
        ("E1", "P014", '{"id":"D0a1b2c3d4e5f","os":"iOS","model":"iPhone 14"}', '{"city":"北京"}', False, None, 1),
        (None, None, None, None, True, "invalid_json: the line is not a complete JSON object", 2),
    ], "event_id string, product_id string, device string, geo string, _malformed boolean, _parse_error string, "
       "_line_number bigint")
    assertDataFrameEqual(got, expected)


def test_renamed_column_keeps_its_data_in_extra_and_is_recorded(landed):
    env, _ = landed
    row = env.raw("raw.transactions").where("_batch_id = '2024-03-06'").first()
    assert row["mcc"] is None
    assert row["_extra"] == {"merchant_category_code": "5411"}
    ledger = env.ledger().where("source = 'transactions' AND batch = '2024-03-06' AND status = 'ingested'").first()
    assert ledger["drift"] == "renamed: mcc->merchant_category_code"


def test_added_column_keeps_its_data_in_extra_and_is_recorded(landed):
    env, _ = landed
    rows = {r["txn_id"]: r["_extra"] for r in env.raw("raw.transactions").where("_batch_id = '2024-03-07'").collect()}
    assert rows == {"T00000000000006": {"auth_code": "AB12CD"}, "T00000000000001": {"auth_code": None}}
    ledger = env.ledger().where("source = 'transactions' AND batch = '2024-03-07' AND status = 'ingested'").first()
    assert (ledger["drift"], ledger["schema_version"]) == ("added: auth_code", 2)


def test_every_landed_batch_has_its_manifest_rows_in_raw(landed):
    env, _ = landed
    ledger = env.ledger().where("status = 'ingested'").select("source", "batch", "manifest_rows", "rows").collect()
    assert len(ledger) == 9
    for r in ledger:
        table = "raw." + r["source"].split("/")[0]
        in_raw = env.raw(table).where(F.col("_source_file").startswith(f"{r['source']}/{r['batch']}/")).count()
        assert (r["source"], r["batch"], in_raw) == (r["source"], r["batch"], r["manifest_rows"])
        assert r["rows"] == r["manifest_rows"]
    checks = env.results().where("expectation = 'manifest_row_count_matches'").select("table", "success").collect()
    assert sorted(checks) == sorted((f"raw.{t}", True) for t in
                                    ("transactions", "customers", "app_events", "accounts", "fx_rates"))


def test_unreadable_batch_is_failed_while_the_others_land(landed):
    env, error = landed
    assert error.exit_code == 5
    assert "fx_rates/2024-03-07" in str(error)
    failed = env.ledger().where("status = 'failed'").select("source", "batch", "reason").collect()
    assert [(r["source"], r["batch"]) for r in failed] == [("fx_rates", "2024-03-07")]
    assert "SHA-256" in failed[0]["reason"]
    assert sorted(r["_batch_id"] for r in env.raw("raw.fx_rates").collect()) == ["2024-03-05", "2024-03-06"]
    readable = env.results("raw.fx_rates").where("expectation = 'batches_readable'").first()
    assert (readable["success"], readable["severity"]) == (False, "blocking")


def test_raw_defects_are_counted_in_quality_results(landed):
    env, _ = landed
    observed = {(r["table"], r["expectation"]): (r["observed_value"], r["unexpected_count"])
                for r in env.results().collect()}
    assert observed[("raw.transactions", "duplicate_lines_in_batch")][0] == "1"
    assert observed[("raw.transactions", "txn_id_resent_in_later_batch")][0] == "1"
    assert observed[("raw.transactions", "truncated_lines")][0] == "1"
    assert observed[("raw.transactions", "account_id_known")][0] == "1"
    assert observed[("raw.transactions", "account_id_present")][1] == 1
    assert observed[("raw.transactions", "schema_drift_added_column")][0] == "1"
    assert observed[("raw.transactions", "schema_drift_renamed_column")][0] == "1"
    assert observed[("raw.customers", "invalid_encoding_lines")][0] == "1"
    assert observed[("raw.app_events", "truncated_lines")][0] == "1"
