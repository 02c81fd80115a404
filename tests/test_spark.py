"""The Spark session finlake builds (finlake.spark.get_spark), checked by what it does."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq


def test_a_read_of_an_explicit_list_of_files_starts_no_spark_job(spark, tmp_path):
    """finlake reads explicit file lists (a Delta version's files, a batch's verified files).

    Spark checks more than ``parallelPartitionDiscovery.threshold`` paths in a job of its own
    (1 to 2 s a read of a year of daily files); the session checks up to 1,024 in the driver.
    """
    paths = []
    for i in range(40):  # more than Spark's default threshold of 32
        path = tmp_path / f"part-{i:02d}.parquet"
        pq.write_table(pa.table({"id": [i]}), path)  # written by pyarrow, not Spark
        paths.append(str(path))
    sc = spark.sparkContext
    sc.setJobGroup("read-40-files", "a read of 40 explicit files")
    try:
        df = spark.read.schema("id long").parquet(*paths)  # an explicit schema, as the Delta bridge reads
        assert sc.statusTracker().getJobIdsForGroup("read-40-files") == []
        assert sorted(r.id for r in df.collect()) == list(range(40))
    finally:
        for key in ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel"):
            sc.setLocalProperty(key, None)
