"""Reports over ``quality.results``: latest status per table, one run across layers, trends.

Pure functions over result rows (dicts with the quality.results columns), so the CLI, tests and
notebooks share them. A table's *latest status* is the outcome of its latest run; within a run,
the latest ``checked_at`` of each expectation wins, so a rerun after a fix supersedes the
failed attempt (both stay in the table for the history).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable

from finlake.quality.waivers import Waiver

LAYER_ORDER = ("raw", "cleaned", "features", "scores", "audiences", "marts", "quarantine", "quality", "ops")
_STATUS_ORDER = {"FAIL": 0, "WARN": 1, "PASS": 2}


def blocks(row: dict) -> bool:
    return not row["success"] and row["severity"] == "blocking" and not row["waived"]


def status_of(rows: Iterable[dict]) -> str:
    rows = list(rows)
    if any(blocks(r) for r in rows):
        return "FAIL"
    if any(not r["success"] for r in rows):
        return "WARN"
    return "PASS"


def latest_per_expectation(rows: Iterable[dict]) -> list[dict]:
    """Keep, per (run, table, expectation), the most recently checked row."""
    best: dict[tuple, dict] = {}
    for r in rows:
        key = (r["run_id"], r["table"], r["expectation"])
        if key not in best or r["checked_at"] > best[key]["checked_at"]:
            best[key] = r
    return list(best.values())


@dataclass
class TableStatus:
    table: str
    layer: str
    status: str
    run_id: str
    checked_at: dt.datetime
    checks: int
    failures: list[dict] = field(default_factory=list)
    table_version: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table, "layer": self.layer, "status": self.status, "run_id": self.run_id,
            "checked_at": self.checked_at, "checks": self.checks, "table_version": self.table_version,
            "failures": [_failure(r) for r in self.failures],
        }


def _failure(r: dict) -> dict[str, Any]:
    return {k: r.get(k) for k in ("expectation", "column", "severity", "observed_value", "unexpected_count",
                                  "unexpected_percent", "waived", "waiver_reason", "details")}


def _table_status(table: str, rows: list[dict]) -> TableStatus:
    rows = sorted(rows, key=lambda r: (not blocks(r), r["success"], r["expectation"]))
    return TableStatus(
        table=table,
        layer=table.split(".", 1)[0],
        status=status_of(rows),
        run_id=rows[0]["run_id"],
        checked_at=max(r["checked_at"] for r in rows),
        checks=len(rows),
        failures=[r for r in rows if not r["success"]],
        table_version=min((r["table_version"] for r in rows if r["table_version"] is not None), default=None),
    )


def latest_status(rows: Iterable[dict]) -> list[TableStatus]:
    """Each table's latest run, failures first, then warnings, then passes."""
    rows = list(rows)
    latest_run: dict[str, tuple[dt.datetime, str]] = {}
    for r in rows:
        if r["table"] not in latest_run or r["checked_at"] > latest_run[r["table"]][0]:
            latest_run[r["table"]] = (r["checked_at"], r["run_id"])
    chosen = latest_per_expectation(r for r in rows if latest_run[r["table"]][1] == r["run_id"])
    by_table: dict[str, list[dict]] = {}
    for r in chosen:
        by_table.setdefault(r["table"], []).append(r)
    statuses = [_table_status(t, rs) for t, rs in by_table.items()]
    return sorted(statuses, key=lambda s: (_STATUS_ORDER[s.status], s.table))


def run_report(rows: Iterable[dict], run_id: str) -> list[TableStatus]:
    """Every table checked in ``run_id``, in layer order (raw -> cleaned -> features ...)."""
    chosen = latest_per_expectation(r for r in rows if r["run_id"] == run_id)
    by_table: dict[str, list[dict]] = {}
    for r in chosen:
        by_table.setdefault(r["table"], []).append(r)
    statuses = [_table_status(t, rs) for t, rs in by_table.items()]

    def order(s: TableStatus):
        layer_rank = LAYER_ORDER.index(s.layer) if s.layer in LAYER_ORDER else len(LAYER_ORDER)
        return (layer_rank, s.table)

    return sorted(statuses, key=order)


@dataclass
class Trend:
    expectation: str
    severity: str
    points: list[dict]  # oldest first: run_id, checked_at, success, waived, observed_value, unexpected_percent

    @property
    def marks(self) -> str:
        """One character per run, oldest first: '.' pass, 'x' blocking fail, 'w' warning or waived fail."""
        return "".join("." if p["success"] else ("x" if blocks(p) else "w") for p in self.points)

    def as_dict(self) -> dict[str, Any]:
        return {"expectation": self.expectation, "severity": self.severity, "marks": self.marks, "runs": self.points}


def history(rows: Iterable[dict], table: str, limit: int = 20) -> list[Trend]:
    """The trend of each expectation of ``table`` over its last ``limit`` runs."""
    chosen = latest_per_expectation(r for r in rows if r["table"] == table)
    last_check: dict[str, dt.datetime] = {}
    for r in chosen:
        last_check[r["run_id"]] = max(r["checked_at"], last_check.get(r["run_id"], r["checked_at"]))
    kept = set(sorted(last_check, key=last_check.get)[-limit:])
    trends: dict[str, Trend] = {}
    for r in sorted((r for r in chosen if r["run_id"] in kept), key=lambda r: r["checked_at"]):
        trend = trends.setdefault(r["expectation"], Trend(r["expectation"], r["severity"], []))
        trend.severity = r["severity"]
        trend.points.append({k: r.get(k) for k in ("run_id", "checked_at", "success", "severity", "waived",
                                                   "observed_value", "unexpected_count", "unexpected_percent")})
    return sorted(trends.values(), key=lambda t: t.expectation)


def waiver_rows(waivers: list[Waiver], today: dt.date) -> list[dict[str, Any]]:
    """Waivers for display, active ones first; expired ones stay visible until removed."""
    rows = [{"table": w.table, "expectation": w.expectation, "until": w.until.isoformat(), "who": w.who,
             "reason": w.reason, "active": w.active(today)} for w in waivers]
    return sorted(rows, key=lambda r: (not r["active"], r["table"], r["expectation"]))
