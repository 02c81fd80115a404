"""Standardisation expressions on tiny explicit DataFrames: whole results compared."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from finlake.cleaned.standardise import (
    local_date,
    parse_amount,
    parse_date,
    parse_flag,
    parse_local_timestamp,
    parse_offset_timestamp,
    standardise_city,
    standardise_code,
    standardise_mcc,
)


def test_every_spelling_of_a_city_maps_to_one_code(spark):
    df = spark.createDataFrame([("北京市",), ("北京",), ("Beijing",), (" beijing ",), ("Xi'an",), ("西安",),
                                ("Hong Kong",), ("Atlantis",), (None,)], "city string")
    out = df.select("city", standardise_city("city").alias("code"))
    assertDataFrameEqual(out, spark.createDataFrame(
        [("北京市", "110000"), ("北京", "110000"), ("Beijing", "110000"), (" beijing ", "110000"),
         ("Xi'an", "610100"), ("西安", "610100"), ("Hong Kong", "HKG"), ("Atlantis", None), (None, None)],
        "city string, code string"))


def test_codes_are_trimmed_but_keep_their_case_and_blank_is_null(spark):
    # 'usd' is a planted defect (a CNY posting with a wrong code): it must stay visibly wrong
    df = spark.createDataFrame([(" pos ", " USD", "5411"), ("", "", " 6011 "), ("Mobile_App", "usd", "541")],
                               "channel string, currency string, mcc string")
    out = df.select(standardise_code("channel").alias("channel"), standardise_code("currency").alias("currency"),
                    standardise_mcc("mcc").alias("mcc"))
    assertDataFrameEqual(out, spark.createDataFrame(
        [("pos", "USD", "5411"), (None, None, "6011"), ("Mobile_App", "usd", None)],
        "channel string, currency string, mcc string"))


def test_local_shanghai_time_becomes_utc_and_malformed_is_null(spark):
    df = spark.createDataFrame([("2024-03-05 08:30:00",), ("2024-03-01 02:00:00",), ("2024-13-45 26:61:00",),
                                ("20240305",), (None,)], "ts string")
    out = df.select("ts", parse_local_timestamp("ts").alias("utc"))
    out = out.withColumn("day", local_date("utc"))
    assertDataFrameEqual(out, spark.createDataFrame(
        [("2024-03-05 08:30:00", dt.datetime(2024, 3, 5, 0, 30), dt.date(2024, 3, 5)),
         # 02:00 local on the 1st is still the 29th of February in UTC; the business date stays local
         ("2024-03-01 02:00:00", dt.datetime(2024, 2, 29, 18, 0), dt.date(2024, 3, 1)),
         ("2024-13-45 26:61:00", None, None), ("20240305", None, None), (None, None, None)],
        "ts string, utc timestamp, day date"))


def test_offset_timestamps_of_app_events_are_exact_instants(spark):
    df = spark.createDataFrame([("2024-03-05T21:14:03+08:00",), ("2024-03-05 21:14:03",)], "ts string")
    out = df.select(parse_offset_timestamp("ts").alias("utc"))
    assertDataFrameEqual(out, spark.createDataFrame([(dt.datetime(2024, 3, 5, 13, 14, 3),), (None,)], "utc timestamp"))


def test_dates_parse_only_in_the_documented_format_and_real_calendar(spark):
    df = spark.createDataFrame([("2024-02-29", "2024/02/29"), ("2023-02-29", "2024-02-29"), ("31/02/2024", "2024/2/9")],
                               "core string, branch string")
    out = df.select(parse_date("core").alias("core"), parse_date("branch", "yyyy/MM/dd").alias("branch"))
    assertDataFrameEqual(out, spark.createDataFrame(
        [(dt.date(2024, 2, 29), dt.date(2024, 2, 29)), (None, None), (None, None)], "core date, branch date"))


def test_amounts_need_exactly_two_decimals_and_flags_are_y_or_n(spark):
    df = spark.createDataFrame([("1234.50", "Y"), ("-12.00", "N"), ("12.5", "y"), ("abc", "X"), (None, None)],
                               "amount string, flag string")
    out = df.select(parse_amount("amount").alias("amount"), parse_flag("flag").alias("flag"))
    assertDataFrameEqual(out, spark.createDataFrame(
        [(Decimal("1234.50"), True), (Decimal("-12.00"), False), (None, True), (None, None), (None, None)],
        "amount decimal(18,2), flag boolean"))
