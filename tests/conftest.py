"""Shared fixtures: one Spark session per test process, settings pointing at a temp home.

Every test that touches the lake gets real Spark, real Delta tables on disk and, where it checks
results, an independent reader (the ``deltalake`` package or Polars), never a mock.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from finlake.settings import load_settings

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

# pytest-xdist workers run under a __main__ without __file__; pyspark.sql.connect (imported by
# great_expectations) takes that for a doctest run and calls sys.exit(0) when grpc is missing.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<pytest-xdist worker>"


@pytest.fixture(scope="session")
def lake_home(tmp_path_factory):
    return tmp_path_factory.mktemp("lakehouse")


@pytest.fixture(scope="session")
def settings(lake_home):
    """Settings for tests: a temp home, the bridge engine, two local cores, a test PII key."""
    return load_settings(
        overrides={
            "home": str(lake_home),
            "lake_engine": os.environ.get("FINLAKE_TEST_ENGINE", "bridge"),
            "spark_master": "local[2]",
            "spark_conf": {"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "4",
                           "spark.driver.memory": "2g"},
            "pii_key": "test-key-not-a-secret-0123456789",
        },
        environ={},
    )


@pytest.fixture(scope="session")
def spark(settings):
    from finlake.spark import get_spark

    session = get_spark(settings, "finlake-tests")
    yield session
    session.stop()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Make ``--dist loadgroup`` honour ``xdist_group`` marks again.

    pytest-xdist 3.8 tags a grouped test by setting ``item._nodeid``, which pytest 9 no longer
    reads (the id lives in ``item._id``), so groups were silently spread over workers and every
    worker rebuilt the group's expensive fixtures. Re-apply the tag where pytest 9 reads it.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodes import coerce_node_id

    for item in items:
        groups = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
        if groups and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(sorted(groups))}")


@dataclass(frozen=True)
class GeneratedLake:
    """A lake built once from generator data, with what each step reported."""

    lake: object
    settings: object
    ingest: object  # IngestReport of the one ingest run
    clean_first: object  # CleanReport of the first build_cleaned
    clean_rerun: object  # CleanReport of the second, which should find nothing to do
    versions_after_clean: dict  # non-raw table -> version after the first build_cleaned
    versions_after_rerun: dict  # the same after the rerun
    truth: dict  # _truth/defects.json
    audiences: list  # AudienceResult of every conf/audiences definition (tables and CSV exports)


# Nine months instead of the generator's twelve: the fixture's cost is mostly per table, and the
# three months saved about 30 s of its 5 minutes (measured alone, 24 Nov). Seed 3 because its nine
# months leave reported card fraud in the fraud model's validation window; seed 7's leave none.
GENERATED_SCALE, GENERATED_SEED, GENERATED_MONTHS, GENERATED_DEFECT_RATE = 0.01, 3, 9, 0.003
QUICK_MODELS = {"gbt": {"maxIter": 8, "maxDepth": 3}, "logistic": {"maxIter": 25}}


@pytest.fixture(scope="session")
def generated_lake_run(spark, tmp_path_factory) -> GeneratedLake:
    """generate (scale 0.01, nine months, defects on) -> ingest -> clean -> clean again -> features -> train
    and score segmentation, churn and fraud -> audiences, once: every layer a run writes (left
    out to save time: the cross-sell marts, which add no customer data).

    The end-to-end tests of ingest, cleaned, features and models share it, and carry
    ``xdist_group("generated")`` so that one worker builds it (a session fixture is built once per
    worker process). Tests read it; none may write to it. The models are trained with small
    iteration counts (their quality is tested on planted data in tests/models): here they only
    have to exist, so that scores and audiences come from the generated customers.
    """
    from finlake.cleaned import build_cleaned
    from finlake.features import build_features
    from finlake.generator import generate
    from finlake.ingest import ingest_all
    from finlake.lake import Lake
    from finlake.marketing import build_audiences
    from finlake.models.workflows import score, train_churn_model, train_fraud_model, train_segmentation_model

    home = tmp_path_factory.mktemp("generated-0.01")
    settings = load_settings(overrides={"home": str(home), "lake_engine": "bridge", "spark_master": "local[2]",
                                        "pii_key": "generated-test-key-not-a-secret-0123"}, environ={})
    lake = Lake(spark, settings)
    generate(spark, settings.landing_root, scale=GENERATED_SCALE, seed=GENERATED_SEED, months=GENERATED_MONTHS,
             defect_rate=GENERATED_DEFECT_RATE)
    ingest = ingest_all(lake, settings, "ingest-generated")
    clean_first = build_cleaned(lake, settings, "clean-generated-1")
    after_clean = _layer_versions(lake)
    clean_rerun = build_cleaned(lake, settings, "clean-generated-2")
    after_rerun = _layer_versions(lake)
    build_features(lake, settings, "features-generated")
    train_segmentation_model(lake, settings, k_values=(3, 4), max_iter=10)
    train_churn_model(lake, settings, params=QUICK_MODELS)
    train_fraud_model(lake, settings, params=QUICK_MODELS)
    score(lake, settings, "score-generated")
    audiences = build_audiences(lake, settings, "audiences-generated")
    truth = json.loads((Path(settings.landing_root) / "_truth" / "defects.json").read_text(encoding="utf-8"))
    return GeneratedLake(lake, settings, ingest, clean_first, clean_rerun, after_clean, after_rerun, truth,
                         audiences)


def _layer_versions(lake) -> dict:
    return {n: lake.version(n) for n in lake.catalog.names() if not n.startswith("raw.") and lake.exists(n)}
