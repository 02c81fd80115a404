"""The demo behind ``make demo``: generate a small bank, run the whole pipeline, say where to look.

``python -m finlake.demo [--scale 0.05] [--seed 42]`` generates synthetic landing data (skipped
when the landing folder already holds the same scale and seed), runs ``finlake run`` for the last
business date of the generated period, and ends by printing where the tables are, the quality
report, and the command that opens the MLflow UI. Settings come from the usual places
(``FINLAKE_HOME`` ...; default ``./lakehouse``). Without a configured PII key the demo creates a
random one in ``<home>/demo-pii.key``: fine for synthetic data, never for real data.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
from datetime import date, timedelta
from pathlib import Path

from finlake.errors import FinlakeError
from finlake.settings import load_settings

log = logging.getLogger("finlake.demo")


def _demo_settings():
    settings = load_settings()
    if settings.pii_key or settings.pii_key_file:
        return settings
    key_file = Path(settings.home) / "demo-pii.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
        log.info("no PII key configured: created a random demo key in %s (synthetic data only)", key_file)
    return load_settings(overrides={"pii_key_file": str(key_file)})


def _generated(landing: Path) -> dict | None:
    marker = landing / "_generation.json"
    return json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None


def _generate(spark, settings, scale: float, seed: int) -> date | None:
    """Generate landing data unless it is already there; return the last business date."""
    landing = Path(settings.landing_root)
    existing = _generated(landing)
    if existing and existing.get("scale") == scale and existing.get("seed") == seed:
        log.info("landing data for scale %s seed %s already in %s; not regenerating", scale, seed, landing)
    else:
        try:
            from finlake.generator import generate
        except ModuleNotFoundError:
            log.warning("the generator is not available yet; running on whatever is in %s", landing)
            return None
        generate(spark, landing, scale=scale, seed=seed)
        existing = _generated(landing)
    return date.fromisoformat(existing["end"]) - timedelta(days=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    from rich.console import Console

    from finlake.lake import Lake
    from finlake.runs import run_pipeline
    from finlake.runs.progress import choose_progress, stage_table
    from finlake.spark import get_spark

    console = Console()
    try:
        settings = _demo_settings()
        spark = get_spark(settings, "finlake-demo")
        as_of = _generate(spark, settings, args.scale, args.seed) or date.today()
        progress = choose_progress()
        report = run_pipeline(Lake(spark, settings), as_of, progress=progress)
    except FinlakeError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code
    console.print(stage_table(progress.lines.values(), f"run {report.run_id} (as_of {as_of})"))
    if report.error is not None:
        print(f"error: {type(report.error).__name__}: {report.error}", file=sys.stderr)
    console.print(
        f"\n[bold]tables[/]          {settings.table_root}   (list them: finlake tables)\n"
        f"[bold]quality report[/]  finlake quality --run {report.run_id}\n"
        f"                Data Docs: {Path(settings.quality_root) / 'data_docs' / 'index.html'}\n"
        f"[bold]run ledger[/]      finlake runs {report.run_id}   ·   lineage: finlake lineage TABLE\n"
        f"[bold]MLflow UI[/]       mlflow ui --backend-store-uri {settings.mlflow_uri}\n",
        highlight=False, soft_wrap=True)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
