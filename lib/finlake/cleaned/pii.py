"""PII protection: resident-ID validation, masking and keyed tokens.

Resident ID (居民身份证号码, GB 11643), mobile phone and name never leave the raw layer in clear
text. The cleaned layer keeps, per value:

- a **token**: HMAC-SHA256 under the key from ``settings.resolve_pii_key()``, hex encoded. The
  same value always gives the same token, so tables join on tokens; without the key a token
  cannot be reversed by enumerating phone numbers or ID numbers (unlike a plain hash).
- a **masked** display value for people who must recognise a record (138****5678,
  110***********1234, 张*).

Validation, masking and derivations are Column expressions. Spark has no built-in HMAC, so the
token is a ``pandas_udf`` over Arrow batches (``hashlib``/``hmac`` in C); it runs only on the PII
columns of customers and the do-not-contact list. Measured cost: see docs/cleaned.md.
"""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from finlake.cleaned.standardise import parse_date

# GB 11643-1999: weights of the first 17 digits and the check character of (sum mod 11).
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
ID_PATTERN = r"^[0-9]{17}[0-9X]$"
PHONE_PATTERN = r"^1[3-9][0-9]{9}$"


def normalise_resident_id(col: Column | str) -> Column:
    """Trimmed, upper-case ID (a lower-case ``x`` check character is the same ID)."""
    return F.upper(F.trim(_col(col)))


def normalise_phone(col: Column | str) -> Column:
    """Trimmed phone number."""
    return F.trim(_col(col))


def normalise_name(col: Column | str) -> Column:
    """Trimmed name."""
    return F.trim(_col(col))


def resident_id_check_char(col: Column | str) -> Column:
    """The check character the first 17 digits call for."""
    value = _col(col)
    total = sum(F.substring(value, i + 1, 1).cast("int") * w for i, w in enumerate(ID_WEIGHTS))
    return F.substring(F.lit(ID_CHECK_CHARS), (total % 11) + 1, 1)


def resident_id_birth_date(col: Column | str) -> Column:
    """The birth date embedded in characters 7-14 (``YYYYMMDD``); null if not a real date."""
    return parse_date(F.substring(_col(col), 7, 8), "yyyyMMdd")


def resident_id_gender(col: Column | str) -> Column:
    """``M`` when the 3-digit sequence (characters 15-17) is odd, else ``F``."""
    return F.when(F.substring(_col(col), 17, 1).cast("int") % 2 == 1, F.lit("M")).otherwise(F.lit("F"))


def validate_resident_id(col: Column | str) -> Column:
    """True when the (normalised) ID has 17 digits plus a check character that matches GB 11643
    and embeds a real birth date (a calendar date, not after today); false otherwise, including
    null."""
    value = _col(col)
    valid = (value.rlike(ID_PATTERN)
             & (F.substring(value, 18, 1) == resident_id_check_char(value))
             & (resident_id_birth_date(value) <= F.current_date()))
    return F.coalesce(valid, F.lit(False))


def validate_phone(col: Column | str) -> Column:
    """True for an 11-digit mainland mobile number (1, then 3-9, then 9 digits)."""
    return F.coalesce(_col(col).rlike(PHONE_PATTERN), F.lit(False))


def mask_phone(col: Column | str) -> Column:
    """``13812345678`` -> ``138****5678``; anything that is not 11 characters is fully masked."""
    value = _col(col)
    return (F.when(value.isNull(), None)
            .when(F.length(value) == 11, F.concat(F.substring(value, 1, 3), F.lit("****"), F.substring(value, 8, 4)))
            .otherwise(F.repeat(F.lit("*"), F.length(value))))


def mask_resident_id(col: Column | str) -> Column:
    """``110101199003071234`` -> ``110***********1234``; other lengths are fully masked."""
    value = _col(col)
    return (F.when(value.isNull(), None)
            .when(F.length(value) == 18, F.concat(F.substring(value, 1, 3), F.lit("*" * 11), F.substring(value, 15, 4)))
            .otherwise(F.repeat(F.lit("*"), F.length(value))))


def mask_name(col: Column | str) -> Column:
    """``张三`` -> ``张*``, ``欧阳明`` -> ``欧**``: the surname character and one ``*`` per other."""
    value = _col(col)
    return (F.when(value.isNull(), None)
            .when(F.length(value) <= 1, F.lit("*"))
            .otherwise(F.concat(F.substring(value, 1, 1), F.repeat(F.lit("*"), F.length(value) - 1))))


def hmac_token(key: bytes):
    """A Column function giving the hex HMAC-SHA256 of a string column under ``key`` (null stays null).

    The key travels inside the pickled function to the executors, never into the query plan.
    """
    if not key:
        raise ValueError("hmac_token needs a non-empty key (settings.resolve_pii_key())")

    @F.pandas_udf(T.StringType())
    def _token(values: pd.Series) -> pd.Series:
        new = hmac.new
        sha = hashlib.sha256
        return pd.Series([None if v is None else new(key, v.encode("utf-8"), sha).hexdigest() for v in values],
                         dtype=object)

    return _token


def tokenise_pii(key: bytes, columns: dict[str, str]):
    """Transform for ``df.transform``: replace each clear PII column by ``<name>_token`` and
    ``<name>_masked`` and drop the clear column.

    ``columns`` maps a clear column to its kind: ``resident_id``, ``phone`` or ``name``; the value
    is normalised (trimmed; resident ID upper-cased) before tokenising so that spellings of the same
    value share a token.
    """
    normalise = {"resident_id": normalise_resident_id, "phone": normalise_phone, "name": normalise_name}
    mask = {"resident_id": mask_resident_id, "phone": mask_phone, "name": mask_name}
    unknown = {k for k in columns.values() if k not in normalise}
    if unknown:
        raise ValueError(f"unknown PII kinds {sorted(unknown)}; use resident_id, phone or name")
    token = hmac_token(key)

    def apply(df):
        for column, kind in columns.items():
            value = F.when(normalise[kind](column) != "", normalise[kind](column))
            df = (df.withColumn(f"{column}_token", token(value))
                    .withColumn(f"{column}_masked", mask[kind](value))
                    .drop(column))
        return df

    return apply


def _col(col: Column | str) -> Column:
    return F.col(col) if isinstance(col, str) else col
