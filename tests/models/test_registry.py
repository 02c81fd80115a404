"""Champion/challenger in a real (embedded SQLite) MLflow registry, and gate results as lineage."""

import dataclasses
import datetime as dt
import json
import math

import pytest
from pyspark.sql import functions as F

import synthetic
from finlake.cli import main
from finlake.lake import Lake
from finlake.models import registry
from finlake.models.classifier import fit_classifier, with_label
from finlake.models.registry import InputTable, TrainingRecord, decide
from finlake.models.splits import out_of_time_split
from finlake.models.workflows import _classifier_artifacts, _main_metric
from finlake.quality.results import CheckResult, record

pytestmark = pytest.mark.xdist_group("models")

PASSED = [InputTable("features.customer_monthly", 4, "passed", "run-4", 3)]
FAILED = [InputTable("features.customer_monthly", 5, "failed", "run-5", 4)]


# --- the decision rule ---------------------------------------------------------------------
@pytest.mark.parametrize("new, champ, gates, margin, promote", [
    (0.50, None, True, 0.0, True),      # first model
    (0.50, 0.40, True, 0.0, True),      # better
    (0.40, 0.40, True, 0.0, False),     # a tie does not beat
    (0.42, 0.40, True, 0.10, False),    # better, but not by 10%
    (0.45, 0.40, True, 0.10, True),
    (0.90, 0.40, False, 0.0, False),    # much better, but its data failed a gate
])
def test_decide(new, champ, gates, margin, promote):
    version = None if champ is None else "1"
    assert decide(new, champ, gates, margin, version).promote is promote


def test_readers_of_a_store_never_trained_in_find_no_model_and_do_not_create_it(registry_settings, tmp_path):
    """A feature build or a schedule check before the first training asks the registry for
    champions. With a local store that does not exist yet the answer is "none", and the store
    is not created as a side effect (an empty SQLite store costs seconds of migrations)."""
    from finlake.runs.schedule import _models_without_champion

    store = tmp_path / "mlflow"
    assert registry.find_champion(registry_settings, "churn") is None
    assert registry.models_for_cutoffs(registry_settings, "segmentation", [dt.date(2024, 5, 1)]) == []
    assert registry.list_models(registry_settings) == []
    assert _models_without_champion(registry_settings) == [registry.model_name(k) for k in registry.KINDS]
    assert not store.exists()
    registry.client_for(registry_settings).search_registered_models()  # a writer's client creates it
    assert registry.store_exists(registry_settings)
    assert registry.list_models(registry_settings) == []


def test_champion_that_cannot_be_scored_is_replaced():
    decision = decide(0.3, None, True, 0.0, "2", "AnalysisException: column x missing")
    assert decision.promote and "could not be scored" in decision.reason


def test_undefined_metric_never_promotes():
    assert not decide(math.nan, None, True, 0.0).promote


# --- gate results of the input tables --------------------------------------------------------
@pytest.fixture
def lake(spark, registry_settings, tmp_path):
    own = dataclasses.replace(registry_settings, table_root=str(tmp_path / "tables"))
    return Lake(spark, own)


def test_a_challenger_is_saved_in_a_new_process_that_first_loaded_the_champion(registry_settings, lake, churn_result,
                                                                                 churn_df, churn_holdout, worse_model):
    """A monthly retrain runs in a new process, where loading the champion (to score it on the
    holdout) is MLflow's first use of the Hadoop file system, which MLflow then keeps. The save
    that follows failed with a ClassCastException (RawLocalFileSystem is not a LocalFileSystem),
    reported as "MLflow tracking is unreachable", so no model after the first was ever saved."""
    from mlflow.spark import _HadoopFileSystem

    holdout = churn_holdout.valid

    def train(model, features):
        champion = registry.find_champion(registry_settings, "churn")
        champ_score, note = registry.score_champion(champion, lambda m: _main_metric(m, holdout, "lift_at_10"))
        score = _main_metric(model, holdout, "lift_at_10")
        return registry.record_training(registry_settings, lake, _record(model, features, score, churn_df),
                                        PASSED, champion, champ_score, note)

    first = train(worse_model, ["tenure_months"])
    _HadoopFileSystem._filesystem = None  # as in a new process: MLflow holds no file system yet
    second = train(churn_result.model, synthetic.CHURN_FEATURES)
    assert second.version == "2" and second.decision.champion_version == first.version
    assert second.decision.champion_score == pytest.approx(first.decision.new_score)  # the champion was loaded
    assert second.decision.promote


def test_gate_status_is_unknown_without_results_then_follows_the_latest_run(lake):
    table = "features.customer_monthly"
    assert registry.gate_status(lake, table) == ("unknown", None, None)
    record(lake, [CheckResult(table, "rows_exist", "blocking", True)], "run-a", table, 3)
    assert registry.gate_status(lake, table) == ("passed", "run-a", 3)
    record(lake, [CheckResult(table, "rows_exist", "blocking", True),
                  CheckResult(table, "no_null_keys", "blocking", False),
                  CheckResult(table, "ranges", "warning", False)], "run-b", table, 4)
    assert registry.gate_status(lake, table) == ("failed", "run-b", 4)
    record(lake, [CheckResult(table, "no_null_keys", "blocking", False, waived=True, waiver_reason="until 2099")],
           "run-c", table, 4)
    assert registry.gate_status(lake, table) == ("passed", "run-c", 4)


# --- champion/challenger through the registry ------------------------------------------------
@pytest.fixture(scope="module")
def churn_holdout(churn_df):
    return out_of_time_split(with_label(churn_df, F.col("churned")), "as_of", valid_periods=2, gap_days=60)


@pytest.fixture(scope="module")
def worse_model(churn_holdout):
    """A deliberately worse churn model: logistic regression on tenure alone."""
    return fit_classifier(churn_holdout.train, ["tenure_months"], "logistic", {"maxIter": 5})


def _record(model, features, score, example_df, result=None):
    return TrainingRecord(kind="churn", model=model, main_score=score, feature_cols=features,
                          example=example_df.select(*features).limit(3), params={"test": "yes"},
                          metrics={"lift_at_10": score},
                          write_artifacts=_classifier_artifacts(result, "churn") if result is not None else None)


def test_worse_model_and_failed_gate_model_do_not_take_the_alias(registry_settings, lake, churn_result, churn_df,
                                                                  churn_holdout, worse_model, capsys):
    from mlflow import MlflowClient

    holdout = churn_holdout.valid
    good_score = _main_metric(churn_result.model, holdout, "lift_at_10")
    assert good_score == pytest.approx(churn_result.metrics["lift_at_10"])  # the same holdout rows
    worse_score = _main_metric(worse_model, holdout, "lift_at_10")
    assert worse_score < good_score

    def train(model, features, score, inputs, result=None):
        champion = registry.find_champion(registry_settings, "churn")
        champ_score, note = registry.score_champion(champion, lambda m: _main_metric(m, holdout, "lift_at_10"))
        return registry.record_training(registry_settings, lake, _record(model, features, score, churn_df, result),
                                        inputs, champion, champ_score, note)

    first = train(worse_model, ["tenure_months"], worse_score, PASSED)
    assert first.decision.promote and first.version == "1"

    failed_gate = train(churn_result.model, synthetic.CHURN_FEATURES, good_score, FAILED)
    assert not failed_gate.decision.promote and "quality gates" in failed_gate.decision.reason

    better = train(churn_result.model, synthetic.CHURN_FEATURES, good_score, PASSED, churn_result)
    assert better.decision.promote
    assert better.decision.champion_score == pytest.approx(worse_score)

    worse_again = train(worse_model, ["tenure_months"], worse_score, PASSED)
    assert not worse_again.decision.promote
    assert worse_again.decision.champion_score == pytest.approx(good_score)

    client = MlflowClient(registry_settings.mlflow_uri, registry_settings.mlflow_uri)
    assert str(client.get_model_version_by_alias("finlake-churn", "champion").version) == better.version == "3"
    tags = client.get_model_version("finlake-churn", worse_again.version).tags
    assert tags["decision"] == "challenger"
    assert float(tags["decision.champion_score"]) == pytest.approx(good_score)
    assert float(tags["decision.new_score"]) == pytest.approx(worse_score)
    assert client.get_model_version("finlake-churn", failed_gate.version).tags["input.features.customer_monthly.gate"] \
        == "failed"

    run = client.get_run(better.run_id)
    assert run.data.tags["decision"] == "champion"
    assert run.data.tags["input.features.customer_monthly.version"] == "4"
    assert [(d.dataset.name, d.dataset.digest) for d in run.inputs.dataset_inputs] == \
        [("features.customer_monthly", "v4")]
    plots = {a.path for a in client.list_artifacts(better.run_id, "plots")}
    assert {"plots/roc.png", "plots/pr.png", "plots/lift.png", "plots/calibration.png"} <= plots
    assert run.data.metrics["main_lift_at_10"] == pytest.approx(good_score)

    # The model's environment is pinned to this one (given, not inferred by reloading the model).
    import mlflow.pyfunc
    from importlib.metadata import version

    requirements = open(mlflow.pyfunc.get_model_dependencies(f"models:/finlake-churn/{better.version}")).read()
    assert f"pyspark=={version('pyspark')}" in requirements.splitlines()
    assert f"mlflow=={version('mlflow')}" in requirements.splitlines()

    listed = registry.list_models(registry_settings)
    assert listed == [{"model": "finlake-churn", "kind": "churn", "versions": 4, "main_metric": "lift_at_10",
                       "champion_version": "3", "champion_score": pytest.approx(good_score),
                       "champion_run_id": better.run_id, "latest_version": 4}]
    assert main(["models", "--json", "--mlflow-uri", registry_settings.mlflow_uri]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [(m["model"], m["champion_version"]) for m in printed] == [("finlake-churn", "3")]
