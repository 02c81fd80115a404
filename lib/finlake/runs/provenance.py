"""What a run records about itself: a hash of the settings that decide the data, and the code version."""

from __future__ import annotations

import hashlib
import json
import subprocess
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

import finlake
from finlake.archive import containing_archive
from finlake.settings import Settings

# Settings that change what the tables contain. Where Spark runs (master, conf), secrets and
# where a value came from do not: a cluster run and a laptop run of the same lake agree.
DATA_SETTINGS = ("table_root", "landing_root", "mlflow_uri", "quality_root", "freshness_lag_days", "landing_sources",
                 "train_cadence_days", "champion_margin")


def settings_hash(settings: Settings) -> str:
    """First 16 hex digits of sha256 over the data-deciding settings (see DATA_SETTINGS).

    A setting left unset (None) is left out, so a setting added to DATA_SETTINGS later, as
    ``landing_sources`` was, does not change the hash of a lake that does not use it: a rerun of an
    as_of completed before the upgrade still finds its completed stages (docs/runs.md).
    """
    values = {k: getattr(settings, k) for k in DATA_SETTINGS}
    payload = json.dumps({k: v for k, v in values.items() if v is not None}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=1)
def code_version() -> str:
    """``git describe`` of a source checkout, or ``<describe at build>+zip.<sha256[:12]>`` of a shipped archive.

    ``scripts/build_dist.sh`` writes ``finlake/_build.json`` (version and git describe at build
    time) into ``dist/finlake.zip``; the archive hash tells two builds of the same commit apart.
    """
    package_file = Path(finlake.__file__)
    archive = containing_archive(finlake.__file__)
    if archive is not None:
        try:
            build = json.loads(resources.files("finlake").joinpath("_build.json").read_text(encoding="utf-8"))
            base = build.get("git") or build.get("version", "unknown")
        except (FileNotFoundError, ValueError):
            base = "unknown"
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:12]
        return f"{base}+zip.{digest}"
    root = package_file.parents[2]
    if (root / ".git").exists():
        try:
            out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=root,
                                 capture_output=True, text=True, timeout=10, check=True)
            return f"git:{out.stdout.strip()}"
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        return metadata.version("finlake")
    except metadata.PackageNotFoundError:
        return "unknown"
