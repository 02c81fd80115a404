"""The registry against a real ``mlflow server`` process on 127.0.0.1 (tracking by http URI)."""

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import synthetic
from finlake.lake import Lake
from finlake.models import registry
from finlake.models.registry import InputTable, TrainingRecord

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("models")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """``mlflow server`` on a free local port with a SQLite store; stopped at the end."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    proc = subprocess.Popen(
        [str(mlflow_bin), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root}/m.db", "--artifacts-destination", str(root / "art"),
         "--serve-artifacts"],
        stdout=(root / "server.log").open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)  # its own process group: the server forks workers and job consumers
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not come up: {(root / 'server.log').read_text()[-2000:]}")
            time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:  # its graceful stop takes 1.6 s alone but took 12 s in a loaded CI run: kill what is left after 3 s
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever of the group is still alive (forked consumers ignore the parent's exit)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def test_training_is_tracked_registered_and_loadable_through_a_server(spark, settings, tmp_path, mlflow_server,
                                                                       churn_result, churn_df):
    from mlflow import MlflowClient

    server_settings = dataclasses.replace(settings, mlflow_uri=mlflow_server, table_root=str(tmp_path / "tables"))
    lake = Lake(spark, server_settings)
    record = TrainingRecord(kind="churn", model=churn_result.model, main_score=churn_result.metrics["lift_at_10"],
                            feature_cols=synthetic.CHURN_FEATURES,
                            example=churn_df.select(*synthetic.CHURN_FEATURES).limit(3),
                            metrics=churn_result.metrics)
    inputs = [InputTable("features.customer_monthly", 7, "passed", "run-7", 6)]
    outcome = registry.record_training(server_settings, lake, record, inputs, None, None)
    assert outcome.decision.promote

    client = MlflowClient(mlflow_server, mlflow_server)
    assert client.get_model_version_by_alias("finlake-churn", "champion").version == outcome.version
    assert client.get_run(outcome.run_id).data.tags["input.features.customer_monthly.version"] == "7"

    champion = registry.load_champion(server_settings, "churn")
    rows = churn_df.limit(20)
    expected = [r["probability"][1] for r in churn_result.model.transform(rows).select("probability").collect()]
    loaded = [r["probability"][1] for r in champion.model.transform(rows).select("probability").collect()]
    assert loaded == pytest.approx(expected)
    assert registry.list_models(server_settings)[0]["champion_version"] == outcome.version
