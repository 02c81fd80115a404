"""What a run shows while it runs: a live line per stage on a terminal, structured logs otherwise.

Schedulers capture stderr into log files, where a redrawn live display is noise; they get one
``key=value`` log line per event instead. Both end with the same summary table.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.table import Table

log = logging.getLogger("finlake.runs")

RUNNING = "running"
STYLES = {"success": "green", "failed": "bold red", RUNNING: "cyan", "pending": "dim",
          "skipped": "dim", "not due": "dim", "not available yet": "yellow"}


@dataclass
class StageLine:
    name: str
    status: str = "pending"
    job: str = ""
    rows_in: int | None = None
    rows_out: int | None = None
    started: float | None = None
    elapsed: float | None = None
    note: str = ""

    def seconds(self) -> float | None:
        if self.elapsed is not None:
            return self.elapsed
        return time.monotonic() - self.started if self.started is not None else None


class Progress:
    """Collects per-stage state; subclasses decide how to show it."""

    def __init__(self) -> None:
        self.lines: dict[str, StageLine] = {}
        self.run_id = ""

    def start(self, run_id: str, as_of: str, stages: list[str]) -> None:
        self.run_id = run_id
        self.lines = {s: StageLine(s) for s in stages}

    def stage_started(self, stage: str) -> None:
        line = self.lines[stage]
        line.status, line.started = RUNNING, time.monotonic()

    def job_started(self, stage: str, job: str) -> None:
        self.lines[stage].job = job

    def job_finished(self, stage: str, job: str, rows_in: int | None, rows_out: int | None) -> None:
        line = self.lines[stage]
        if rows_in is not None:
            line.rows_in = (line.rows_in or 0) + rows_in
        if rows_out is not None:
            line.rows_out = (line.rows_out or 0) + rows_out

    def stage_finished(self, stage: str, status: str, note: str = "") -> None:
        line = self.lines[stage]
        line.status, line.note, line.job = status, note, ""
        if line.started is not None:
            line.elapsed = time.monotonic() - line.started

    def close(self) -> None:
        """Stop any live display (the summary is printed separately)."""


class LogProgress(Progress):
    """One structured log line per event, for schedulers and log files."""

    def start(self, run_id, as_of, stages):
        super().start(run_id, as_of, stages)
        log.info("event=run_start run_id=%s as_of=%s stages=%s", run_id, as_of, ",".join(stages))

    def stage_started(self, stage):
        super().stage_started(stage)
        log.info("event=stage_start run_id=%s stage=%s", self.run_id, stage)

    def job_finished(self, stage, job, rows_in, rows_out):
        super().job_finished(stage, job, rows_in, rows_out)
        log.info("event=job_end run_id=%s stage=%s job=%s rows_in=%s rows_out=%s",
                 self.run_id, stage, job, rows_in, rows_out)

    def stage_finished(self, stage, status, note=""):
        super().stage_finished(stage, status, note)
        line = self.lines[stage]
        level = logging.WARNING if status in ("failed", "not available yet") else logging.INFO
        log.log(level, "event=stage_end run_id=%s stage=%s status=%s rows_in=%s rows_out=%s elapsed_s=%s note=%r",
                self.run_id, stage, status.replace(" ", "_"), line.rows_in, line.rows_out,
                f"{line.elapsed:.1f}" if line.elapsed is not None else "", note)


class LiveProgress(Progress):
    """A live table on the terminal: one line per stage with status, rows and elapsed time."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console(stderr=True)
        self._live: Live | None = None

    def start(self, run_id, as_of, stages):
        super().start(run_id, as_of, stages)
        self._title = f"finlake run {run_id} (as_of {as_of})"
        self._live = Live(self, console=self.console, refresh_per_second=4, transient=True)
        original = sys.stderr
        self._live.start()
        # Log lines written straight to the terminal would tear the live display; send them
        # through Live's redirected stderr so they print above it.
        self._rerouted = [h for h in logging.getLogger().handlers
                          if isinstance(h, logging.StreamHandler) and h.stream is original]
        for handler in self._rerouted:
            handler.setStream(sys.stderr)
        self._original_stderr = original

    def stage_finished(self, stage, status, note=""):
        super().stage_finished(stage, status, note)
        if status in ("failed", "not available yet") and note:
            self.console.print(f"[{STYLES[status]}]{stage}: {status}[/] {note}")

    def __rich__(self) -> Table:
        return stage_table(self.lines.values(), self._title)

    def close(self) -> None:
        if self._live is not None:
            for handler in self._rerouted:
                handler.setStream(self._original_stderr)
            self._live.stop()
            self._live = None


def stage_table(lines, title: str) -> Table:
    table = Table("stage", "status", "rows in", "rows out", "elapsed", "note", title=title)
    for line in lines:
        status = line.status + (f" ({line.job})" if line.job else "")
        seconds = line.seconds()
        table.add_row(line.name, f"[{STYLES.get(line.status, '')}]{status}[/]",
                      f"{line.rows_in:,}" if line.rows_in is not None else "",
                      f"{line.rows_out:,}" if line.rows_out is not None else "",
                      f"{seconds:.1f}s" if seconds is not None else "", _short(line.note))
    return table


def _short(note: str, width: int = 90) -> str:
    """First line of a note, cut to ``width``: the full error is printed after the table."""
    first = note.splitlines()[0] if note else ""
    return first if len(first) <= width else first[: width - 1] + "…"


def choose_progress() -> Progress:
    """Live display when stderr is a terminal, structured logs otherwise."""
    return LiveProgress() if sys.stderr.isatty() else LogProgress()
