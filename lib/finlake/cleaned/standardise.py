"""Standardisation transforms: typed values and one spelling per code.

Every function returns a Spark Column expression (no Python UDF): parsing failures give null, and
the quarantine rules (``expectations/cleaned/*.json``) turn a null where a value was delivered
into a quarantined row. Timestamps arrive as Asia/Shanghai wall-clock time and are stored as UTC
instants; the session time zone is UTC (``finlake.spark``), so a parsed wall-clock value is
shifted with ``to_utc_timestamp``.
"""

from __future__ import annotations

import re

from pyspark.sql import Column
from pyspark.sql import functions as F

SOURCE_TZ = "Asia/Shanghai"
LOCAL_TS_FORMAT = "yyyy-MM-dd HH:mm:ss"
ISO_OFFSET_TS_FORMAT = "yyyy-MM-dd'T'HH:mm:ssXXX"
AMOUNT_PATTERN = r"^-?[0-9]+\.[0-9]{2}$"

# Standard city codes. Mainland cities use the GB/T 2260 prefecture-level division code; cities
# abroad (international card postings) use their IATA metropolitan code. Each code lists every
# spelling the source systems use (pinyin, full and short Chinese name, English name).
CITY_SPELLINGS: dict[str, tuple[str, ...]] = {
    "110000": ("Beijing", "北京市", "北京"),
    "310000": ("Shanghai", "上海市", "上海"),
    "440100": ("Guangzhou", "广州市", "广州"),
    "440300": ("Shenzhen", "深圳市", "深圳"),
    "330100": ("Hangzhou", "杭州市", "杭州"),
    "510100": ("Chengdu", "成都市", "成都"),
    "420100": ("Wuhan", "武汉市", "武汉"),
    "320100": ("Nanjing", "南京市", "南京"),
    "610100": ("Xian", "Xi'an", "西安市", "西安"),
    "500000": ("Chongqing", "重庆市", "重庆"),
    "120000": ("Tianjin", "天津市", "天津"),
    "320500": ("Suzhou", "苏州市", "苏州"),
    "HKG": ("Hong Kong", "香港", "香港特别行政区"),
    "TYO": ("Tokyo", "东京"),
    "OSA": ("Osaka", "大阪"),
    "SIN": ("Singapore", "新加坡"),
    "NYC": ("New York", "纽约"),
    "LAX": ("Los Angeles", "洛杉矶"),
    "LON": ("London", "伦敦"),
    "PAR": ("Paris", "巴黎"),
    "FRA": ("Frankfurt", "法兰克福"),
    "SYD": ("Sydney", "悉尼"),
    "BKK": ("Bangkok", "曼谷"),
}


def city_key(spelling: str) -> str:
    """The lookup key of a spelling: case, spaces, apostrophes, hyphens and underscores ignored."""
    return re.sub(r"[\s'_\-]", "", spelling).lower()


CITY_CODES: dict[str, str] = {city_key(s): code for code, spellings in CITY_SPELLINGS.items() for s in spellings}


def standardise_city(col: Column | str) -> Column:
    """City code of any known spelling ("北京市", "北京", " beijing " -> "110000"); null if unknown."""
    lookup = F.create_map(*[F.lit(x) for kv in sorted(CITY_CODES.items()) for x in kv])
    key = F.lower(F.regexp_replace(F.trim(_col(col)), r"[\s'_\-]", ""))
    return lookup[key]


def standardise_code(col: Column | str) -> Column:
    """Trimmed code (channels, currencies, statuses ...); empty -> null.

    Codes are *not* case-folded: the landing contract fixes their spelling and "anything else in
    a code column is a defect". A case variant is exactly such a defect: the generator plants
    ``usd`` on domestic CNY postings, and upper-casing it would convert a CNY amount at the USD
    rate. The closed-list rules quarantine such rows instead.
    """
    return _blank_to_null(F.trim(_col(col)))


def standardise_id(col: Column | str) -> Column:
    """Trimmed identifier; empty -> null."""
    return _blank_to_null(F.trim(_col(col)))


def standardise_mcc(col: Column | str) -> Column:
    """Four-digit merchant category code; anything else (including empty) -> null."""
    value = F.trim(_col(col))
    return F.when(value.rlike(r"^[0-9]{4}$"), value)


def parse_local_timestamp(col: Column | str, fmt: str = LOCAL_TS_FORMAT) -> Column:
    """UTC instant of an Asia/Shanghai wall-clock string; null when it does not parse."""
    return F.to_utc_timestamp(F.try_to_timestamp(F.trim(_col(col)), F.lit(fmt)), SOURCE_TZ)


def parse_offset_timestamp(col: Column | str) -> Column:
    """UTC instant of an ISO-8601 string with an offset (``2024-03-05T21:14:03+08:00``)."""
    return F.try_to_timestamp(F.trim(_col(col)), F.lit(ISO_OFFSET_TS_FORMAT))


def parse_date(col: Column | str, fmt: str = "yyyy-MM-dd") -> Column:
    """A date in the given format; null when it does not parse or is not a real calendar date."""
    text = F.trim(_col(col))
    parsed = F.try_to_date(text, fmt)
    # The parser accepts some lenient forms (single-digit fields); require the exact round trip.
    return F.when(F.date_format(parsed, fmt) == text, parsed)


def parse_amount(col: Column | str, precision: int = 18, scale: int = 2) -> Column:
    """Decimal of a ``1234.50`` string with exactly ``scale`` decimals; null otherwise."""
    text = F.trim(_col(col))
    pattern = AMOUNT_PATTERN if scale == 2 else rf"^-?[0-9]+\.[0-9]{{{scale}}}$"
    return F.when(text.rlike(pattern), text.try_cast(f"decimal({precision},{scale})"))


def parse_flag(col: Column | str) -> Column:
    """Boolean of a ``Y``/``N`` flag; null otherwise."""
    value = F.upper(F.trim(_col(col)))
    return F.when(value == "Y", F.lit(True)).when(value == "N", F.lit(False))


def local_date(ts_utc: Column | str) -> Column:
    """The Asia/Shanghai calendar date of a UTC instant (the business date of an event)."""
    return F.to_date(F.from_utc_timestamp(_col(ts_utc), SOURCE_TZ))


def _blank_to_null(col: Column) -> Column:
    # nullif evaluates ``col`` once (Spark plans it as a common expression); ``when(col != "",
    # col)`` would evaluate it twice, which doubles the cost of a JSON field or a map lookup.
    return F.nullif(col, F.lit(""))


def _col(col: Column | str) -> Column:
    return F.col(col) if isinstance(col, str) else col
