"""Row-level quarantine rules: the suite's ``quarantine: true`` expectations as Spark filters.

GX validates a batch but does not split it, so each row-level expectation is compiled here to a
Spark boolean column that is true when a row *breaks* the rule. The semantics follow GX's own
column-map expectations: a null value breaks only the null checks (GX skips nulls everywhere
else). Batch-level expectations (uniqueness, row counts, means ...) have no per-row meaning and
cannot be quarantine rules; marking one ``quarantine: true`` is an error when the suite loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from pyspark.sql import Column

    from finlake.quality.suites import Expectation


def _between(col: "Column", lo, hi, strict_lo: bool, strict_hi: bool) -> "Column":
    from pyspark.sql import functions as F

    ok = F.lit(True)
    if lo is not None:
        ok = ok & ((col > F.lit(lo)) if strict_lo else (col >= F.lit(lo)))
    if hi is not None:
        ok = ok & ((col < F.lit(hi)) if strict_hi else (col <= F.lit(hi)))
    return ~ok


def _in_set(col, kw):
    return ~col.isin(list(kw["value_set"]))


def _not_in_set(col, kw):
    return col.isin(list(kw["value_set"]))


def _values_between(col, kw):
    return _between(col, kw.get("min_value"), kw.get("max_value"), kw.get("strict_min", False), kw.get("strict_max", False))


def _lengths_between(col, kw):
    from pyspark.sql import functions as F

    return _between(F.length(col), kw.get("min_value"), kw.get("max_value"), False, False)


def _length_equal(col, kw):
    from pyspark.sql import functions as F

    return F.length(col) != F.lit(kw["value"])


def _match_regex(col, kw):
    return ~col.rlike(kw["regex"])


def _not_match_regex(col, kw):
    return col.rlike(kw["regex"])


# Rules on non-null values: a null value never breaks them (as in GX).
_VALUE_RULES: dict[str, Callable] = {
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_not_be_in_set": _not_in_set,
    "expect_column_values_to_be_between": _values_between,
    "expect_column_value_lengths_to_be_between": _lengths_between,
    "expect_column_value_lengths_to_equal": _length_equal,
    "expect_column_values_to_match_regex": _match_regex,
    "expect_column_values_to_not_match_regex": _not_match_regex,
}
_NULL_RULES = ("expect_column_values_to_not_be_null", "expect_column_values_to_be_null")
SUPPORTED = tuple(sorted((*_VALUE_RULES, *_NULL_RULES)))
# GX kwargs that change which rows a rule applies to; the compiler does not translate them.
_UNSUPPORTED_KWARGS = ("row_condition", "condition_parser", "parse_strings_as_datetimes")


def check_compilable(exp: "Expectation", where: str) -> None:
    """Raise SuiteError if ``exp`` cannot be a row-level quarantine rule."""
    from finlake.quality.suites import SuiteError

    if exp.type not in SUPPORTED:
        raise SuiteError(
            f"{where}: meta.quarantine is true but {exp.type} has no row-level form; quarantine works for "
            f"{', '.join(SUPPORTED)}. Remove meta.quarantine (the batch check still runs) or use one of these"
        )
    used = [k for k in _UNSUPPORTED_KWARGS if exp.kwargs.get(k)]
    if used:
        raise SuiteError(f"{where}: quarantine rules cannot use {used}; express the condition in the rule itself")


def broken(exp: "Expectation") -> "Column":
    """A boolean column, true (never null) when a row breaks ``exp``."""
    from pyspark.sql import functions as F

    col = F.col(exp.column)
    if exp.type == "expect_column_values_to_not_be_null":
        return col.isNull()
    if exp.type == "expect_column_values_to_be_null":
        return col.isNotNull()
    return col.isNotNull() & F.coalesce(_VALUE_RULES[exp.type](col, exp.kwargs), F.lit(False))


def rules_broken(rules: tuple["Expectation", ...]) -> "Column":
    """``array<string>`` of the names of the rules a row breaks (empty when it breaks none)."""
    from pyspark.sql import functions as F

    if not rules:
        return F.array().cast("array<string>")
    flagged = F.array(*[F.when(broken(r), F.lit(r.name)) for r in rules])
    return F.filter(flagged, lambda name: name.isNotNull())
