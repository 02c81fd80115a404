"""Benchmark the models: training wall time, quality against the planted truth, and a LightGBM baseline.

Usage (a lake whose feature layer is built from generated data, e.g. ``finlake run``):

    .venv/bin/python bench/bench_models.py --home /tmp/bench-0.1 --landing /tmp/bench-0.1/landing \
        [--label 0.1] [--models segmentation churn fraud]

For each model, on the current feature tables:

- ``train_seconds``: wall time of the library training function (the same call the job makes,
  without MLflow logging), Spark ``local[2]`` with a 2 GB driver (``--driver-memory``);
- segmentation: adjusted Rand index of the segments against the planted personas at the k the
  silhouette chose from the default range, and the silhouette and ARI at every k from 4 to 9
  (``_truth/personas``; goal >= 0.6);
- churn: ROC-AUC of the model on its out-of-time validation rows against the oracle ROC-AUC of
  the generator's true probabilities on the same rows (``_truth/churn_monthly``, month_end =
  as_of - 1 day; goal ratio >= 0.9), and PR-AUC against LightGBM trained on the same split;
- fraud: PR-AUC against the oracle's (``_truth/fraud`` p_fraud; goal ratio >= 0.7) and against
  LightGBM trained on the same training rows and labels (goal ratio >= 0.95).

Results are printed and written to ``bench/results/models_<label>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger("bench_models")
RESULTS = Path(__file__).parent / "results"


def read_truth(landing: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(landing / "_truth" / table)


def lightgbm_pr_auc(train: pd.DataFrame, valid: pd.DataFrame, features: list[str], label: str,
                    weight: str | None = None) -> float:
    import lightgbm as lgb

    from finlake.models.evaluation import pr_auc

    model = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.05, num_leaves=31, verbose=-1, n_jobs=2)
    model.fit(train[features].astype(float), train[label], sample_weight=train[weight] if weight else None)
    return pr_auc(valid[label], model.predict_proba(valid[features].astype(float))[:, 1])


def bench_segmentation(lake, landing: Path) -> dict:
    from pyspark.sql import functions as F
    from sklearn.metrics import adjusted_rand_score

    from finlake.models import segmentation, workflows

    features = lake.read(workflows.CUSTOMER_MONTHLY)
    as_of = workflows.latest_as_of(features)
    snapshot = features.where(F.col("as_of") == F.lit(as_of)).cache()
    started = time.perf_counter()
    result = segmentation.train_segmentation(snapshot, workflows.SEGMENTATION_FEATURES,
                                             k_values=lake.settings.segmentation_k_values())
    seconds = time.perf_counter() - started
    personas = read_truth(landing, "personas")

    def ari(model) -> float:
        assigned = model.transform(snapshot).select("customer_id", "segment_id").toPandas()
        joined = assigned.merge(personas, on="customer_id")
        return adjusted_rand_score(joined["persona"], joined["segment_id"])

    # What the choice of k costs: silhouette and ARI had each k from 4 to 9 been the only candidate.
    by_k = {}
    for k in range(4, 10):
        fixed = segmentation.train_segmentation(snapshot, workflows.SEGMENTATION_FEATURES, k_values=(k,))
        by_k[k] = {"silhouette": round(fixed.silhouette, 3), "ari": round(ari(fixed.model), 3)}
    return {"train_seconds": round(seconds, 1), "as_of": as_of.isoformat(), "customers": snapshot.count(),
            "k_values": sorted(result.silhouette_by_k), "k": result.k, "silhouette": result.silhouette,
            "ari_vs_personas": ari(result.model), "by_k": by_k, "segments": result.names}


def bench_churn(lake, landing: Path) -> dict:
    from pyspark.sql import functions as F

    from finlake.models import churn, registry, workflows
    from finlake.models.classifier import LABEL_COL
    from finlake.models.evaluation import pr_auc, positive_probability, roc_auc
    from finlake.models.splits import out_of_time_split

    inputs = registry.input_tables(lake, [workflows.CUSTOMER_MONTHLY, workflows.CHURN_LABELS])
    rows = workflows.churn_training_rows(lake, inputs).cache()
    feature_cols = workflows.numeric_features(rows.drop("churned"))
    started = time.perf_counter()
    result = churn.train_churn(rows, feature_cols)
    seconds = time.perf_counter() - started
    valid = churn.validation_rows(rows)
    scored = (result.model.transform(valid)
              .select("customer_id", "as_of", F.col(LABEL_COL).alias("y"), positive_probability().alias("p"))
              .toPandas())
    truth = read_truth(landing, "churn_monthly")
    truth["as_of"] = (pd.to_datetime(truth["month_end"]) + timedelta(days=1)).dt.date
    joined = scored.merge(truth[["customer_id", "as_of", "p_churn_90d"]], on=["customer_id", "as_of"], how="left")
    oracle_rows = joined.dropna(subset=["p_churn_90d"])
    split = out_of_time_split(rows.withColumn(LABEL_COL, F.col("churned").cast("double")), "as_of", 2, churn.HORIZON_DAYS)
    train_pd = split.train.select(*feature_cols, LABEL_COL).toPandas()
    valid_pd = split.valid.select(*feature_cols, LABEL_COL).toPandas()
    lgb = lightgbm_pr_auc(train_pd, valid_pd, feature_cols, LABEL_COL)
    model_roc = roc_auc(oracle_rows["y"], oracle_rows["p"])
    oracle_roc = roc_auc(oracle_rows["y"], oracle_rows["p_churn_90d"])
    return {"train_seconds": round(seconds, 1), "algorithm": result.algorithm, **result.extras,
            "valid_rows": len(scored), "rows_with_truth": len(oracle_rows),
            "roc_auc": model_roc, "oracle_roc_auc": oracle_roc, "roc_ratio_vs_oracle": model_roc / oracle_roc,
            "pr_auc": result.metrics["pr_auc"], "lift_at_10": result.metrics["lift_at_10"],
            "lightgbm_pr_auc": lgb, "pr_ratio_vs_lightgbm": result.metrics["pr_auc"] / lgb,
            "candidates": result.candidates}


def bench_fraud(lake, landing: Path) -> dict:
    from pyspark.sql import functions as F

    from finlake.models import fraud, workflows
    from finlake.models.classifier import LABEL_COL, WEIGHT_COL
    from finlake.models.evaluation import positive_probability, pr_auc

    rows = workflows.fraud_model_input(lake.read(workflows.TRANSACTION_FRAUD)).cache()
    feature_cols = workflows.numeric_features(rows)
    args = dict(label_col="is_fraud", time_col="ts", reported_col="fraud_reported_date")
    started = time.perf_counter()
    result = fraud.train_fraud(rows, feature_cols, id_col="txn_id", **args)
    seconds = time.perf_counter() - started
    split = fraud.fraud_split(rows, **args)
    scored = (result.model.transform(split.valid)
              .select("txn_id", F.col(LABEL_COL).alias("y"), positive_probability().alias("p")).toPandas())
    joined = scored.merge(read_truth(landing, "fraud")[["txn_id", "p_fraud"]], on="txn_id", how="left")
    oracle = pr_auc(joined["y"], joined["p_fraud"].fillna(0.0))
    sampled, _ = fraud.sample_negatives(split.train, "txn_id", fraud.NEGATIVES_PER_POSITIVE, 7)
    train_pd = sampled.select(*feature_cols, LABEL_COL, WEIGHT_COL).toPandas()
    valid_pd = split.valid.select(*feature_cols, LABEL_COL).toPandas()
    lgb = lightgbm_pr_auc(train_pd, valid_pd, feature_cols, LABEL_COL, WEIGHT_COL)
    model_pr = result.metrics["pr_auc"]
    return {"train_seconds": round(seconds, 1), "algorithm": result.algorithm,
            **{k: v for k, v in result.extras.items()}, "pr_auc": model_pr, "oracle_pr_auc": oracle,
            "pr_ratio_vs_oracle": model_pr / oracle, "lightgbm_pr_auc": lgb, "pr_ratio_vs_lightgbm": model_pr / lgb,
            "recall_at_budget": result.metrics["recall_at_budget"], "precision_at_100": result.metrics["precision_at_100"],
            "rows_with_truth": int(joined["p_fraud"].notna().sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="finlake home with the feature layer built")
    parser.add_argument("--landing", required=True, help="landing folder holding the generator's _truth/")
    parser.add_argument("--label", default="0.1", help="scale label for the results file")
    parser.add_argument("--models", nargs="+", default=["segmentation", "churn", "fraud"])
    parser.add_argument("--driver-memory", default="2g", help="JVM heap of the local Spark driver (6g at scale 1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    from finlake.lake import Lake
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    settings = load_settings(overrides={"home": args.home, "spark_master": "local[2]",
                                        "spark_conf": {"spark.driver.memory": args.driver_memory}})
    lake = Lake(get_spark(settings, "bench-models"), settings)
    benches = {"segmentation": bench_segmentation, "churn": bench_churn, "fraud": bench_fraud}
    results: dict = {"label": args.label, "home": args.home}
    for name in args.models:
        log.info("benchmarking %s", name)
        results[name] = benches[name](lake, Path(args.landing))
        print(json.dumps({name: results[name]}, indent=2, default=str))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"models_{args.label}.json"
    out.write_text(json.dumps(results, indent=2, default=lambda v: float(v) if isinstance(v, np.floating) else str(v)))
    log.info("wrote %s", out)


if __name__ == "__main__":
    main()
