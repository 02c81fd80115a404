"""Resident-ID validation, masking and keyed tokens on tiny explicit DataFrames."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from pyspark.testing import assertDataFrameEqual

from finlake.cleaned.pii import (
    mask_name,
    mask_phone,
    mask_resident_id,
    resident_id_birth_date,
    resident_id_gender,
    tokenise_pii,
    validate_phone,
    validate_resident_id,
)

KEY = b"unit-test-key-0123456789"


def _expected_token(value: str) -> str:
    return hmac.new(KEY, value.encode("utf-8"), hashlib.sha256).hexdigest()


def test_resident_id_check_digit_and_embedded_birth_date_are_validated(spark):
    df = spark.createDataFrame([
        ("110101199003071233",),  # valid, check digit 3
        ("11010519491231002X",),  # valid, check character X
        ("110101199003071234",),  # wrong check digit
        ("110101199002301237",),  # 30 February: check digit right, birth date impossible
        ("11010120900307123X",),  # born 7 March 2090: check digit right, birth date in the future
        ("11010119900307123",),   # 17 characters
        ("A10101199003071233",),
        (None,),
    ], "id string")
    out = df.select("id", validate_resident_id("id").alias("valid"))
    assertDataFrameEqual(out, spark.createDataFrame([
        ("110101199003071233", True), ("11010519491231002X", True), ("110101199003071234", False),
        ("110101199002301237", False), ("11010120900307123X", False), ("11010119900307123", False),
        ("A10101199003071233", False), (None, False),
    ], "id string, valid boolean"))


def test_gender_and_birth_date_come_from_the_resident_id(spark):
    df = spark.createDataFrame([("110101199003071233",), ("11010519491231002X",)], "id string")
    out = df.select(resident_id_birth_date("id").alias("birth"), resident_id_gender("id").alias("gender"))
    assertDataFrameEqual(out, spark.createDataFrame(
        [(dt.date(1990, 3, 7), "M"), (dt.date(1949, 12, 31), "F")], "birth date, gender string"))


def test_phone_format_accepts_mainland_mobiles_only(spark):
    df = spark.createDataFrame([("13812345678",), ("12812345678",), ("1381234567",), ("1381234567a",), (None,)], "p string")
    out = df.select("p", validate_phone("p").alias("ok"))
    assertDataFrameEqual(out, spark.createDataFrame(
        [("13812345678", True), ("12812345678", False), ("1381234567", False), ("1381234567a", False), (None, False)],
        "p string, ok boolean"))


def test_masks_keep_only_the_documented_characters(spark):
    df = spark.createDataFrame([("13812345678", "110101199003071234", "张三"), ("123", "1101", "欧阳明"),
                                (None, None, "王")], "phone string, id string, name string")
    out = df.select(mask_phone("phone").alias("phone"), mask_resident_id("id").alias("id"), mask_name("name").alias("name"))
    assertDataFrameEqual(out, spark.createDataFrame(
        [("138****5678", "110***********1234", "张*"), ("***", "****", "欧**"), (None, None, "*")],
        "phone string, id string, name string"))


def test_tokenise_replaces_clear_values_by_hmac_tokens_and_masks(spark):
    df = spark.createDataFrame([("C1", " 13812345678 ", "11010519491231002x", "张三"), ("C2", "", None, "李四")],
                               "customer_id string, phone string, id_number string, name string")
    out = df.transform(tokenise_pii(KEY, {"phone": "phone", "id_number": "resident_id", "name": "name"}))
    assertDataFrameEqual(out, spark.createDataFrame([
        ("C1", _expected_token("13812345678"), "138****5678", _expected_token("11010519491231002X"),
         "110***********002X", _expected_token("张三"), "张*"),
        ("C2", None, None, None, None, _expected_token("李四"), "李*"),
    ], "customer_id string, phone_token string, phone_masked string, id_number_token string, "
       "id_number_masked string, name_token string, name_masked string"))


def test_a_different_key_gives_different_tokens(spark):
    df = spark.createDataFrame([("13812345678",)], "phone string")
    a = df.transform(tokenise_pii(KEY, {"phone": "phone"})).first()["phone_token"]
    b = df.transform(tokenise_pii(b"another-key-0123456789", {"phone": "phone"})).first()["phone_token"]
    assert a != b


def test_tokenising_without_a_key_is_an_error():
    with pytest.raises(ValueError, match="non-empty key"):
        tokenise_pii(b"", {"phone": "phone"})
