"""build_features end to end on a tiny lake: incremental months, recompute one month, the gate.

The tests run in order on one lake (module fixture): first build, a new month arrives, one month
is recomputed, a rerun of a run is a no-op, bad data stops every write.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from finlake.errors import QualityGateError
from finlake.features import build_features
from finlake.features.build import FeatureInputError, plan_build, read_inputs
from finlake.features.tags import TagRuleError
from finlake.lake import Lake
from finlake.settings import load_settings

pytestmark = pytest.mark.xdist_group("features-build")

TABLES = ("features.customer_monthly", "features.customer_tags", "features.churn_labels", "features.transaction_fraud")


def _txns(first: date, last: date) -> list[dict]:
    """Two customers posting every third day from ``first`` (make ``last`` fall on that grid)."""
    rows, day, n = [], first, 0
    while day <= last:
        for cid, card in (("C1", "K1"), ("C2", "K2")):
            n += 1
            rows.append({"txn_id": f"T{day:%Y%m%d}{n:06d}", "customer_id": cid, "card_id": card, "merchant_id": "M1",
                         "ts": datetime(day.year, day.month, day.day, 3), "business_date": day, "amount": 25.0,
                         "mcc": "5411", "city_code": "110000"})
        day += timedelta(days=3)
    return rows


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory, make):
    home = tmp_path_factory.mktemp("features-lake")
    settings = load_settings(overrides={"home": str(home), "lake_engine": "bridge", "spark_master": "local[2]"},
                             environ={})
    lake = Lake(spark, settings)
    cleaned = {
        "cleaned.customers": [{"customer_id": "C1"}, {"customer_id": "C2", "birth_year": 1955}],
        "cleaned.accounts": [{"account_id": "A1", "customer_id": "C1"},
                             {"account_id": "A2", "customer_id": "C2", "close_date": date(2024, 4, 20)}],
        "cleaned.transactions": _txns(date(2024, 1, 1), date(2024, 4, 30)),
        "cleaned.balances": [{"account_id": a, "month_end": m, "balance": 1000.0}
                             for a in ("A1", "A2") for m in (date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31))],
        "cleaned.app_events": [{"event_id": "E1", "customer_id": "C1", "ts": datetime(2024, 2, 3, 8)}],
        "cleaned.complaints": [{"complaint_id": "Q1", "customer_id": "C2", "ts": datetime(2024, 3, 3, 8)}],
        "cleaned.contacts": [{"contact_id": "K1", "customer_id": "C1", "ts": datetime(2024, 3, 5, 8), "outcome": "opened"}],
        "cleaned.fraud_reports": [{"txn_id": "T20240101000002", "business_date": date(2024, 1, 25)}],
    }
    for table, rows in cleaned.items():
        lake.overwrite(table, make(table, rows))
    return lake


def partitions(lake, table, column="as_of"):
    rows = lake.read(table).groupBy(column, "_run_id").count().collect()
    return {(r[0], r["_run_id"]): r["count"] for r in rows}


def test_a_tag_rule_on_a_bookkeeping_column_stops_the_build_naming_the_tag(lake, tmp_path):
    """Rules are evaluated without _run_id, so they are validated without it: the error names the
    tag before any data is read, instead of a Spark AnalysisException in the middle of the build."""
    path = tmp_path / "tags.yaml"
    path.write_text("tags:\n  - name: by_run\n    family: behaviour\n    expression: \"_run_id = 'run-1'\"\n"
                    "    description: test\n    owner: tests\n", encoding="utf-8")
    with pytest.raises(TagRuleError, match=r"tag 'by_run' .*`_run_id`"):
        build_features(lake, lake.settings, "run-0", tags_file=path)
    assert not any(lake.exists(t) for t in TABLES)


def test_first_build_computes_every_complete_month_in_one_run(lake):
    report = build_features(lake, lake.settings, "run-1")
    assert report.observed_until == date(2024, 5, 1)
    assert report.tables["features.customer_monthly"].partitions == [date(2024, m, 1) for m in (2, 3, 4, 5)]
    assert report.tables["features.churn_labels"].partitions == [date(2024, 2, 1)]  # Feb 1 + 90 days = May 1
    assert report.tables["features.transaction_fraud"].partitions == [date(2024, m, 1) for m in (1, 2, 3, 4)]
    monthly = lake.read("features.customer_monthly").where("as_of = DATE'2024-05-01'").orderBy("customer_id").collect()
    assert [(r.customer_id, r.txn_count_30d, r.fraud_victim) for r in monthly] == [("C1", 10, False), ("C2", 10, True)]
    labels = lake.read("features.churn_labels").collect()
    assert {(r.customer_id, r.churned) for r in labels} == {("C1", False), ("C2", True)}
    tags = {(r.customer_id, r.tag) for r in lake.read("features.customer_tags").where("as_of = DATE'2024-05-01'").collect()}
    assert {("C1", "active_consumer"), ("C2", "senior"), ("C2", "recent_complainer")} <= tags


def test_a_new_month_is_appended_without_recomputing_history(lake, make):
    history = {t: partitions(lake, t, "txn_month" if t.endswith("fraud") else "as_of") for t in TABLES}
    lake.append("cleaned.transactions", make("cleaned.transactions", _txns(date(2024, 5, 1), date(2024, 5, 31))))
    report = build_features(lake, lake.settings, "run-2")
    assert report.tables["features.customer_monthly"].partitions == [date(2024, 6, 1)]
    # Fraud months whose labels may still change (younger than 60 days at the last build) are redone.
    assert report.tables["features.transaction_fraud"].partitions == [date(2024, m, 1) for m in (3, 4, 5)]
    after = partitions(lake, "features.customer_monthly")
    assert {k: v for k, v in after.items() if k[1] == "run-1"} == history["features.customer_monthly"]
    assert {k[0] for k in after if k[1] == "run-2"} == {date(2024, 6, 1)}
    fraud = partitions(lake, "features.transaction_fraud", "txn_month")
    assert {k[0] for k in fraud if k[1] == "run-1"} == {date(2024, 1, 1), date(2024, 2, 1)}


def test_tags_missing_for_a_month_are_rebuilt_by_the_next_run_from_the_stored_features(lake):
    """A crash after customer_monthly was written and before customer_tags was: the month is
    complete in customer_monthly, so only the tags are due, and they come back identical."""
    april = "as_of = DATE'2024-04-01'"

    def tag_rows():
        return lake.read("features.customer_tags").where(april).drop("_run_id")

    before = tag_rows().collect()
    assert before
    monthly_version = lake.version("features.customer_monthly")
    lake.delete("features.customer_tags", april)
    assert tag_rows().count() == 0
    report = build_features(lake, lake.settings, "run-2b")
    assert {t: b.partitions for t, b in report.tables.items()} == {"features.customer_tags": [date(2024, 4, 1)]}
    assert lake.version("features.customer_monthly") == monthly_version
    assertDataFrameEqual(tag_rows(), before)


def test_recomputing_a_month_replaces_exactly_that_month(lake):
    before = partitions(lake, "features.customer_monthly")
    version = lake.version("features.customer_monthly")
    report = build_features(lake, lake.settings, "run-3", as_of=date(2024, 3, 17))
    assert report.tables["features.customer_monthly"].partitions == [date(2024, 3, 1)]
    assert lake.version("features.customer_monthly") == version + 1  # one atomic commit
    after = partitions(lake, "features.customer_monthly")
    assert after == {((d, "run-3") if d == date(2024, 3, 1) else (d, r)): n for (d, r), n in before.items()}


def test_rerunning_a_run_that_already_committed_writes_nothing(lake):
    versions = {t: lake.version(t) for t in TABLES}
    report = build_features(lake, lake.settings, "run-3", as_of=date(2024, 3, 1))
    assert all(t.skipped for t in report.tables.values())
    assert {t: lake.version(t) for t in TABLES} == versions
    assert report.gate_reports == {}  # every table held the run's commit: nothing was computed or gated


def test_an_as_of_past_the_data_recomputes_the_latest_cutoff(lake, caplog):
    """A run for a business date the data has not reached yet is a mid-month run of the last
    date it has (docs/runs.md): the latest cut-off is recomputed, nothing later is built."""
    with caplog.at_level("WARNING", logger="finlake.features.build"):
        plan = plan_build(lake, date(2024, 12, 31))
    assert plan.latest_cutoff == date(2024, 6, 1)
    assert plan.customer_cutoffs == [date(2024, 6, 1)]  # already built: due only because it is recomputed
    assert plan.tag_cutoffs == [date(2024, 6, 1)]
    assert date(2024, 5, 1) in plan.fraud_months
    assert "recomputing the latest cut-off 2024-06-01" in caplog.text


def test_missing_cleaned_tables_are_named_with_the_landing_sources_setting_that_left_them_out(spark, tmp_path):
    settings = load_settings(overrides={"home": str(tmp_path), "lake_engine": "bridge",
                                        "landing_sources": "customers,accounts,transactions"}, environ={})
    with pytest.raises(FeatureInputError, match=r"cleaned tables missing: cleaned.customers, .*cleaned.fraud_reports; "
                                                r".*landing_sources \(customers, accounts, transactions\)"):
        read_inputs(Lake(spark, settings))


def test_an_as_of_before_the_first_cutoff_names_the_date_and_the_first_cutoff(lake):
    with pytest.raises(FeatureInputError, match=r"as_of 2024-01-20 .* the first cut-off is 2024-02-01"):
        plan_build(lake, date(2024, 1, 20))


def test_blocking_failures_stop_every_write_and_the_error_names_each_with_its_columns(lake, make):
    """Two bugs upstream in one run (one build: each costs a whole build on this lake).

    - A fraud report that arrived before its posting breaks label_known_after_posting, a GX
      expectation of transaction_fraud.
    - A negative posting (cleaned amounts are > 0) gives a negative amount_cny and negative
      sums. The declared ranges catch every such column in one check per table. The card's
      7-day sum after it drops below a 24-hour sum without it, so the sums are no longer nested.

    No table is written. The error of transaction_fraud's gate names its GX failure and its
    declared checks with their columns, and every failure is in quality.results.
    """
    versions = {t: lake.version(t) for t in TABLES}
    june = _txns(date(2024, 6, 3), date(2024, 6, 30))  # June complete: its fraud month is due
    negative = {"txn_id": "T20240615999999", "customer_id": "C1", "card_id": "K1", "merchant_id": "M1", "mcc": "5411",
                "ts": datetime(2024, 6, 15, 2, 30), "amount": -500.0, "city_code": "110000"}  # 30 min before a posting
    lake.append("cleaned.transactions", make("cleaned.transactions", june + [negative]))
    lake.append("cleaned.fraud_reports", make("cleaned.fraud_reports", [
        {"txn_id": june[0]["txn_id"], "business_date": date(2024, 6, 1)}]))
    try:
        with pytest.raises(QualityGateError) as raised:
            build_features(lake, lake.settings, "run-4")
    finally:
        lake.delete("cleaned.fraud_reports", f"txn_id = '{june[0]['txn_id']}'")
        lake.delete("cleaned.transactions", f"txn_id = '{negative['txn_id']}'")
    message = str(raised.value)
    assert "quality gate failed for features.transaction_fraud (run run-4): 3 blocking check(s)" in message
    assert "features.transaction_fraud: label_known_after_posting" in message
    assert "features.transaction_fraud: declared_column_ranges  column=amount_cny" in message
    assert "features.transaction_fraud: window_sums_nested" in message
    assert {t: lake.version(t) for t in TABLES} == versions
    failed = {(r.table, r.expectation): r
              for r in lake.read("quality.results").where("run_id = 'run-4' AND NOT success").collect()}
    assert {(t, e, r.severity) for (t, e), r in failed.items()} == {
        ("features.transaction_fraud", "label_known_after_posting", "blocking"),
        ("features.transaction_fraud", "declared_column_ranges", "blocking"),
        ("features.transaction_fraud", "window_sums_nested", "blocking"),
        ("features.customer_monthly", "declared_column_ranges", "blocking")}
    fraud = failed["features.transaction_fraud", "declared_column_ranges"]
    assert fraud.column == "amount_cny, txn_sum_1h, txn_sum_24h, txn_sum_7d, amount_ratio_90d"
    assert json.loads(fraud.observed_value)["amount_cny"] == {"range": ">= 0", "rows": 1, "example": -500.0}
    assert "spend_30d" in failed["features.customer_monthly", "declared_column_ranges"].column.split(", ")
