"""Report logic over quality.results rows: latest status, one run across layers, trends."""

from __future__ import annotations

import datetime as dt

from finlake.quality.reports import history, latest_status, run_report

T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.timezone.utc)


def row(run_id, table, expectation, success, minutes, severity="blocking", waived=False, observed=None):
    return {"run_id": run_id, "table": table, "expectation": expectation, "success": success, "severity": severity,
            "waived": waived, "checked_at": T0 + dt.timedelta(minutes=minutes), "observed_value": observed,
            "column": None, "unexpected_count": None, "unexpected_percent": None, "waiver_reason": None,
            "details": None, "table_version": 3, "layer": table.split(".")[0], "suite": None}


ROWS = [
    row("r1", "raw.accounts", "manifest_row_count_matches", True, 0),
    row("r1", "cleaned.accounts", "not_null:id", False, 1),              # failed ...
    row("r1", "cleaned.accounts", "not_null:id", True, 5),               # ... fixed and rerun in the same run
    row("r1", "features.customer_monthly", "rows", False, 6, severity="warning", observed="0"),
    row("r2", "raw.accounts", "manifest_row_count_matches", False, 60, observed="99 != 100"),
    row("r2", "raw.transactions", "freshness", False, 61, waived=True),
]


def test_latest_status_takes_each_tables_latest_run_and_lists_failures_first():
    statuses = latest_status(ROWS)
    assert [(s.table, s.status, s.run_id, [f["expectation"] for f in s.failures]) for s in statuses] == [
        ("raw.accounts", "FAIL", "r2", ["manifest_row_count_matches"]),
        ("features.customer_monthly", "WARN", "r1", ["rows"]),
        ("raw.transactions", "WARN", "r2", ["freshness"]),  # waived: it no longer blocks, still shown
        ("cleaned.accounts", "PASS", "r1", []),
    ]


def test_run_report_orders_layers_raw_cleaned_features_and_a_rerun_supersedes_the_failed_attempt():
    report = run_report(ROWS, "r1")
    assert [(s.table, s.status, s.checks) for s in report] == [
        ("raw.accounts", "PASS", 1),
        ("cleaned.accounts", "PASS", 1),
        ("features.customer_monthly", "WARN", 1),
    ]


def test_history_shows_each_expectation_per_run_oldest_first():
    rows = [row(f"r{i}", "raw.accounts", "manifest_row_count_matches", ok, i * 60) for i, ok in enumerate([True, False, True])]
    rows.append(row("r2", "raw.accounts", "freshness", False, 121, severity="warning"))
    trends = history(rows, "raw.accounts", limit=2)
    assert [(t.expectation, t.marks, [p["run_id"] for p in t.points]) for t in trends] == [
        ("freshness", "w", ["r2"]),
        ("manifest_row_count_matches", "x.", ["r1", "r2"]),
    ]
