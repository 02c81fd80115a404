"""Row-level quarantine rules compiled to Spark filters follow GX's semantics row by row."""

from __future__ import annotations

from pyspark.testing import assertDataFrameEqual

from finlake.quality.rules import rules_broken
from finlake.quality.suites import Expectation


def rule(etype: str, name: str, **kwargs) -> Expectation:
    return Expectation(name=name, type=etype, kwargs=kwargs, severity="blocking", owner="o", rationale="r", quarantine=True)


RULES = (
    rule("expect_column_values_to_not_be_null", "code_present", column="code"),
    rule("expect_column_values_to_be_in_set", "code_known", column="code", value_set=["AB", "CD"]),
    rule("expect_column_values_to_be_between", "amount_range", column="amount", min_value=0, max_value=10, strict_min=True),
    rule("expect_column_values_to_match_regex", "ref_format", column="ref", regex="^R[0-9]+$"),
    rule("expect_column_value_lengths_to_be_between", "ref_length", column="ref", min_value=2, max_value=4),
)


def test_each_row_lists_exactly_the_rules_it_breaks_and_nulls_only_break_the_null_rule(spark):
    rows = [
        ("ok", "AB", 5, "R12"),
        ("null everything", None, None, None),      # GX skips nulls for every rule but not-null
        ("unknown code", "ZZ", 10, "R1"),           # max is inclusive
        ("zero amount", "CD", 0, "R1"),             # strict_min: 0 is out
        ("bad ref", "AB", 1, "X12345"),             # breaks the format and the length
    ]
    df = spark.createDataFrame(rows, "case string, code string, amount int, ref string")

    result = df.select("case", rules_broken(RULES).alias("broken"))

    expected = spark.createDataFrame([
        ("ok", []),
        ("null everything", ["code_present"]),
        ("unknown code", ["code_known"]),
        ("zero amount", ["amount_range"]),
        ("bad ref", ["ref_format", "ref_length"]),
    ], "case string, broken array<string>")
    assertDataFrameEqual(result, expected)
