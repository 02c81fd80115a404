"""What a quality gate costs once a year of validation history has piled up, with and without
the archive of old validations (``gx_runner.archive_old_validations``).

GX lists (and parses the key of) every stored validation result and every Data Docs page at each
build, so without the archive each gate grows slower with history. This script, in one process:

1. gates a small frame shaped like cleaned.transactions once (suite and table of
   ``bench_gates.py``), in a fresh quality root;
2. gives that root ``--history`` past validations (default 10,000: about a year of the ~30 gates
   a daily pipeline runs) by hard-linking the result and its page into as many earlier runs;
3. copies the root twice: ``kept`` (archive switched off, as before) and ``archived``; the first
   gate in ``archived`` moves the history out once and is reported on its own;
4. times ``--repeat`` gates in each root, alternating, and prints the medians.

    python bench/bench_docs_history.py [--history 10000] [--repeat 3] [--rows 10000]

Results go to ``bench/results/docs_history.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench_gates import ROOT, build_frame, write_declarations

TABLE = "cleaned.bench_txn"


def add_history(quality_root: Path, count: int) -> None:
    """Hard-link the one stored result (and its page) into ``count`` earlier runs."""
    store = quality_root / "gx" / "uncommitted" / "validations"
    pages = quality_root / "data_docs" / "validations"
    [result] = store.rglob("*.json")
    [page] = pages.rglob("*.html")
    suite_dir = result.parent.parent.parent  # <suite parts>/<run name>/<run time>/<batch>.json
    for i in range(count):
        run = Path(f"history-{i:05d}") / f"2025{i % 12 + 1:02d}{i % 28 + 1:02d}T000000.{i:06d}Z"
        target = suite_dir / run / result.name
        target.parent.mkdir(parents=True)
        os.link(result, target)
        target_page = pages / target.parent.relative_to(store) / page.name
        target_page.parent.mkdir(parents=True)
        os.link(page, target_page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "docs_history.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from finlake.catalog import Catalog
    from finlake.lake import Lake
    from finlake.quality import QualityGate, gx_runner
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    work = Path(tempfile.mkdtemp(prefix="bench_docs_history_"))
    try:
        schemas, _ = write_declarations(work)
        expectations_dir = work / "expectations"

        def settings_for(name: str):
            return load_settings(overrides={
                "home": str(work / name), "lake_engine": "bridge", "spark_master": "local[2]",
                "spark_conf": {"spark.driver.memory": "2g", "spark.sql.shuffle.partitions": "4"}}, environ={})

        seed = settings_for("seed")
        spark = get_spark(seed, "bench-docs-history")
        catalog = Catalog.load(schemas)
        df = build_frame(spark, args.rows)
        archive = gx_runner.archive_old_validations

        def gate(settings, run_id: str) -> dict:
            g = QualityGate(Lake(spark, settings, catalog=catalog).for_job("bench", run_id), settings, run_id=run_id,
                            expectations_dir=expectations_dir)
            good, _ = g.split(df, TABLE)  # the frame carries a few rows for the quarantine rules
            started = time.perf_counter()
            report = g.check(good, TABLE)
            return {"gate_s": time.perf_counter() - started, **report.timings}

        gate(seed, "seed")
        started = time.perf_counter()
        add_history(Path(seed.quality_root), args.history)
        print(f"{args.history} past validations linked in {time.perf_counter() - started:.0f}s", flush=True)
        roots = {name: settings_for(name) for name in ("kept", "archived")}
        for settings in roots.values():  # link the history (never rewritten in place), copy the rest
            shutil.copytree(work / "seed", settings.home, copy_function=lambda src, dst: (
                os.link(src, dst) if "/validations/" in src else shutil.copy2(src, dst)))

        first = gate(roots["archived"], "archive-once")  # moves the history out, once
        runs: dict[str, list[dict]] = {name: [] for name in roots}
        for i in range(args.repeat):
            for name, settings in roots.items():
                gx_runner.archive_old_validations = archive if name == "archived" else (lambda *a, **k: 0)
                runs[name].append(gate(settings, f"{name}-{i}"))
        gx_runner.archive_old_validations = archive

        def median(name: str, key: str) -> float:
            return round(statistics.median(r[key] for r in runs[name]), 2)

        summary = {
            "history": args.history,
            "index_limit": gx_runner.INDEX_LIMIT,
            "rows": args.rows,
            "first_gate_with_archive_s": round(first["gate_s"], 2),
            **{f"{name}_{key}_median": median(name, key)
               for name in roots for key in ("gate_s", "validate_s", "record_s", "data_docs_s")},
            "runs": {name: [{k: round(v, 3) for k, v in r.items()} for r in rs] for name, rs in runs.items()},
            "load_average": os.getloadavg(),
        }
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
