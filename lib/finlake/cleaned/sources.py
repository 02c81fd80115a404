"""Per-table cleaning: raw rows (strings as delivered) -> typed, standardised cleaned rows.

Each ``clean_<table>`` is a pure transform. It keeps **every** input row (no filter, no
duplicating join) so the accounting can count raw rows = cleaned + quarantined + duplicates, and
adds ``_check_*`` helper columns for the row-level rules that cannot be written as a plain
expectation on a cleaned column (resident-ID check digit, phone format, referential integrity,
account life). The quarantine rules in ``expectations/cleaned/<table>.json`` test those helpers;
the build drops them before writing. Helpers are null when the value they test is missing, so a
missing value breaks only its not-null rule.

Clear PII (name, resident ID, phone) is validated, used to derive birth year and gender, then
replaced by tokens and masks *inside* these functions: nothing downstream, quarantine included,
ever sees it. The raw ``_line`` (the delivered text) is never carried over.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from finlake.cleaned.fx import convert_to_cny
from finlake.cleaned.pii import (
    normalise_resident_id,
    resident_id_birth_date,
    resident_id_gender,
    tokenise_pii,
    validate_phone,
    validate_resident_id,
)
from finlake.cleaned.standardise import (
    local_date,
    parse_amount,
    parse_date,
    parse_flag,
    parse_local_timestamp,
    parse_offset_timestamp,
    standardise_city,
    standardise_code,
    standardise_id,
    standardise_mcc,
)

CHECK_PREFIX = "_check_"
# Raw lineage every cleaned frame carries: the dedup order (dedup.DELIVERY), the accounting
# (batch, business date) and where a quarantined row was delivered (file and line).
LINEAGE = ("_batch_id", "_business_date", "_source_file", "_line_number", "_row_hash")
DATE_FORMATS = {"core": "yyyy-MM-dd", "branch": "yyyy/MM/dd"}


@dataclass(frozen=True)
class Lookups:
    """What cleaning one table needs from others (cleaned state plus this run's accepted rows).

    ``fx_rates``: rate_date, currency, cny_per_unit. ``accounts``: account_id, open_date,
    close_date. ``delivered_customers``: customer_id of every customer the raw layer has received.
    """

    fx_rates: DataFrame | None = None
    accounts: DataFrame | None = None
    delivered_customers: DataFrame | None = None


def _well_formed() -> Column:
    return (~F.col("_malformed")).alias(f"{CHECK_PREFIX}well_formed")


def _base(*columns: Column) -> list[Column]:
    return [*columns, *[F.col(c) for c in LINEAGE], _well_formed()]


def clean_customers(raw: DataFrame, pii_key: bytes) -> DataFrame:
    """raw.customers -> cleaned.customers columns (without SCD2 dates) plus checks.

    Birth year and gender come from the resident ID (validated first); the source's own gender
    and birth date are kept only as checks that they agree with it.
    """
    birth = F.coalesce(
        F.when(F.col("_system") == "branch", parse_date("birth_date", DATE_FORMATS["branch"])),
        F.when(F.col("_system") != "branch", parse_date("birth_date", DATE_FORMATS["core"])),
    )
    open_date = F.coalesce(
        F.when(F.col("_system") == "branch", parse_date("open_date", DATE_FORMATS["branch"])),
        F.when(F.col("_system") != "branch", parse_date("open_date", DATE_FORMATS["core"])),
    )
    idn = normalise_resident_id("id_number")
    id_present = F.col("_idn").isNotNull() & (F.col("_idn") != "")
    phone = F.trim("phone")
    df = raw.select(
        standardise_id("customer_id").alias("customer_id"),
        F.col("name"), idn.alias("_idn"), phone.alias("_phone"),
        standardise_code("gender").alias("_source_gender"),
        birth.alias("_birth_date"),
        F.col("birth_date").isNotNull().alias("_birth_date_delivered"),
        standardise_city("city").alias("city_code"),
        standardise_code("occupation").alias("occupation"),
        standardise_code("income_band").alias("income_band"),
        standardise_code("risk_tolerance").alias("risk_tolerance"),
        open_date.alias("open_date"),
        standardise_code("acquisition_channel").alias("acquisition_channel"),
        standardise_code("status").alias("status"),
        F.col("_system").alias("source_system"),
        *[F.col(c) for c in LINEAGE], _well_formed(),
    )
    id_ok = F.when(id_present, validate_resident_id("_idn"))
    id_birth = F.when(id_ok, resident_id_birth_date("_idn"))
    age = F.floor(F.months_between(F.col("_business_date"), F.col("_birth_date")) / 12)
    df = df.select(
        "*",
        id_ok.alias(f"{CHECK_PREFIX}resident_id_valid"),
        F.when(F.col("_phone").isNotNull() & (F.col("_phone") != ""), validate_phone("_phone")).alias(f"{CHECK_PREFIX}phone_valid"),
        F.when(F.col("_birth_date_delivered"), F.col("_birth_date").isNotNull()).alias(f"{CHECK_PREFIX}birth_date_parses"),
        age.cast("int").alias(f"{CHECK_PREFIX}age_years"),
        F.when(id_birth.isNotNull() & F.col("_birth_date").isNotNull(), id_birth == F.col("_birth_date"))
         .alias(f"{CHECK_PREFIX}birth_date_matches_id"),
        F.when(id_ok, resident_id_gender("_idn")).alias("gender"),
        F.year(id_birth).cast("int").alias("birth_year"),
    )
    df = df.withColumn(f"{CHECK_PREFIX}gender_matches_id",
                       F.when(F.col("gender").isNotNull() & F.col("_source_gender").isNotNull(),
                              F.col("gender") == F.col("_source_gender")))
    df = (df.withColumnRenamed("_idn", "id_number").withColumnRenamed("_phone", "phone")
          .transform(tokenise_pii(pii_key, {"name": "name", "id_number": "resident_id", "phone": "phone"}))
          .drop("_source_gender", "_birth_date", "_birth_date_delivered"))
    return df


def clean_accounts(raw: DataFrame, lookups: Lookups) -> DataFrame:
    """raw.accounts -> cleaned.accounts columns plus the customer-delivered check."""
    df = raw.select(*_base(
        standardise_id("account_id").alias("account_id"),
        standardise_id("customer_id").alias("customer_id"),
        standardise_code("product_type").alias("product_type"),
        parse_date("open_date").alias("open_date"),
        parse_date("close_date").alias("close_date"),
        parse_amount("credit_limit").alias("credit_limit"),
        standardise_code("status").alias("status"),
        F.col("_business_date").alias("updated_date"),
    ), F.col("close_date").isNotNull().alias("_close_delivered"))
    df = df.withColumn(f"{CHECK_PREFIX}close_date_parses",
                       F.when(F.col("_close_delivered"), F.col("close_date").isNotNull())).drop("_close_delivered")
    df = df.withColumn(f"{CHECK_PREFIX}close_after_open",
                       F.when(F.col("close_date").isNotNull(), F.col("close_date") >= F.col("open_date")))
    return _known(df, lookups.delivered_customers, "customer_id", f"{CHECK_PREFIX}customer_delivered")


def clean_transactions(raw: DataFrame, lookups: Lookups) -> DataFrame:
    """raw.transactions -> cleaned.transactions columns plus FX, orphan and account-life checks.

    ``mcc`` also reads the drifted header ``merchant_category_code``; ``auth_code`` (schema v2)
    comes from ``_extra``. The business date is the local posting date of ``ts``, so a re-send
    delivered days later lands in the partition of the original.
    """
    extra = F.col("_extra")
    ts = parse_local_timestamp("ts")
    df = raw.select(*_base(
        standardise_id("txn_id").alias("txn_id"),
        standardise_id("account_id").alias("account_id"),
        standardise_id("customer_id").alias("customer_id"),
        standardise_id("card_id").alias("card_id"),
        ts.alias("ts"),
        local_date(ts).alias("business_date"),
        parse_amount("amount").alias("amount"),
        standardise_code("currency").alias("currency"),
        standardise_code("direction").alias("direction"),
        standardise_code("channel").alias("channel"),
        standardise_id("merchant_id").alias("merchant_id"),
        standardise_mcc(F.coalesce(F.col("mcc"), extra["merchant_category_code"])).alias("mcc"),
        standardise_city("city").alias("city_code"),
        standardise_id("device_id").alias("device_id"),
        standardise_code("counterparty_bank").alias("counterparty_bank"),
        parse_flag("is_international").alias("is_international"),
        standardise_id(extra["auth_code"]).alias("auth_code"),
    ), F.col("city").isNotNull().alias("_city_delivered"), F.trim(F.coalesce(F.col("mcc"), extra["merchant_category_code"])).alias("_mcc_raw"))
    df = (df.withColumn("is_card", F.col("card_id").isNotNull())
          .withColumn(f"{CHECK_PREFIX}city_known", F.when(F.col("_city_delivered"), F.col("city_code").isNotNull()))
          .withColumn(f"{CHECK_PREFIX}mcc_format", F.when(F.col("_mcc_raw") != "", F.col("mcc").isNotNull()))
          .drop("_city_delivered", "_mcc_raw"))
    df = df.transform(convert_to_cny(lookups.fx_rates))
    df = df.withColumn("signed_amount_cny",
                       F.when(F.col("direction") == "debit", -F.col("amount_cny")).otherwise(F.col("amount_cny"))
                       .cast("decimal(18,2)"))
    return _with_account_checks(df, lookups.accounts, "business_date")


def clean_balances(raw: DataFrame, lookups: Lookups) -> DataFrame:
    """raw.balances -> cleaned.balances columns plus the account-known and account-life checks.

    A month end is within the account's life from the end of its opening month to the end of its
    closing month: the closing month's statement still reports the (zero) balance.
    """
    df = raw.select(*_base(
        standardise_id("account_id").alias("account_id"),
        parse_date("month_end").alias("month_end"),
        parse_amount("balance").alias("balance"),
    ))
    df = df.withColumn(f"{CHECK_PREFIX}month_end_is_last_day",
                       F.when(F.col("month_end").isNotNull(), F.col("month_end") == F.last_day("month_end")))
    return _with_account_checks(df, lookups.accounts, "month_end", month_ends=True)


def clean_app_events(raw: DataFrame) -> DataFrame:
    """raw.app_events -> cleaned.app_events: nested device/geo flattened, ts to UTC.

    The JSON documents and the timestamp are parsed once, in a projection of their own: written
    inline, Spark parses the device document once per field it reads (and the timestamp once
    for ts and again for business_date), which doubled the cost of this step at scale 1.
    """
    parsed = raw.select("*", F.from_json("device", "id string, os string, model string").alias("_device"),
                        F.from_json("geo", "city string").alias("_geo"), parse_offset_timestamp("ts").alias("_ts"))
    device, geo, ts = F.col("_device"), F.col("_geo"), F.col("_ts")
    return parsed.select(*_base(
        standardise_id("event_id").alias("event_id"),
        standardise_id("customer_id").alias("customer_id"),
        standardise_id("session_id").alias("session_id"),
        ts.alias("ts"),
        local_date(ts).alias("business_date"),
        standardise_code("event_type").alias("event_type"),
        standardise_id("page").alias("page"),
        standardise_id("product_id").alias("product_id"),
        standardise_id(device["id"]).alias("device_id"),
        standardise_id(device["os"]).alias("device_os"),
        standardise_id(device["model"]).alias("device_model"),
        standardise_city(geo["city"]).alias("city_code"),
    ))


def clean_products(raw: DataFrame) -> DataFrame:
    return raw.select(*_base(
        standardise_id("product_id").alias("product_id"),
        standardise_code("product_type").alias("product_type"),
        standardise_id("name").alias("name"),
        standardise_code("risk_rating").alias("risk_rating"),
        parse_amount("min_amount").alias("min_amount"),
        F.trim("expected_yield").try_cast("decimal(9,4)").alias("expected_yield"),
    ))


def clean_campaigns(raw: DataFrame) -> DataFrame:
    return raw.select(*_base(
        standardise_id("campaign_id").alias("campaign_id"),
        standardise_id("product_id").alias("product_id"),
        standardise_code("channel").alias("channel"),
        parse_date("start_date").alias("start_date"),
        parse_date("end_date").alias("end_date"),
    ))


def clean_contacts(raw: DataFrame) -> DataFrame:
    ts = parse_local_timestamp("ts")
    return raw.select(*_base(
        standardise_id("contact_id").alias("contact_id"),
        standardise_id("campaign_id").alias("campaign_id"),
        standardise_id("customer_id").alias("customer_id"),
        ts.alias("ts"),
        local_date(ts).alias("business_date"),
        standardise_code("channel").alias("channel"),
        standardise_code("outcome").alias("outcome"),
        parse_flag("control_group").alias("control_group"),
    ))


def clean_complaints(raw: DataFrame) -> DataFrame:
    ts = parse_local_timestamp("ts")
    return raw.select(*_base(
        standardise_id("complaint_id").alias("complaint_id"),
        standardise_id("customer_id").alias("customer_id"),
        ts.alias("ts"),
        local_date(ts).alias("business_date"),
        standardise_code("category").alias("category"),
    ))


def clean_fraud_reports(raw: DataFrame) -> DataFrame:
    return raw.select(*_base(
        standardise_id("txn_id").alias("txn_id"),
        parse_local_timestamp("reported_at").alias("reported_at"),
        F.col("_business_date").alias("business_date"),
        standardise_code("fraud_type").alias("fraud_type"),
    ))


def clean_consents(raw: DataFrame) -> DataFrame:
    return raw.select(*_base(
        standardise_id("customer_id").alias("customer_id"),
        standardise_code("channel").alias("channel"),
        parse_flag("consent").alias("consent"),
        parse_local_timestamp("updated_at").alias("updated_at"),
        F.col("_business_date").alias("business_date"),
    ))


def clean_do_not_contact(raw: DataFrame, pii_key: bytes) -> DataFrame:
    """raw.do_not_contact -> cleaned.do_not_contact; the phone leaves as token and mask only.

    A malformed phone is a warning, never a quarantine: the entry opts the customer out by
    customer_id, and quarantining it would contact someone who asked not to be."""
    df = raw.select(*_base(
        standardise_id("customer_id").alias("customer_id"),
        F.trim("phone").alias("phone"),
        parse_local_timestamp("listed_at").alias("listed_at"),
        F.col("_business_date").alias("business_date"),
        standardise_code("reason").alias("reason"),
    ))
    df = df.withColumn(f"{CHECK_PREFIX}phone_valid",
                       F.when(F.col("phone").isNotNull() & (F.col("phone") != ""), validate_phone("phone")))
    return df.transform(tokenise_pii(pii_key, {"phone": "phone"}))


def clean_fx_rates(raw: DataFrame) -> DataFrame:
    return raw.select(*_base(
        parse_date("rate_date").alias("rate_date"),
        standardise_code("currency").alias("currency"),
        parse_amount("cny_per_unit", 18, 6).alias("cny_per_unit"),
    ))


def _with_account_checks(df: DataFrame, accounts: DataFrame, date_col: str, month_ends: bool = False) -> DataFrame:
    """Add ``_check_account_known`` (``account_id`` is in ``accounts``; null when it is null) and
    ``_check_within_account_life``: ``date_col`` lies from the account's open date to its close
    date, or with ``month_ends`` from the end of the opening month to the end of the closing month
    (null when the account or the date is unknown)."""
    accounts = F.broadcast(accounts.select(
        F.col("account_id").alias("_a_id"), F.col("open_date").alias("_a_open"), F.col("close_date").alias("_a_close")))
    df = df.join(accounts, F.col("account_id") == F.col("_a_id"), "left")
    first, last = ((F.last_day("_a_open"), F.last_day("_a_close")) if month_ends
                   else (F.col("_a_open"), F.col("_a_close")))
    day = F.col(date_col)
    life = F.when(F.col("_a_id").isNotNull() & day.isNotNull(),
                  (day >= first) & (F.col("_a_close").isNull() | (day <= last)))
    return (df.withColumn(f"{CHECK_PREFIX}account_known", F.when(F.col("account_id").isNotNull(), F.col("_a_id").isNotNull()))
            .withColumn(f"{CHECK_PREFIX}within_account_life", life)
            .drop("_a_id", "_a_open", "_a_close"))


def _known(df: DataFrame, parents: DataFrame, key: str, check: str) -> DataFrame:
    """Add ``check``: whether ``key`` is among ``parents``' keys (null when ``key`` is null)."""
    keys = F.broadcast(parents.select(F.col(key).alias("_parent_key")).distinct())
    joined = df.join(keys, F.col(key) == F.col("_parent_key"), "left")
    return joined.withColumn(check, F.when(F.col(key).isNotNull(), F.col("_parent_key").isNotNull())).drop("_parent_key")
