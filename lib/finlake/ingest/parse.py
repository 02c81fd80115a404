"""Landing lines -> raw rows, with built-in column functions only (no Python UDFs).

All new files of a source are read in **one** Spark read: ``spark.read.text`` for UTF-8 (it
keeps each line's bytes as delivered, so invalid UTF-8 can be detected and kept), the CSV reader
with ``encoding`` for GB18030 (Spark's ``decode`` does not know GB18030). Every line becomes one
row; a line that does not parse is kept with ``_malformed`` and ``_parse_error``, never dropped.

CSV lines are split against the header of *their own* file, so batches with different schema
versions (an added column, a renamed one) are parsed in the same read: declared fields by name,
anything else into ``_extra``. JSON lines are parsed to a ``map<string,string>`` (nested objects
become their JSON text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from finlake.ingest.sources import SourceSpec

REPLACEMENT_CHAR = "\ufffd"


@dataclass(frozen=True)
class FileToParse:
    """One verified data file and the batch facts its rows carry."""

    key: str  # "<batch folder>/<file name>": how a Spark row finds its file
    source_file: str  # relative to the landing root
    batch_id: str
    business_date: date
    header: tuple[str, ...] | None  # CSV only


def read_lines(spark: SparkSession, paths: list[str], encoding: str) -> DataFrame:
    """One row per physical line of ``paths``: value, _file_key, _block, _id (read order)."""
    if encoding == "utf-8":
        df = spark.read.text(paths)
    else:
        # The CSV reader decodes with any Java charset once Spark 4's short charset allow-list is
        # lifted (a session SQL conf; it only widens what encode/decode/CSV accept). A separator
        # and quote that never occur make each line one value.
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")
        df = (spark.read.schema("value string").option("encoding", encoding.upper())
              .option("sep", "\u0001").option("quote", "").option("header", "false").csv(paths))
    file_key = F.concat_ws("/", F.element_at(F.split(F.col("_metadata.file_path"), "/"), -2),
                           F.col("_metadata.file_name"))
    return df.select(
        F.coalesce(F.col("value"), F.lit("")).alias("value"),
        file_key.alias("_file_key"),
        F.col("_metadata.file_block_start").alias("_block"),
        F.monotonically_increasing_id().alias("_id"),
    )


def number_lines(lines: DataFrame) -> DataFrame:
    """Add ``_line_number`` (1-based, per file) to the output of :func:`read_lines`.

    Within a Spark partition a file's lines keep their order and are contiguous, so the line
    number is the distance from the file block's first id plus the lines of earlier blocks of the
    same file (large files are split into blocks). One small aggregation finds those offsets.
    """
    blocks = (lines.groupBy("_file_key", "_block")
              .agg(F.min("_id").alias("_first_id"), F.count(F.lit(1)).alias("_n")).collect())
    offsets, seen = [], {}
    for row in sorted(blocks, key=lambda r: (r["_file_key"], r["_block"])):
        base = seen.get(row["_file_key"], 0)
        offsets.append((row["_file_key"], row["_block"], row["_first_id"], base))
        seen[row["_file_key"]] = base + row["_n"]
    schema = "_file_key string, _block bigint, _first_id bigint, _base bigint"
    offsets_df = lines.sparkSession.createDataFrame(offsets, schema)
    return (lines.join(F.broadcast(offsets_df), ["_file_key", "_block"])
            .withColumn("_line_number", F.col("_id") - F.col("_first_id") + F.col("_base") + 1)
            .drop("_block", "_first_id", "_base", "_id"))


def parse_lines(lines: DataFrame, spec: SourceSpec, files: list[FileToParse], ingested_at: datetime,
                columns: list[str]) -> DataFrame:
    """Numbered lines of ``spec``'s files -> rows of its raw table, in ``columns`` order.

    ``ingested_at`` is the run's read time (UTC); ``columns`` the raw table's columns.
    """
    spark = lines.sparkSession
    headers = sorted({f.header for f in files if f.header is not None})
    header_id = {h: i for i, h in enumerate(headers)}
    info = spark.createDataFrame(
        [(f.key, f.source_file, f.batch_id, f.business_date, header_id.get(f.header, -1),
          len(f.header) if f.header else 0) for f in files],
        "_file_key string, _source_file string, _batch_id string, _business_date date, "
        "_header_id int, _n_fields int",
    )
    df = lines.join(F.broadcast(info), "_file_key")
    value = F.col("value")
    if spec.encoding == "utf-8":
        valid = F.is_valid_utf8(value)
        text = F.when(valid, value).otherwise(F.make_valid_utf8(value))
        line_bytes = F.when(~valid, value.cast("binary"))
    else:  # already decoded by the reader: undecodable bytes became U+FFFD
        valid = F.instr(value, REPLACEMENT_CHAR) == 0
        text = value
        line_bytes = F.lit(None).cast("binary")
    df = df.select("*", valid.alias("_valid"), text.alias("_text"), line_bytes.alias("_line_bytes"))
    encoding_error = F.lit(f"invalid_encoding: the line is not valid {spec.encoding}")

    if spec.format == "csv":
        df = df.filter(F.col("_line_number") > 1)  # line 1 is the header
        fields = F.split(F.col("_text"), ",", -1)
        df = df.withColumn("_fields", fields)
        n, expected = F.size("_fields"), F.col("_n_fields")
        error = (F.when(n < expected, F.concat(F.lit("truncated_line: expected "), expected.cast("string"),
                                               F.lit(" fields, found "), n.cast("string")))
                 .when(n > expected, F.concat(F.lit("too_many_fields: expected "), expected.cast("string"),
                                              F.lit(" fields, found "), n.cast("string")))
                 .when(~F.col("_valid"), encoding_error))
        values = {c: _csv_field(c, headers, header_id) for c in spec.fields}
        extra = _csv_extra(spec, headers, header_id)
    else:
        parsed = F.from_json(F.col("_text"), T.MapType(T.StringType(), T.StringType()))
        df = df.withColumn("_map", parsed)
        error = (F.when(F.col("_map").isNull(), F.lit("invalid_json: the line is not a complete JSON object"))
                 .when(~F.col("_valid"), encoding_error))
        values = {c: F.col("_map").getItem(c) for c in spec.fields}
        declared = F.array(*[F.lit(c) for c in spec.fields])
        others = F.map_filter(F.col("_map"), lambda k, v: ~F.array_contains(declared, k))
        extra = F.when(F.size(others) > 0, others)

    out = {
        **values,
        "_system": F.lit(spec.system),
        "_extra": extra,
        "_line": F.col("_text"),
        "_line_bytes": F.col("_line_bytes"),
        "_malformed": error.isNotNull(),
        "_parse_error": error,
        "_source_file": F.col("_source_file"),
        "_batch_id": F.col("_batch_id"),
        "_business_date": F.col("_business_date"),
        "_line_number": F.col("_line_number"),
        "_row_hash": F.sha2(F.col("value").cast("binary"), 256),
        "_ingested_at": F.lit(ingested_at).cast("timestamp"),
    }
    return df.select(*[out[c].alias(c) for c in columns])


def _field(position: int) -> Column:
    return F.nullif(F.get(F.col("_fields"), position), F.lit(""))


def _csv_field(name: str, headers: list[tuple[str, ...]], header_id: dict) -> Column:
    """The value of ``name`` in each row's own header layout (null where the header lacks it)."""
    by_position: dict[int, list[int]] = {}
    for h in headers:
        if name in h:
            by_position.setdefault(h.index(name), []).append(header_id[h])
    if not by_position:
        return F.lit(None).cast("string")
    if len(by_position) == 1 and sum(len(v) for v in by_position.values()) == len(headers):
        return _field(next(iter(by_position)))
    expr = None
    for pos, ids in by_position.items():
        cond = F.col("_header_id").isin(ids)
        expr = F.when(cond, _field(pos)) if expr is None else expr.when(cond, _field(pos))
    return expr


def _csv_extra(spec: SourceSpec, headers: list[tuple[str, ...]], header_id: dict) -> Column:
    """Columns of a file's header outside the declared fields, as a map (null when none)."""
    expr = None
    for h in headers:
        extras = [(c, i) for i, c in enumerate(h) if c not in spec.fields]
        if not extras:
            continue
        value = F.create_map(*[x for c, i in extras for x in (F.lit(c), _field(i))])
        cond = F.col("_header_id") == header_id[h]
        expr = F.when(cond, value) if expr is None else expr.when(cond, value)
    return expr if expr is not None else F.lit(None).cast("map<string,string>")
