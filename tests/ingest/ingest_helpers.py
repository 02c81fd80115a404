"""Helpers for ingestion tests: tiny landing batches written exactly as docs/landing.md says.

``Landing`` writes batch folders (data file + ``_manifest.json`` with rows, bytes, sha256);
``make_env`` gives a test its own table, landing and quality roots on the shared Spark session.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

TXN_HEADER = ("txn_id,account_id,customer_id,card_id,ts,amount,currency,direction,channel,merchant_id,mcc,city,"
              "device_id,counterparty_bank,is_international")
CUSTOMER_HEADER = ("customer_id,name,id_number,phone,gender,birth_date,city,occupation,income_band,risk_tolerance,"
                   "open_date,acquisition_channel,status")


def txn_line(n: int, day: str = "2024-03-05", account: str = "A0000000001", amount: str = "12.50",
             channel: str = "pos", currency: str = "CNY") -> str:
    return (f"T{n:014d},{account},C00000001,K0000000001,{day} 10:00:{n % 60:02d},{amount},{currency},debit,"
            f"{channel},M00000001,5411,Beijing,,,N")


class Landing:
    """Writes batch folders under ``root`` the way the generator does."""

    def __init__(self, root: Path):
        self.root = root

    def batch(self, source: str, batch: str, lines, header: str | None = None, encoding: str = "utf-8",
              fmt: str = "csv", schema_version: int = 1, rows: int | None = None, sha256: str | None = None,
              drop_file: bool = False) -> Path:
        """Write one batch; ``lines`` are str (encoded with ``encoding``) or bytes (written as is)."""
        folder = self.root / source / batch
        folder.mkdir(parents=True, exist_ok=True)
        stem = source.split("/")[0]
        name = f"{stem}_{batch.replace('-', '')}.{'jsonl' if fmt == 'jsonl' else 'csv'}"
        data = b""
        if header is not None:
            data += (header + "\n").encode(encoding)
        for line in lines:
            data += (line if isinstance(line, bytes) else line.encode(encoding)) + b"\n"
        path = folder / name
        if not drop_file:
            path.write_bytes(data)
        elif path.exists():
            path.unlink()
        manifest = {
            "source": source, "system": "core", "batch": batch, "schema_version": schema_version,
            "files": [{"name": name, "format": fmt, "encoding": encoding, "rows": len(lines) if rows is None else rows,
                       "bytes": len(data), "sha256": sha256 or hashlib.sha256(data).hexdigest()}],
        }
        (folder / "_manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        return path


@dataclasses.dataclass
class IngestEnv:
    settings: object
    lake: object
    landing: Landing

    def ingest(self, **kwargs):
        from finlake.ingest import ingest_all

        run = kwargs.pop("run_id", None) or f"test-{_next()}"
        return ingest_all(self.lake, self.settings, run, **kwargs)

    def raw(self, table: str):
        return self.lake.read(table)

    def ledger(self):
        return self.lake.read("ops.ingest_ledger")

    def results(self, table: str | None = None):
        df = self.lake.read("quality.results")
        return df.where(df.table == table) if table else df


_counter = [0]


def _next() -> int:
    _counter[0] += 1
    return _counter[0]


def make_env(settings, spark, root: Path) -> IngestEnv:
    """An environment with its own table, landing and quality roots under ``root``."""
    from finlake.lake import Lake

    s = dataclasses.replace(settings, table_root=str(root / "tables"), landing_root=str(root / "landing"),
                            quality_root=str(root / "quality"))
    return IngestEnv(settings=s, lake=Lake(spark, s), landing=Landing(root / "landing"))
