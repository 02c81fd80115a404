"""Helpers for the lake tests: the private table declarations, the independent reader, and
running writer processes. Never finlake code on the checking side: delta-rs and Polars only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable
from pyspark.sql import Row

SCHEMAS = {
    # Partitioned by a date; decimal, timestamp, string and struct data columns.
    "contract/events.yaml": """
table: contract.events
description: One row per event, partitioned by day.
partition_by: [day]
primary_key: [event_id]
columns:
  - {name: event_id, type: bigint, nullable: false}
  - {name: day, type: date, nullable: false}
  - {name: customer, type: string}
  - {name: amount, type: "decimal(18,2)"}
  - {name: at, type: timestamp}
  - {name: device, type: "struct<os:string,version:int>"}
""",
    # Unpartitioned, keyed by a string.
    "contract/accounts.yaml": """
table: contract.accounts
description: One row per account.
primary_key: [account_id]
properties: {delta.logRetentionDuration: "interval 30 days"}
columns:
  - {name: account_id, type: string, nullable: false}
  - {name: balance, type: "decimal(18,2)"}
  - {name: opened, type: date}
  - {name: updated_at, type: timestamp}
  - {name: segment, type: string}
""",
    # Partitioned by a free-text string: special characters and nulls in directory names.
    "contract/regions.yaml": """
table: contract.regions
description: Partition values that need escaping.
partition_by: [region]
columns:
  - {name: id, type: int, nullable: false}
  - {name: region, type: string}
  - {name: note, type: string}
""",
}

WORKER = str(Path(__file__).with_name("lake_worker.py"))


def _norm(value: Any) -> Any:
    if isinstance(value, Row):
        return _norm(value.asDict(recursive=True))
    if isinstance(value, dict):
        return tuple(sorted((k, _norm(v)) for k, v in value.items()))
    if isinstance(value, datetime):
        # PySpark hands back naive local times; delta-rs and Polars hand back aware UTC ones.
        return value.astimezone(timezone.utc)
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def canonical(rows: list[dict], columns: list[str]) -> list[tuple]:
    """Rows as sorted tuples in ``columns`` order, values normalised across readers."""
    return sorted((tuple(_norm(r.get(c)) for c in columns) for r in rows), key=repr)


def spark_rows(frame) -> list[dict]:
    return [r.asDict(recursive=False) for r in frame.collect()]


class IndependentReader:
    """Reads a Delta table with delta-rs and with Polars; checks both agree."""

    def rows(self, path: str, columns: list[str], version: int | None = None) -> list[tuple]:
        via_deltalake = DeltaTable(path, version=version).to_pyarrow_table().to_pylist()
        via_polars = pl.read_delta(path, version=version).to_dicts()
        a, b = canonical(via_deltalake, columns), canonical(via_polars, columns)
        assert a == b, f"deltalake and polars disagree on {path}@{version}"
        return a

    def version(self, path: str) -> int:
        return DeltaTable(path).version()

    def columns(self, path: str) -> list[str]:
        return [f.name for f in DeltaTable(path).schema().fields]

    def add_actions(self, path: str) -> list[dict]:
        return pa.table(DeltaTable(path).get_add_actions(flatten=True)).to_pylist()


def files_on_disk(table_path: str) -> set[str]:
    """Every Parquet file under a table directory, relative, outside hidden folders."""
    root = Path(table_path)
    return {str(p.relative_to(root)) for p in root.rglob("*.parquet")
            if not any(part.startswith(("_", ".")) for part in p.relative_to(root).parts)}


def run_workers(jobs: list[dict], timeout: float = 600) -> list[subprocess.CompletedProcess]:
    """Run one ``lake_worker.py`` process per job, all at once; wait for every one.

    Never raises on a slow worker: after ``timeout`` seconds its process group (the worker and
    its JVM) is killed and the result says so, for the test to report.
    """
    procs = [subprocess.Popen([sys.executable, WORKER, json.dumps(job)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True) for job in jobs]
    deadline = time.monotonic() + timeout
    done = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            err += f"\n[lakecheck: worker killed after {timeout:.0f}s]"
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


RACE_STEPS = ["0-append", "1-overwrite", "2-merge"]


def race_outcomes(proc: subprocess.CompletedProcess) -> dict[str, dict]:
    """The race steps' results of one ``writers`` worker (tests/lake/conftest.py), in step order.

    Its last step is a crash: the process was killed by SIGKILL and reported only the race steps.
    """
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    steps = {o["step"]: o for o in map(json.loads, proc.stdout.splitlines()) if o}
    assert list(steps) == RACE_STEPS, proc.stderr[-3000:]
    return steps
