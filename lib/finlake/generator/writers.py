"""Write landing batches (one data file + ``_manifest.json`` per folder) and truth files.

File bytes depend only on the batch's lines, which arrive sorted, so the same seed and scale
give byte-identical files. Files are written to a temporary name and renamed, so a reader never
sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from finlake.generator.formats import Source, header_columns, schema_version
from finlake.generator.plan import Plan

MANIFEST = "_manifest.json"
TRUTH_DIR = "_truth"


def file_name(source: Source, batch: str) -> str:
    return f"{source.stem}_{batch.replace('-', '')}.{source.ext}"


def batch_bytes(source: Source, batch: str, lines: list[bytes], plan: Plan) -> bytes:
    """The file as delivered: header (CSV) and one line per payload, each ending with a newline."""
    head = b""
    if source.fmt == "csv":
        drift = plan.drift_from.isoformat() if plan.drift_from else None
        renamed = plan.renamed_batch.isoformat() if plan.renamed_batch else None
        head = (",".join(header_columns(source, batch, drift, renamed)) + "\n").encode(source.encoding)
    return head + b"".join(line + b"\n" for line in lines)


def write_batch(landing: Path, source: Source, batch: str, lines: list[bytes], plan: Plan) -> dict:
    """Write one batch folder; return its manifest entry (source, batch, file, rows, bytes, sha256)."""
    folder = landing / source.name / batch
    folder.mkdir(parents=True, exist_ok=True)
    data = batch_bytes(source, batch, lines, plan)
    name = file_name(source, batch)
    entry = {
        "name": name, "format": source.fmt, "encoding": source.encoding,
        "rows": len(lines), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
    }
    manifest = {
        "source": source.name, "system": source.system, "batch": batch,
        "schema_version": schema_version(source, batch, plan.drift_from.isoformat() if plan.drift_from else None),
        "files": [entry],
    }
    _atomic_write(folder / name, data)
    _atomic_write(folder / MANIFEST, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return {"source": source.name, "batch": batch, **{k: entry[k] for k in ("rows", "bytes", "sha256")}}


def write_truth(landing: Path, block: int, truth: dict[str, pd.DataFrame | pa.Table]) -> None:
    """One Parquet part per truth table and block: ``_truth/<table>/part-<block>.parquet``."""
    for table, frame in truth.items():
        folder = landing / TRUTH_DIR / table
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-{block:05d}.parquet"
        tmp = path.with_name(path.name + ".tmp")
        table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, tmp)
        os.replace(tmp, path)


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
