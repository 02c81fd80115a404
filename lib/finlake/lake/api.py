"""The lake API: read and write Delta tables by catalog name, over either engine.

``Lake`` validates (catalog, schema enforcement, idempotency keys) and records who wrote what
(job and run id in every commit); an engine does the storage work:

- ``NativeEngine``: delta-spark, when its JVM classes are on the classpath (clusters).
- ``BridgeEngine``: Spark writes Parquet data files, delta-rs commits them (offline default).

Both produce standard Delta tables that any Delta reader opens.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Iterator, Protocol

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from finlake.catalog import Catalog, TableSpec, default_catalog
from finlake.errors import ConflictError, SchemaMismatchError, SettingsError
from finlake.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteTxn:
    """An idempotency key: a write carrying (app_id, version) lands at most once per table.

    Use a stable app_id per logical writer (``ingest:transactions``) and a version that grows
    with the input (a batch sequence number, an as_of date as yyyymmdd).
    """

    app_id: str
    version: int


@dataclass(frozen=True)
class CommitResult:
    table: str
    operation: str
    version: int | None
    skipped: bool = False
    message: str = ""
    rows_written: int = 0
    files_added: int = 0
    files_removed: int = 0


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    timestamp: datetime | None
    operation: str
    job: str | None
    run_id: str | None
    txn: str | None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TableInfo:
    name: str
    layer: str
    exists: bool
    version: int | None = None
    rows: int | None = None
    files: int | None = None
    bytes: int | None = None
    last_write: datetime | None = None
    path: str = ""


@dataclass(frozen=True)
class WriteContext:
    """Who is writing: recorded in every commit so history answers 'which run made this'."""

    job: str = "interactive"
    run_id: str | None = None

    def metadata(self, operation: str, txn: WriteTxn | None) -> dict[str, str]:
        meta = {"finlake.operation": operation, "finlake.job": self.job}
        if self.run_id:
            meta["finlake.run_id"] = self.run_id
        if txn:
            meta["finlake.txn"] = f"{txn.app_id}:{txn.version}"
        return meta


class Engine(Protocol):
    """What an engine does. Paths are storage locations; ``Lake`` deals in names."""

    name: str

    def exists(self, path: str) -> bool: ...
    def create(self, path: str, spec: TableSpec, meta: dict[str, str]) -> int: ...
    def schema(self, path: str) -> T.StructType: ...
    def read(self, path: str, version: int | None, timestamp: datetime | None) -> DataFrame: ...
    def version(self, path: str) -> int: ...
    def txn_version(self, path: str, app_id: str) -> int | None: ...
    def write(self, path: str, df: DataFrame, mode: str, partition_by: tuple[str, ...], meta: dict[str, str],
              txn: WriteTxn | None, predicate: str | None, new_columns: list[T.StructField]) -> CommitResult: ...
    def append_rows(self, path: str, rows: list[dict[str, Any]], meta: dict[str, str],
                    txn: WriteTxn | None) -> CommitResult: ...
    def merge(self, path: str, df: DataFrame, keys: tuple[str, ...], partition_by: tuple[str, ...],
              update: bool, delete_when: str | None, meta: dict[str, str], txn: WriteTxn | None) -> CommitResult: ...
    def delete(self, path: str, predicate: str, partition_by: tuple[str, ...], meta: dict[str, str],
               txn: WriteTxn | None) -> CommitResult: ...
    def history(self, path: str, limit: int | None) -> list[HistoryEntry]: ...
    def vacuum(self, path: str, retention_hours: float, dry_run: bool, meta: dict[str, str]) -> list[str]: ...
    def compact(self, path: str, target_file_bytes: int, meta: dict[str, str]) -> CommitResult: ...
    def properties(self, path: str) -> dict[str, str]: ...
    def set_properties(self, path: str, props: dict[str, str], meta: dict[str, str]) -> int: ...
    def info(self, path: str) -> dict[str, Any]: ...


def choose_engine(spark: SparkSession, settings: Settings) -> Engine:
    """``native`` when delta-spark's classes load, else ``bridge``; says which and why."""
    from finlake.lake.bridge import BridgeEngine
    from finlake.lake.native import NativeEngine, native_available

    wanted = settings.lake_engine
    if wanted == "bridge":
        log.info("lake engine: bridge (set by %s)", settings.sources.get("lake_engine", "settings"))
        return BridgeEngine(spark)
    available, reason = native_available(spark)
    if wanted == "native":
        if not available:
            raise SettingsError(
                f"lake_engine is 'native' but delta-spark is not usable: {reason}. Submit with "
                "--packages io.delta:delta-spark_2.13:4.4.1 and the two Delta SQL settings "
                "(see README), or set FINLAKE_LAKE_ENGINE=bridge"
            )
        log.info("lake engine: native (set by %s)", settings.sources.get("lake_engine", "settings"))
        return NativeEngine(spark)
    if available:
        log.info("lake engine: native (auto: delta-spark classes and Delta SQL extension are loaded)")
        return NativeEngine(spark)
    log.info("lake engine: bridge (auto: %s)", reason)
    return BridgeEngine(spark)


class Lake:
    """Delta tables by catalog name. One per job; cheap to create."""

    def __init__(
        self,
        spark: SparkSession,
        settings: Settings,
        catalog: Catalog | None = None,
        engine: Engine | None = None,
        context: WriteContext | None = None,
    ):
        self.spark = spark
        self.settings = settings
        self.catalog = catalog or default_catalog()
        self.engine = engine or choose_engine(spark, settings)
        self.context = context or WriteContext()

    def for_job(self, job: str, run_id: str | None = None) -> "Lake":
        """The same lake, writing commits attributed to ``job`` and ``run_id``."""
        return Lake(self.spark, self.settings, self.catalog, self.engine, WriteContext(job, run_id))

    # --- names and metadata ----------------------------------------------------------
    def spec(self, name: str) -> TableSpec:
        return self.catalog.get(name)

    def path(self, name: str) -> str:
        spec = self.spec(name)
        return self.settings.table_path(spec.layer, spec.table)

    def exists(self, name: str) -> bool:
        return self.engine.exists(self.path(name))

    def create(self, name: str) -> int:
        """Create the table from its declaration if it does not exist; return its version."""
        spec, path = self.spec(name), self.path(name)
        if self.engine.exists(path):
            return self.engine.version(path)
        return self.engine.create(path, spec, self.context.metadata("CREATE TABLE", None))

    def version(self, name: str) -> int:
        return self.engine.version(self._existing(name))

    def schema(self, name: str) -> T.StructType:
        return self.engine.schema(self._existing(name))

    def txn_version(self, name: str, app_id: str) -> int | None:
        """The last version of ``app_id`` this table recorded, or None."""
        path = self.path(name)
        return self.engine.txn_version(path, app_id) if self.engine.exists(path) else None

    def has_committed(self, name: str, txn: WriteTxn) -> bool:
        """Whether the table already recorded ``txn``: a write carrying it would be skipped."""
        done = self.txn_version(name, txn.app_id)
        return done is not None and done >= txn.version

    def info(self, name: str) -> TableInfo:
        spec, path = self.spec(name), self.path(name)
        if not self.engine.exists(path):
            return TableInfo(name=name, layer=spec.layer, exists=False, path=path)
        return TableInfo(name=name, layer=spec.layer, exists=True, path=path, **self.engine.info(path))

    def history(self, name: str, limit: int | None = None) -> list[HistoryEntry]:
        return self.engine.history(self._existing(name), limit)

    def properties(self, name: str) -> dict[str, str]:
        return self.engine.properties(self._existing(name))

    def set_properties(self, name: str, props: dict[str, str]) -> int:
        return self.engine.set_properties(self._existing(name), props, self.context.metadata("SET TBLPROPERTIES", None))

    # --- reads -----------------------------------------------------------------------
    def read(self, name: str, version: int | None = None, timestamp: datetime | None = None) -> DataFrame:
        """The table at its latest version, or as of ``version`` / ``timestamp``."""
        if version is not None and timestamp is not None:
            raise ValueError("read takes a version or a timestamp, not both")
        return self.engine.read(self._existing(name), version, timestamp)

    def file_ranges(self, name: str, columns: tuple[str, ...], version: int | None = None) -> list[dict[str, tuple]]:
        """Per live data file: ``{column: (min, max, null_count)}`` from the Delta log, no data read.

        A partition column gives its directory value; other columns the file statistics both
        engines write. An entry is ``(None, None, None)`` where the log has no exact figure (no
        statistics, a string longer than the stats prefix, and every file of a table with
        deletion vectors, whose statistics still count deleted rows): callers then read the
        data instead.
        """
        import pyarrow as pa
        from deltalake import DeltaTable

        path = self._existing(name)
        table = DeltaTable(path, version=version)
        adds = pa.table(table.get_add_actions(flatten=True)).to_pydict()
        if "deletionVectors" in (table.protocol().reader_features or []):
            return [{col: (None, None, None) for col in columns} for _ in adds.get("path", [])]
        files = len(adds.get("path", []))
        out: list[dict[str, tuple]] = [{} for _ in range(files)]
        for col in columns:
            if f"partition.{col}" in adds:
                values = adds[f"partition.{col}"]
                rows = adds.get("num_records") or [None] * files
                for entry, v, n in zip(out, values, rows):
                    entry[col] = (v, v, (n if v is None else 0))
                continue
            lows = adds.get(f"min.{col}") or [None] * files
            highs = adds.get(f"max.{col}") or [None] * files
            nulls = adds.get(f"null_count.{col}") or [None] * files
            for entry, lo, hi, n in zip(out, lows, highs, nulls):
                entry[col] = (lo, hi, n) if lo is not None and hi is not None and n is not None else (None, None, None)
        return out

    # --- writes ----------------------------------------------------------------------
    def append(self, name: str, df: DataFrame, txn: WriteTxn | None = None, merge_schema: bool = False) -> CommitResult:
        return self._write(name, df, "append", txn, merge_schema)

    def append_rows(self, name: str, rows: list[dict[str, Any]], txn: WriteTxn | None = None) -> CommitResult:
        """Append a few rows built in the driver (check results, ledgers, accounting), one dict per row.

        The same commit as ``append`` of a DataFrame of those rows, without the Spark job that
        writing it would take (about 0.2 s each, dozens of times a run on the bridge engine).
        A key the table lacks is an error; a column a row leaves out is null. Give timestamps with
        a time zone: the bridge reads a naive one as UTC, Spark as the session's local time.
        """
        spec, path = self.spec(name), self.path(name)
        if spec.partition_by:
            raise ValueError(f"append_rows into '{name}': the table is partitioned by {list(spec.partition_by)}; "
                             "append a DataFrame instead")
        if not self.engine.exists(path):
            self.engine.create(path, spec, self.context.metadata("CREATE TABLE", None))
        if self._already_done(name, txn):
            return self._skip(name, "APPEND", path, txn)
        columns = set(self.engine.schema(path).fieldNames())
        extra = sorted({k for r in rows for k in r} - columns)
        if extra:
            raise SchemaMismatchError(f"write to '{name}' does not match its schema: columns not in the table {extra}")
        with _naming(name):
            result = self.engine.append_rows(path, rows, self.context.metadata("APPEND", txn), txn)
        return replace(result, table=name)

    def overwrite(self, name: str, df: DataFrame, txn: WriteTxn | None = None, merge_schema: bool = False) -> CommitResult:
        return self._write(name, df, "overwrite", txn, merge_schema)

    def replace_where(self, name: str, df: DataFrame, predicate: str, txn: WriteTxn | None = None) -> CommitResult:
        """Atomically replace the rows matching ``predicate`` (SQL) with ``df``.

        Every row of ``df`` must match the predicate, as in Delta's ``replaceWhere``.
        """
        return self._write(name, df, "replace_where", txn, False, predicate)

    def merge(
        self,
        name: str,
        df: DataFrame,
        keys: tuple[str, ...] | list[str] | None = None,
        update: bool = True,
        delete_when: str | None = None,
        txn: WriteTxn | None = None,
    ) -> CommitResult:
        """Upsert ``df`` by ``keys`` (default: the table's primary key).

        Matched rows are replaced by the source row (``update=True``) or left alone; matched rows
        where the SQL ``delete_when`` holds on the source row are deleted; unmatched source rows
        are inserted (unless ``delete_when`` holds). Source columns the table lacks may be used
        in ``delete_when`` and are dropped before writing. Duplicate source keys are an error.
        """
        spec, path = self.spec(name), self._existing(name)
        keys = tuple(keys or spec.primary_key)
        if not keys:
            raise ValueError(f"merge into '{name}' needs keys: pass keys= or declare primary_key in {spec.source_file}")
        target = self.engine.schema(path)
        extra = [c for c in df.columns if c not in target.fieldNames()]
        if extra and not delete_when:
            raise SchemaMismatchError(f"merge into '{name}': source has columns the table lacks: {extra}")
        # Extra source columns (allowed only to drive delete_when) ride along after the table's.
        aligned = conform(df, target, name, merge_schema=bool(extra))[0]
        if self._already_done(name, txn):
            return self._skip(name, "MERGE", path, txn)
        with _naming(name):
            result = self.engine.merge(path, aligned, keys, spec.partition_by, update, delete_when,
                                       self.context.metadata("MERGE", txn), txn)
        return replace(result, table=name)

    def delete(self, name: str, predicate: str, txn: WriteTxn | None = None) -> CommitResult:
        spec, path = self.spec(name), self._existing(name)
        if self._already_done(name, txn):
            return self._skip(name, "DELETE", path, txn)
        with _naming(name):
            result = self.engine.delete(path, predicate, spec.partition_by, self.context.metadata("DELETE", txn), txn)
        return replace(result, table=name)

    # --- maintenance -----------------------------------------------------------------
    def vacuum(self, name: str, retention_hours: float = 168, dry_run: bool = False) -> list[str]:
        """Delete files no version within ``retention_hours`` needs, and uncommitted orphans; the
        files deleted (``dry_run``: that would be). With nothing to delete the table gets no commit."""
        return self.engine.vacuum(self._existing(name), retention_hours, dry_run, self.context.metadata("VACUUM", None))

    def compact(self, name: str, target_file_bytes: int = 128 * 1024 * 1024) -> CommitResult:
        """Rewrite small files into larger ones; the data does not change."""
        result = self.engine.compact(self._existing(name), target_file_bytes, self.context.metadata("OPTIMIZE", None))
        return replace(result, table=name)

    # --- internals -------------------------------------------------------------------
    def _existing(self, name: str) -> str:
        from finlake.errors import TableNotFoundError

        path = self.path(name)
        if not self.engine.exists(path):
            raise TableNotFoundError(
                f"table '{name}' has no Delta table at {path}; create it (lake.create('{name}')) or run the "
                f"job that writes it first ('finlake run')"
            )
        return path

    def _already_done(self, name: str, txn: WriteTxn | None) -> bool:
        return txn is not None and self.has_committed(name, txn)

    def _skip(self, name: str, operation: str, path: str, txn: WriteTxn) -> CommitResult:
        msg = f"{name}: {operation} skipped, transaction {txn.app_id}:{txn.version} is already committed"
        log.info(msg)
        return CommitResult(table=name, operation=operation, version=self.engine.version(path), skipped=True, message=msg)

    def _write(self, name, df, mode, txn, merge_schema, predicate=None) -> CommitResult:
        spec = self.spec(name)
        path = self.path(name)
        if not self.engine.exists(path):
            self.engine.create(path, spec, self.context.metadata("CREATE TABLE", None))
        operation = {"append": "APPEND", "overwrite": "OVERWRITE", "replace_where": "REPLACE WHERE"}[mode]
        if self._already_done(name, txn):
            return self._skip(name, operation, path, txn)
        aligned, new_columns = conform(df, self.engine.schema(path), name, merge_schema)
        meta = self.context.metadata(operation, txn)
        if predicate:
            meta["finlake.predicate"] = predicate
        with _naming(name):
            result = self.engine.write(path, aligned, mode, spec.partition_by, meta, txn, predicate, new_columns)
        return replace(result, table=name)


@contextlib.contextmanager
def _naming(name: str) -> Iterator[None]:
    """Engines speak in paths; put the table's name in front of their refusals."""
    try:
        yield
    except (SchemaMismatchError, ConflictError) as exc:
        if f"'{name}'" in str(exc):
            raise
        raise type(exc)(f"table '{name}': {exc}") from exc


_WIDENING = {
    (T.ByteType, T.ShortType), (T.ByteType, T.IntegerType), (T.ByteType, T.LongType),
    (T.ShortType, T.IntegerType), (T.ShortType, T.LongType), (T.IntegerType, T.LongType),
    (T.FloatType, T.DoubleType), (T.IntegerType, T.DoubleType), (T.LongType, T.DoubleType),
}


def _compatible(source: T.DataType, target: T.DataType) -> bool:
    if source == target or isinstance(source, T.NullType):
        return True
    if (type(source), type(target)) in _WIDENING:
        return True
    if isinstance(source, T.DecimalType) and isinstance(target, T.DecimalType):
        return source.scale == target.scale and source.precision <= target.precision
    if isinstance(source, T.StructType) and isinstance(target, T.StructType):
        s, t = {f.name: f.dataType for f in source.fields}, {f.name: f.dataType for f in target.fields}
        return set(s) == set(t) and all(_compatible(s[k], t[k]) for k in s)
    if isinstance(source, T.ArrayType) and isinstance(target, T.ArrayType):
        return _compatible(source.elementType, target.elementType)
    if isinstance(source, T.MapType) and isinstance(target, T.MapType):
        return _compatible(source.keyType, target.keyType) and _compatible(source.valueType, target.valueType)
    return False


def conform(
    df: DataFrame, target: T.StructType, name: str, merge_schema: bool
) -> tuple[DataFrame, list[T.StructField]]:
    """Check ``df`` against the table schema and return it in table column order.

    Lossless widenings (int to bigint, float to double, a decimal with more precision) and
    all-null columns are cast; anything else is a SchemaMismatchError listing every differing
    column. Columns the table lacks are added (nullable) only when ``merge_schema`` is true.
    """
    source = {f.name: f for f in df.schema.fields}
    wanted = {f.name: f for f in target.fields}
    problems = []
    missing = [c for c in wanted if c not in source]
    if missing:
        problems.append(f"missing columns {missing}")
    extra = [c for c in source if c not in wanted]
    if extra and not merge_schema:
        problems.append(f"columns not in the table {extra} (pass merge_schema=True to add them as nullable columns)")
    for col, f in wanted.items():
        if col in source and not _compatible(source[col].dataType, f.dataType):
            problems.append(f"column '{col}' is {source[col].dataType.simpleString()}, table has {f.dataType.simpleString()}")
    if problems:
        raise SchemaMismatchError(f"write to '{name}' does not match its schema: " + "; ".join(problems))
    new_columns = [T.StructField(c, source[c].dataType, True) for c in extra]
    cols = [df[c] if source[c].dataType == wanted[c].dataType else df[c].cast(wanted[c].dataType).alias(c)
            for c in wanted]
    cols += [df[c] for c in extra]
    return df.select(*cols), new_columns
