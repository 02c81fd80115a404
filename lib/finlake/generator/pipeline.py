"""Generation with Spark: blocks of customers in parallel, then one writer per landing batch.

Stage 1 (``mapInPandas``) generates blocks of customers, writes their truth parts and emits
every delivered line as an envelope row (source, batch, key, payload). Stage 2
(``groupBy(source, batch).applyInPandas``) sorts each batch's lines by key and writes the batch
folder. Content depends only on (seed, block), never on partitions, cores or task order. The
driver then writes the small shared sources (products, campaigns, FX rates), the empty batches
of quiet days, ``_truth/defects.json`` and ``_generation.json``.

Executors write straight into the landing folder, so on a cluster it must be a filesystem every
executor mounts (local mode always qualifies).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from finlake.generator.block import DEFECT_SOURCE, generate_block, to_envelope
from finlake.generator.defects import ALL_KINDS, drift_records
from finlake.generator.errors import GeneratorError
from finlake.generator.formats import SOURCES, TextRows, fmt_date, fmt_minor, join_csv
from finlake.generator.plan import Plan, make_plan
from finlake.generator.writers import TRUTH_DIR, write_batch, write_json, write_truth

log = logging.getLogger(__name__)

ENVELOPE_SCHEMA = "source string, batch string, key string, payload binary"
RESULT_SCHEMA = "source string, batch string, rows long, bytes long, sha256 string, records string"
RESULT_ARROW_SCHEMA = pa.schema([
    ("source", pa.string()), ("batch", pa.string()), ("rows", pa.int64()), ("bytes", pa.int64()),
    ("sha256", pa.string()), ("records", pa.string()),
])
DEFAULT_START = dt.date(2024, 1, 1)


@dataclass(frozen=True)
class GenerationResult:
    """What one run wrote."""

    landing: Path
    customers: int
    rows: dict[str, int]  # delivered lines per source
    batches: int
    defects: dict[str, int]  # count per defect kind
    seconds: float


def generate(
    spark,
    landing: str | Path,
    *,
    scale: float,
    seed: int,
    start: dt.date = DEFAULT_START,
    months: int = 12,
    defect_rate: float = 0.001,
    partitions: int | None = None,
) -> GenerationResult:
    """Generate the landing files of a synthetic bank into ``landing`` (replacing earlier output).

    ``partitions`` only changes how the work is spread; the files are the same for any value.
    """
    began = time.monotonic()
    plan = make_plan(scale, seed, start, months, defect_rate)
    root = Path(landing).expanduser().resolve()
    _clear(root)
    n_parts = partitions or max(1, min(plan.n_blocks, spark.sparkContext.defaultParallelism * 4))
    log.info("generating %d customers in %d blocks over %d partitions into %s", plan.n_customers, plan.n_blocks, n_parts, root)

    blocks = spark.range(0, plan.n_blocks, 1, n_parts)
    envelope = blocks.mapInArrow(_generate_blocks(plan, str(root)), ENVELOPE_SCHEMA)
    # One writer pass per partition over lines sorted by batch then key: each batch folder is
    # written by exactly one task, from lines in a fixed order.
    by_batch = envelope.repartition(max(n_parts, 4), "source", "batch").sortWithinPartitions("source", "batch", "key", "payload")
    results = by_batch.mapInArrow(_write_batches(plan, str(root)), RESULT_SCHEMA).collect()
    log.info("blocks generated and batches written in %.1fs", time.monotonic() - began)

    written = [r.asDict() for r in results if r["source"] != DEFECT_SOURCE]
    records = [json.loads(line) for r in results if r["source"] == DEFECT_SOURCE for line in r["records"].splitlines()]
    written += _write_shared_sources(root, plan)
    written += _write_quiet_days(root, plan, {(w["source"], w["batch"]) for w in written})
    defects = _write_defects(root, plan, records)
    rows = Counter()
    for w in written:
        rows[w["source"]] += w["rows"]
    rows = dict(sorted(rows.items()))
    write_json(root / "_generation.json", {
        "scale": scale, "seed": seed, "start": start.isoformat(), "end": plan.end.isoformat(), "months": months,
        "defect_rate": defect_rate, "customers": plan.n_customers, "blocks": plan.n_blocks,
        "batches": len(written), "rows": rows,
    })
    seconds = time.monotonic() - began
    log.info("wrote %d batches, %d transactions in %.1fs", len(written), rows.get("transactions", 0), seconds)
    return GenerationResult(root, plan.n_customers, rows, len(written), defects, seconds)


def _clear(root: Path) -> None:
    """Remove earlier generator output (only the folders this generator owns)."""
    if root.exists() and not root.is_dir():
        raise GeneratorError(f"landing path {root} is a file; pass --landing with a directory")
    owned = {name.split("/")[0] for name in SOURCES} | {TRUTH_DIR}
    for name in owned:
        if (root / name).exists():
            shutil.rmtree(root / name)
    (root / "_generation.json").unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)


def _generate_blocks(plan: Plan, landing: str) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for ids in batches:
            for block in ids.column("id").to_pylist():
                output = generate_block(plan, block)
                write_truth(Path(landing), block, output.truth)
                yield from to_envelope(plan, block, output).to_batches()
    return run


def _write_batches(plan: Plan, landing: str) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """Stream sorted envelope rows; whenever (source, batch) changes, write the finished batch."""
    def flush(group: tuple[str, str], lines: list[bytes]) -> dict:
        source, batch = group
        if source == DEFECT_SOURCE:
            records = "\n".join(p.decode("utf-8") for p in lines)
            return {"source": source, "batch": batch, "rows": len(lines), "bytes": 0, "sha256": "", "records": records}
        return {**write_batch(Path(landing), SOURCES[source], batch, lines, plan), "records": ""}

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        current, lines, done = None, [], []
        for rb in batches:
            source = rb.column("source").to_numpy(zero_copy_only=False)
            batch = rb.column("batch").to_numpy(zero_copy_only=False)
            payload = rb.column("payload")
            cuts = np.flatnonzero((source[1:] != source[:-1]) | (batch[1:] != batch[:-1])) + 1
            for lo, hi in zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [len(source)]])):
                group = (source[lo], batch[lo])
                if group != current:
                    if current is not None:
                        done.append(flush(current, lines))
                    current, lines = group, []
                lines += payload.slice(lo, hi - lo).to_pylist()
        if current is not None:
            done.append(flush(current, lines))
        if done:
            yield pa.RecordBatch.from_pylist(done, schema=RESULT_ARROW_SCHEMA)
    return run


def _write_shared_sources(root: Path, plan: Plan) -> list[dict]:
    """Products (first day), campaigns (monthly announcements) and FX rates (daily), from the driver."""
    p = plan.products
    products = {
        "product_id": p["product_id"], "product_type": p["product_type"], "name": p["name"], "risk_rating": p["risk_rating"],
        "min_amount": fmt_minor((p["min_amount"].to_numpy() * 100).astype(np.int64)),
        "expected_yield": ["" if pd.isna(y) else f"{y:.2f}" for y in p["expected_yield"]],
    }
    out = [_write_rows(root, plan, "products", plan.start.isoformat(), products)]
    camps = plan.campaigns.assign(batch=fmt_date(plan.campaigns["announce_date"].to_numpy()))
    for batch, rows in camps.groupby("batch", sort=True):
        out.append(_write_rows(root, plan, "campaigns", batch, {
            "campaign_id": rows["campaign_id"], "product_id": rows["product_id"], "channel": rows["channel"],
            "start_date": fmt_date(rows["start_date"].to_numpy()), "end_date": fmt_date(rows["end_date"].to_numpy()),
        }))
    fx = plan.fx_rates.assign(batch=fmt_date(plan.fx_rates["rate_date"].to_numpy()))
    for batch, rows in fx.groupby("batch", sort=True):
        out.append(_write_rows(root, plan, "fx_rates", batch, {
            "rate_date": rows["batch"], "currency": rows["currency"], "cny_per_unit": [f"{v:.6f}" for v in rows["cny_per_unit"]],
        }))
    return out


def _write_rows(root: Path, plan: Plan, source: str, batch: str, columns: dict) -> dict:
    spec = SOURCES[source]
    rows = TextRows({k: np.asarray(v, dtype=object) for k, v in columns.items()})
    lines = [line.encode(spec.encoding) for line in join_csv(rows, spec.columns).to_pylist()]
    return write_batch(root, spec, batch, lines, plan)


def _write_quiet_days(root: Path, plan: Plan, done: set[tuple[str, str]]) -> list[dict]:
    """Daily sources deliver every day, month-end sources every month end, even with no rows."""
    days = list(fmt_date(plan.dates()))
    ends = list(fmt_date(plan.month_ends()))
    out = []
    for spec in SOURCES.values():
        expected = days if spec.cadence == "daily" else ends if spec.cadence == "month_end" else []
        out += [write_batch(root, spec, b, [], plan) for b in expected if (spec.name, b) not in done]
    return out


def _write_defects(root: Path, plan: Plan, records: list[dict]) -> dict[str, int]:
    records = sorted(records + drift_records(plan), key=lambda r: (r["source"], r["batch"], r["kind"], r["key"] or ""))
    counts = Counter(r["kind"] for r in records)
    by_source: dict[str, Counter] = {}
    for r in records:
        by_source.setdefault(r["source"], Counter())[r["kind"]] += 1
    drift = {}
    if plan.drift_from is not None:
        drift = {
            "added_column": {"source": "transactions", "column": "auth_code", "from_batch": plan.drift_from.isoformat(),
                             "batches": counts["schema_drift_added_column"]},
            "renamed_column": {"source": "transactions", "batch": plan.renamed_batch.isoformat(), "from": "mcc",
                               "to": "merchant_category_code"},
        }
    totals = {kind: counts.get(kind, 0) for kind in ALL_KINDS}
    write_json(root / TRUTH_DIR / "defects.json", {
        "defect_rate": plan.defect_rate, "seed": plan.seed,
        "counts": totals,
        "by_source": {s: {k: v for k, v in sorted(c.items())} for s, c in sorted(by_source.items())},
        "schema_drift": drift,
        "records": records,
    })
    return totals
