"""Expectation suites: GX 1.x ExpectationSuite JSON files, validated when loaded.

A suite lives in ``expectations/<layer>/<table>.json`` and is reviewed like code. Every
expectation carries, in its ``meta``, what finlake needs to act on a result:

- ``severity``: ``blocking`` (a failure stops the write) or ``warning`` (recorded, write goes on);
- ``owner``: who answers for the rule (a team or a person);
- ``rationale``: the business reason, in one sentence a steward can read;
- ``quarantine`` (optional, default false): the rule is also applied row by row before the gate,
  and rows that break it go to ``quarantine.<table>`` instead of failing the batch;
- ``rule`` (optional): the rule's name in reports, waivers and ``_rules_broken``; defaults to
  ``<expectation type>:<column>`` (or the bare type for table-level expectations).

A steward changes a threshold, a severity or an owner by editing the JSON, nothing else. A file
that breaks these rules fails on load with a :class:`SuiteError` naming the file and the
expectation, so a bad edit stops the job before it reads any data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finlake.errors import FinlakeError

SEVERITIES = ("blocking", "warning")
_META_KEYS = {"severity", "owner", "rationale", "quarantine", "rule"}


class SuiteError(FinlakeError, ValueError):
    """A suite or waiver file is missing or invalid; the message names the file and the entry."""


@dataclass(frozen=True)
class Expectation:
    """One expectation of a suite, with the finlake meta already checked."""

    name: str
    type: str
    kwargs: dict[str, Any]
    severity: str
    owner: str
    rationale: str
    quarantine: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    def gx_config(self) -> dict[str, Any]:
        """The GX expectation configuration, carrying the finlake name so results map back.

        The GX ``severity`` mirrors ours (blocking -> critical) so Data Docs shows it too.
        """
        meta = dict(self.meta, finlake_rule=self.name)
        return {
            "type": self.type,
            "kwargs": dict(self.kwargs),
            "meta": meta,
            "notes": self.rationale,
            "severity": "critical" if self.severity == "blocking" else "warning",
        }


@dataclass(frozen=True)
class Suite:
    """A validated suite for one table."""

    table: str
    path: Path
    expectations: tuple[Expectation, ...]

    @property
    def name(self) -> str:
        return self.table

    @property
    def layer(self) -> str:
        return self.table.split(".", 1)[0]

    def get(self, name: str) -> Expectation:
        for exp in self.expectations:
            if exp.name == name:
                return exp
        known = ", ".join(e.name for e in self.expectations)
        raise SuiteError(f"suite {self.path} has no expectation named '{name}'; its expectations: {known}")

    @property
    def quarantine_rules(self) -> tuple[Expectation, ...]:
        return tuple(e for e in self.expectations if e.quarantine)


def suite_path(expectations_dir: Path, table: str) -> Path:
    """Where the suite of ``layer.table`` lives under ``expectations_dir``."""
    layer, name = table.split(".", 1)
    return Path(expectations_dir) / layer / f"{name}.json"


def load_suite(path: Path | str, table: str) -> Suite:
    """Read and validate the suite file of ``table``; raise SuiteError naming what is wrong."""
    from finlake.quality.rules import check_compilable

    path = Path(path)
    if not path.is_file():
        raise SuiteError(
            f"table '{table}' has no quality suite at {path}; create it (GX 1.x ExpectationSuite JSON, "
            "see docs/quality.md) before gating this table"
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteError(f"suite {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list):
        raise SuiteError(f"suite {path} must be a JSON object with an 'expectations' list")
    if doc.get("name") not in (None, table):
        raise SuiteError(f"suite {path} is named '{doc.get('name')}' but belongs to table '{table}'; set \"name\": \"{table}\"")

    expectations: list[Expectation] = []
    for index, raw in enumerate(doc["expectations"]):
        exp = _parse_expectation(path, index, raw)
        if exp.quarantine:
            check_compilable(exp, f"suite {path}, expectation #{index} '{exp.name}'")
        expectations.append(exp)
    seen: dict[str, int] = {}
    for index, exp in enumerate(expectations):
        if exp.name in seen:
            raise SuiteError(
                f"suite {path}: expectations #{seen[exp.name]} and #{index} are both named '{exp.name}'; "
                "give one of them a distinct meta.rule (names key waivers, reports and quarantine)"
            )
        seen[exp.name] = index
    return Suite(table=table, path=path, expectations=tuple(expectations))


def _parse_expectation(path: Path, index: int, raw: Any) -> Expectation:
    where = f"suite {path}, expectation #{index}"
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise SuiteError(f"{where} must be an object with a 'type' (e.g. expect_column_values_to_not_be_null)")
    etype = raw["type"]
    kwargs = raw.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise SuiteError(f"{where} ({etype}): 'kwargs' must be an object")
    meta = raw.get("meta") or {}
    if not isinstance(meta, dict):
        raise SuiteError(f"{where} ({etype}): 'meta' must be an object")
    name = meta.get("rule") or (f"{etype}:{kwargs['column']}" if "column" in kwargs else etype)
    where = f"{where} '{name}'"

    missing = [k for k in ("severity", "owner", "rationale") if not meta.get(k)]
    if missing:
        raise SuiteError(
            f"{where}: meta is missing {missing}; every expectation needs meta.severity "
            f"({' or '.join(SEVERITIES)}), meta.owner and meta.rationale"
        )
    if meta["severity"] not in SEVERITIES:
        raise SuiteError(f"{where}: meta.severity is '{meta['severity']}'; use one of {', '.join(SEVERITIES)}")
    for key in ("owner", "rationale", "rule"):
        if key in meta and not isinstance(meta[key], str):
            raise SuiteError(f"{where}: meta.{key} must be a string")
    if not isinstance(meta.get("quarantine", False), bool):
        raise SuiteError(f"{where}: meta.quarantine must be true or false")

    _check_gx_accepts(where, etype, kwargs)
    return Expectation(
        name=name,
        type=etype,
        kwargs=kwargs,
        severity=meta["severity"],
        owner=meta["owner"],
        rationale=meta["rationale"],
        quarantine=meta.get("quarantine", False),
        meta={k: v for k, v in meta.items() if k not in _META_KEYS},
    )


def _check_gx_accepts(where: str, etype: str, kwargs: dict) -> None:
    """Build the GX expectation now: GX's suite constructor drops invalid ones with only a log line."""
    from finlake.quality.gx_runner import wait_for_warm_up

    wait_for_warm_up()  # GX must not be imported from two threads at once
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    try:
        ExpectationConfiguration(type=etype, kwargs=kwargs).to_domain_obj()
    except Exception as exc:  # GX raises several unrelated types for a bad type or bad kwargs
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SuiteError(f"{where}: Great Expectations rejects it: {message}") from None
