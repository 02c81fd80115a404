"""Generator fixtures: one scale-0.01 landing per test session, and readers of the files.

The readers are written independently of the generator (plain ``csv``/``json`` parsing of the
files as docs/landing.md describes them), so tests check the files, not the generator's own
bookkeeping. The ``spark`` fixture is the session-wide one of tests/conftest.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from finlake.generator import generate

SCALE = 0.01
SEED = 7
DEFECT_RATE = 0.005  # high enough that every defect kind shows up at the test size
TS_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Landing:
    root: Path
    result: object  # GenerationResult

    def batches(self, source: str) -> list[Path]:
        """Batch folders of a source, in date order."""
        return sorted(p for p in (self.root / source).iterdir() if p.is_dir())

    def data_file(self, batch: Path) -> Path:
        (data,) = [p for p in batch.iterdir() if p.name != "_manifest.json"]
        return data

    def truth(self, table: str) -> pd.DataFrame:
        return pd.read_parquet(self.root / "_truth" / table)

    def defects(self) -> dict:
        return json.loads((self.root / "_truth" / "defects.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def landing(spark, tmp_path_factory) -> Landing:
    root = tmp_path_factory.mktemp("generated") / "landing"
    result = generate(spark, root, scale=SCALE, seed=SEED, defect_rate=DEFECT_RATE, partitions=4)
    return Landing(root, result)


def read_csv_rows(landing: Landing, source: str, encoding: str = "utf-8") -> pd.DataFrame:
    """Every well-formed row of a CSV source (right field count, decodable) with its batch."""
    rows = []
    for batch in landing.batches(source):
        raw = landing.data_file(batch).read_bytes().split(b"\n")
        header = raw[0].decode("ascii").split(",")
        for line in raw[1:]:
            if not line:
                continue
            try:
                fields = line.decode(encoding).split(",")
            except UnicodeDecodeError:
                continue
            if len(fields) == len(header):
                rows.append({**dict(zip(header, fields)), "_batch": batch.name})
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def transactions(landing) -> pd.DataFrame:
    """Clean-looking customer transactions: parseable ts and amount, valid codes, first delivery of
    each txn_id. The core system's month-end postings (channel ``system``) are not customer
    behaviour and are left out."""
    t = read_csv_rows(landing, "transactions")
    valid_codes = t["currency"].isin(["CNY", "USD", "EUR", "HKD", "JPY"]) & t["channel"].isin(
        ["mobile_app", "online", "pos", "atm", "branch_counter", "third_party_pay"])
    t = t[valid_codes & (t["ts"] != "") & (t["amount"] != "") & (t["account_id"] != "")]
    t = t.assign(ts=pd.to_datetime(t["ts"], format=TS_FORMAT, errors="coerce"), amount=pd.to_numeric(t["amount"], errors="coerce"))
    t = t.dropna(subset=["ts", "amount"])
    return t[t["amount"] > 0].drop_duplicates("txn_id").reset_index(drop=True)


@pytest.fixture(scope="session")
def customers(landing) -> pd.DataFrame:
    """Latest customer row per customer from both systems."""
    core = read_csv_rows(landing, "customers/core")
    branch = read_csv_rows(landing, "customers/branch", encoding="gb18030")
    both = pd.concat([core.assign(_system="core"), branch.assign(_system="branch")], ignore_index=True)
    return both.sort_values("_batch").drop_duplicates("customer_id", keep="last").reset_index(drop=True)


@pytest.fixture(scope="session")
def read_csv():
    """The independent CSV reader, for tests that need a source no other fixture reads."""
    return read_csv_rows


def parse_date(text: str, fmt: str):
    try:
        return datetime.strptime(text, fmt).date()
    except ValueError:
        return None


@pytest.fixture(scope="session")
def parse():
    return parse_date
