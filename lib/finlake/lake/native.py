"""The native engine: delta-spark, for clusters where the Delta jars are on the classpath.

Submit with ``--packages io.delta:delta-spark_2.13:4.4.1`` and
``spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension``,
``spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog``.
Idempotency uses Delta's own ``txnAppId``/``txnVersion``; commit metadata goes into
``userMetadata`` as JSON, which :meth:`history` unpacks so both engines report the same fields.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from finlake.catalog import TableSpec
from finlake.errors import ConflictError, NotADeltaTableError, SchemaMismatchError
from finlake.lake.api import CommitResult, HistoryEntry, WriteTxn

log = logging.getLogger(__name__)


def native_available(spark: SparkSession) -> tuple[bool, str]:
    """Whether delta-spark's JVM classes and SQL extension are usable in this session."""
    try:
        spark._jvm.java.lang.Class.forName("io.delta.tables.DeltaTable")  # noqa: SLF001
    except Exception:
        return False, "delta-spark JVM classes are not on the classpath (io.delta.tables.DeltaTable)"
    extensions = spark.conf.get("spark.sql.extensions", "") or ""
    if "DeltaSparkSessionExtension" not in extensions:
        return False, "delta-spark is on the classpath but spark.sql.extensions lacks DeltaSparkSessionExtension"
    return True, "delta-spark loaded"


def _conflict(exc: Exception) -> bool:
    return type(exc).__name__.startswith("Concurrent") or "Concurrent" in str(exc)[:200]


def _not_null(exc: Exception) -> bool:
    return "DELTA_NOT_NULL_CONSTRAINT_VIOLATED" in str(exc) or "NOT NULL constraint violated" in str(exc)


class NativeEngine:
    name = "native"

    def __init__(self, spark: SparkSession):
        from delta.tables import DeltaTable  # imported here: only usable with the jars present

        self.spark = spark
        self._DeltaTable = DeltaTable

    def exists(self, path: str) -> bool:
        if self._DeltaTable.isDeltaTable(self.spark, path):
            return True
        jpath = self.spark._jvm.org.apache.hadoop.fs.Path(path)  # noqa: SLF001
        fs = jpath.getFileSystem(self.spark._jsc.hadoopConfiguration())  # noqa: SLF001
        if fs.exists(jpath) and any(not s.getPath().getName().startswith(("_", ".")) for s in fs.listStatus(jpath)):
            raise NotADeltaTableError(f"{path} holds files but no Delta log (_delta_log); it is not a Delta table")
        return False

    def _table(self, path: str):
        return self._DeltaTable.forPath(self.spark, path)

    def create(self, path: str, spec: TableSpec, meta: dict[str, str]) -> int:
        builder = self._DeltaTable.createIfNotExists(self.spark).location(path).addColumns(spec.schema)
        if spec.partition_by:
            builder = builder.partitionedBy(*spec.partition_by)
        for key, value in spec.properties.items():
            builder = builder.property(key, value)
        if spec.description:
            builder = builder.comment(spec.description)
        self._sql_txn(meta, None)
        try:
            builder.execute()
        finally:
            self._clear_sql_txn()
        return self.version(path)

    def schema(self, path: str) -> T.StructType:
        return self._table(path).toDF().schema

    def version(self, path: str) -> int:
        return int(self._table(path).history(1).select("version").first()[0])

    def txn_version(self, path: str, app_id: str) -> int | None:
        # Delta keeps SetTransaction actions in the snapshot; the public API does not expose them,
        # so read the latest txn for app_id from the log files.
        log_df = self.spark.read.json(f"{path.rstrip('/')}/_delta_log/*.json")
        if "txn" not in log_df.columns:
            return None
        row = log_df.where(F.col("txn.appId") == app_id).agg(F.max("txn.version")).first()
        return int(row[0]) if row and row[0] is not None else None

    def _with_txn(self, meta: dict[str, str], txn: WriteTxn | None) -> dict[str, str]:
        opts = {"userMetadata": json.dumps(meta)}
        if txn:
            opts.update({"txnAppId": txn.app_id, "txnVersion": str(txn.version)})
        return opts

    def _sql_txn(self, meta: dict[str, str], txn: WriteTxn | None):
        conf = self.spark.conf
        conf.set("spark.databricks.delta.commitInfo.userMetadata", json.dumps(meta))
        if txn:
            conf.set("spark.databricks.delta.write.txnAppId", txn.app_id)
            conf.set("spark.databricks.delta.write.txnVersion", str(txn.version))

    def _clear_sql_txn(self):
        for key in ("spark.databricks.delta.commitInfo.userMetadata", "spark.databricks.delta.write.txnAppId",
                    "spark.databricks.delta.write.txnVersion"):
            self.spark.conf.unset(key)

    def write(self, path, df, mode, partition_by, meta, txn, predicate, new_columns) -> CommitResult:
        writer = df.write.format("delta").options(**self._with_txn(meta, txn))
        if new_columns:
            writer = writer.option("mergeSchema", "true")
        if mode == "replace_where":
            writer = writer.mode("overwrite").option("replaceWhere", predicate)
        else:
            writer = writer.mode(mode)
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        try:
            writer.save(path)
        except Exception as exc:
            if _conflict(exc):
                raise ConflictError(f"{meta['finlake.operation']} on {path} conflicted with another writer: {exc}") from exc
            if "does not conform" in str(exc) or "DELTA_REPLACE_WHERE_MISMATCH" in str(exc):
                raise SchemaMismatchError(
                    f"replace_where on {path}: some rows to write do not match the predicate '{predicate}': {exc}"
                ) from exc
            if _not_null(exc):
                raise SchemaMismatchError(f"write to {path}: a column declared NOT NULL would hold nulls: {exc}") from exc
            raise
        return self._result(path, meta["finlake.operation"])

    def append_rows(self, path, rows, meta, txn) -> CommitResult:
        schema = self.schema(path)
        df = self.spark.createDataFrame([tuple(r.get(c) for c in schema.fieldNames()) for r in rows], schema)
        return self.write(path, df, "append", (), meta, txn, None, [])

    def merge(self, path, df, keys, partition_by, update, delete_when, meta, txn) -> CommitResult:
        dup = df.groupBy(*keys).count().filter("count > 1").limit(1).collect()
        if dup:
            raise ValueError(f"merge into {path}: the source has more than one row for key {dup[0].asDict()}")
        target_cols = self.schema(path).fieldNames()
        cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        # delete_when is evaluated on the source row alone (as in the bridge), before the join,
        # so a column name in it cannot be ambiguous between target and source.
        flagged = df.withColumn("_finlake_delete", F.coalesce(F.expr(delete_when), F.lit(False)) if delete_when
                                else F.lit(False))
        builder = self._table(path).alias("t").merge(flagged.alias("s"), cond)
        values = {f"`{c}`": f"s.`{c}`" for c in target_cols}
        if delete_when:
            builder = builder.whenMatchedDelete(condition="s._finlake_delete")
        if update:
            builder = builder.whenMatchedUpdate(set=values)
        builder = builder.whenNotMatchedInsert(condition="NOT s._finlake_delete", values=values)
        self._sql_txn(meta, txn)
        try:
            builder.execute()
        except Exception as exc:
            if _conflict(exc):
                raise ConflictError(f"MERGE on {path} conflicted with another writer: {exc}") from exc
            if _not_null(exc):
                raise SchemaMismatchError(f"MERGE into {path}: a column declared NOT NULL would hold nulls: {exc}") from exc
            raise
        finally:
            self._clear_sql_txn()
        return self._result(path, "MERGE")

    def delete(self, path, predicate, partition_by, meta, txn) -> CommitResult:
        self._sql_txn(meta, txn)
        try:
            self._table(path).delete(predicate)
        except Exception as exc:
            if _conflict(exc):
                raise ConflictError(f"DELETE on {path} conflicted with another writer: {exc}") from exc
            raise
        finally:
            self._clear_sql_txn()
        return self._result(path, "DELETE")

    def _result(self, path: str, operation: str) -> CommitResult:
        last = self._table(path).history(1).first()
        metrics = last["operationMetrics"] or {}
        return CommitResult(
            table=path, operation=operation, version=int(last["version"]),
            rows_written=int(metrics.get("numOutputRows", 0) or 0),
            files_added=int(metrics.get("numFiles", metrics.get("numAddedFiles", 0)) or 0),
            files_removed=int(metrics.get("numRemovedFiles", 0) or 0),
        )

    def read(self, path: str, version: int | None, timestamp: datetime | None) -> DataFrame:
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        if timestamp is not None:
            if timestamp.tzinfo is None:  # a naive time means UTC, as in the bridge
                timestamp = timestamp.replace(tzinfo=timezone.utc)
            reader = reader.option("timestampAsOf", timestamp.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"))
        try:
            return reader.load(path)
        except Exception as exc:
            if version is not None:
                raise ValueError(f"{path} has no version {version}: {exc}") from exc
            if timestamp is not None:
                raise ValueError(f"{path} has no version at or before {timestamp.isoformat()}: {exc}") from exc
            raise

    def history(self, path: str, limit: int | None) -> list[HistoryEntry]:
        rows = self._table(path).history(limit).collect() if limit else self._table(path).history().collect()
        out = []
        for r in rows:
            meta: dict[str, Any] = {}
            if r["userMetadata"]:
                try:
                    meta = json.loads(r["userMetadata"])
                except json.JSONDecodeError:
                    meta = {}
            out.append(HistoryEntry(
                version=int(r["version"]),
                timestamp=r["timestamp"].replace(tzinfo=timezone.utc) if r["timestamp"] else None,
                operation=meta.get("finlake.operation") or r["operation"],
                job=meta.get("finlake.job"), run_id=meta.get("finlake.run_id"), txn=meta.get("finlake.txn"),
                metrics=dict(r["operationMetrics"] or {}),
            ))
        return out

    def vacuum(self, path: str, retention_hours: float, dry_run: bool, meta: dict[str, str]) -> list[str]:
        self.spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
        files = [r[0] for r in self.spark.sql(f"VACUUM delta.`{path}` RETAIN {retention_hours} HOURS DRY RUN").collect()]
        if files and not dry_run:  # as the bridge: nothing to delete, no VACUUM commits
            self._sql_txn(meta, None)
            try:
                self.spark.sql(f"VACUUM delta.`{path}` RETAIN {retention_hours} HOURS").collect()
            finally:
                self._clear_sql_txn()
        return files

    def compact(self, path: str, target_file_bytes: int, meta: dict[str, str]) -> CommitResult:
        self.spark.conf.set("spark.databricks.delta.optimize.maxFileSize", str(target_file_bytes))
        self._sql_txn(meta, None)
        try:
            self._table(path).optimize().executeCompaction()
        finally:
            self._clear_sql_txn()
        return self._result(path, "OPTIMIZE")

    def properties(self, path: str) -> dict[str, str]:
        detail = self._table(path).detail().first()
        return dict(detail["properties"] or {})

    def set_properties(self, path: str, props: dict[str, str], meta: dict[str, str]) -> int:
        assignments = ", ".join(f"'{k}' = '{v}'" for k, v in props.items())
        self._sql_txn(meta, None)
        try:
            self.spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({assignments})")
        finally:
            self._clear_sql_txn()
        return self.version(path)

    def info(self, path: str) -> dict[str, Any]:
        detail = self._table(path).detail().first()
        rows = self._table(path).toDF().count()
        last = detail["lastModified"]
        return {
            "version": self.version(path), "rows": rows, "files": int(detail["numFiles"]),
            "bytes": int(detail["sizeInBytes"]),
            "last_write": last.replace(tzinfo=timezone.utc) if last else None,
        }
