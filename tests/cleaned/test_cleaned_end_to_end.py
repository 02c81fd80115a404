"""End to end on generated data (scale 0.01, defects on): the shared lake of tests/conftest.py.

Checks the accounting against raw, SCD2 history against the raw extracts, late re-sends against
the planted ``_truth/defects.json``, balance-continuity breaks against the postings those defects
removed, that a rerun moves no table, and that no clear resident ID, phone or name from raw
appears anywhere outside raw: every table of every other layer (the lake goes on through scores
and audiences), the Data Docs, the audience exports and MLflow's files.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F
from pyspark.sql import types as T

from finlake.cleaned.balances import LEDGER_PRODUCTS
from finlake.generator.reference import CITIES

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("generated")]

PII_SHAPED = r"([0-9]{17}[0-9Xx]|1[3-9][0-9]{9})"  # a resident ID or a mobile number
SCD2_FIELDS = ("name", "id_number", "phone", "city", "occupation", "income_band", "risk_tolerance", "status")


@pytest.fixture(scope="module")
def generated(generated_lake_run):
    """The shared generated lake (tests/conftest.py), cleaned twice: a build and a rerun."""
    g = generated_lake_run
    return g.lake, g.settings, g.clean_first, g.clean_rerun, g.truth


def test_accounting_balances_for_every_batch_and_covers_every_raw_row(generated):
    lake, _, first, _, _ = generated
    acc = lake.read("quality.accounting")
    assert acc.filter(~F.col("balanced")).count() == 0
    assert first.balanced and first.tables
    per_source = {r["source_table"]: r["n"] for r in acc.groupBy("source_table").agg(F.sum("raw_rows").alias("n")).collect()}
    assert per_source == {t: lake.read(t).count() for t in per_source}
    for target, outcome in first.tables.items():
        written = lake.read(target).count()
        if target == "cleaned.customers":
            continue  # versions, not rows: checked by the SCD2 test
        # every accepted row is in the table once, except those a later delivery replaced
        assert written == outcome.cleaned_rows - outcome.late_resends, target
        q = f"quarantine.{target.split('.')[1]}"
        assert (lake.read(q).count() if lake.exists(q) else 0) == outcome.quarantined_rows, target


def test_planted_duplicates_and_defects_are_counted(generated):
    lake, _, first, _, truth = generated
    by_source = truth["by_source"]
    txn = first.tables["cleaned.transactions"]
    assert txn.duplicates_dropped == by_source["transactions"]["exact_duplicate"]
    assert txn.late_resends == by_source["transactions"]["late_resend"]
    assert first.tables["cleaned.app_events"].duplicates_dropped == by_source["app_events"]["exact_duplicate"]
    kinds = ("null_required", "malformed_date", "impossible_amount", "unknown_code", "orphan_fk", "truncated_line")
    # each defective line breaks a quarantine rule and no clean line does
    assert txn.quarantined_rows == sum(by_source["transactions"].get(k, 0) for k in kinds) > 0
    assert first.tables["cleaned.app_events"].quarantined_rows == by_source["app_events"]["truncated_line"]


def test_corrected_late_transactions_replace_the_originals(generated):
    lake, _, _, _, truth = generated
    resent = {r["key"]: r["batch"] for r in truth["records"] if r["kind"] == "late_resend"}
    assert resent
    rows = (lake.read("cleaned.transactions").filter(F.col("txn_id").isin(list(resent)))
            .groupBy("txn_id").agg(F.count(F.lit(1)).alias("n"), F.max("_batch_id").alias("batch")).collect())
    assert rows and all(r["n"] == 1 for r in rows)
    assert {r["txn_id"]: r["batch"] for r in rows} == {r["txn_id"]: resent[r["txn_id"]] for r in rows}


def test_customer_history_has_one_version_per_attribute_change(generated, spark):
    lake, _, _, _, _ = generated
    city = {s: c[0] for c in CITIES for s in c[:3]}
    raw = lake.read("raw.customers").filter(~F.col("_malformed")).select("customer_id", "_batch_id", *SCD2_FIELDS).toPandas()
    quarantined = {r[0] for r in lake.read("quarantine.customers").select("customer_id").distinct().collect()}
    raw = raw[~raw.customer_id.isin(quarantined)].sort_values(["customer_id", "_batch_id"])
    raw["city"] = raw["city"].map(city)
    raw["state"] = raw[list(SCD2_FIELDS)].astype(str).agg("|".join, axis=1)
    expected = {}
    for cid, g in raw.groupby("customer_id"):
        states = g["state"].tolist()
        froms = [b for i, b in enumerate(g["_batch_id"]) if i == 0 or states[i] != states[i - 1]]
        expected[cid] = froms
    assert sum(len(v) > 1 for v in expected.values()) > 5, "the generator should deliver customers who changed"
    got = {}
    for r in lake.read("cleaned.customers").orderBy("customer_id", "valid_from").collect():
        got.setdefault(r["customer_id"], []).append(r)
    for cid, froms in expected.items():
        versions = got[cid]
        assert [v["valid_from"].isoformat() for v in versions] == froms, cid
        assert [v["valid_to"] for v in versions[:-1]] == [v["valid_from"] for v in versions[1:]], cid
        assert [v["is_current"] for v in versions] == [False] * (len(versions) - 1) + [True], cid


def test_a_rerun_changes_nothing(generated_lake_run):
    g = generated_lake_run
    assert g.clean_rerun.run_seq is None
    assert g.versions_after_rerun == g.versions_after_clean


def test_no_clear_pii_from_raw_appears_outside_raw(generated_lake_run, spark):
    """Every table of every layer but raw (scores and audiences included, as a run writes them),
    and every file a run writes outside the tables: Data Docs, audience exports, MLflow's runs
    and models."""
    lake, settings = generated_lake_run.lake, generated_lake_run.settings
    clear = (lake.read("raw.customers").select(F.explode(F.array(F.trim("name"), F.trim("id_number"), F.trim("phone"))).alias("v"))
             .unionByName(lake.read("raw.do_not_contact").select(F.trim("phone").alias("v")))
             .filter(F.col("v").isNotNull() & (F.length("v") >= 2)).distinct().persist())
    assert clear.count() > 1000
    leaks = []
    scanned = set()
    for name in lake.catalog.names():
        if name.startswith("raw.") or not lake.exists(name):
            continue
        df = lake.read(name)
        texts = [F.struct(F.lit(f.name).alias("column"),
                          (F.col(f.name) if isinstance(f.dataType, T.StringType) else F.to_json(F.struct(f.name)))
                          .cast("string").alias("s"))
                 for f in df.schema.fields if not isinstance(f.dataType, T.BinaryType)]
        # one scan per table: whole values (names) and every ID- or phone-shaped run inside a value
        values = df.select(F.explode(F.array(*texts)).alias("t")).select("t.*").filter(F.col("s").isNotNull())
        candidates = values.select("column", F.explode(F.array_union(
            F.array("s"), F.regexp_extract_all("s", F.lit(PII_SHAPED), 1))).alias("v"))
        hits = candidates.join(clear, "v", "left_semi").limit(3).collect()
        if hits:
            leaks.append((name, [(h["column"], h["v"]) for h in hits]))
        scanned.add(name)
    assert {n.split(".")[0] for n in scanned} == {"cleaned", "quarantine", "features", "scores", "audiences",
                                                  "quality", "ops"}
    assert {"scores.churn", "scores.customer_segments", "scores.fraud", "audiences.retention"} <= scanned
    assert leaks == []

    values = {r["v"] for r in clear.collect()}
    docs = [p for p in Path(settings.quality_root).rglob("*") if p.is_file() and p.suffix in (".html", ".json")]
    exports = [Path(r.export_path) for r in generated_lake_run.audiences]
    mlflow_files = [p for p in (Path(settings.home) / "mlflow").rglob("*")
                    if p.is_file() and p.suffix in (".json", ".yaml", ".txt", ".csv", "") and p.name != "mlflow.db"]
    assert docs, "Data Docs should have been built"
    assert sum(len(p.read_text(encoding="utf-8").splitlines()) - 1 for p in exports) > 0, "no customer was exported"
    assert any(p.name == "MLmodel" for p in mlflow_files)
    for p in docs + exports + mlflow_files:
        text = p.read_text(encoding="utf-8", errors="replace")
        # an ID or phone anywhere in the text; a name as a whole field of a CSV line or a JSON string
        found = {v for v in re.findall(PII_SHAPED, text) if v in values}
        found |= {v for v in re.split(r'[,\n"]', text) if v.strip() in values}
        assert not found, (p, sorted(found)[:3])


def test_balance_continuity_breaks_are_exactly_the_postings_lost_to_defects(generated):
    """The generator posts every movement of a ledger account, so a break in cleaned data means
    postings went missing: those of the planted defective lines, which are quarantined.

    Read with delta-rs and Polars, against the generator's ledger truth (each posting's account,
    date and signed fen). Wealth, fund and insurance balances (valuations) break on every month
    and must not be reported at all.
    """
    lake, settings, first, _, truth = generated
    dropped_kinds = ("null_required", "malformed_date", "impossible_amount", "unknown_code", "orphan_fk", "truncated_line")
    dropped = [r["key"] for r in truth["records"] if r["source"] == "transactions" and r["kind"] in dropped_kinds]
    postings = pl.read_parquet(Path(settings.landing_root) / "_truth" / "postings" / "*.parquet")
    lost = (postings.filter(pl.col("txn_id").is_in(dropped))
            .group_by("account_id", pl.col("business_date").dt.month_end().alias("month_end"))
            .agg(pl.col("signed_amount_fen").sum().alias("lost_fen")))
    assert lost.height > 0

    def read(name: str) -> pl.DataFrame:
        return pl.from_arrow(DeltaTable(lake.path(name)).to_pyarrow_table())

    accounts = read("cleaned.accounts")
    ledger = accounts.filter(pl.col("product_type").is_in(list(LEDGER_PRODUCTS))).select("account_id")
    checked = (read("cleaned.balances").sort("account_id", "month_end")
               .filter(pl.col("account_id").shift(1) == pl.col("account_id"))  # has a previous month end
               .join(ledger, on="account_id").select("account_id", "month_end"))
    expected = (lost.join(checked, on=["account_id", "month_end"])
                .filter(pl.col("lost_fen").abs() > 100)  # the tolerance is 1.00 CNY
                .select("account_id", "month_end", pl.col("lost_fen").alias("difference_fen")))
    found = read("quality.balance_continuity").select(
        "account_id", "month_end", (pl.col("difference") * 100).cast(pl.Int64).alias("difference_fen"))

    assert expected.height > 0
    assert found.sort("account_id", "month_end").rows() == expected.sort("account_id", "month_end").rows()
    assert first.balance_breaks == expected.height
    valuations = accounts.filter(~pl.col("product_type").is_in(list(LEDGER_PRODUCTS)))
    assert valuations.height > 0 and found.join(valuations, on="account_id").height == 0
