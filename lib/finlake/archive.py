"""Where the project's declaration files live when finlake runs from ``dist/finlake.zip``.

Under ``spark-submit --py-files dist/finlake.zip`` the package is imported from inside the
archive, where ``schemas/``, ``expectations/`` and ``conf/`` cannot be opened as plain files.
``scripts/build_dist.sh`` puts them in the archive beside the package; on first use they are
unpacked once per archive content into a cache folder, which then serves as the project root.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

PROJECT_DIRS = ("schemas", "expectations", "conf")


def containing_archive(module_file: str) -> Path | None:
    """The .zip a module was imported from, or None for a plain source tree."""
    return next((p for p in Path(module_file).parents if p.suffix == ".zip" and p.is_file()), None)


def project_root(module_file: str) -> Path:
    """The folder holding schemas/, expectations/ and conf/ for the package at ``module_file``."""
    archive = containing_archive(module_file)
    if archive is None:
        return Path(module_file).resolve().parents[2]
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"finlake-project-{digest}"
    if target.is_dir():
        return target
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=target.parent))
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.namelist() if m.split("/", 1)[0] in PROJECT_DIRS]
        zf.extractall(staging, members)
    try:
        os.rename(staging, target)  # atomic: concurrent processes agree on one copy
    except OSError:  # another process unpacked it first
        shutil.rmtree(staging, ignore_errors=True)
    return target
