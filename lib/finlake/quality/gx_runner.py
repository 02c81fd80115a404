"""Run a suite on a Spark DataFrame with Great Expectations 1.x and build Data Docs.

One GX context per process, kept in memory (no ``great_expectations.yml`` anywhere) but with its
stores on disk under ``<quality_root>/gx`` so the Data Docs site at ``<quality_root>/data_docs``
lists the latest validations of every process, not only this one's (older ones move to
``<quality_root>/archive``, see ``archive_old_validations``).

Cost on Spark (measured by ``bench/bench_gates.py``): GX bundles the aggregate metrics of all
expectations into a few ``df.agg`` jobs, one per level of its metric graph. What adds a job *per
expectation* is the sample of unexpected values (``partial_unexpected_list``) that the SUMMARY
format collects for every column-map expectation. We ask for SUMMARY with
``partial_unexpected_count = 0``: counts and percentages stay, the per-expectation sampling jobs
go (about half the jobs of a typical suite). GX still builds the sampling query of each column-map
expectation (a ``limit(0)`` select that Spark folds to an empty relation without a job): about
40 ms of planning each, which only the BOOLEAN_ONLY format skips, and that format drops the counts.
Rows that break row-level rules are kept in full in ``quarantine.<table>``, which is where a
steward looks at examples.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from finlake.errors import SettingsError
from finlake.quality.suites import Suite

log = logging.getLogger(__name__)

SITE_NAME = "finlake"
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
INDEX_LIMIT = 200
_LOCK = threading.Lock()
_CONTEXTS: dict[str, Any] = {}
_WARMING: dict[str, threading.Thread] = {}
_WARM_LOCK = threading.Lock()


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
    wait_for_warm_up()
    with _LOCK:
        if quality_root in _CONTEXTS:
            return _CONTEXTS[quality_root]
        if "://" in quality_root:
            raise SettingsError(
                f"quality_root '{quality_root}' is a URI; GX stores and Data Docs need a local or mounted "
                "directory: set quality_root (FINLAKE_QUALITY_ROOT) to one"
            )
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
                    # GX re-reads every listed validation result to draw the index, on every
                    # gate: list the latest INDEX_LIMIT; older pages stay on disk, and trends
                    # are in 'finlake quality --history'. (build_docs also moves older results
                    # out of the store, which GX lists in full on every build.)
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder",
                                           "validation_results_limit": INDEX_LIMIT,
                                           "view": _view("CachedIndexPageView")},
                    # GX's page views with a shared template cache (see docs_views).
                    "site_section_builders": {"expectations": {"view": _view("CachedPageView")},
                                              "validations": {"view": _view("CachedPageView")}},
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


def _view(class_name: str) -> dict:
    return {"module_name": "finlake.quality.docs_views", "class_name": class_name}


def warm_up(quality_root: str) -> None:
    """Import GX and build the context for ``quality_root`` on a background thread, once.

    Importing great_expectations takes about 3 s and its first context another second: a job
    calls this when it builds its gate, so that work overlaps the Spark reads that come before
    the first validation (which then waits only for what is left). A failure here is ignored:
    the first validation meets it again and reports it.
    """
    with _WARM_LOCK:  # not _LOCK: the warm-up holds that while it imports
        if quality_root in _WARMING:
            return
        thread = threading.Thread(target=_warm, args=(quality_root,), name="gx-warm-up", daemon=True)
        _WARMING[quality_root] = thread
    thread.start()


def wait_for_warm_up() -> None:
    """Block until any warm-up has finished; call before importing anything from GX.

    Two threads importing GX at once can meet its circular imports half done ("partially
    initialized module"), so every GX import in finlake waits for the warm-up first.
    """
    with _WARM_LOCK:
        threads = [t for t in _WARMING.values() if t is not threading.current_thread()]
    for thread in threads:
        thread.join()


def _warm(quality_root: str) -> None:
    try:
        _context(quality_root)
    except Exception:  # reported by the validation that needs the context
        log.debug("warming up GX for %s failed", quality_root, exc_info=True)


def validate(df, suite: Suite, quality_root: str, run_name: str, waivers: dict[str, str]) -> GxOutcome:
    """Validate ``df`` against ``suite``; store the result for Data Docs.

    ``waivers`` (rule name -> description) is written into each waived expectation's meta so the
    Data Docs page shows the waiver next to the failure.
    """
    wait_for_warm_up()
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
    validation_id, suite_id = _identifiers(quality_root, result)
    return GxOutcome(results=outcomes, validation_id=validation_id, suite_id=suite_id)


def _identifiers(quality_root: str, result):
    """The store keys of this result and its suite, for an incremental Data Docs build.

    Read from the stored file's path rather than rebuilt from the result: the key must equal the
    stored one exactly. Only this suite's and run's folder is looked at (GX's store lists, and
    parses, every stored result).
    """
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    suite_id = ExpectationSuiteIdentifier(name=result.suite_name)
    run_name = result.meta["run_id"].run_name
    # <suite parts>/<run name>/<run time>/<batch>.json; GX's run time sorts as text.
    stored = list(results_store(quality_root).joinpath(*suite_id.to_tuple(), run_name).glob("*/*.json"))
    if not stored:
        return None, suite_id
    latest = max(stored, key=lambda f: (f.parent.name, f.name))
    validation_id = ValidationResultIdentifier.from_tuple(
        (*suite_id.to_tuple(), run_name, latest.parent.name, latest.name.removesuffix(".json")))
    return validation_id, suite_id


def build_docs(quality_root: str, outcome: GxOutcome, validation_banner: str, index_banner: str) -> Path:
    """Render the new validation page, the suite page and the index; return the index path.

    ``validation_banner`` (the gate's verdict: rule names, severities, owners, waivers) goes on
    top of the new validation page, ``index_banner`` (the waivers) on top of the index: GX has
    no place for either.
    """
    context = _context(quality_root)
    started = time.time() - 1
    site = Path(quality_root) / "data_docs"
    with _LOCK:
        context.build_data_docs(site_names=[SITE_NAME],
                                resource_identifiers=[i for i in (outcome.validation_id, outcome.suite_id) if i])
        make_offline(site, _built_pages(site, outcome), since=started,
                     banners={"index.html": index_banner, "validations": validation_banner})
        archive_old_validations(quality_root, keep=INDEX_LIMIT)
    return data_docs_index(quality_root)


def _built_pages(site: Path, outcome: GxOutcome) -> list[Path]:
    """The pages an incremental build of ``outcome`` can have written: the index, the suite pages
    (one per suite) and the new validation's folder; never the pages of earlier validations,
    which grow by a few dozen a day."""
    pages = [site / "index.html", *sorted((site / "expectations").rglob("*.html"))]
    if outcome.validation_id is not None:  # validations/<suite parts>/<run name>/<run time>/<batch>.html
        pages += sorted(site.joinpath("validations", *outcome.validation_id.to_tuple()[:-1]).glob("*.html"))
    return pages


def results_store(quality_root: str) -> Path:
    """Where GX keeps validation results (``FilesystemStoreBackendDefaults``' layout)."""
    return Path(quality_root) / "gx" / "uncommitted" / "validations"


def archive_old_validations(quality_root: str, keep: int) -> int:
    """Move all but the newest ``keep`` validation results, with their Data Docs pages, to
    ``<quality_root>/archive/`` (``gx/validations/...`` and ``data_docs/validations/...``, same
    relative paths); return how many moved.

    GX lists, and parses the key of, every stored result and every page at each Data Docs build:
    with a year of daily runs (about 10,000 results) each gate took about 4 s longer
    (``bench/bench_docs_history.py``). The index shows only the newest ``keep`` (INDEX_LIMIT)
    anyway. GX deletes a page whose result left its store, so the page moves too;
    the archive gets a copy of the site's ``static/`` folder, so an archived page opens offline
    as before. ``quality.results`` holds every check either way.
    """
    root = Path(quality_root)
    store, site, archive = results_store(quality_root), root / "data_docs", root / "archive"
    if not store.is_dir():
        return 0
    # <suite parts>/<run name>/<run time>/<batch>.json; GX's run time (20261123T074941.927050Z)
    # sorts as text.
    results = sorted(store.rglob("*.json"), key=lambda f: (f.parent.name, str(f)), reverse=True)
    old = results[keep:]
    if old and (site / "static").is_dir():  # new asset files only: a later finlake may vendor new versions
        shutil.copytree(site / "static", archive / "data_docs" / "static", dirs_exist_ok=True,
                        copy_function=lambda src, dst: os.path.exists(dst) or shutil.copy2(src, dst))
    moved = 0
    for result in old:
        relative = result.relative_to(store)
        page = site / "validations" / relative.parent / (result.name.removesuffix(".json") + ".html")
        if _move(result, store, archive / "gx" / "validations" / relative):
            moved += 1
            _move(page, site / "validations", archive / "data_docs" / "validations" / page.relative_to(site / "validations"))
    return moved


def _move(path: Path, base: Path, target: Path) -> bool:
    """Move ``path`` to ``target``, then remove the folders it leaves empty up to ``base``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(path, target)
    except FileNotFoundError:  # another job on this quality_root moved it first, or no page was built
        return False
    for folder in path.parents:
        if folder == base:
            break
        try:
            folder.rmdir()  # only when empty
        except OSError:
            break
    return True


# GX pages load jQuery, Bootstrap and bootstrap-table from CDNs, and the index and its tables are
# drawn by those scripts: without network access (this workplace, most bank networks) a steward
# sees an empty page. The same versions ship in docs_assets/ (MIT, see LICENSES.txt), and every
# page built is pointed at them.
# importlib.resources, not __file__: on a cluster finlake runs from the --py-files zip archive.
_ASSETS = resources.files("finlake.quality") / "docs_assets"
_VENDORED = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper-1.12.9.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap-4.3.1.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap-4.3.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table-1.19.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table-filter-control-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table-filter-control-1.19.1.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker-1.9.0.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker-1.9.0.min.css",
}
# Subresource-integrity attributes make a browser refuse file:// scripts (CORS), so they go.
_SRI = re.compile(r'\s+(?:integrity|crossorigin)="[^"]*"')


def make_offline(site: Path, pages: list[Path], since: float, banners: dict[str, str]) -> None:
    """Copy the vendored assets into ``site`` and point those of ``pages`` changed after ``since``
    at them.

    ``banners`` maps a page (``index.html``) or folder (``validations``) to HTML put first in
    the page body.
    """
    vendor = site / "static" / "finlake"
    vendor.mkdir(parents=True, exist_ok=True)
    for asset in _ASSETS.iterdir():
        target = vendor / asset.name
        content = asset.read_bytes()
        if not target.exists() or target.stat().st_size != len(content):
            target.write_bytes(content)
    for page in pages:
        if not page.is_file() or page.stat().st_mtime < since:
            continue
        prefix = os.path.relpath(vendor, page.parent).replace(os.sep, "/")
        html = page.read_text(encoding="utf-8")
        for url, name in _VENDORED.items():
            html = html.replace(f'"{url}"', f'"{prefix}/{name}"')
        html = re.sub(r"<(?:script|link)[^>]*static/finlake/[^>]*>", lambda m: _SRI.sub("", m.group(0)), html)
        if "finlake.css" not in html:
            html = html.replace("</head>", f'<link rel="stylesheet" href="{prefix}/finlake.css">\n</head>', 1)
        banner = banners.get(page.relative_to(site).parts[0])
        if banner and 'id="finlake-gate"' not in html:
            html = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + banner, html, count=1)
        page.write_text(html, encoding="utf-8")


def observed_text(value: Any) -> str | None:
    """An observed value as a short string for quality.results and messages."""
    if value is None:
        return None
    if isinstance(value, (str, int, float, bool)):
        return str(value)
    return json.dumps(value, default=str, sort_keys=True)
