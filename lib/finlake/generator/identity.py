"""Personal identifiers as Chinese bank systems hold them: resident ids, mobile numbers, names.

All functions are vectorised over numpy arrays and draw only from the generator they are given.
"""

from __future__ import annotations

import numpy as np

from finlake.generator.formats import zfill
from finlake.generator.reference import GIVEN_CHARS, SURNAMES

# GB 11643-1999: weights of the first 17 digits; the check character is CHECK_CHARS[sum % 11].
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
CHECK_CHARS = np.array(list("10X98765432"), dtype=object)
MOBILE_PREFIXES = np.array(
    ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "155", "157",
     "158", "159", "166", "176", "177", "180", "181", "182", "185", "186", "187", "188", "189", "199"],
    dtype=object,
)


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of a resident id."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS))
    return CHECK_CHARS[total % 11]


def resident_ids(area: np.ndarray, birth: np.ndarray, male: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """18-character resident ids: area code, birth date, sequence (odd for men), check character.

    ``area`` holds 6-digit strings, ``birth`` datetime64[D] values, ``male`` booleans.
    """
    n = len(area)
    seq = rng.integers(0, 500, n) * 2 + np.where(male, 1, 0)  # odd sequence = male
    body = (
        area.astype(str).astype(object)
        + np.datetime_as_string(birth, unit="D").astype(object)
    )
    body = np.array([b.replace("-", "") for b in body], dtype=object) + zfill(seq, 3)
    digits = np.array([list(b) for b in body], dtype=np.int64).reshape(n, 17) if n else np.zeros((0, 17), int)
    check = CHECK_CHARS[(digits @ ID_WEIGHTS) % 11] if n else np.array([], dtype=object)
    return body + check


def mobile_numbers(n: int, rng: np.random.Generator) -> np.ndarray:
    """11-digit Chinese mobile numbers."""
    prefix = MOBILE_PREFIXES[rng.integers(0, len(MOBILE_PREFIXES), n)]
    rest = zfill(rng.integers(0, 100_000_000, n), 8)
    return prefix + rest


def chinese_names(n: int, rng: np.random.Generator) -> np.ndarray:
    """Two- or three-character Chinese names (surname + one or two given characters)."""
    surnames = np.array(SURNAMES, dtype=object)[rng.integers(0, len(SURNAMES), n)]
    given = np.array(GIVEN_CHARS, dtype=object)
    first = given[rng.integers(0, len(given), n)]
    second = np.where(rng.random(n) < 0.65, given[rng.integers(0, len(given), n)], "")
    return surnames + first + second
