"""A separate writer process for the concurrency and crash tests (not a test module).

    python lake_worker.py '<json job>'

The job names a table root, a schemas directory, a worker id and a list of steps. A step may
name a ``table_root`` of its own and a ``hook`` of its own (default: the job's). Test hooks are
installed in this process only, by wrapping ``BridgeEngine._commit`` (the point between staging
the data files and committing them):

- ``barrier``: before each commit (and at the start of each step), wait until every worker has
  reached the same point, so both writers have read the table and staged their files before
  either commits: the race is real, not a matter of luck.
- ``crash_before_commit``: SIGKILL this process at the commit point (files staged, moved into
  the table directory, not committed).
- ``crash_while_staging``: SIGKILL this process after Spark wrote the staging folder, before
  any file moved into the table.

Each finished step prints one JSON line: {"step", "ok", "version", "error", "message"}. A
crash step is the last one of its job: the race tests' workers end with one (tests/lake/conftest.py),
which saves two JVM starts over a worker process per crash.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from decimal import Decimal
from datetime import date, datetime, timezone
from pathlib import Path

from finlake.catalog import Catalog
from finlake.errors import FinlakeError
from finlake.lake import Lake
from finlake.lake import bridge
from finlake.settings import load_settings
from finlake.spark import get_spark


def wait_for_all(barrier: Path, point: str, workers: int, me: int, timeout: float = 500) -> None:
    barrier.mkdir(parents=True, exist_ok=True)
    (barrier / f"{point}.{me}").touch()
    deadline = time.monotonic() + timeout
    while len(list(barrier.glob(f"{point}.*"))) < workers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"barrier {point}: the other worker never arrived")
        time.sleep(0.02)


def account(account_id: str, balance: str):
    return (account_id, Decimal(balance), date(2026, 1, 1), datetime(2026, 1, 1, tzinfo=timezone.utc), "mass")


def main(job: dict) -> None:
    def settings_for(table_root: str):
        return load_settings(
            overrides={
                "home": job["home"],
                "table_root": table_root,
                "lake_engine": "bridge",
                "spark_master": "local[1]",
                "spark_conf": {"spark.driver.memory": "1g", "spark.sql.shuffle.partitions": "2",
                               "spark.default.parallelism": "1"},
            },
            environ={},
        )

    spark = get_spark(settings_for(job["table_root"]), f"lake-worker-{job['worker']}")
    catalog = Catalog.load(job["schemas"])
    lakes: dict[str, Lake] = {}

    def lake_at(table_root: str) -> Lake:
        if table_root not in lakes:
            lakes[table_root] = Lake(spark, settings_for(table_root), catalog).for_job(
                f"worker-{job['worker']}", job["run_id"])
        return lakes[table_root]

    schema = catalog.get(job["table"]).schema
    barrier, workers, me = Path(job.get("barrier", ".")), job.get("workers", 1), job["worker"]
    current = {"step": "", "hook": None}
    original_commit = bridge.BridgeEngine._commit

    def commit_hook(self, *args, **kwargs):
        if current["hook"] == "barrier":
            wait_for_all(barrier, f"commit-{current['step']}", workers, me)
        elif current["hook"] == "crash_before_commit":
            os.kill(os.getpid(), signal.SIGKILL)
        return original_commit(self, *args, **kwargs)

    def read_metadata_then_die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    bridge.BridgeEngine._commit = commit_hook
    for index, step in enumerate(job["steps"]):
        current["step"] = f"{index}-{step['op']}"
        current["hook"] = step.get("hook", job.get("hook"))
        if current["hook"] == "crash_while_staging":
            bridge.pq.read_metadata = read_metadata_then_die
        if current["hook"] == "barrier":
            wait_for_all(barrier, f"start-{current['step']}", workers, me)
        lake = lake_at(step.get("table_root", job["table_root"]))
        frame = spark.createDataFrame([account(*row) for row in step["rows"]], schema)
        try:
            if step["op"] == "append":
                result = lake.append(job["table"], frame)
            elif step["op"] == "overwrite":
                result = lake.overwrite(job["table"], frame)
            elif step["op"] == "merge":
                result = lake.merge(job["table"], frame)
            else:
                raise ValueError(f"unknown op {step['op']}")
            outcome = {"ok": True, "version": result.version, "error": None, "message": ""}
        except FinlakeError as exc:
            outcome = {"ok": False, "version": None, "error": type(exc).__name__, "message": str(exc)}
        print(json.dumps({"step": current["step"], **outcome}), flush=True)
    spark.stop()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
