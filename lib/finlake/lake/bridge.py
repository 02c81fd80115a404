"""The bridge engine: Spark writes Parquet data files, delta-rs commits them to the Delta log.

Why: on locked-down networks the Delta JVM jars cannot be downloaded, but the ``deltalake``
wheel (delta-rs) can. Spark stays the compute engine (distributed reads, joins, writes); delta-rs
owns the transaction log.

How a write works:
1. Spark writes the new rows as Parquet into ``<table>/_staging/<uuid>/`` (a private folder, so
   concurrent writers never share Spark's ``_temporary`` directory).
2. The driver reads each new file's footer for Delta stats (numRecords, min, max, nullCount; the
   partition columns are not in the files and so are excluded), and moves the file to its final
   place ``<table>/<partition dirs>/part-....parquet``, where Spark's partition discovery finds it.
3. Under the table's commit lock, the engine checks the idempotency key and, for operations that
   read the table (overwrite, replace, merge, delete), that no one committed since it read. Then
   delta-rs commits the Add and Remove actions in one transaction with the job's metadata.
A writer that dies before step 3 leaves files no version references: invisible to readers,
deleted by ``vacuum``. A write that fails for any other reason (a NOT NULL column holding
nulls, seen in the footer null counts; a conflict; a failed commit) deletes its own files.
``merge_schema`` adds the new nullable columns in a commit of their own just before the data
commit, under the same lock (delta-rs cannot change the schema inside a write transaction).

Reads resolve the snapshot (latest, version or timestamp) with delta-rs and hand Spark the file
list with the Delta schema; partition values come from the directory names, typed by that schema
(never inferred).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Schema as DeltaSchema, Transaction
from deltalake.exceptions import TableNotFoundError as DeltaTableNotFound
from deltalake.transaction import AddAction, RemoveAction
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from finlake.catalog import TableSpec
from finlake.errors import (
    ConflictError,
    NotADeltaTableError,
    SchemaMismatchError,
    UnsupportedTableFeatureError,
)
from finlake.lake.api import CommitResult, HistoryEntry

log = logging.getLogger(__name__)

STAGING = "_staging"
LOCK_FILE = "_finlake_commit.lock"
STRING_STATS_PREFIX = 32
# Reader features whose semantics survive handing Spark the plain Parquet files of a snapshot.
# Anything else (deletionVectors, columnMapping, typeWidening, variantType, features newer than
# this list) could change what a row means, so the bridge refuses the table rather than guess.
SUPPORTED_READER_FEATURES = {"timestampNtz", "vacuumProtocolCheck"}


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _local(path: str) -> str:
    return path[len("file://"):] if path.startswith("file://") else path


class BridgeEngine:
    name = "bridge"

    def __init__(self, spark: SparkSession):
        self.spark = spark

    # --- table handles ---------------------------------------------------------------
    def _fs(self, path: str) -> tuple[pafs.FileSystem, str]:
        if _is_local(path):
            return pafs.LocalFileSystem(), _local(path)
        return pafs.FileSystem.from_uri(path)

    def exists(self, path: str) -> bool:
        if DeltaTable.is_deltatable(path):
            return True
        fs, p = self._fs(path)
        info = fs.get_file_info(p)
        if info.type == pafs.FileType.Directory:
            listing = [i for i in fs.get_file_info(pafs.FileSelector(p, recursive=False))
                       if not os.path.basename(i.path).startswith(("_", "."))]
            if listing:
                raise NotADeltaTableError(
                    f"{path} holds files but no Delta log (_delta_log); it is not a Delta table. "
                    "Move those files away or point the table root elsewhere"
                )
        return False

    def _table(self, path: str, version: int | None = None) -> DeltaTable:
        try:
            dt = DeltaTable(path, version=version)
        except DeltaTableNotFound as exc:
            raise NotADeltaTableError(f"no Delta table at {path}: {exc}") from exc
        except Exception as exc:  # delta-rs raises plain exceptions for a version it does not have
            if version is not None and "version" in str(exc).lower():
                raise ValueError(f"{path} has no version {version}: {exc}") from exc
            raise
        self._check_readable(dt, path)
        return dt

    @staticmethod
    def _check_readable(dt: DeltaTable, path: str) -> None:
        protocol = dt.protocol()
        features = set(protocol.reader_features or [])
        bad = features - SUPPORTED_READER_FEATURES
        mapping = dt.metadata().configuration.get("delta.columnMapping.mode", "none")
        if mapping != "none":
            bad.add(f"columnMapping({mapping})")
        if bad:
            raise UnsupportedTableFeatureError(
                f"Delta table at {path} uses reader features the bridge engine cannot read: {sorted(bad)}. "
                "Read it with the native engine (delta-spark on the classpath, FINLAKE_LAKE_ENGINE=native), "
                "or rewrite it without those features"
            )

    # --- metadata --------------------------------------------------------------------
    def create(self, path: str, spec: TableSpec, meta: dict[str, str]) -> int:
        self._ensure_dir(path)
        with self._lock(path):
            if DeltaTable.is_deltatable(path):
                return DeltaTable(path).version()
            dt = DeltaTable.create(
                path,
                schema=to_delta_schema(spec.schema),
                mode="error",
                partition_by=list(spec.partition_by) or None,
                name=spec.name,
                description=spec.description or None,
                configuration=spec.properties or None,
                commit_properties=CommitProperties(custom_metadata=meta),
            )
            return dt.version()

    def schema(self, path: str) -> T.StructType:
        return from_delta_schema(self._table(path).schema())

    def version(self, path: str) -> int:
        return self._table(path).version()

    def txn_version(self, path: str, app_id: str) -> int | None:
        return self._table(path).transaction_version(app_id)

    def properties(self, path: str) -> dict[str, str]:
        return dict(self._table(path).metadata().configuration)

    def set_properties(self, path: str, props: dict[str, str], meta: dict[str, str]) -> int:
        with self._lock(path):
            dt = self._table(path)
            dt.alter.set_table_properties(props, commit_properties=CommitProperties(custom_metadata=meta))
            return dt.version()

    def info(self, path: str) -> dict[str, Any]:
        dt = self._table(path)
        adds = pa.table(dt.get_add_actions(flatten=True)).to_pydict()
        history = dt.history(limit=1)
        last = history[0].get("timestamp") if history else None
        rows = adds.get("num_records") or []
        return {
            "version": dt.version(),
            "rows": int(sum(r or 0 for r in rows)),
            "files": len(adds.get("path", [])),
            "bytes": int(sum(adds.get("size_bytes", []))),
            "last_write": datetime.fromtimestamp(last / 1000, tz=timezone.utc) if last else None,
        }

    def history(self, path: str, limit: int | None) -> list[HistoryEntry]:
        out = []
        for commit in self._table(path).history(limit):
            ts = commit.get("timestamp")
            out.append(
                HistoryEntry(
                    version=int(commit["version"]),
                    timestamp=datetime.fromtimestamp(ts / 1000, tz=timezone.utc) if ts else None,
                    operation=commit.get("finlake.operation") or commit.get("operation", ""),
                    job=commit.get("finlake.job"),
                    run_id=commit.get("finlake.run_id"),
                    txn=commit.get("finlake.txn"),
                    metrics={k: v for k, v in (commit.get("operationMetrics") or {}).items()},
                )
            )
        return out

    # --- reads -----------------------------------------------------------------------
    def read(self, path: str, version: int | None, timestamp: datetime | None) -> DataFrame:
        dt = self._table(path, version)
        if timestamp is not None:
            if timestamp.tzinfo is None:
                timestamp = timestamp.replace(tzinfo=timezone.utc)
            # delta-rs falls back to the first version for a time before it; Delta says no such version.
            commits = {int(c["version"]): c.get("timestamp") for c in dt.history()}
            first = commits.get(min(commits)) if commits else None
            try:
                if first is not None and first > timestamp.timestamp() * 1000:
                    raise ValueError("the table's first commit is later")
                dt.load_as_version(timestamp)
            except Exception as exc:
                raise ValueError(f"{path} has no version at or before {timestamp.isoformat()}: {exc}") from exc
        return self._read_files(path, dt.file_uris(), from_delta_schema(dt.schema()))

    def _read_files(self, path: str, files: list[str], schema: T.StructType) -> DataFrame:
        if not files:
            return self.spark.createDataFrame([], schema)
        reader = self.spark.read.schema(schema).option("basePath", _spark_uri(path))
        df = reader.parquet(*[_spark_uri(f) for f in files])
        return df.select(*schema.fieldNames())

    # --- writes ----------------------------------------------------------------------
    def write(self, path, df, mode, partition_by, meta, txn, predicate, new_columns) -> CommitResult:
        dt = self._table(path)
        read_version = dt.version()
        removes: list[RemoveAction] = []
        if mode == "overwrite":
            removes = self._removes(dt)
        elif mode == "replace_where":
            outside = df.filter(~F.coalesce(F.expr(predicate), F.lit(False)))
            if outside.limit(1).count():
                raise SchemaMismatchError(
                    f"replace_where on {path}: some rows to write do not match the predicate '{predicate}'"
                )
            touched = self._files_matching(dt, path, predicate)
            removes = self._removes(dt, touched)
            if touched:
                kept = self._read_files(path, sorted(touched), from_delta_schema(dt.schema()))
                kept = kept.filter(~F.coalesce(F.expr(predicate), F.lit(False)))
                df = df.unionByName(kept, allowMissingColumns=bool(new_columns))
        adds, rows = self._stage(path, df, partition_by, from_delta_schema(dt.schema()))
        operation = meta["finlake.operation"]
        return self._commit(path, read_version, adds, removes, meta, txn, operation, new_columns,
                            depends_on_read=mode != "append", rows=rows)

    def merge(self, path, df, keys, partition_by, update, delete_when, meta, txn) -> CommitResult:
        dt = self._table(path)
        read_version = dt.version()
        schema = from_delta_schema(dt.schema())
        columns = schema.fieldNames()
        dup = df.groupBy(*keys).count().filter("count > 1").limit(1).collect()
        if dup:
            raise ValueError(f"merge into {path}: the source has more than one row for key {dup[0].asDict()}")
        source = df.withColumn("_finlake_delete", F.coalesce(F.expr(delete_when), F.lit(False)) if delete_when
                               else F.lit(False))
        files = dt.file_uris()
        touched: set[str] = set()
        if files:
            # Keys match null-safely (<=>), as in the native engine's merge condition.
            target = self._read_files(path, files, schema).select(*keys, F.col("_metadata.file_path").alias("_f"))
            keyed = source.select(*keys)
            hits = (target.join(keyed, _same_keys(target, keyed, keys), "left_semi")
                    .select("_f").distinct().collect())
            touched = {_normalise(r["_f"]) for r in hits}
        if touched:
            # _t marks target rows: after a full outer join it is null exactly for source-only keys.
            t = self._read_files(path, sorted(touched), schema).withColumn("_t", F.lit(True))
            joined = t.alias("t").join(source.alias("s"), _same_keys(t, source, keys), "full_outer")
            t_present = F.col("t._t").isNotNull()
            s_present = F.col("s._finlake_delete").isNotNull()
            deleted = s_present & F.col("s._finlake_delete")
            take_source = s_present & ~deleted & (F.lit(update) | ~t_present)
            keep_target = t_present & ~deleted & ~take_source
            out = joined.filter(take_source | keep_target).select(*[
                F.when(take_source, source[f"`{c}`"]).otherwise(t[f"`{c}`"]).alias(c) for c in columns
            ])
        else:
            out = source.filter(~F.col("_finlake_delete")).select(*columns)
        removes = self._removes(dt, touched) if touched else []
        adds, rows = self._stage(path, out, partition_by, schema)
        return self._commit(path, read_version, adds, removes, meta, txn, "MERGE", [], depends_on_read=True, rows=rows)

    def delete(self, path, predicate, partition_by, meta, txn) -> CommitResult:
        dt = self._table(path)
        read_version = dt.version()
        touched = self._files_matching(dt, path, predicate)
        if not touched:
            return self._commit(path, read_version, [], [], meta, txn, "DELETE", [], depends_on_read=True, rows=0)
        schema = from_delta_schema(dt.schema())
        kept = self._read_files(path, sorted(touched), schema).filter(~F.coalesce(F.expr(predicate), F.lit(False)))
        adds, rows = self._stage(path, kept, partition_by, schema)
        return self._commit(path, read_version, adds, self._removes(dt, touched), meta, txn, "DELETE", [],
                            depends_on_read=True, rows=rows)

    def _files_matching(self, dt: DeltaTable, path: str, predicate: str) -> set[str]:
        files = dt.file_uris()
        if not files:
            return set()
        df = self._read_files(path, files, from_delta_schema(dt.schema()))
        hits = (df.filter(F.coalesce(F.expr(predicate), F.lit(False)))
                .select(F.col("_metadata.file_path").alias("f")).distinct().collect())
        return {_normalise(r["f"]) for r in hits}

    def _removes(self, dt: DeltaTable, only: set[str] | None = None) -> list[RemoveAction]:
        adds = pa.table(dt.get_add_actions(flatten=False)).to_pydict()
        now = int(time.time() * 1000)
        root = _normalise(dt.table_uri).rstrip("/")
        out = []
        for rel, size, pv in zip(adds["path"], adds["size_bytes"], adds.get("partition_values") or [None] * len(adds["path"])):
            # The log holds the path URI-encoded; delta-rs encodes the path it is given, so hand
            # it the decoded (on-disk) form, as for AddAction.
            rel = unquote(rel)
            if only is not None and f"{root}/{rel}" not in only:
                continue
            out.append(RemoveAction(path=rel, data_change=True, deletion_timestamp=now, size=int(size),
                                    partition_values=dict(pv) if pv else None))
        return out

    def append_rows(self, path, rows, meta, txn) -> CommitResult:
        """Append rows held by the driver: written with pyarrow, no Spark job.

        A Spark write of a dozen rows costs about 0.2 s of job scheduling and output commit;
        quality results, ledgers and accounting are written that way dozens of times a run.
        """
        dt = self._table(path)
        schema = from_delta_schema(dt.schema())
        # All nullable here: a null in a NOT NULL column is refused from the footer, as for Spark.
        fields = [f.with_nullable(True) for f in to_arrow_schema(schema, timezone="UTC")]
        columns = []
        for field, spark_field in zip(fields, schema.fields):
            try:
                columns.append(pa.array([r.get(field.name) for r in rows], type=field.type))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise SchemaMismatchError(
                    f"write to {path}: a value in column '{field.name}' ({spark_field.dataType.simpleString()}) "
                    f"does not fit: {exc}; nothing was committed") from exc
        data = pa.Table.from_arrays(columns, schema=pa.schema(fields))

        def write(fs, folder: str, uri: str) -> None:
            fs.create_dir(folder, recursive=True)
            pq.write_table(data, f"{folder}/part-00000-{uuid.uuid4()}-c000.snappy.parquet",
                           filesystem=fs, compression="snappy")

        adds, written = self._staged(path, (), schema, write)
        return self._commit(path, dt.version(), adds, [], meta, txn, meta["finlake.operation"], [],
                            depends_on_read=False, rows=written)

    def _stage(self, path: str, df: DataFrame, partition_by: tuple[str, ...],
               schema: T.StructType) -> tuple[list[AddAction], int]:
        """Write ``df`` as Parquet into a private staging folder, then move each file into place."""
        writer = df.write.mode("error").option("compression", "snappy")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        return self._staged(path, partition_by, schema, lambda fs, folder, uri: writer.parquet(_spark_uri(uri)))

    def _staged(self, path: str, partition_by: tuple[str, ...], schema: T.StructType,
                write: Callable[[pafs.FileSystem, str, str], None]) -> tuple[list[AddAction], int]:
        """Run ``write(fs, folder, uri)`` into a private staging folder, then move each file into place.

        Nulls in a column the table declares NOT NULL are refused here, from the footer stats
        the writer already wrote (no extra pass over the data). If anything fails, no file of
        this write stays in the table directory.
        """
        staging = f"{path.rstrip('/')}/{STAGING}/{uuid.uuid4().hex}"
        fs, root = self._fs(path)
        _, stage_root = self._fs(staging)
        adds: list[AddAction] = []
        try:
            write(fs, stage_root, staging)
            infos = fs.get_file_info(pafs.FileSelector(stage_root, recursive=True))
            staged = []
            for info in infos:
                if info.type != pafs.FileType.File or not info.path.endswith(".parquet"):
                    continue
                metadata = pq.read_metadata(info.path, filesystem=fs)
                if metadata.num_rows:  # Spark writes an empty file for an empty input
                    rel = os.path.relpath(info.path, stage_root)
                    staged.append((info, rel, metadata, _partition_values(rel, partition_by)))
            _check_not_null(path, schema, partition_by, staged)
            for info, rel, metadata, values in staged:
                fs.create_dir(os.path.dirname(f"{root}/{rel}"), recursive=True)
                fs.move(info.path, f"{root}/{rel}")
                adds.append(AddAction(
                    path=rel,
                    size=info.size,
                    partition_values=values,
                    modification_time=int(time.time() * 1000),
                    data_change=True,
                    stats=json.dumps(file_stats(metadata)),
                ))
        except BaseException:
            self._discard(path, adds)
            raise
        finally:
            with contextlib.suppress(FileNotFoundError, OSError):
                fs.delete_dir(stage_root)
        return adds, sum(metadata.num_rows for _, _, metadata, _ in staged)

    def _commit(self, path, read_version, adds, removes, meta, txn, operation, new_columns, depends_on_read, rows):
        props = CommitProperties(
            custom_metadata=meta,
            app_transactions=[Transaction(txn.app_id, txn.version)] if txn else None,
        )
        with self._lock(path):
            dt = DeltaTable(path)
            if txn is not None:
                done = dt.transaction_version(txn.app_id)
                if done is not None and done >= txn.version:
                    self._discard(path, adds)
                    msg = f"{operation} skipped: transaction {txn.app_id}:{txn.version} is already committed to {path}"
                    log.info(msg)
                    return CommitResult(table=path, operation=operation, version=dt.version(), skipped=True, message=msg)
            fs, root = self._fs(path)
            gone = [a.path for a, info in zip(adds, fs.get_file_info([f"{root}/{a.path}" for a in adds]))
                    if info.type != pafs.FileType.File]
            if gone:  # a vacuum with a retention shorter than this write deleted its files
                self._discard(path, adds)
                raise ConflictError(
                    f"{operation} on {path}: {len(gone)} staged files (e.g. {gone[0]}) were deleted before the "
                    "commit, most likely by a vacuum with a short retention; nothing was committed. Rerun the write"
                )
            if depends_on_read and dt.version() != read_version:
                self._discard(path, adds)
                raise ConflictError(
                    f"{operation} on {path} read version {read_version} but version {dt.version()} was committed "
                    "meanwhile by another writer; nothing was committed. Rerun the job: it will read the new version"
                )
            if new_columns:
                dt.alter.add_columns(
                    [DeltaSchema.from_json(json.dumps(T.StructType([f]).jsonValue())).fields[0] for f in new_columns],
                    commit_properties=CommitProperties(custom_metadata={**meta, "finlake.operation": "ADD COLUMNS"}),
                )
                dt = DeltaTable(path)
            before = dt.version()
            try:
                dt.create_write_transaction(
                    list(removes) + list(adds),
                    mode="append",
                    schema=dt.schema(),
                    partition_by=dt.metadata().partition_columns or None,
                    commit_properties=props,
                )
            except BaseException:
                # Only files no version references may go: if the commit landed (a post-commit
                # step such as a checkpoint failed), the files are live.
                if DeltaTable(path).version() == before:
                    self._discard(path, adds)
                raise
            version = DeltaTable(path).version()
        log.info("%s committed %s at version %d (%d rows, +%d/-%d files)", path, operation, version, rows,
                 len(adds), len(removes))
        return CommitResult(table=path, operation=operation, version=version, rows_written=rows,
                            files_added=len(adds), files_removed=len(removes))

    def _discard(self, path: str, adds: list[AddAction]) -> None:
        fs, root = self._fs(path)
        for a in adds:
            with contextlib.suppress(FileNotFoundError, OSError):
                fs.delete_file(f"{root}/{a.path}")

    # --- maintenance -----------------------------------------------------------------
    def vacuum(self, path: str, retention_hours: float, dry_run: bool, meta: dict[str, str]) -> list[str]:
        """The files deleted (with ``dry_run``: that would be), relative to the table.

        delta-rs lists a tombstone's file again on every vacuum until a checkpoint drops the
        tombstone, though the file is gone, and writes two commits (VACUUM START, END) even with
        nothing to delete. So the candidates are listed first, only those still on disk count,
        and with none the table gets no commit (a weekly maintenance run leaves quiet tables alone).
        """
        options = dict(retention_hours=math.ceil(retention_hours), enforce_retention_duration=False, full=True)
        fs, root = self._fs(path)
        with self._lock(path):
            dt = self._table(path)
            candidates = dt.vacuum(dry_run=True, **options)
            on_disk = fs.get_file_info([f"{root}/{unquote(rel)}" for rel in candidates])
            removed = [rel for rel, info in zip(candidates, on_disk) if info.type != pafs.FileType.NotFound]
            if removed and not dry_run:
                dt.vacuum(dry_run=False, commit_properties=CommitProperties(custom_metadata=meta), **options)
            removed += self._vacuum_staging(path, retention_hours, dry_run)
        return removed

    def _vacuum_staging(self, path: str, retention_hours: float, dry_run: bool) -> list[str]:
        """Staging folders of writers that died before moving their files (hidden from delta-rs)."""
        fs, root = self._fs(path)
        staging = f"{root}/{STAGING}"
        if fs.get_file_info(staging).type != pafs.FileType.Directory:
            return []
        cutoff = datetime.now(timezone.utc) - timedelta(hours=retention_hours)
        out = []
        for info in fs.get_file_info(pafs.FileSelector(staging, recursive=False)):
            mtime = info.mtime.replace(tzinfo=timezone.utc) if info.mtime and info.mtime.tzinfo is None else info.mtime
            if mtime is None or mtime <= cutoff:
                out.append(info.path)
                if not dry_run:
                    fs.delete_dir(info.path)
        return out

    def compact(self, path: str, target_file_bytes: int, meta: dict[str, str]) -> CommitResult:
        with self._lock(path):
            dt = self._table(path)
            metrics = dt.optimize.compact(target_size=target_file_bytes,
                                          commit_properties=CommitProperties(custom_metadata=meta))
            version = DeltaTable(path).version()
        return CommitResult(table=path, operation="OPTIMIZE", version=version,
                            files_added=int(metrics.get("numFilesAdded", 0)),
                            files_removed=int(metrics.get("numFilesRemoved", 0)))

    # --- locking ---------------------------------------------------------------------
    def _ensure_dir(self, path: str) -> None:
        fs, p = self._fs(path)
        fs.create_dir(p, recursive=True)

    @contextlib.contextmanager
    def _lock(self, path: str) -> Iterator[None]:
        """Serialise commits to one table across processes (local filesystems only).

        A local filesystem gives delta-rs no atomic put-if-absent across processes, so two
        writers could both claim the next log version. Object stores need delta-rs's own
        locking provider (see README, 'Running on object storage').
        """
        if not _is_local(path):
            yield
            return
        Path(_local(path)).mkdir(parents=True, exist_ok=True)
        with open(os.path.join(_local(path), LOCK_FILE), "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


# --- helpers shared with tests and the native engine -------------------------------------
def to_delta_schema(schema: T.StructType) -> DeltaSchema:
    """Spark and Delta share one JSON schema format."""
    return DeltaSchema.from_json(json.dumps(schema.jsonValue()))


def from_delta_schema(schema: DeltaSchema) -> T.StructType:
    return T.StructType.fromJson(json.loads(schema.to_json()))


def _spark_uri(path: str) -> str:
    return f"file://{path}" if path.startswith("/") else path


def _normalise(uri: str) -> str:
    """One spelling per file: Spark says file:/x or file:///x, delta-rs says /x."""
    uri = unquote(uri)
    for prefix in ("file://", "file:"):
        if uri.startswith(prefix):
            uri = uri[len(prefix):]
            break
    while uri.startswith("//"):
        uri = uri[1:]
    return uri


def _partition_values(rel: str, partition_by: tuple[str, ...]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for part in rel.split("/")[:-1]:
        if "=" in part:
            key, raw = part.split("=", 1)
            value = unquote(raw)
            values[key] = None if value == "__HIVE_DEFAULT_PARTITION__" else value
    missing = [c for c in partition_by if c not in values]
    if missing:
        raise RuntimeError(f"file {rel} lacks partition directories for {missing}")
    return {c: values[c] for c in partition_by}


def _same_keys(left: DataFrame, right: DataFrame, keys: tuple[str, ...]):
    condition = left[f"`{keys[0]}`"].eqNullSafe(right[f"`{keys[0]}`"])
    for k in keys[1:]:
        condition = condition & left[f"`{k}`"].eqNullSafe(right[f"`{k}`"])
    return condition


def _check_not_null(path: str, schema: T.StructType, partition_by: tuple[str, ...], staged: list) -> None:
    """Refuse nulls in top-level NOT NULL columns, from footer null counts and partition values."""
    required = [f.name for f in schema.fields if not f.nullable]
    if not required:
        return
    nulls: dict[str, int] = {}
    for _, _, metadata, values in staged:
        for name in required:
            if name in partition_by:
                nulls[name] = nulls.get(name, 0) + (metadata.num_rows if values.get(name) is None else 0)
                continue
            for rg in range(metadata.num_row_groups):
                group = metadata.row_group(rg)
                for ci in range(group.num_columns):
                    column = group.column(ci)
                    if column.path_in_schema == name and column.statistics is not None:
                        nulls[name] = nulls.get(name, 0) + (column.statistics.null_count or 0)
    bad = {name: n for name, n in nulls.items() if n}
    if bad:
        listed = ", ".join(f"'{name}' ({n} null rows)" for name, n in bad.items())
        raise SchemaMismatchError(
            f"write to {path}: columns declared NOT NULL hold nulls: {listed}; nothing was committed. "
            "Fill or filter those rows before writing, or declare the column nullable"
        )


def _stat_value(value: Any, is_max: bool) -> Any:
    """A Parquet statistic as Delta stats JSON, or None where it cannot be exact."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        # Delta stats keep milliseconds: round a max up so it stays an upper bound.
        millis = value.replace(microsecond=value.microsecond // 1000 * 1000)
        if is_max and millis < value:
            millis += timedelta(milliseconds=1)
        return millis.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else None
    if isinstance(value, str):
        if len(value) <= STRING_STATS_PREFIX:
            return value
        return None if is_max else value[:STRING_STATS_PREFIX]
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, (int, float)):
        return value
    return None


def file_stats(metadata: pq.FileMetaData) -> dict[str, Any]:
    """Delta file statistics from a Parquet footer (leaf columns; lists and maps skipped)."""
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, Any] = {}
    leaves: dict[str, list] = {}
    for rg in range(metadata.num_row_groups):
        group = metadata.row_group(rg)
        for ci in range(group.num_columns):
            col = group.column(ci)
            path = col.path_in_schema
            if ".list." in path or ".key_value." in path or path.endswith((".list", ".key_value")):
                continue
            leaves.setdefault(path, []).append(col.statistics)
    for path, stats_list in leaves.items():
        parts = path.split(".")
        null_total = 0
        lo = hi = None
        exact = True
        for s in stats_list:
            if s is None:
                exact = False
                continue
            null_total += s.null_count or 0
            if s.has_min_max:
                lo = s.min if lo is None else min(lo, s.min)
                hi = s.max if hi is None else max(hi, s.max)
        if not exact:
            continue
        _put(nulls, parts, null_total)
        if lo is not None:
            lo_v, hi_v = _stat_value(lo, False), _stat_value(hi, True)
            if lo_v is not None:
                _put(mins, parts, lo_v)
            if hi_v is not None:
                _put(maxs, parts, hi_v)
    return {"numRecords": metadata.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}


def _put(tree: dict, parts: list[str], value: Any) -> None:
    for p in parts[:-1]:
        tree = tree.setdefault(p, {})
    tree[parts[-1]] = value
