"""The same seed and scale give the same files, whatever the Spark partitioning."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from finlake.generator import generate


def fingerprint(root) -> dict[str, str]:
    """sha256 of every file under the landing root, by relative path (truth included)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def small(spark, root, partitions, defect_rate=0.01):
    return generate(spark, root, scale=0.004, seed=11, start=dt.date(2024, 3, 1), months=2,
                    defect_rate=defect_rate, partitions=partitions)


def test_one_and_four_partitions_write_identical_files(spark, tmp_path):
    small(spark, tmp_path / "one", 1)
    small(spark, tmp_path / "four", 4)
    one, four = fingerprint(tmp_path / "one"), fingerprint(tmp_path / "four")
    assert len(one) > 500
    assert one == four


def test_a_rerun_replaces_the_previous_output(spark, tmp_path):
    small(spark, tmp_path, 2)
    first = fingerprint(tmp_path)
    (tmp_path / "transactions" / "stray.csv").write_text("left over")
    small(spark, tmp_path, 3)
    assert fingerprint(tmp_path) == first


def test_defect_rate_zero_gives_clean_files(spark, tmp_path):
    small(spark, tmp_path, 2, defect_rate=0)
    defects = json.loads((tmp_path / "_truth" / "defects.json").read_text())
    assert set(defects["counts"].values()) == {0} and defects["records"] == []
    headers = {(p.read_bytes().split(b"\n", 1)[0]) for p in (tmp_path / "transactions").rglob("*.csv")}
    assert headers == {b"txn_id,account_id,customer_id,card_id,ts,amount,currency,direction,channel,merchant_id,mcc,city,device_id,counterparty_bank,is_international"}


@pytest.mark.slow
def test_test_size_landing_is_identical_on_one_partition(spark, landing, tmp_path):
    params = json.loads((landing.root / "_generation.json").read_text())
    generate(spark, tmp_path, scale=params["scale"], seed=params["seed"], defect_rate=params["defect_rate"], partitions=1)
    assert fingerprint(tmp_path) == fingerprint(landing.root)
