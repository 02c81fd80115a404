"""What every entry point shares: run ids, a job's lake, and the body of a spark-submit job.

The CLI commands (:mod:`finlake.commands`) and the spark-submit scripts in ``jobs/`` call the same
library functions. This module is the one place that builds a job's lake and turns a
``FinlakeError`` into the exit code a scheduler acts on (docs/runs.md), so the scripts in
``jobs/`` only parse their arguments and name the library call.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from typing import Callable

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def new_run_id(prefix: str) -> str:
    """A run id for a job started on its own: ``<prefix>-<UTC time>-<6 hex>``."""
    return f"{prefix}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def open_lake(settings, job: str, run_id: str | None = None):
    """The lake of ``job`` (builds the process's one Spark session); its commits name the job and run."""
    from finlake.lake import Lake
    from finlake.spark import get_spark

    return Lake(get_spark(settings, f"finlake-{job}"), settings).for_job(job, run_id)


def configure_logging() -> None:
    """Plain structured lines on stderr, as a scheduler collects them; py4j's chatter off."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("py4j").setLevel(logging.WARNING)


def run_job(job: str, work: Callable[..., object], run_id: str) -> int:
    """The body of a ``jobs/*.py`` script: ``work(lake, settings, run_id)`` with everything around it.

    Configures logging, loads the settings (conf/<env>.yaml and FINLAKE_* variables), opens the
    lake attributed to ``job`` and ``run_id``, and prints what ``work`` returns (a summary, or
    None). A ``FinlakeError`` is logged as one line naming its type and returns its exit code:
    2 settings, 3 a blocking quality failure, 4 infrastructure, 5 a refused landing batch.
    """
    configure_logging()
    from finlake.errors import FinlakeError
    from finlake.settings import load_settings

    try:
        settings = load_settings()
        summary = work(open_lake(settings, job, run_id), settings, run_id)
    except FinlakeError as exc:
        logging.getLogger(job).error("%s: %s", type(exc).__name__, exc)
        return exc.exit_code
    if summary is not None:
        print(summary)
    return 0
