"""The Spark session factory: the only place in finlake that builds a SparkSession.

Locally it runs ``local[*]`` bound to 127.0.0.1; under ``spark-submit`` it keeps the master the
cluster chose. It always sets the conf the lake relies on: UTC session time, TIMESTAMP_MICROS
Parquet output (the Delta bridge cannot commit INT96), no ``_SUCCESS`` marker files, and a raw
local filesystem so no ``.crc`` side files land in table folders.
"""

from __future__ import annotations

import logging
import os
import sys

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from finlake.settings import Settings

log = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def _base_conf(settings: Settings) -> dict[str, str]:
    cores = os.cpu_count() or 2
    return {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
        "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
        # Small clusters and laptops drown in 200 tiny shuffle partitions; AQE coalesces further.
        "spark.sql.shuffle.partitions": str(max(4, cores * 4)),
        "spark.sql.adaptive.enabled": "true",
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
        "spark.hadoop.parquet.summary.metadata.level": "NONE",
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
        # finlake reads explicit file lists (a Delta version's files, a batch's verified files).
        # Above this many paths Spark checks them in a Spark job of its own, which cost 1 to 2 s
        # per read of a year of daily files at any scale (0.1 to 0.3 s checked in the driver). On
        # object storage, where each check is a remote call, a lower value in spark_conf moves
        # the checks of big reads onto the executors (tests/test_spark.py).
        "spark.sql.sources.parallelPartitionDiscovery.threshold": "1024",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.ansi.enabled": "false",
    }


def _local_conf() -> dict[str, str]:
    return {
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.driver.memory": "4g",
    }


def get_spark(settings: Settings, app_name: str = "finlake") -> SparkSession:
    """Return the process's SparkSession, building it on first use.

    Under ``spark-submit`` the master and resources come from the submit line; otherwise
    ``settings.spark_master`` (default ``local[*]``). ``settings.spark_conf`` passes through
    last, so a deployment can override anything here.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active

    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        # Launched by spark-submit: its JVM already holds the submitted settings as system
        # properties, but SparkConf only sees them once the gateway is connected.
        SparkContext._ensure_initialized()
    submitted = SparkConf()  # spark-submit passes its settings as JVM system properties
    builder = SparkSession.builder.appName(app_name)
    conf = _base_conf(settings)
    if submitted.contains("spark.master") and settings.spark_master is None:
        log.info("using the master chosen by spark-submit: %s", submitted.get("spark.master"))
    else:
        master = settings.spark_master or "local[*]"
        builder = builder.master(master)
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            # Python workers run on this machine: use this interpreter (it has finlake), not the
            # first 'python3' on PATH. PySpark reads only the variable, not spark.pyspark.python.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            conf.update(_local_conf())
    if settings.lake_engine == "native":
        conf.setdefault("spark.sql.extensions", DELTA_EXTENSION)
        conf.setdefault("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
    conf.update(settings.spark_conf)
    for key, value in conf.items():
        if key == "spark.driver.memory" and submitted.contains(key):
            continue
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
