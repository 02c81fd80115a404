"""Benchmark the whole ``finlake generate`` command at scale 0.1 and 1 (goal: scale 1 < 10 min on 2 cores).

    .venv/bin/python bench/bench_generate.py                 # scales 0.1 and 1
    .venv/bin/python bench/bench_generate.py --scales 1 --driver-memory 2g

Each scale runs the real CLI in a subprocess (Spark start-up included) into
``/tmp/finlake_bench/generate_s<scale>``, and records the wall time, the CPU seconds of the whole
process tree (driver, JVM, Python workers; sampled from /proc), and the machine's load average,
because on a shared machine wall time alone says little. Writes ``bench/results/generate.json``
(figures of scales not run this time are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path("/tmp/finlake_bench")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _tree_cpu(root_pid: int, seen: dict[int, float]) -> None:
    """Update ``seen`` (pid -> CPU seconds) with the root process and all its descendants."""
    children: dict[int, list[int]] = {}
    stats: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        stats[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    stack = [root_pid]
    while stack:
        pid = stack.pop()
        if pid in stats:
            seen[pid] = max(seen.get(pid, 0.0), stats[pid])
        stack += children.get(pid, [])


def run_scale(scale: float, seed: int, driver_memory: str) -> dict:
    work = ROOT / f"generate_s{scale:g}"
    shutil.rmtree(work, ignore_errors=True)
    env = {**os.environ, "FINLAKE_HOME": str(work / "home"), "PYSPARK_PYTHON": sys.executable}
    cmd = [str(Path(sys.executable).parent / "finlake"), "generate", "--scale", str(scale), "--seed", str(seed),
           "--landing", str(work / "landing"), "--conf", f"spark.driver.memory={driver_memory}"]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cpu: dict[int, float] = {}
    while proc.poll() is None:
        _tree_cpu(proc.pid, cpu)
        time.sleep(1.0)
    wall = time.perf_counter() - started
    output = proc.stdout.read()
    if proc.returncode != 0:
        raise SystemExit(f"finlake generate --scale {scale} failed ({proc.returncode}):\n{output[-4000:]}")
    generation = json.loads((work / "landing" / "_generation.json").read_text())
    return {
        "scale": scale,
        "driver_memory": driver_memory,
        "command": " ".join(["finlake"] + cmd[1:]),
        "wall_seconds": round(wall, 1),
        "cpu_seconds_process_tree": round(sum(cpu.values()), 1),
        "load_average_before": round(load_before, 1),
        "load_average_after": round(os.getloadavg()[0], 1),
        "cores": os.cpu_count(),
        "customers": generation["customers"],
        "transactions": generation["rows"]["transactions"],
        "rows": sum(generation["rows"].values()),
        "batches": generation["batches"],
        "landing_mb": round(sum(p.stat().st_size for p in (work / "landing").rglob("*") if p.is_file()) / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="0.1,1")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--driver-memory", default="2g", help="JVM heap of the local Spark driver")
    args = parser.parse_args()
    results = []
    for scale in [float(s) for s in args.scales.split(",")]:
        result = run_scale(scale, args.seed, args.driver_memory)
        print(json.dumps(result, indent=2), flush=True)
        results.append(result)
    out = Path(__file__).parent / "results" / "generate.json"
    out.parent.mkdir(exist_ok=True)
    # Keep the figures of scales not run this time, so scales can be measured one at a time.
    earlier = json.loads(out.read_text()) if out.is_file() else []
    fresh = {r["scale"] for r in results}
    merged = sorted([r for r in earlier if r["scale"] not in fresh] + results, key=lambda r: r["scale"])
    out.write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
