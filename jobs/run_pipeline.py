"""Run the whole job graph for one as_of date (``finlake run`` as a spark-submit entry point).

Run locally:   python jobs/run_pipeline.py --as-of 2024-12-31 [--from STAGE] [--until STAGE]
On a cluster:  make dist && FINLAKE_HOME=/shared/lakehouse spark-submit --master spark://HOST:7077 \
                   --py-files dist/finlake.zip dist/jobs/run_pipeline.py --as-of 2024-12-31
Settings come from conf/<env>.yaml and FINLAKE_* variables (in cluster deploy mode pass them to the
driver, e.g. --conf spark.yarn.appMasterEnv.FINLAKE_HOME=...); see docs/runs.md.

Exit codes (docs/runs.md): 0 ok, 1 unexpected error, 2 configuration, 3 blocking quality failure,
4 infrastructure, 5 landing batch refused, 6 the lake is locked by another run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date

STAGES = ("ingest", "clean", "features", "train", "score", "audiences")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD")
    parser.add_argument("--from", dest="from_stage", choices=STAGES)
    parser.add_argument("--until", dest="until_stage", choices=STAGES)
    parser.add_argument("--break-stale-lock", action="store_true")
    args = parser.parse_args(argv)

    import finlake
    from finlake.entrypoints import configure_logging, open_lake
    from finlake.errors import FinlakeError
    from finlake.runs import run_pipeline
    from finlake.runs.progress import LogProgress, stage_table
    from finlake.settings import load_settings

    configure_logging()

    log = logging.getLogger("run_pipeline")
    log.info("finlake imported from %s", finlake.__file__)
    try:
        settings = load_settings()
        lake = open_lake(settings, "run_pipeline")
        progress = LogProgress()
        report = run_pipeline(lake, args.as_of, from_stage=args.from_stage, until_stage=args.until_stage,
                              progress=progress, break_stale_lock=args.break_stale_lock)
    except FinlakeError as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        return exc.exit_code
    from rich.console import Console

    Console(width=140).print(stage_table(progress.lines.values(), f"run {report.run_id} (as_of {args.as_of})"))
    if report.error is not None:
        log.error("run %s failed: %s: %s", report.run_id, type(report.error).__name__, report.error)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
