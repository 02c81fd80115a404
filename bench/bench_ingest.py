"""Benchmark raw ingestion: throughput (rows/s) and the gates' share of the ingest time.

    .venv/bin/python bench/bench_ingest.py --scale 0.1
    .venv/bin/python bench/bench_ingest.py --scale 1 --driver-memory 4g
    .venv/bin/python bench/bench_ingest.py --landing bench/work/scale-0.1/landing   # an existing landing

Generates the landing files once per scale (seed 7, default defect rate) under
``/tmp/finlake_bench/landing_s<scale>`` (reused if present), ingests them (all sources, or those
given with ``--source``) into a fresh lake, then reruns with nothing new. Writes
``bench/results/ingest_s<scale>[_<sources>].json``. Timings on a shared
machine are noisy: compare runs made under the same load.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path("/tmp/finlake_bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--landing", help="ingest this existing landing folder (its _generation.json gives the "
                                          "scale) instead of generating one under /tmp/finlake_bench")
    parser.add_argument("--source", action="append", dest="sources",
                        help="only these landing sources (default: all), e.g. --source transactions")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the generator runs Python on the executors

    from finlake.generator import generate
    from finlake.ingest import ingest_all
    from finlake.lake import Lake
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    landing = ROOT / f"landing_s{args.scale:g}"
    if args.landing:
        landing = Path(args.landing).resolve()
        generation = landing / "_generation.json"
        if not generation.is_file():
            parser.error(f"--landing {landing}: no _generation.json there; point it at a generated landing folder")
        args.scale = json.loads(generation.read_text(encoding="utf-8"))["scale"]
    label = f"s{args.scale:g}" + ("_" + "+".join(s.replace("/", "-") for s in args.sources) if args.sources else "")
    home = ROOT / f"home_ingest_{label}"
    shutil.rmtree(home, ignore_errors=True)
    settings = load_settings(overrides={
        "home": str(home), "landing_root": str(landing), "lake_engine": "bridge", "spark_master": args.master,
        "spark_conf": {"spark.driver.memory": args.driver_memory}}, environ={})
    spark = get_spark(settings, "bench-ingest")
    if not (landing / "_generation.json").is_file():
        started = time.perf_counter()
        generate(spark, landing, scale=args.scale, seed=7)
        print(f"generated scale {args.scale:g} in {time.perf_counter() - started:.0f}s")
    lake = Lake(spark, settings)

    report = ingest_all(lake, settings, "bench-1", sources=args.sources)
    rerun = ingest_all(lake, settings, "bench-2", sources=args.sources)
    txn = [r for r in report.ledger_rows if r.source == "transactions" and r.status == "ingested"]
    result = {
        "scale": args.scale,
        "sources": args.sources or "all",
        "master": args.master,
        "batches": len(report.with_status("ingested")),
        "rows": report.rows_landed,
        "transaction_rows": sum(r.rows or 0 for r in txn),
        "seconds": round(report.seconds, 1),
        "gate_seconds": round(report.gate_seconds, 1),
        "gate_share": round(report.gate_seconds / report.seconds, 3),
        "gate_parts_seconds": report.gate_parts,
        "rows_per_second": round(report.rows_landed / report.seconds),
        "rows_per_second_without_gates": round(report.rows_landed / (report.seconds - report.gate_seconds)),
        "rerun_nothing_new_seconds": round(rerun.seconds, 1),
    }
    out = Path(__file__).parent / "results" / f"ingest_{label}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
