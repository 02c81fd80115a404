"""The spark-submit entry points in jobs/, run as a scheduler runs them: a process and its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finlake.catalog import PROJECT_ROOT

JOBS = PROJECT_ROOT / "jobs"
REQUIRED_ARGS = {
    "build_lookalike.py": ["--seed", "seed.csv", "--name", "vip", "--size", "10"],
    "run_pipeline.py": ["--as-of", "2024-01-31"],
}


def _run(script: str, *args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FINLAKE_", "PYSPARK_GATEWAY"))}
    return subprocess.run([sys.executable, str(JOBS / script), *args], env={**clean, **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_every_job_script_is_covered():
    assert {p.name for p in JOBS.glob("*.py")} >= set(REQUIRED_ARGS) | {"generate.py", "ingest_raw.py"}


@pytest.mark.parametrize("script", sorted(p.name for p in JOBS.glob("*.py")))
def test_a_bad_setting_exits_2_naming_the_setting_before_any_spark_work(script, tmp_path):
    done = _run(script, *REQUIRED_ARGS.get(script, []), env={"FINLAKE_HOME": str(tmp_path),
                                                            "FINLAKE_LAKE_ENGINE": "bogus"}, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "SettingsError: lake_engine 'bogus' (from env FINLAKE_LAKE_ENGINE)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "tables").exists()


def test_the_generate_job_writes_landing_batches_and_prints_its_summary(tmp_path):
    landing = tmp_path / "landing"
    done = _run("generate.py", "--scale", "0.001", "--seed", "3", "--months", "1", "--landing", str(landing),
                env={"FINLAKE_HOME": str(tmp_path), "FINLAKE_SPARK_MASTER": "local[1]",
                     "FINLAKE_SPARK_CONF": '{"spark.driver.memory": "1g"}'}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"-> {landing}" in done.stdout
    generation = json.loads((landing / "_generation.json").read_text(encoding="utf-8"))
    assert (generation["scale"], generation["seed"]) == (0.001, 3)
    assert any(landing.glob("transactions/*/_manifest.json"))
