"""What stewards see: the Data Docs site in a real browser, and 'finlake quality' reports.

One module fixture runs two gated loads into a fresh lake home (run-1 passes with quarantined
rows and a waived failure; run-2 fails on a blocking expectation), then every test reads what
those runs left behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
from html import unescape
from pathlib import Path

import pytest

from finlake.errors import QualityGateError
from finlake.lake import Lake, WriteTxn
from finlake.quality import QualityGate
from finlake.settings import load_settings
from quality_helpers import expectation, write_suite

pytestmark = pytest.mark.xdist_group("quality")

TABLE = "cleaned.qt_accounts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def gated(spark, settings, quality_catalog, tmp_path_factory):
    """Two runs through the gate; returns (settings, lake, expectations_dir, gate reports)."""
    root = tmp_path_factory.mktemp("gated")
    qsettings = load_settings(overrides={"home": str(root / "home"), "lake_engine": settings.lake_engine,
                                         "spark_master": settings.spark_master, "spark_conf": settings.spark_conf},
                              environ={})
    lake = Lake(spark, qsettings, catalog=quality_catalog)
    expectations_dir = root / "expectations"
    write_suite(expectations_dir, TABLE, [
        expectation("expect_column_values_to_not_be_null", quarantine=True, column="account_id"),
        expectation("expect_column_values_to_be_in_set", column="currency", value_set=["EUR", "USD"]),
        expectation("expect_column_values_to_be_between", column="balance", min_value=0),
    ])
    until = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=30)
    (expectations_dir / "waivers.yaml").write_text(
        f"- {{table: {TABLE}, expectation: 'expect_column_values_to_be_between:balance', until: {until}, "
        "reason: overdrafts are migrated next month, who: ann.steward}\n", encoding="utf-8")
    reports = {}
    for run_id, rows in (("run-1", [("A1", "EUR", 5), (None, "EUR", 1), ("A3", "USD", -2)]),
                         ("run-2", [("A4", "GBP", 7)])):
        from decimal import Decimal

        df = spark.createDataFrame([(a, c, Decimal(b)) for a, c, b in rows],
                                   "account_id string, currency string, balance decimal(18,2)").persist()
        gate = QualityGate(lake.for_job("load", run_id), qsettings, run_id=run_id, expectations_dir=expectations_dir)
        good, bad = gate.split(df, TABLE)
        try:
            reports[run_id] = gate.check(good, TABLE)
            seq = int(run_id[-1])
            lake.append(TABLE, good, txn=WriteTxn("load", seq))
            gate.quarantine(bad, TABLE, txn=WriteTxn("load", seq))
        except QualityGateError:
            reports[run_id] = gate.reports[TABLE]
        df.unpersist()
    return qsettings, lake, expectations_dir, reports


def rendered_dom(page: Path) -> str:
    """The DOM of ``page`` after headless Chromium ran its scripts."""
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed; .ci/run installs the Debian packages chromium and chromium-driver")
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver); CI runs this test")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout


def text_of(html: str) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", text))).strip()


def table_rows(dom: str) -> list[str]:
    return re.findall(r"<tr\b.*?</tr>", dom, flags=re.S)


def test_data_docs_index_renders_the_suite_and_both_runs_in_a_browser(gated):
    _, _, _, reports = gated
    dom = rendered_dom(Path(reports["run-2"].data_docs_path))
    text = text_of(dom)
    # The run and suite tables are drawn by bootstrap-table from script data: these rows exist
    # only if the (vendored) scripts loaded and ran.
    runs = {m.group(1): row for row in table_rows(dom) if (m := re.search(r"UTC (run-\d) cleaned\.qt_accounts", text_of(row)))}
    assert sorted(runs) == ["run-1", "run-2"]
    # GX marks a run failed if any expectation failed, warnings and waived ones included;
    # finlake's verdict is the banner on each validation page.
    assert "ge-failed-icon" in runs["run-2"]
    assert "Expectation Suites cleaned.qt_accounts Showing 1 to 1 of 1 rows" in text
    assert "cleaned.qt_accounts expect_column_values_to_be_between:balance" in text and "ann.steward" in text  # the waiver


def test_the_failing_validation_page_shows_the_failing_expectations_in_a_browser(gated):
    qsettings, _, _, _ = gated
    pages = sorted((Path(qsettings.quality_root) / "data_docs" / "validations").rglob("run-2/*/*.html"))
    assert len(pages) == 1
    text = text_of(rendered_dom(pages[0]))
    assert "finlake gate: cleaned.qt_accounts · run run-2 · FAILED: 1 blocking failure(s), the table was not written" in text
    assert "expect_column_values_to_be_in_set:currency blocking data-stewards FAILED (blocking) 1 of 1 rows unexpected" in text
    assert "values must belong to this set: EUR USD . 1 unexpected values found. 100% of 1 total rows." in text


def test_data_docs_pages_reuse_the_templates_compiled_by_an_earlier_build(gated, monkeypatch):
    """GX builds new views, each with a new Jinja environment, on every build; finlake's views
    share one bytecode cache, so a page after the first compiles no template again."""
    from great_expectations.render.view import DefaultJinjaPageView
    from jinja2 import Environment

    from finlake.quality.docs_views import CachedIndexPageView, CachedPageView

    compiled = []
    real_compile = Environment.compile

    def counting_compile(self, source, name=None, *args, **kwargs):
        compiled.append(name)
        return real_compile(self, source, name, *args, **kwargs)

    monkeypatch.setattr(Environment, "compile", counting_compile)
    CachedPageView().env.get_template("page.j2")  # both were rendered by the fixture's gates
    CachedIndexPageView().env.get_template("index_page.j2")
    assert compiled == []
    DefaultJinjaPageView().env.get_template("page.j2")  # GX's own view compiles it every time
    assert compiled == ["page.j2"]


def cli(qsettings, *args) -> tuple[int, str]:
    from contextlib import redirect_stdout
    from io import StringIO

    from finlake.cli import main

    out = StringIO()
    with redirect_stdout(out):
        code = main(["quality", *args, "--home", qsettings.home, "--engine", qsettings.lake_engine,
                     "--master", qsettings.spark_master])
    return code, out.getvalue()


def test_finlake_quality_json_shows_the_latest_status_with_failures_and_the_data_docs_path(gated):
    qsettings, _, _, _ = gated
    code, out = cli(qsettings, "--json")
    assert code == 0
    doc = json.loads(out)
    assert [(t["table"], t["status"], t["run_id"], [f["expectation"] for f in t["failures"]]) for t in doc["tables"]] == [
        (TABLE, "FAIL", "run-2", ["expect_column_values_to_be_in_set:currency"])]
    assert doc["data_docs"] == str(Path(qsettings.quality_root) / "data_docs" / "index.html")


def test_the_latest_status_collects_only_each_tables_latest_run(gated):
    """The report's input stays one run per table however long the history grows."""
    from finlake.commands.quality import _checked_tables, _results

    _, lake, _, _ = gated
    assert {(r["table"], r["run_id"]) for r in _results(lake)} == {(TABLE, "run-1"), (TABLE, "run-2")}
    assert {(r["table"], r["run_id"]) for r in _results(lake, latest_run_per_table=True)} == {(TABLE, "run-2")}
    assert _checked_tables(lake) == [TABLE]


def test_finlake_quality_run_report_shows_waived_failures_and_quarantined_rows(gated):
    qsettings, lake, _, _ = gated
    code, out = cli(qsettings, "--run", "run-1", "--json")
    assert code == 0
    doc = json.loads(out)
    [table] = doc["tables"]
    assert (table["table"], table["status"], table["table_version"]) == (TABLE, "WARN", None)
    assert [(f["expectation"], f["waived"]) for f in table["failures"]] == [("expect_column_values_to_be_between:balance", True)]

    from finlake.commands.quality import _quarantined  # the project catalog has no quarantine.qt_accounts

    assert _quarantined(lake, "run-1") == [
        {"table": TABLE, "rule": "expect_column_values_to_not_be_null:account_id", "rows": 1, "first": None}]


def test_finlake_quality_history_shows_each_expectation_over_runs(gated):
    qsettings, _, _, _ = gated
    code, out = cli(qsettings, "--history", TABLE, "--json")
    assert code == 0
    trends = {t["expectation"]: t["marks"] for t in json.loads(out)["expectations"]}
    assert trends == {
        "expect_column_values_to_be_between:balance": "w.",
        "expect_column_values_to_be_in_set:currency": ".x",
        "expect_column_values_to_not_be_null:account_id": "..",
    }


def test_finlake_quality_text_report_keeps_severity_tags_and_names_the_data_docs(gated, monkeypatch):
    qsettings, _, _, _ = gated
    monkeypatch.setenv("COLUMNS", "220")
    code, out = cli(qsettings)
    assert code == 0
    assert "FAIL" in out and "[blocking] expect_column_values_to_be_in_set:currency (observed 1 of 1 rows unexpected)" in out
    assert f"Data Docs: {Path(qsettings.quality_root) / 'data_docs' / 'index.html'}" in out


def test_validations_beyond_the_index_limit_move_to_the_archive_with_pages_that_still_open(
        lake, qsettings, expectations_dir, accounts, monkeypatch):
    """GX lists every stored result (and deletes a page whose result is gone) at each build: the
    store keeps the newest INDEX_LIMIT, the rest moves with its page to <quality_root>/archive."""
    from finlake.quality import gx_runner

    monkeypatch.setattr(gx_runner, "INDEX_LIMIT", 2)
    write_suite(expectations_dir, TABLE, [
        expectation("expect_column_values_to_be_in_set", column="currency", value_set=["EUR", "USD"])])
    df = accounts([("A1", "EUR", 10)])
    for n in range(1, 5):
        report = QualityGate(lake.for_job("load", f"run-{n}"), qsettings, run_id=f"run-{n}",
                             expectations_dir=expectations_dir).check(df, TABLE)

    root = Path(qsettings.quality_root)
    store, archive, site = root / "gx" / "uncommitted" / "validations", root / "archive", root / "data_docs"

    def runs(folder: Path, suffix: str) -> list[str]:  # <suite parts>/<run name>/<run time>/<batch><suffix>
        return sorted(p.parent.parent.name for p in folder.rglob(f"*{suffix}"))

    assert runs(store, ".json") == ["run-3", "run-4"]
    assert runs(site / "validations", ".html") == ["run-3", "run-4"]
    assert runs(archive / "gx" / "validations", ".json") == ["run-1", "run-2"]
    assert runs(archive / "data_docs" / "validations", ".html") == ["run-1", "run-2"]
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "run-4" in index and "run-3" in index and "run-1" not in index
    assert report.data_docs_path == str(site / "index.html")

    # An archived page still finds the vendored scripts and styles it links to (offline).
    page = next((archive / "data_docs" / "validations").rglob("*.html"))
    html = page.read_text(encoding="utf-8")
    assets = re.findall(r'(?:src|href)="([^"]*static/finlake/[^"]+)"', html)
    assert len(assets) >= 5 and all((page.parent / a).resolve().is_file() for a in assets)
    assert 'id="finlake-gate"' in html  # finlake's verdict stays on top


def test_the_run_report_sums_the_accounting_per_table_and_shows_the_first_rows_of_a_long_table():
    """A first build has one accounting row per table and batch, and thousands of continuity
    breaks: the terminal report sums the one and cuts the other, naming how many there are."""
    from io import StringIO

    from rich.console import Console

    from finlake.commands.quality import _print_rows, accounting_by_table

    acc = [{"target_table": "cleaned.fx_rates", "batch_id": f"2024-03-0{d}", "raw_rows": 3, "cleaned_rows": 2,
            "quarantined_rows": 1, "duplicates_dropped": 0, "late_resends": 0, "balanced": d != 2} for d in (1, 2, 3)]
    assert accounting_by_table(acc) == [{"table": "cleaned.fx_rates", "batches": 3, "raw_rows": 9, "cleaned_rows": 6,
                                         "quarantined_rows": 3, "duplicates_dropped": 0, "late_resends": 0,
                                         "unbalanced_batches": ["2024-03-02"]}]

    breaks = [{"run_id": "r", "account_id": f"A{i:010d}", "difference": i} for i in range(25)]
    console = Console(file=StringIO(), width=200)
    _print_rows(console, "quality.balance_continuity", breaks, 20)
    out = console.file.getvalue()
    assert "quality.balance_continuity: 25 rows in this run, the first 20 shown (all of them with --json)" in out
    assert "A0000000019" in out and "A0000000020" not in out
