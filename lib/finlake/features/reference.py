"""Reference data of the feature layer: merchant-category families, bands, tiers, city positions.

Kept in one place so docs/features.md, the transforms and the DuckDB benchmark agree.
"""

from __future__ import annotations

import math

from pyspark.sql import Column
from pyspark.sql import functions as F

# Merchant category code -> family. 6011 (ATM cash) is not spend; see "cash".
MCC_FAMILIES: dict[str, tuple[str, ...]] = {
    "grocery": ("5411",),
    "dining": ("5812", "5814"),
    "travel": ("4111", "4511", "7011"),
    "fuel_utilities": ("4900", "5541"),
    "retail": ("5045", "5094", "5311", "5651", "5732", "5944"),
    "health": ("5912", "8062"),
    "education": ("8220",),
    "securities": ("6211",),
    "business": ("7399",),
}
SPEND_FAMILIES = tuple(MCC_FAMILIES) + ("other",)
CASH_MCC = "6011"
CHANNELS = ("mobile_app", "online", "pos", "atm", "branch_counter", "third_party_pay")
# The core system's own postings (interest, repayments, instalments, transfers between the
# customer's products, once a month per ledger account): not customer activity.
SYSTEM_CHANNEL = "system"
PRODUCT_TYPES = ("savings", "current", "credit_card", "personal_loan", "mortgage", "wealth", "fund", "insurance")
DEPOSIT_TYPES = ("savings", "current")
INVESTMENT_TYPES = ("wealth", "fund", "insurance")
DEBT_TYPES = ("credit_card", "personal_loan", "mortgage")

# Age bands: (label, lowest age). Checked top down.
AGE_BANDS = (("65_plus", 65), ("55_64", 55), ("45_54", 45), ("35_44", 35), ("25_34", 25), ("lt25", 0))
# AUM tiers (CNY): (label, lowest aum_balance). 6 million CNY is the usual private-banking line.
AUM_TIERS = (("private_banking", 6_000_000), ("high_net_worth", 1_000_000), ("affluent", 300_000),
             ("mass_affluent", 50_000), ("mass", 0))

# Latitude, longitude of the mainland cities (standard city codes of finlake.cleaned.standardise).
CITY_POSITIONS: dict[str, tuple[float, float]] = {
    "110000": (39.90, 116.40),  # Beijing
    "310000": (31.23, 121.47),  # Shanghai
    "440100": (23.13, 113.26),  # Guangzhou
    "440300": (22.54, 114.06),  # Shenzhen
    "330100": (30.27, 120.16),  # Hangzhou
    "510100": (30.66, 104.07),  # Chengdu
    "420100": (30.59, 114.31),  # Wuhan
    "320100": (32.06, 118.80),  # Nanjing
    "610100": (34.34, 108.94),  # Xian
    "500000": (29.56, 106.55),  # Chongqing
    "120000": (39.13, 117.20),  # Tianjin
    "320500": (31.30, 120.59),  # Suzhou
}
NEAR_KM = 300.0


def mcc_family(mcc: Column) -> Column:
    """Family of a merchant category code: a family name, 'cash' (6011), 'none' (null) or 'other'."""
    expr = F.when(mcc.isNull(), F.lit("none")).when(mcc == CASH_MCC, F.lit("cash"))
    for family, codes in MCC_FAMILIES.items():
        expr = expr.when(mcc.isin(*codes), F.lit(family))
    return expr.otherwise(F.lit("other"))


def age_band(age: Column) -> Column:
    expr = F.when(age.isNull(), F.lit("unknown"))
    for label, lowest in AGE_BANDS:
        expr = expr.when(age >= lowest, F.lit(label))
    return expr.otherwise(F.lit("unknown"))


def aum_tier(aum: Column) -> Column:
    expr = None
    for label, lowest in AUM_TIERS:
        expr = F.when(aum >= lowest, F.lit(label)) if expr is None else expr.when(aum >= lowest, F.lit(label))
    return expr.otherwise(F.lit("mass"))


def city_distance_km(a: str, b: str) -> float:
    """Great-circle distance between two mainland cities (haversine, km)."""
    (lat1, lon1), (lat2, lon2) = CITY_POSITIONS[a], CITY_POSITIONS[b]
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def near_city_pairs() -> list[str]:
    """'a|b' keys of distinct mainland city pairs closer than NEAR_KM (both orders)."""
    return sorted(f"{a}|{b}" for a in CITY_POSITIONS for b in CITY_POSITIONS
                  if a != b and city_distance_km(a, b) < NEAR_KM)


def distance_class(home_city: Column, txn_city: Column, is_international: Column) -> Column:
    """home, near (< 300 km), domestic, abroad or unknown: where the txn happened vs home."""
    mainland = list(CITY_POSITIONS)
    near = near_city_pairs()
    return (F.when(is_international | (txn_city.isNotNull() & ~txn_city.isin(*mainland)), F.lit("abroad"))
             .when(home_city.isNull() | txn_city.isNull(), F.lit("unknown"))
             .when(home_city == txn_city, F.lit("home"))
             .when(F.concat_ws("|", home_city, txn_city).isin(*near), F.lit("near"))
             .otherwise(F.lit("domestic")))
