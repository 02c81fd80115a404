"""Helpers shared by the quality tests: the tiny table's declaration and suite builders."""

from __future__ import annotations

import json
from pathlib import Path

ACCOUNTS_SCHEMA = """\
table: cleaned.qt_accounts
description: Tiny table for the quality-gate tests.
partition_by: []
primary_key: [account_id]
columns:
  - {name: account_id, type: string, nullable: false, description: key}
  - {name: currency, type: string, description: ISO code}
  - {name: balance, type: "decimal(18,2)", description: balance}
"""

ACCOUNTS_ROWS = [("A1", "EUR", 10), ("A2", "USD", 20), ("A3", "EUR", 30)]


def expectation(etype: str, severity: str = "blocking", quarantine: bool = False, **kwargs) -> dict:
    meta = {"severity": severity, "owner": "data-stewards", "rationale": f"test rule {etype}"}
    if quarantine:
        meta["quarantine"] = True
    return {"type": etype, "kwargs": kwargs, "meta": meta}


def write_suite(expectations_dir: Path, table: str, expectations: list[dict]) -> Path:
    layer, name = table.split(".", 1)
    path = expectations_dir / layer / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": table, "expectations": expectations}, indent=2), encoding="utf-8")
    return path
