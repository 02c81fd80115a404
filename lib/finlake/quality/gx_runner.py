"""Run a suite on a Spark DataFrame with Great Expectations 1.x and build Data Docs.

One GX context per process, kept in memory (no ``great_expectations.yml`` anywhere) but with its
stores on disk under ``<quality_root>/gx`` so the Data Docs site at ``<quality_root>/data_docs``
lists every validation ever run, not only this process's.

Cost on Spark (measured by ``bench/bench_gates.py``): GX bundles the aggregate metrics of all
expectations into a few ``df.agg`` jobs, one per level of its metric graph. What adds a job *per
expectation* is the sample of unexpected values (``partial_unexpected_list``) that the SUMMARY
format collects for every column-map expectation. We ask for SUMMARY with
``partial_unexpected_count = 0``: counts and percentages stay, the per-expectation sampling jobs
go (about half the jobs of a typical suite). Rows that break row-level rules are kept in full in
``quarantine.<table>``, which is where a steward looks at examples.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finlake.quality.suites import Suite

log = logging.getLogger(__name__)

SITE_NAME = "finlake"
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
_LOCK = threading.Lock()
_CONTEXTS: dict[str, Any] = {}


@dataclass(frozen=True)
class GxOutcome:
    """What one GX validation returned, reduced to what finlake records."""

    results: list[dict[str, Any]]  # one per expectation: finlake_rule, success, result, exception
    validation_id: Any  # ValidationResultIdentifier, for the incremental Data Docs build
    suite_id: Any


def data_docs_index(quality_root: str) -> Path:
    return Path(quality_root) / "data_docs" / "index.html"


def _context(quality_root: str):
    """The process's GX context for ``quality_root`` (created once; GX setup costs ~1 s)."""
    with _LOCK:
        if quality_root in _CONTEXTS:
            return _CONTEXTS[quality_root]
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            FilesystemStoreBackendDefaults,
            ProgressBarsConfig,
        )

        root = Path(quality_root)
        root.mkdir(parents=True, exist_ok=True)
        config = DataContextConfig(
            store_backend_defaults=FilesystemStoreBackendDefaults(root_directory=str(root / "gx")),
            data_docs_sites={
                SITE_NAME: {
                    "class_name": "SiteBuilder",
                    "show_how_to_buttons": False,
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(root / "data_docs"),
                    },
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                }
            },
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        # persist=False: the caller persisted the DataFrame; GX must not cache a second copy.
        context.data_sources.add_spark(name="finlake", persist=False)
        _CONTEXTS[quality_root] = context
        return context


def validate(df, suite: Suite, quality_root: str, run_name: str, waivers: dict[str, str]) -> GxOutcome:
    """Validate ``df`` against ``suite``; store the result for Data Docs.

    ``waivers`` (rule name -> description) is written into each waived expectation's meta so the
    Data Docs page shows the waiver next to the failure.
    """
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.run_identifier import RunIdentifier

    context = _context(quality_root)
    with _LOCK:
        source = context.data_sources.get("finlake")
        try:
            asset = source.get_asset(suite.table)
        except LookupError:
            asset = source.add_dataframe_asset(name=suite.table)
        try:
            batch = asset.get_batch_definition("whole")
        except (LookupError, KeyError):
            batch = asset.add_batch_definition_whole_dataframe("whole")
        configs = []
        for exp in suite.expectations:
            config = exp.gx_config()
            if exp.name in waivers:
                config["meta"]["waiver"] = waivers[exp.name]
            configs.append(config)
        gx_suite = context.suites.add_or_update(
            ExpectationSuite(name=suite.table, expectations=configs, meta={"source_file": str(suite.path)})
        )
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite.table, data=batch, suite=gx_suite)
        )
    result = definition.run(
        batch_parameters={"dataframe": df},
        result_format=RESULT_FORMAT,
        run_id=RunIdentifier(run_name=run_name),
    )
    outcomes = []
    for r in result.results:
        info = r.exception_info or {}
        raised = bool(info.get("raised_exception")) if isinstance(info, dict) else False
        outcomes.append({
            "finlake_rule": r.expectation_config.meta.get("finlake_rule"),
            "success": bool(r.success),
            "result": dict(r.result or {}),
            "exception": info.get("exception_message") if raised else None,
        })
    validation_id, suite_id = _identifiers(context, result)
    return GxOutcome(results=outcomes, validation_id=validation_id, suite_id=suite_id)


def _identifiers(context, result):
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    suite_id = ExpectationSuiteIdentifier(name=result.suite_name)
    validation_id = ValidationResultIdentifier(
        expectation_suite_identifier=suite_id,
        run_id=result.meta["run_id"],
        batch_identifier=result.meta.get("active_batch_definition").id
        if hasattr(result.meta.get("active_batch_definition"), "id") else result.meta["active_batch_definition"].get("id"),
    )
    return validation_id, suite_id


def build_docs(quality_root: str, outcome: GxOutcome) -> Path:
    """Render the new validation page, the suite page and the index; return the index path."""
    context = _context(quality_root)
    with _LOCK:
        context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[outcome.validation_id, outcome.suite_id])
    return data_docs_index(quality_root)


def observed_text(value: Any) -> str | None:
    """An observed value as a short string for quality.results and messages."""
    if value is None:
        return None
    if isinstance(value, (str, int, float, bool)):
        return str(value)
    return json.dumps(value, default=str, sort_keys=True)
