"""Waivers: a steward accepts a known failure of one expectation on one table until a date.

``expectations/waivers.yaml`` is a YAML list; each entry names the table, the expectation (its
name as shown in reports: ``meta.rule`` or ``<expectation type>:<column>``), the last day it
applies (``until``, inclusive, UTC), the reason and who granted it. A waived failure is recorded
with ``waived = true`` and the reason, and no longer blocks. The day after ``until`` the waiver
stops applying by itself: the same failure blocks again, with no edit needed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from finlake.quality.suites import SuiteError

_KEYS = ("table", "expectation", "until", "reason", "who")


@dataclass(frozen=True)
class Waiver:
    table: str
    expectation: str
    until: dt.date
    reason: str
    who: str

    def active(self, today: dt.date) -> bool:
        return today <= self.until

    def describe(self) -> str:
        return f"waived until {self.until.isoformat()} by {self.who}: {self.reason}"


def load_waivers(path: Path | str) -> list[Waiver]:
    """All waivers in the file (active or expired); a missing file means none."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SuiteError(f"waiver file {path} is not valid YAML: {exc}") from None
    if doc is None:
        return []
    if not isinstance(doc, list):
        raise SuiteError(f"waiver file {path} must hold a YAML list of waivers (or [] for none)")
    waivers = []
    for index, entry in enumerate(doc):
        where = f"waiver file {path}, entry #{index}"
        if not isinstance(entry, dict):
            raise SuiteError(f"{where} must be a mapping with keys {', '.join(_KEYS)}")
        missing = [k for k in _KEYS if not entry.get(k)]
        unknown = sorted(set(entry) - set(_KEYS))
        if missing or unknown:
            raise SuiteError(f"{where}: missing {missing}, unknown {unknown}; a waiver has exactly {', '.join(_KEYS)}")
        until = entry["until"]
        if isinstance(until, str):
            try:
                until = dt.date.fromisoformat(until)
            except ValueError:
                raise SuiteError(f"{where}: until '{until}' is not a date (YYYY-MM-DD)") from None
        if isinstance(until, dt.datetime) or not isinstance(until, dt.date):
            raise SuiteError(f"{where}: until must be a date (YYYY-MM-DD)")
        waivers.append(Waiver(table=str(entry["table"]), expectation=str(entry["expectation"]), until=until,
                              reason=str(entry["reason"]), who=str(entry["who"])))
    return waivers


def active_waiver(waivers: list[Waiver], table: str, expectation: str, today: dt.date) -> Waiver | None:
    """The waiver that applies today to ``expectation`` on ``table``, if any."""
    for waiver in waivers:
        if waiver.table == table and waiver.expectation == expectation and waiver.active(today):
            return waiver
    return None
