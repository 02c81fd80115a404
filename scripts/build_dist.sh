#!/usr/bin/env bash
# Build what a cluster needs (`make dist`):
#   dist/finlake.zip   the finlake package for --py-files, plus schemas/, expectations/ and conf/
#                      (unpacked on the driver by finlake.archive) and finlake/_build.json
#                      (version and git describe, so ops.runs records which code ran)
#   dist/jobs/*.py     the spark-submit entry points
# The archive is reproducible: fixed member order and timestamps, no __pycache__.
# DIST_DIR=<dir> builds elsewhere (tests do, to leave a developer's dist/ alone).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
export DIST_DIR=${DIST_DIR:-dist}
rm -rf "$DIST_DIR"
mkdir -p "$DIST_DIR/jobs"
cp jobs/*.py "$DIST_DIR/jobs/"
"$PYTHON" - <<'PY'
import json, os, subprocess, zipfile
from importlib import metadata
from pathlib import Path

try:
    git = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], capture_output=True,
                         text=True, check=True).stdout.strip()
except (OSError, subprocess.CalledProcessError):
    git = None
build = {"version": metadata.version("finlake"), "git": f"git:{git}" if git else None}

members = []
for top in ("lib/finlake", "schemas", "expectations", "conf"):
    root = Path(top)
    if not root.is_dir():
        continue
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            members.append((path, str(path.relative_to("lib") if top == "lib/finlake" else path)))

archive = os.path.join(os.environ["DIST_DIR"], "finlake.zip")
with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
    for path, name in members:
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        zf.writestr(info, path.read_bytes())
    info = zipfile.ZipInfo("finlake/_build.json", date_time=(2020, 1, 1, 0, 0, 0))
    zf.writestr(info, json.dumps(build, sort_keys=True))
print(f"{archive}: {len(members) + 1} files ({build['git'] or build['version']})")
PY
echo "$DIST_DIR/jobs: $(ls "$DIST_DIR/jobs" | tr '\n' ' ')"
