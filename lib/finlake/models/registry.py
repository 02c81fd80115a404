"""MLflow: experiments, training runs, lineage, registration, and the champion/challenger decision.

The only finlake module that calls MLflow (training functions stay pure). Tracking and registry
both use ``settings.mlflow_uri``: an embedded SQLite store under ``<home>/mlflow`` by default,
any MLflow server by its ``http://`` URI.

One experiment and one registered model per model kind (``finlake-segmentation``,
``finlake-churn``, ``finlake-fraud``). Every training run records its parameters, metrics, PNG
plots, CSV tables, the Delta version of every input table with the quality-gate result recorded
for it (run inputs and tags), and the Spark model with a signature and an input example.

Champion/challenger: the new version takes the ``@champion`` alias only if every input table
passed its blocking gates and its main metric on the holdout beats the current champion's on
the same holdout by ``settings.champion_margin`` (a fraction of the champion's score: 0.02
means 2% better). Otherwise it is tagged ``challenger``. The decision, its reason and both
scores are tags on the model version and on the run.
"""

from __future__ import annotations

import logging
import math
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from finlake.errors import FinlakeError, InfrastructureError
from finlake.settings import Settings

log = logging.getLogger(__name__)

KINDS = ("segmentation", "churn", "fraud")
MAIN_METRIC = {"segmentation": "silhouette", "churn": "lift_at_10", "fraud": "pr_auc"}
CHAMPION = "champion"
# Version tag: the first date the training data did not cover (ISO date). Model tags of a cut-off
# come only from a version whose data ended on or before it (see models_for_cutoffs).
DATA_UNTIL = "finlake.data_until"
QUALITY_RESULTS = "quality.results"
# What loading a logged Spark ML pipeline through mlflow.pyfunc imports. Given explicitly, pinned
# to this environment's versions: left to infer them, MLflow reloads the model in a subprocess
# that starts a Spark session of its own, about 15 s per logged model.
MODEL_REQUIREMENTS = ("mlflow", "numpy", "pandas", "pyarrow", "pyspark", "scipy")


class ModelRegistryError(FinlakeError):
    """No champion to score with, or the registry holds something unexpected."""


def model_name(kind: str) -> str:
    """Registered model (and experiment) name of a model kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown model kind '{kind}'; choose from {KINDS}")
    return f"finlake-{kind}"


# --- tracking store ------------------------------------------------------------------------
def _local_store_dir(uri: str) -> Path | None:
    """The folder of a local store (sqlite file or file:// folder), None for a server."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).parent  # sqlite:////abs/m.db -> /abs
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    return None


def store_exists(settings: Settings) -> bool:
    """False when ``settings.mlflow_uri`` is a local store that was never created (no model was
    ever trained there): readers then know there is no model without creating an empty store,
    which for sqlite costs seconds of schema migrations. A server is taken to exist."""
    uri = settings.mlflow_uri
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).is_file()
    folder = _local_store_dir(uri)
    return folder is None or folder.is_dir()


def client_for(settings: Settings):
    """An MlflowClient on ``settings.mlflow_uri``, also set as the process's tracking and registry
    URI (``mlflow.spark.log_model`` uses the fluent API)."""
    import mlflow
    from mlflow import MlflowClient

    uri = settings.mlflow_uri
    folder = _local_store_dir(uri)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(client, settings: Settings, kind: str) -> str:
    """The experiment of ``kind``, created on first use. With a local store, artifacts go to
    ``<store folder>/artifacts`` (MLflow would otherwise write ``./mlruns`` in the working
    directory); a server keeps its own artifact root."""
    name = model_name(kind)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    folder = _local_store_dir(settings.mlflow_uri)
    location = (folder / "artifacts" / name).resolve().as_uri() if folder is not None else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # another process created it meanwhile
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


# --- lineage: Delta versions and gate results of the inputs ----------------------------------
@dataclass(frozen=True)
class InputTable:
    """One input table as the model saw it: Delta version and the gate result recorded for it."""

    name: str
    version: int
    gate: str  # passed | failed | unknown
    gate_run: str | None = None
    gate_checked_version: int | None = None

    def tags(self) -> dict[str, str]:
        prefix = f"input.{self.name}"
        tags = {f"{prefix}.version": str(self.version), f"{prefix}.gate": self.gate}
        if self.gate_run:
            tags[f"{prefix}.gate_run"] = self.gate_run
        return tags


def gate_status(lake, table: str) -> tuple[str, str | None, int | None]:
    """(passed | failed | unknown, run id, checked table version) of the latest gate on ``table``.

    Reads the latest run's rows of ``quality.results`` for the table (the latest result per
    expectation within that run, so a retried check counts once). "failed" means a blocking
    expectation failed without a waiver. "unknown" means no result was ever recorded: the
    table was written without a gate, and a model trained on it must not become champion.
    """
    if not lake.exists(QUALITY_RESULTS):
        return "unknown", None, None
    rows = lake.read(QUALITY_RESULTS).where(F.col("table") == table)
    latest = rows.orderBy(F.col("checked_at").desc()).select("run_id").first()
    if latest is None:
        return "unknown", None, None
    run_id = latest["run_id"]
    run_rows = (rows.where(F.col("run_id") == run_id)
                .withColumn("_rank", F.row_number().over(
                    Window.partitionBy("expectation").orderBy(F.col("checked_at").desc())))
                .where("_rank = 1"))
    summary = run_rows.agg(
        F.sum(F.when((F.col("severity") == "blocking") & ~F.col("success") & ~F.col("waived"), 1).otherwise(0))
        .alias("blocking_failures"),
        F.max("table_version").alias("table_version")).first()
    status = "failed" if summary["blocking_failures"] else "passed"
    return status, run_id, summary["table_version"]


def input_tables(lake, names: list[str]) -> list[InputTable]:
    """The current version and gate status of each input table (read them at these versions)."""
    out = []
    for name in names:
        status, run_id, checked = gate_status(lake, name)
        out.append(InputTable(name, lake.version(name), status, run_id, checked))
    return out


def gates_passed(inputs: list[InputTable]) -> bool:
    return all(i.gate == "passed" for i in inputs)


# --- the decision ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    new_score: float
    champion_score: float | None
    champion_version: str | None = None

    def tags(self) -> dict[str, str]:
        return {
            "decision": CHAMPION if self.promote else "challenger",
            "decision.reason": self.reason,
            "decision.new_score": repr(self.new_score),
            "decision.champion_score": "none" if self.champion_score is None else repr(self.champion_score),
            "decision.champion_version": self.champion_version or "none",
        }


def decide(new_score: float, champion_score: float | None, data_passed_gates: bool, margin: float,
           champion_version: str | None = None, champion_note: str = "") -> Decision:
    """Whether a new version takes ``@champion`` (pure; see the module docstring).

    Higher is better for every main metric (silhouette, lift, PR-AUC). A champion that could
    not be scored on the holdout (``champion_score`` None while ``champion_version`` is set) is
    replaced: it cannot be compared, and a model that cannot score today's features is no
    champion.
    """
    def result(promote: bool, reason: str) -> Decision:
        return Decision(promote, reason, new_score, champion_score, champion_version)

    if not data_passed_gates:
        return result(False, "input data did not pass its blocking quality gates (or has no gate result)")
    if new_score is None or math.isnan(new_score):
        return result(False, "the new model's main metric is undefined on the holdout")
    if champion_version is None:
        return result(True, "no champion yet")
    if champion_score is None or math.isnan(champion_score):
        return result(True, f"the champion could not be scored on the holdout ({champion_note or 'no score'})")
    needed = champion_score + margin * abs(champion_score)
    if new_score > needed:
        return result(True, f"{new_score:.4f} beats the champion's {champion_score:.4f} by more than margin {margin}")
    return result(False, f"{new_score:.4f} does not beat the champion's {champion_score:.4f} by margin {margin}")


# --- champions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Champion:
    name: str
    version: str
    run_id: str
    tags: dict[str, str]
    model: PipelineModel | None = None


def current_champion(client, kind: str):
    """The ModelVersion holding ``@champion`` or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name(kind), CHAMPION)
    except MlflowException:
        return None


def find_champion(settings: Settings, kind: str) -> Champion | None:
    """The ``@champion`` model of ``kind`` loaded as a Spark PipelineModel, or None if there is none."""
    import mlflow.spark

    if not store_exists(settings):
        return None
    client = client_for(settings)
    version = current_champion(client, kind)
    if version is None:
        return None
    model = mlflow.spark.load_model(f"models:/{model_name(kind)}@{CHAMPION}")
    return Champion(model_name(kind), str(version.version), version.run_id, dict(version.tags), model)


def models_for_cutoffs(settings: Settings, kind: str, cutoffs: list[date]) -> list[tuple[Champion, list[date]]]:
    """Which model of ``kind`` may describe the customers at each cut-off, without the future.

    A cut-off on or after the ``@champion``'s ``finlake.data_until`` gets the champion. An earlier
    cut-off (a past month rebuilt) gets the newest version that was promoted when it was trained
    and whose data ended on or before that cut-off: the champion of that time. A cut-off older than
    every such version gets no model; a version with no ``data_until`` (trained before finlake
    recorded it) is taken to fit every cut-off. Returns (loaded model, its cut-offs) pairs.
    """
    import mlflow.spark

    if not store_exists(settings):
        return []
    client = client_for(settings)
    current = current_champion(client, kind)
    if current is None:
        return []
    name = model_name(kind)

    def until(version) -> date | None:
        value = version.tags.get(DATA_UNTIL)
        return date.fromisoformat(value) if value else None

    former = sorted((v for v in client.search_model_versions(f"name='{name}'")
                     if v.tags.get("decision") == CHAMPION and until(v) is not None),
                    key=lambda v: int(v.version), reverse=True)
    chosen: dict[str, list[date]] = {}
    versions = {str(current.version): current}
    for cutoff in sorted(cutoffs):
        version = current if until(current) is None or until(current) <= cutoff else next(
            (v for v in former if until(v) <= cutoff), None)
        if version is None:
            log.info("%s: no version trained on data before %s; that cut-off gets no model tags", name, cutoff)
            continue
        versions[str(version.version)] = version
        chosen.setdefault(str(version.version), []).append(cutoff)
    return [(Champion(name, number, versions[number].run_id, dict(versions[number].tags),
                      mlflow.spark.load_model(f"models:/{name}/{number}")), days)
            for number, days in chosen.items()]


def load_champion(settings: Settings, kind: str) -> Champion:
    """Like ``find_champion``, but a missing champion is an error that says how to make one."""
    champion = find_champion(settings, kind)
    if champion is None:
        raise ModelRegistryError(f"registered model '{model_name(kind)}' has no @{CHAMPION} in {settings.mlflow_uri}; "
                                 f"run 'finlake train {kind}' first")
    return champion


# --- recording a training run -------------------------------------------------------------------
@dataclass
class TrainingRecord:
    """What a training job hands to ``record_training``."""

    kind: str
    model: PipelineModel
    main_score: float
    feature_cols: list[str]
    example: DataFrame  # a few input rows (feature columns) for the signature and input example
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    write_artifacts: Callable[[Path], None] | None = None  # writes PNG/CSV files into a folder
    version_tags: dict[str, str] = field(default_factory=dict)  # e.g. the fraud alert threshold


@dataclass(frozen=True)
class TrainingOutcome:
    name: str
    version: str
    run_id: str
    decision: Decision
    inputs: list[InputTable]

    def summary(self) -> str:
        return (f"{self.name} v{self.version}: {'champion' if self.decision.promote else 'challenger'} "
                f"({self.decision.reason})")


def _log_inputs(inputs: list[InputTable], lake) -> None:
    import mlflow
    from mlflow.data.delta_dataset_source import DeltaDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    for table in inputs:
        source = DeltaDatasetSource(path=lake.path(table.name), delta_table_version=table.version)
        dataset = MetaDataset(source=source, name=table.name, digest=f"v{table.version}")
        mlflow.log_input(dataset, context="training", tags={"gate": table.gate, "delta_version": str(table.version)})


def _signature(model: PipelineModel, example: DataFrame):
    import pandas as pd
    from mlflow.models import infer_signature

    # "prediction" is what MLflow's pyfunc wrapper returns (the segment id, for segmentation).
    sample_out = model.transform(example).select("prediction").toPandas()
    # Integer features are declared as doubles: a pandas integer column cannot hold the nulls a
    # feature may have at inference (MLflow would refuse them); every pipeline casts its inputs
    # to double anyway.
    sample_in = example.toPandas()
    sample_in = sample_in.astype({c: "float64" for c in sample_in.columns if pd.api.types.is_integer_dtype(sample_in[c])})
    return infer_signature(sample_in, sample_out), sample_in


def score_champion(champion: Champion | None, evaluate: Callable[[PipelineModel], float]) -> tuple[float | None, str]:
    """(the champion's main metric from ``evaluate``, note); (None, why) when it cannot be scored,
    for example because the features changed and the old model cannot read them."""
    if champion is None:
        return None, "no champion"
    try:
        return float(evaluate(champion.model)), ""
    except Exception as exc:
        note = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
        log.warning("%s: champion v%s could not be scored on the holdout: %s", champion.name, champion.version, note)
        return None, note


@contextmanager
def _checksummed_local_fs(spark):
    """Let Hadoop's ``FileSystem.getLocal`` work while MLflow copies the saved model.

    finlake's session maps ``file:`` to RawLocalFileSystem (no .crc side files in Delta tables);
    ``mlflow.spark`` saves through Hadoop's ``copyToLocalFile``, which casts the local file
    system to the checksummed LocalFileSystem and fails on the raw one. For the duration of the
    save, ``file:`` resolves to fresh (uncached) LocalFileSystem instances.

    MLflow keeps the file system it first got in a class attribute, for the life of the process.
    If that was before the save (loading the champion to score it on the holdout does it), the
    kept one is the session's raw file system and the save fails. So the attribute is cleared on
    the way in, to be filled inside, and on the way out, so that later loads get the raw one again.
    """
    from mlflow.spark import _HadoopFileSystem

    conf = spark.sparkContext._jsc.hadoopConfiguration()
    saved = {key: conf.get(key) for key in ("fs.file.impl", "fs.file.impl.disable.cache")}
    conf.set("fs.file.impl", "org.apache.hadoop.fs.LocalFileSystem")
    conf.set("fs.file.impl.disable.cache", "true")
    _HadoopFileSystem._filesystem = None
    try:
        yield
    finally:
        _HadoopFileSystem._filesystem = None
        for key, value in saved.items():
            if value is None:
                conf.unset(key)
            else:
                conf.set(key, value)


def _unreachable(exc: Exception) -> bool:
    """A failure to reach the tracking server, judged by the exception's type or its first line.

    Not by the whole text: a JVM error's stack trace names py4j's ``ClientServerConnection`` on
    every call, which made a failed model save read as an unreachable server.
    """
    from py4j.protocol import Py4JError

    if isinstance(exc, Py4JError):
        return False
    first_line = str(exc).strip().split("\n", 1)[0].lower()
    return "Connection" in type(exc).__name__ or "connection" in first_line


def record_training(settings: Settings, lake, record: TrainingRecord, inputs: list[InputTable],
                    champion: Champion | None, champion_score: float | None, champion_note: str = "") -> TrainingOutcome:
    """Log a training run, register the model, and decide champion or challenger.

    ``champion_score`` is the current champion's main metric on the holdout ``record.main_score``
    came from (``score_champion``), so both are judged on the same rows.
    """
    import mlflow
    import mlflow.spark

    client = client_for(settings)
    name = model_name(record.kind)
    exp_id = experiment_id(client, settings, record.kind)
    decision = decide(record.main_score, champion_score, gates_passed(inputs), settings.champion_margin,
                      champion.version if champion is not None else None, champion_note)
    signature, example = _signature(record.model, record.example)
    try:
        with mlflow.start_run(experiment_id=exp_id, run_name=f"train-{record.kind}") as run:
            mlflow.log_params({k: str(v)[:500] for k, v in record.params.items()})
            mlflow.log_param("feature_cols", ",".join(record.feature_cols)[:6000])
            mlflow.log_metrics({k: float(v) for k, v in record.metrics.items()
                                if v is not None and not math.isnan(float(v))})
            mlflow.log_metric(f"main_{MAIN_METRIC[record.kind]}", record.main_score)
            _log_inputs(inputs, lake)
            tags = {"finlake.kind": record.kind, "finlake.main_metric": MAIN_METRIC[record.kind],
                    "margin": str(settings.champion_margin), **decision.tags()}
            for table in inputs:
                tags.update(table.tags())
            mlflow.set_tags(tags)
            if record.write_artifacts is not None:
                with tempfile.TemporaryDirectory(prefix="finlake-artifacts-") as tmp:
                    record.write_artifacts(Path(tmp))
                    mlflow.log_artifacts(tmp)
            with _checksummed_local_fs(lake.spark):
                info = mlflow.spark.log_model(record.model, "model", signature=signature, input_example=example,
                                              registered_model_name=name, pip_requirements=model_requirements())
    except Exception as exc:
        if _unreachable(exc):
            raise InfrastructureError(f"MLflow tracking at {settings.mlflow_uri} is unreachable: {exc}") from exc
        raise
    version = str(info.registered_model_version)
    for key, value in {**tags, **{k: str(v) for k, v in record.version_tags.items()},
                       MAIN_METRIC[record.kind]: repr(record.main_score)}.items():
        client.set_model_version_tag(name, version, key, value)
    if decision.promote:
        client.set_registered_model_alias(name, CHAMPION, version)
        log.info("%s v%s is the new @%s: %s", name, version, CHAMPION, decision.reason)
    else:
        log.info("%s v%s stays challenger: %s", name, version, decision.reason)
    return TrainingOutcome(name, version, run.info.run_id, decision, inputs)


def model_requirements() -> list[str]:
    """MODEL_REQUIREMENTS pinned to the installed versions (the model's requirements.txt)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS]


# --- listing ------------------------------------------------------------------------------------
def list_models(settings: Settings) -> list[dict[str, Any]]:
    """Each registered finlake model: versions, champion version, its main metric and decision."""
    from mlflow.exceptions import MlflowException

    if not store_exists(settings):
        return []
    client = client_for(settings)
    out = []
    for kind in KINDS:
        name = model_name(kind)
        try:
            client.get_registered_model(name)
        except MlflowException:
            continue
        versions = client.search_model_versions(f"name = '{name}'")
        champion = current_champion(client, kind)
        row = {"model": name, "kind": kind, "versions": len(versions), "main_metric": MAIN_METRIC[kind],
               "champion_version": None, "champion_score": None, "champion_run_id": None,
               "latest_version": max((int(v.version) for v in versions), default=None)}
        if champion is not None:
            row.update(champion_version=str(champion.version), champion_run_id=champion.run_id,
                       champion_score=float(champion.tags[MAIN_METRIC[kind]]) if MAIN_METRIC[kind] in champion.tags
                       else None)
        out.append(row)
    return out
