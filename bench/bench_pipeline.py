"""End-to-end pipeline benchmark: generate, then ``finlake run`` at two scales, per-stage times.

    python bench/bench_pipeline.py [--scales 0.1 1] [--seed 42] [--months 12] [--until STAGE] [--workdir DIR]
                                   [--driver-memory 2g]

One Spark session runs every scale: give it 8g when scale 1 is among them (ingesting the scale-1
landing files in one job needs more than 2g of heap).

Each scale gets a fresh lake under ``--workdir`` (default ``bench/work``); the generated landing
data is reused when it is already there for the same scale and seed. Figures of scales not given
this time are kept from the previous results file (each run records when it was measured and the
load average around it), so a scale-1 run can be made on its own and still be compared. Results go to
``bench/results/pipeline.json``: per scale the generation time, each stage's wall time (from the
run's progress lines) and the run's total, plus time(largest) / time(smallest) of the pipeline
(generation excluded). Near-linear scaling from 0.1 to 1 is a ratio of at most 12. The load
average at start and end is recorded because timings on a shared machine are noisy: re-run
when it is quiet before quoting the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.json"


def bench_scale(spark, scale: float, seed: int, months: int, workdir: Path, until: str | None) -> dict:
    from finlake.generator import generate
    from finlake.lake import Lake
    from finlake.runs import run_pipeline
    from finlake.runs.progress import LogProgress
    from finlake.settings import load_settings

    home = workdir / f"scale-{scale:g}"
    settings = load_settings(overrides={"home": str(home), "pii_key": "bench-key-not-a-secret-0123456789"})
    landing = Path(settings.landing_root)
    marker = landing / "_generation.json"
    generated = json.loads(marker.read_text()) if marker.is_file() else {}
    gen_seconds = None
    if (generated.get("scale"), generated.get("seed"), generated.get("months")) != (scale, seed, months):
        started = time.perf_counter()
        generate(spark, landing, scale=scale, seed=seed, months=months)
        gen_seconds = round(time.perf_counter() - started, 1)
        generated = json.loads(marker.read_text())
    as_of = date.fromisoformat(generated["end"]) - timedelta(days=1)
    for table_dir in (Path(settings.table_root), Path(settings.quality_root), home / "mlflow"):
        if table_dir.exists():  # a fresh lake every time: the benchmark measures a full run
            shutil.rmtree(table_dir)

    progress = LogProgress()
    started = time.perf_counter()
    report = run_pipeline(Lake(spark, settings), as_of, until_stage=until, progress=progress)
    total = time.perf_counter() - started
    stages = {line.name: {"status": line.status, "seconds": round(line.elapsed, 1) if line.elapsed else None,
                          "rows_out": line.rows_out}
              for line in progress.lines.values()}
    return {
        "scale": scale, "seed": seed, "months": months, "as_of": as_of.isoformat(), "run_id": report.run_id,
        "exit_code": report.exit_code, "error": f"{type(report.error).__name__}: {report.error}" if report.error else None,
        "generate_seconds": gen_seconds, "landing_rows": sum(generated.get("rows", {}).values()),
        "pipeline_seconds": round(total, 1), "stages": stages,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--months", type=int, default=12, help="months of data to generate (default 12)")
    parser.add_argument("--until", help="last stage to run (default: all)")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "work")
    parser.add_argument("--driver-memory", default="2g", help="JVM heap of the local Spark driver (8g at scale 1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    from finlake.settings import load_settings
    from finlake.spark import get_spark

    base = load_settings()
    spark = get_spark(load_settings(overrides={"spark_conf": {**base.spark_conf, "spark.driver.memory": args.driver_memory}}),
                      "finlake-bench-pipeline")
    load_start = os.getloadavg()
    # Scales not rerun this time keep their last figures (each run carries its own measured_at and
    # load averages): a scale-1 run takes hours, and the ratio still needs the 0.1 figure.
    kept = json.loads(RESULTS.read_text())["runs"] if RESULTS.is_file() else []
    runs = []
    for scale in sorted(args.scales):
        run = bench_scale(spark, scale, args.seed, args.months, args.workdir, args.until)
        run.update(measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   load_average_start=load_start, load_average_end=os.getloadavg())
        runs.append(run)
        runs = sorted([r for r in kept if r["scale"] not in {n["scale"] for n in runs}] + runs, key=lambda r: r["scale"])
        result = {
            "benchmark": "pipeline end to end (finlake run), bridge engine, local mode",
            "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "spark_master": spark.sparkContext.master,
                        "load_average_start": load_start, "load_average_end": os.getloadavg()},
            "runs": runs,
        }
        if len(runs) >= 2 and runs[0]["pipeline_seconds"]:
            result["ratio"] = {
                "scales": f"{runs[-1]['scale']:g}/{runs[0]['scale']:g}",
                "time_ratio": round(runs[-1]["pipeline_seconds"] / runs[0]["pipeline_seconds"], 2),
                "goal": "at most 12 for 1/0.1 (near-linear)",
            }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")  # after every scale: a long run keeps what it measured
    print(json.dumps({r["scale"]: {"pipeline_seconds": r["pipeline_seconds"], "exit_code": r["exit_code"]} for r in runs}
                     | {"ratio": result.get("ratio")}, indent=2))
    return max(r["exit_code"] for r in runs)


if __name__ == "__main__":
    raise SystemExit(main())
