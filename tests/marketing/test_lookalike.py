"""Lookalike expansion on tiny explicit customers: a seed group with a distinct profile (investors:
large investment balances, securities spending) among ordinary customers."""

from __future__ import annotations

import re

import pytest
from pyspark.sql import functions as F

from finlake.marketing.lookalike import (LOOKALIKE_TABLE, LookalikeSeedError, RecoveryEvaluation, build_lookalike,
                                         evaluate_recovery, rank_lookalikes)

from marketing_helpers import AS_OF, private_lake, table

pytestmark = pytest.mark.xdist_group("marketing")

INVESTORS = [f"C{i:03d}" for i in range(1, 13)]
OTHERS = [f"C{i:03d}" for i in range(13, 41)]
SEED = INVESTORS[:8]
LOOKALIKES = INVESTORS[8:]


def monthly(spark):
    rows = []
    for i, c in enumerate(INVESTORS + OTHERS):
        investor = c in INVESTORS
        wobble = (i * 37 % 11) / 10  # deterministic spread inside each group
        rows.append({"customer_id": c, "as_of": AS_OF, "age": 50 + i % 7 if investor else 25 + i % 30,
                     "investment_balance": (800_000 if investor else 2_000) * (1 + wobble),
                     "aum_balance": (1_200_000 if investor else 30_000) * (1 + wobble),
                     "share_securities_90d": 0.3 + wobble / 10 if investor else wobble / 50,
                     "spend_90d": 5_000.0 + 900 * (i % 9), "txn_count_90d": 20 + i % 13})
    return table(spark, "features.customer_monthly", rows)


@pytest.fixture(scope="module")
def population(spark):
    return monthly(spark).drop("as_of").cache()


def ids(spark, customers):
    return spark.createDataFrame([(c,) for c in customers], "customer_id string")


def test_expansion_ranks_the_unseeded_lookalikes_first_and_never_the_seed(spark, population):
    ranked = rank_lookalikes(population, ids(spark, SEED), size=4).collect()
    assert sorted(r["customer_id"] for r in ranked) == LOOKALIKES
    assert [r["rank"] for r in sorted(ranked, key=lambda r: r["rank"])] == [1, 2, 3, 4]


def test_held_out_seeds_are_recovered_far_better_than_random(spark, population):
    evaluation = evaluate_recovery(population, ids(spark, SEED), size=4)
    # 8 seeds: 2 held out, 6 kept; candidates = 40 - 6; both held-out seeds in the top 4
    assert evaluation == RecoveryEvaluation(held_out=2, expansion=4, candidates=34, recovered=2)
    assert evaluation.lift == pytest.approx(1.0 / (4 / 34))  # random expectation is 1


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("lookalike-home")
    lake = private_lake(spark, home)
    lake.create("features.customer_monthly")
    lake.overwrite("features.customer_monthly", monthly(spark))
    return lake


def test_build_writes_the_named_expansion_from_a_csv_seed(lake, tmp_path):
    seed = tmp_path / "investors.csv"
    seed.write_text("customer_id,note\n" + "".join(f"{c},vip\n" for c in SEED), encoding="utf-8")
    result = build_lookalike(lake, "run-1", str(seed), "investors", size=4)
    rows = lake.read(LOOKALIKE_TABLE).where(F.col("name") == "investors").collect()
    assert sorted((r["customer_id"], r["as_of"], r["seed_size"], r["seed_source"]) for r in rows) == [
        (c, AS_OF, 8, str(seed)) for c in LOOKALIKES]
    assert (result.seed_size, result.population, result.rows, result.evaluation.recovered) == (8, 40, 4, 2)
    assert [r["recovery_lift"] for r in rows] == pytest.approx([result.evaluation.lift] * 4)


@pytest.mark.parametrize("content, message", [
    (None, "seed file {path} does not exist"),
    ("", "seed file {path} is empty"),
    ("customer_id\n", "seed file {path} holds no customer ids"),
    ("id\nC001\n", "seed file {path} has no customer_id column"),
    ("customer_id\nC001\nC002\nX999\n", "seed {path}: 1 customer ids are not in features.customer_monthly at as_of "
                                        "2025-01-01 (e.g. X999)"),
])
def test_bad_seed_files_are_refused_naming_the_file(lake, tmp_path, content, message):
    path = tmp_path / "seed.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(LookalikeSeedError, match="^" + re.escape(message.format(path=path))):
        build_lookalike(lake, "run-1", str(path), "bad", size=3)


@pytest.mark.parametrize("source, message", [
    ("audiences.retention", "seed table 'audiences.retention' has no data yet"),
    ("audiences.nowhere", "seed table 'audiences.nowhere' is not declared"),
    ("no such thing", "seed 'no such thing' is neither an existing file nor a table name"),
])
def test_bad_seed_tables_are_refused_naming_the_table(lake, source, message):
    with pytest.raises(LookalikeSeedError, match="^" + re.escape(message)):
        build_lookalike(lake, "run-1", source, "bad", size=3)


def test_the_lookalike_command_writes_the_expansion_and_prints_its_recovery(lake, tmp_path, capsys):
    from finlake.cli import main

    seed = tmp_path / "seed.csv"
    seed.write_text("customer_id\n" + "\n".join(SEED) + "\n", encoding="utf-8")
    settings = lake.settings
    code = main(["audience", "lookalike", "--seed", str(seed), "--name", "cli_investors", "--size", "4",
                 "--as-of", AS_OF.isoformat(), "--home", settings.home, "--engine", "bridge"])
    assert code == 0
    out = capsys.readouterr().out
    assert f"{LOOKALIKE_TABLE} name=cli_investors as_of={AS_OF}: 4 lookalikes of a seed of 8 among 40 customers" in out
    assert "recovery: 2 of 2 held-out seeds" in out
    rows = lake.read(LOOKALIKE_TABLE).where(F.col("name") == "cli_investors").collect()
    assert sorted(r["customer_id"] for r in rows) == LOOKALIKES


def test_the_lookalike_command_names_a_bad_seed_file_without_a_traceback(lake, tmp_path, capsys):
    from finlake.cli import main

    missing = tmp_path / "nowhere.csv"
    code = main(["audience", "lookalike", "--seed", str(missing), "--name", "x", "--size", "3",
                 "--as-of", AS_OF.isoformat(), "--home", lake.settings.home, "--engine", "bridge"])
    captured = capsys.readouterr()
    assert code == 2
    assert f"seed file {missing} does not exist" in captured.err and "Traceback" not in captured.err
