"""Landing batches: find them, read their manifests, verify their files.

Pure Python on the driver (no Spark): a batch folder holds one ``_manifest.json`` and the data
file(s) it lists (docs/landing.md). Verification streams each file once to check its size and
SHA-256 against the manifest, count its data lines and read its header, so a batch that cannot be
trusted is refused before Spark reads a byte of it.
"""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone

import pyarrow.fs as pafs

from finlake.ingest.sources import SourceSpec

MANIFEST = "_manifest.json"
CHUNK = 8 * 1024 * 1024
DATE_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class DataFile:
    name: str
    path: str  # location Spark and pyarrow read (local path or URI)
    rel: str  # relative to the landing root, stored in raw._source_file
    format: str
    encoding: str
    manifest_rows: int
    manifest_bytes: int | None
    sha256: str
    # Filled by verification:
    bytes: int | None = None
    data_lines: int | None = None
    header: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Batch:
    """One landing batch folder of one source."""

    spec: SourceSpec
    batch_id: str
    folder: str
    business_date: date | None
    manifest_mtime: datetime | None
    schema_version: int | None = None
    files: tuple[DataFile, ...] = ()
    problem: str | None = None  # why the batch cannot be ingested; None when fine
    # unreadable (manifest, file, checksum, encoding), row_count (file vs manifest),
    # required_columns (header), changed (re-sent with another checksum and not replaced)
    problem_kind: str | None = None

    @property
    def checksum(self) -> str | None:
        return "+".join(f.sha256 for f in self.files) if self.files else None

    @property
    def manifest_rows(self) -> int | None:
        return sum(f.manifest_rows for f in self.files) if self.files else None

    @property
    def key(self) -> tuple[str, str]:
        return (self.spec.source, self.batch_id)

    def failed(self, reason: str, kind: str = "unreadable") -> "Batch":
        return replace(self, problem=reason, problem_kind=kind)


def _fs(root: str) -> tuple[pafs.FileSystem, str]:
    if "://" in root and not root.startswith("file://"):
        return pafs.FileSystem.from_uri(root)
    return pafs.LocalFileSystem(), root.removeprefix("file://")


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def list_batches(landing_root: str, spec: SourceSpec) -> list[Batch]:
    """Every batch folder of ``spec`` under the landing root, with its manifest read (not verified)."""
    fs, root = _fs(landing_root)
    src_dir = _join(root, spec.source)
    info = fs.get_file_info(src_dir)
    if info.type != pafs.FileType.Directory:
        return []
    batches = []
    for entry in sorted(fs.get_file_info(pafs.FileSelector(src_dir)), key=lambda i: i.base_name):
        if entry.type != pafs.FileType.Directory or entry.base_name.startswith(("_", ".")):
            continue
        batches.append(_read_manifest(fs, landing_root, spec, entry.path, entry.base_name))
    return batches


def _read_manifest(fs, landing_root: str, spec: SourceSpec, folder: str, name: str) -> Batch:
    business_date = date.fromisoformat(name) if DATE_FOLDER.match(name) else None
    manifest_path = _join(folder, MANIFEST)
    minfo = fs.get_file_info(manifest_path)
    mtime = minfo.mtime.astimezone(timezone.utc) if minfo.mtime else None
    batch = Batch(spec=spec, batch_id=name, folder=folder, business_date=business_date, manifest_mtime=mtime)
    if business_date is None:
        return batch.failed(f"batch folder '{spec.source}/{name}' is not a business date (YYYY-MM-DD)")
    if minfo.type != pafs.FileType.File:
        return batch.failed(f"{spec.source}/{name}/{MANIFEST} is missing; the source must deliver it with the data")
    try:
        with fs.open_input_stream(manifest_path) as fh:
            doc = json.loads(fh.read().decode("utf-8"))
        files = tuple(
            DataFile(
                name=str(f["name"]),
                path=_spark_path(landing_root, _join(folder, str(f["name"]))),
                rel=f"{spec.source}/{name}/{f['name']}",
                format=str(f.get("format", spec.format)),
                encoding=str(f.get("encoding", spec.encoding)).lower(),
                manifest_rows=int(f["rows"]),
                manifest_bytes=int(f["bytes"]) if f.get("bytes") is not None else None,
                sha256=str(f["sha256"]).lower(),
            )
            for f in doc["files"]
        )
        version = int(doc.get("schema_version", 1))
    except (ValueError, KeyError, TypeError) as exc:
        return batch.failed(f"{spec.source}/{name}/{MANIFEST} is not a valid manifest ({type(exc).__name__}: {exc})")
    batch = replace(batch, files=files, schema_version=version)
    if doc.get("source") not in (None, spec.source):
        return batch.failed(f"manifest of {spec.source}/{name} names source '{doc.get('source')}'")
    if str(doc.get("batch", name)) != name:
        return batch.failed(f"manifest of {spec.source}/{name} names batch '{doc.get('batch')}'")
    if not files:
        return batch.failed(f"manifest of {spec.source}/{name} lists no data file")
    for f in files:
        if f.format != spec.format or f.encoding != spec.encoding:
            return batch.failed(f"{f.rel} is declared {f.format}/{f.encoding} in its manifest, but "
                                f"{spec.raw_table} reads {spec.source} as {spec.format}/{spec.encoding}")
    return batch


def _spark_path(landing_root: str, path: str) -> str:
    if "://" in landing_root and not landing_root.startswith("file://"):
        scheme = landing_root.split("://", 1)[0]
        return path if "://" in path else f"{scheme}://{path}"
    return path


def verify_batches(landing_root: str, batches: list[Batch], workers: int = 4) -> list[Batch]:
    """Check every file of every batch against its manifest; failing batches carry a problem."""
    fs, _ = _fs(landing_root)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda b: _verify(fs, b), batches))


def _verify(fs, batch: Batch) -> Batch:
    if batch.problem:
        return batch
    checked = []
    for f in batch.files:
        local = f.path.split("://", 1)[1] if "://" in f.path else f.path
        info = fs.get_file_info(local)
        if info.type != pafs.FileType.File:
            return batch.failed(f"{f.rel} is listed in the manifest but missing")
        digest, lines, size, first, last = hashlib.sha256(), 0, 0, b"", b""
        with fs.open_input_stream(local) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                lines += chunk.count(b"\n")
                size += len(chunk)
                last = chunk[-1:]
                if len(first) < 65536 and b"\n" not in first:
                    first += chunk[:65536]
        if size and last != b"\n":
            lines += 1  # the last line has no line end: it is still a delivered line
        if f.manifest_bytes is not None and size != f.manifest_bytes:
            return batch.failed(f"{f.rel} has {size} bytes, its manifest says {f.manifest_bytes}: "
                                "the file is incomplete or changed after the manifest was written")
        if digest.hexdigest() != f.sha256:
            return batch.failed(f"{f.rel} does not match the SHA-256 in its manifest: the file is corrupt or "
                                "changed after the manifest was written; ask the source to re-send the batch")
        header = None
        data_lines = lines
        if f.format == "csv":
            if not size:
                return batch.failed(f"{f.rel} is empty; a CSV file always has its header line")
            raw_header = first.split(b"\n", 1)[0].rstrip(b"\r")
            try:
                header = tuple(raw_header.decode(f.encoding).split(","))
            except UnicodeDecodeError:
                return batch.failed(f"{f.rel}: the header line is not valid {f.encoding}")
            data_lines = lines - 1
            missing = [c for c in batch.spec.required if c not in header]
            if missing:
                return batch.failed(f"{f.rel}: header lacks required columns {missing} "
                                    f"(header: {','.join(header)}); the file cannot be keyed", "required_columns")
        if data_lines != f.manifest_rows:
            return batch.failed(f"{f.rel} has {data_lines} data lines, its manifest declares {f.manifest_rows}",
                                "row_count")
        checked.append(replace(f, bytes=size, data_lines=data_lines, header=header))
    return replace(batch, files=tuple(checked))

