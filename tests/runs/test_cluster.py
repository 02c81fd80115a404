"""The pipeline on a real Spark standalone cluster gives the same tables as local mode.

A master and two workers (1 core, 1g each) run on 127.0.0.1 from the pyspark package; the
pipeline is submitted with ``spark-submit --py-files finlake.zip jobs/run_pipeline.py`` exactly as
docs/runs.md says. While it runs, the same stages run on the same landing files in local mode in
this test's own Spark session (``run_pipeline``, as ``finlake run`` calls it), and every table of
the two lakes is compared with delta-rs, ignoring run ids and processing timestamps. Every
process the test starts is killed by a finalizer, and the ports it used are checked free.

The local run used to be a second ``run_pipeline.py`` process from the archive: a fresh JVM and
Python that paid Spark's and GX's warm-up again, beside the cluster on the same two cores. In
this (warm) session the same stages take about 70 s instead of about 100 s. The archive's
imports are still checked, by the cluster's driver.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import polars as pl
import pyspark
import pytest
from deltalake import DeltaTable

from finlake.catalog import PROJECT_ROOT
from finlake.settings import load_settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cluster")]

SCALE, SEED, MONTHS = 0.01, 11, 1
AS_OF = date(2024, 1, 31)  # last business date of the one month generated from 2024-01-01
# Through the cleaned layer: ingest reads landing files on the executors and clean merges,
# deduplicates and keeps history there. The feature stage added about 45 s to the slowest
# test of the suite; its Spark is plain DataFrame code over Delta tables, which
# tests/features checks in local mode.
UNTIL = "clean"
# Both runs land only these sources (the setting landing_sources): the ones with cleaning paths of
# their own, namely SCD2 history and PII tokens (customers), referential integrity (accounts,
# transactions), conversion to CNY (fx_rates, transactions), deduplication and corrections
# (transactions) and balance continuity (balances). The other eight (events, campaigns, contacts,
# consents, ...) go through the same typing, gate and merge code as these, and cost the cluster
# run about 8 s each on its 1-core executors, at the end of the suite (ingest 149 s -> 100 s).
SOURCES = ("customers", "accounts", "transactions", "balances", "fx_rates")
PII_KEY = "cluster-test-key-not-a-secret-0123"
SPARK_HOME = Path(pyspark.__file__).parent
# Columns that differ between any two runs by design: who ran it, when it was processed, and the
# random id a quarantined row gets.
VOLATILE = ("run_id", "_ingested_at", "recorded_at", "checked_at", "_quarantined_at", "_quarantine_id")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _die_with_parent() -> None:
    """SIGTERM the daemon if the test process dies without running its finalizers (killed, timed out)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spark_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINLAKE_", "PYSPARK_GATEWAY"))}
    env.update(SPARK_HOME=str(SPARK_HOME), SPARK_LOCAL_IP="127.0.0.1", SPARK_DAEMON_MEMORY="512m",
               PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable,
               SPARK_LOG_DIR=str(tmp / "logs"), SPARK_WORKER_DIR=str(tmp / "work"))
    return env


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory, request):
    """spark://127.0.0.1:PORT with two registered workers; everything killed at the end."""
    tmp = tmp_path_factory.mktemp("cluster")
    env = _spark_env(tmp)
    port, ui = _free_port(), _free_port()
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    procs: list[subprocess.Popen] = []
    logs = []

    def stop():
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for f in logs:
            f.close()

    request.addfinalizer(stop)

    def start(name, *args):
        log = open(tmp / f"{name}.log", "w")
        logs.append(log)
        procs.append(subprocess.Popen([spark_class, *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True,  # own process group: executors die with it
                                      preexec_fn=_die_with_parent))

    start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
          "--webui-port", str(ui))
    master = f"spark://127.0.0.1:{port}"
    for i in (1, 2):
        start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "1",
              "--memory", "1g", "--webui-port", "0", "--work-dir", str(tmp / f"work{i}"), master)
    deadline = time.monotonic() + 120
    while True:
        try:
            state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=5))
            if state.get("aliveworkers") == 2:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            pytest.fail(f"the standalone cluster did not come up; logs in {tmp}")
        time.sleep(1)
    yield {"master": master, "ui": ui, "port": port, "env": env, "tmp": tmp}
    stop()
    assert _port_free(port) and _port_free(ui), "the cluster's ports are still in use after stopping it"


@pytest.fixture(scope="module")
def landing(spark, tmp_path_factory):
    from finlake.generator import generate

    root = tmp_path_factory.mktemp("cluster_landing")
    generate(spark, root, scale=SCALE, seed=SEED, months=MONTHS)
    return root


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """dist/ built from this checkout: the code the local run imports, so both runs execute the
    same finlake (uncommitted edits included)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "build_dist.sh")], cwd=PROJECT_ROOT, check=True,
                   env={**os.environ, "DIST_DIR": str(out), "PYTHON": sys.executable})
    return out


def _lake_settings(home: Path, landing: Path):
    return {"home": str(home), "landing_root": str(landing), "lake_engine": "bridge", "pii_key": PII_KEY,
            "mlflow_uri": f"sqlite:///{home}/mlflow.db", "landing_sources": ",".join(SOURCES)}


def _tables(table_root: Path) -> dict[str, Path]:
    return {f"{p.parent.parent.name}.{p.parent.name}": p.parent
            for p in sorted(table_root.glob("*/*/_delta_log"))}


def _content(path: Path) -> list[str]:
    """Rows of a table as sorted strings, volatile columns dropped (delta-rs + Polars, not finlake).

    Floating-point columns are compared to 10 significant digits, and below 1e-9 as zero: a sum of
    doubles depends on the order Spark adds them in, which differs with the partitioning
    (1896.4099999999999 on the cluster, 1896.41 locally; a difference of two such sums can be
    1e-16 in one mode and 0.0 in the other). Decimal, integer, string and date columns must be
    equal exactly.
    """
    df = pl.from_arrow(DeltaTable(str(path)).to_pyarrow_table())
    df = df.drop([c for c in df.columns if any(v in c for v in VOLATILE)])
    if "suite" in df.columns:  # quality.results: this checkout's suite file, or the archive's unpacked copy
        df = df.with_columns(pl.col("suite").str.replace(r"^.*/(expectations/)", "$1"))
    floats = pl.col(pl.Float32, pl.Float64)
    df = df.with_columns(pl.when(floats.abs() < 1e-9).then(0.0).otherwise(floats.round_sig_figs(10)).name.keep())
    return sorted(repr(row) for row in df.rows())


def _submit(dist: Path, home: Path, landing: Path, env: dict, master: str, cwd: Path) -> subprocess.Popen:
    """Start jobs/run_pipeline.py from the archive with spark-submit to ``master``."""
    env = {**env, **{f"FINLAKE_{k.upper()}": v for k, v in _lake_settings(home, landing).items()}}
    command = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", master,
               "--driver-memory", "2g", "--executor-memory", "1g", "--total-executor-cores", "2",
               "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
               "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=4",
               "--py-files", str(dist / "finlake.zip"),
               str(dist / "jobs" / "run_pipeline.py"), "--as-of", AS_OF.isoformat(), "--until", UNTIL]
    # The Python driver's logging reaches stdout under spark-submit (its PythonRunner merges the
    # driver's stderr into stdout). The output goes to a file, so the job never blocks on a full
    # pipe while this process runs the local side.
    with open(cwd / f"{home.name}.log", "w") as log:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_die_with_parent)


def _finish(proc: subprocess.Popen, log: Path) -> subprocess.CompletedProcess:
    try:
        proc.wait(timeout=2400)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, log.read_text())


def test_pipeline_on_a_standalone_cluster_matches_local_mode(standalone_cluster, landing, dist, spark, tmp_path):
    from finlake.lake import Lake
    from finlake.runs import run_pipeline

    local_home, cluster_home = tmp_path / "local", tmp_path / "cluster"
    # Both runs at once: they share nothing but the landing folder, which they only read.
    started = _submit(dist, cluster_home, landing, standalone_cluster["env"], standalone_cluster["master"], tmp_path)
    try:
        local_settings = load_settings(overrides=_lake_settings(local_home, landing), environ={})
        local = run_pipeline(Lake(spark, local_settings), AS_OF, until_stage=UNTIL)
    finally:
        cluster = _finish(started, tmp_path / "cluster.log")
    assert local.exit_code == 0, local.error
    assert [(s.stage, s.status) for s in local.stages] == [("ingest", "success"), ("clean", "success")]

    assert cluster.returncode == 0, cluster.stdout[-5000:]
    assert f"stage={UNTIL} status=success" in cluster.stdout
    assert f"using the master chosen by spark-submit: {standalone_cluster['master']}" in cluster.stdout
    assert f"finlake imported from {dist / 'finlake.zip'}" in cluster.stdout
    assert "Traceback" not in cluster.stdout, cluster.stdout[-5000:]  # e.g. Data Docs assets unreadable from the zip
    apps = json.load(urllib.request.urlopen(f"http://127.0.0.1:{standalone_cluster['ui']}/json/", timeout=5))
    assert [a["name"] for a in apps["completedapps"]] == ["finlake-run_pipeline"]

    local_tables = _tables(local_home / "tables")
    cluster_tables = _tables(cluster_home / "tables")
    assert sorted(cluster_tables) == sorted(local_tables)
    assert sorted(n for n in local_tables if n.startswith("raw.")) == sorted(f"raw.{s}" for s in SOURCES)
    for name in ("cleaned.transactions", "cleaned.customers", "cleaned.balances"):
        assert _content(local_tables[name]), f"{name} is empty: the comparison below would prove nothing for it"
    for name, path in local_tables.items():
        if name == "ops.runs":
            continue
        assert _content(cluster_tables[name]) == _content(path), f"{name} differs between cluster and local mode"
