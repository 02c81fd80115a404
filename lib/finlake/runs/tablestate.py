"""Cheap facts about Delta tables for the run ledger, read from the Delta log with delta-rs.

Versions and row counts come from the log and the per-file statistics (``numRecords``), never
from scanning data, so recording a job costs milliseconds whatever the table size. Both lake
engines write standard Delta tables with statistics, so this works under either.
"""

from __future__ import annotations

import fnmatch
import logging

import pyarrow as pa
from deltalake import DeltaTable

from finlake.lake import Lake

log = logging.getLogger(__name__)

LEDGER_TABLES = ("ops.runs",)  # the ledger's own writes are not a job's output


def versions(lake: Lake, names: list[str] | None = None) -> dict[str, int]:
    """Current version of each existing table (default: every catalog table but the ledger)."""
    names = names if names is not None else [n for n in lake.catalog.names() if n not in LEDGER_TABLES]
    out = {}
    for name in names:
        path = lake.path(name)
        if DeltaTable.is_deltatable(path):
            out[name] = DeltaTable(path).version()
    return out


def expand(lake: Lake, patterns: tuple[str, ...]) -> list[str]:
    """Catalog names matching the patterns (``raw.*``), in catalog order."""
    return [n for n in lake.catalog.names() if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def _files(path: str, version: int) -> dict[str, int]:
    adds = pa.table(DeltaTable(path, version=version).get_add_actions(flatten=True)).to_pydict()
    return {p: int(n or 0) for p, n in zip(adds.get("path", []), adds.get("num_records") or [0] * len(adds.get("path", [])))}


def rows_at(lake: Lake, name: str, version: int) -> int:
    """Rows of ``name`` at ``version``, from file statistics."""
    return sum(_files(lake.path(name), version).values())


def rows_added(lake: Lake, name: str, before: int | None, after: int) -> int:
    """Rows in the data files that versions (before, after] added and that are live at ``after``.

    Like Delta's ``numOutputRows``: a merge or overwrite counts the rows it rewrote.
    """
    path = lake.path(name)
    now = _files(path, after)
    if before is None:
        return sum(now.values())
    then = _files(path, before)
    return sum(n for p, n in now.items() if p not in then)
