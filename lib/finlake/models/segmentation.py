"""Customer segmentation: KMeans on principal components, k chosen by silhouette, named segments.

``train_segmentation`` works on any DataFrame of customers with numeric feature columns. It
fits the preparation stages once (log of skewed columns, median imputation, standardisation,
then PCA keeping the components with eigenvalue above 1), fits KMeans on those components for
every k in a range, keeps the k with the best silhouette on the holdout, then
describes each segment (size, feature means against the whole, the features that distinguish it
most) and names it from that description.

Segments keep their identity across retrains: given the previous model's segment of each
customer, the new clusters are matched to the old segments by the Hungarian algorithm on the
distance between their centroids (both measured in the new model's scaled space on the same
customers), matched clusters inherit the old segment id, and the old x new migration matrix is
returned. The fitted pipeline ends with a stage that writes ``segment_id`` and ``segment_name``,
so whoever loads the model gets the stable id and the name without any side file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.clustering import KMeans
from pyspark.ml.feature import PCA, SQLTransformer
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from scipy.optimize import linear_sum_assignment

from finlake.models.evaluation import silhouette
from finlake.models.pipeline import check_feature_columns, skewed_columns, vector_stages
from finlake.models.splits import holdout_by_key

log = logging.getLogger(__name__)

FEATURES_COL = "segment_features"  # the scaled features: centroids, profiles and names are read here
COMPONENTS_COL = "segment_components"  # their principal components: KMeans and the silhouette work here
CLUSTER_COL = "cluster"
# A feature distinguishes a segment when its centroid lies this many standard deviations away
# from the overall mean.
DISTINCT_Z = 0.5

# Readable words for feature-name fragments, most specific first. Feature names outside this
# list are still named, from the column name itself.
_LABELS = [
    (r"aum", "AUM"), (r"outflow", "outflow"), (r"wealth|fund|invest", "investment"),
    (r"balance", "balance"), (r"tenure", "tenure"), (r"age", "age"), (r"complain", "complaint"),
    (r"login|app_|session|page_view|product_view", "app"), (r"recency|days_since", "inactivity"),
    (r"txn_count|frequency|count", "activity"), (r"monetary|spend|amount|sum", "spend"),
    (r"loan|mortgage|credit", "credit"), (r"campaign|contact|respon", "campaign-responsive"),
    (r"holding|product", "multi-product"), (r"international|travel", "travel"),
]

# Where "high-x" / "low-x" reads badly.
_TRAITS = {("age", True): "older", ("age", False): "younger", ("inactivity", True): "inactive",
           ("inactivity", False): "recently active"}


@dataclass(frozen=True)
class SegmentationResult:
    """A fitted segmentation and everything worth logging about it."""

    model: PipelineModel  # input: the feature columns; output adds segment_id, segment_name
    k: int
    silhouette: float  # on the holdout, the main metric
    silhouette_by_k: dict[int, float]
    profile: pd.DataFrame  # one row per segment (see segment_profile)
    migration: pd.DataFrame | None  # previous segment (rows) x new segment (columns), customer counts
    feature_cols: list[str]
    log_cols: list[str]

    @property
    def names(self) -> dict[int, str]:
        return dict(zip(self.profile["segment_id"], self.profile["segment_name"]))


def feature_label(column: str) -> str:
    """A short readable word for a feature column (``aum_balance`` -> ``AUM``)."""
    lowered = column.lower()
    share = re.match(r"(?:spend_)?share_(\w+?)(?:_\d+d)?$", lowered)
    if share:
        return f"{share.group(1).replace('_', ' ')}-spending"
    for pattern, label in _LABELS:
        if re.search(pattern, lowered):
            return label
    return re.sub(r"_\d+d$", "", lowered).replace("_", " ")


def segment_name(centroid_z: dict[str, float]) -> str:
    """Name a segment from its centroid (feature -> z): its two most distinctive traits.

    "high-AUM, high-investment customers"; a segment without a trait 0.5 standard deviations
    from the mean is "mainstream customers".
    """
    traits = []
    for feature, z in sorted(centroid_z.items(), key=lambda kv: -abs(kv[1])):
        if abs(z) < DISTINCT_Z or len(traits) == 2:
            break
        label = feature_label(feature)
        trait = _TRAITS.get((label, z > 0), f"{'high' if z > 0 else 'low'}-{label}")
        if trait not in traits:
            traits.append(trait)
    return f"{', '.join(traits) if traits else 'mainstream'} customers"


def _unique_names(names: dict[int, str]) -> dict[int, str]:
    seen: dict[str, int] = {}
    for name in names.values():
        seen[name] = seen.get(name, 0) + 1
    return {sid: (f"{name} ({sid})" if seen[name] > 1 else name) for sid, name in names.items()}


def _centroids(df: DataFrame, group_col: str, n_features: int) -> pd.DataFrame:
    """Mean scaled vector per group, as a (group x feature index) frame."""
    arr = vector_to_array(F.col(FEATURES_COL))
    pdf = (df.groupBy(group_col).agg(*[F.avg(arr[i]).alias(f"f{i}") for i in range(n_features)], F.count("*").alias("n"))
           .toPandas().set_index(group_col).sort_index())
    return pdf


def match_segments(new_centroids: pd.DataFrame, old_centroids: pd.DataFrame) -> dict[int, int]:
    """Map each new cluster to a stable segment id: Hungarian matching on centroid distance.

    Both frames are indexed by cluster/segment id with the same feature columns. Clusters left
    unmatched (more new clusters than old segments) get fresh ids after the largest old one.
    """
    features = [c for c in new_centroids.columns if c != "n"]
    new = new_centroids[features].to_numpy()
    old = old_centroids[features].to_numpy()
    cost = np.linalg.norm(new[:, None, :] - old[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    mapping = {int(new_centroids.index[r]): int(old_centroids.index[c]) for r, c in zip(rows, cols)}
    next_id = int(max(old_centroids.index)) + 1
    for cluster in new_centroids.index:
        if int(cluster) not in mapping:
            mapping[int(cluster)] = next_id
            next_id += 1
    return mapping


def _label_stage(mapping: dict[int, int], names: dict[int, str]) -> SQLTransformer:
    ids = " ".join(f"WHEN {c} THEN {s}" for c, s in sorted(mapping.items()))
    quoted = " ".join(f"WHEN {c} THEN '{names[s].replace(chr(39), chr(39) * 2)}'" for c, s in sorted(mapping.items()))
    # ``prediction`` repeats segment_id: MLflow's pyfunc wrapper of a Spark model returns the column
    # named ``prediction``, so mlflow.pyfunc.load_model(...).predict gives the stable segment ids.
    return SQLTransformer(statement=(f"SELECT *, segment_id AS prediction FROM (SELECT *, "
                                     f"CAST(CASE {CLUSTER_COL} {ids} END AS INT) AS segment_id, "
                                     f"CASE {CLUSTER_COL} {quoted} END AS segment_name FROM __THIS__)"))


def segment_profile(assigned: DataFrame, feature_cols: list[str], centroid_z: pd.DataFrame,
                    names: dict[int, str]) -> pd.DataFrame:
    """Per segment: size, share, mean of each feature (original units), the overall mean, and the
    three most distinguishing features (largest |centroid z|)."""
    means = (assigned.groupBy("segment_id")
             .agg(F.count("*").alias("size"), *[F.avg(F.col(c).cast("double")).alias(c) for c in feature_cols])
             .toPandas().set_index("segment_id").sort_index())
    overall = assigned.agg(*[F.avg(F.col(c).cast("double")).alias(c) for c in feature_cols]).toPandas().iloc[0]
    rows = []
    for sid, row in means.iterrows():
        z = centroid_z.loc[sid]
        top = z.abs().sort_values(ascending=False).index[:3]
        record = {"segment_id": int(sid), "segment_name": names[int(sid)], "size": int(row["size"]),
                  "share": float(row["size"] / means["size"].sum()),
                  "distinguishing": "; ".join(f"{f} z={z[f]:+.2f}" for f in top)}
        for c in feature_cols:
            record[f"mean_{c}"] = float(row[c]) if pd.notna(row[c]) else float("nan")
            record[f"overall_{c}"] = float(overall[c]) if pd.notna(overall[c]) else float("nan")
            record[f"z_{c}"] = float(z[c])
        rows.append(record)
    return pd.DataFrame(rows)


def principal_components(scaled: DataFrame, n_features: int):
    """A fitted PCA keeping the components whose eigenvalue exceeds 1 (the Kaiser criterion).

    On standardised features each feature contributes a variance of 1, so a component above 1
    carries a pattern several features share (AUM with deposits and investments; app logins with
    product views). The components below 1 are what correlated features do not share, their
    noise around the common pattern, which would otherwise add distance between customers and
    blur the clusters. (A feature correlated with no other sits at 1, on the edge of the rule.)
    """
    full = PCA(k=n_features, inputCol=FEATURES_COL, outputCol=COMPONENTS_COL).fit(scaled)
    kept = max(2, min(n_features, int(sum(v * n_features > 1.0 for v in full.explainedVariance.toArray()))))
    log.info("segmentation: %d of %d principal components kept (eigenvalue > 1), %.0f%% of the variance",
             kept, n_features, 100 * float(sum(full.explainedVariance.toArray()[:kept])))
    return PCA(k=kept, inputCol=FEATURES_COL, outputCol=COMPONENTS_COL).fit(scaled)


def train_segmentation(
    df: DataFrame,
    feature_cols: list[str],
    k_values: tuple[int, ...],
    id_col: str = "customer_id",
    previous: DataFrame | None = None,
    max_iter: int = 30,
    seed: int = 7,
    restarts: int = 3,
) -> SegmentationResult:
    """Fit the segmentation on ``df`` (one row per customer).

    ``k_values``: the candidate numbers of segments, required (jobs pass the ``segmentation_k``
    setting); that setting's default 5-9 is the range marketers can act on (one strategy per segment) above the 4-way split the statistical and rule tags already
    give (age band, AUM tier, active or dormant), which the silhouette alone tends to prefer.
    ``previous``: (``id_col``, ``segment_id``) rows from the current champion on the same
    customers; when given, segment ids are kept stable and the migration matrix is returned. ``restarts``: KMeans fits per k (seeds ``seed``, ``seed + 1``,
    ...), the one with the lowest training cost kept.
    """
    check_feature_columns(df, feature_cols, id_col)
    train, holdout = holdout_by_key(df, id_col)
    log_cols = skewed_columns(train, feature_cols)
    scaled = Pipeline(stages=vector_stages(feature_cols, log_cols, FEATURES_COL, scale=True)).fit(train)
    prep = PipelineModel([*scaled.stages, principal_components(scaled.transform(train), len(feature_cols))])
    train_vec = prep.transform(train).select(id_col, COMPONENTS_COL).cache()
    holdout_vec = prep.transform(holdout).select(id_col, COMPONENTS_COL).cache()
    try:
        scores: dict[int, float] = {}
        models = {}
        for k in k_values:
            # KMeans finds a local optimum that depends on its random start: keep the tightest of
            # ``restarts`` fits (lowest within-cluster sum of squares), as scikit-learn's n_init does.
            fits = [KMeans(featuresCol=COMPONENTS_COL, predictionCol=CLUSTER_COL, k=k, maxIter=max_iter,
                           seed=seed + r).fit(train_vec) for r in range(restarts)]
            km = min(fits, key=lambda m: m.summary.trainingCost)
            scores[k] = silhouette(km.transform(holdout_vec), COMPONENTS_COL, CLUSTER_COL)
            models[k] = km
            log.info("segmentation k=%d silhouette=%.4f", k, scores[k])
        best_k = max(scores, key=lambda k: (scores[k], -k))
        kmeans = models[best_k]
        clustered = kmeans.transform(prep.transform(df)).cache()
        centroids = _centroids(clustered, CLUSTER_COL, len(feature_cols))
        migration = None
        if previous is not None:
            joined = clustered.join(previous.select(id_col, F.col("segment_id").alias("previous_segment")), id_col)
            old_centroids = _centroids(joined, "previous_segment", len(feature_cols))
            mapping = match_segments(centroids, old_centroids)
        else:  # first model: the largest cluster is segment 0
            order = centroids["n"].sort_values(ascending=False, kind="stable").index
            mapping = {int(c): i for i, c in enumerate(order)}
        centroid_z = centroids.drop(columns="n").rename(index=mapping).sort_index()
        centroid_z.columns = feature_cols
        names = _unique_names({sid: segment_name(centroid_z.loc[sid].to_dict()) for sid in centroid_z.index})
        label = _label_stage(mapping, names)
        model = PipelineModel([*prep.stages, kmeans, label])
        assigned = label.transform(clustered)
        profile = segment_profile(assigned, feature_cols, centroid_z, names)
        if previous is not None:
            migration = migration_matrix(label.transform(joined), "previous_segment", "segment_id")
        clustered.unpersist()
    finally:
        train_vec.unpersist()
        holdout_vec.unpersist()
    return SegmentationResult(model=model, k=best_k, silhouette=scores[best_k], silhouette_by_k=scores,
                              profile=profile, migration=migration, feature_cols=list(feature_cols), log_cols=log_cols)


def migration_matrix(df: DataFrame, old_col: str, new_col: str) -> pd.DataFrame:
    """Customer counts: previous segment (rows) x new segment (columns)."""
    pdf = df.groupBy(old_col, new_col).count().toPandas()
    return pdf.pivot(index=old_col, columns=new_col, values="count").fillna(0).astype(int).sort_index().sort_index(axis=1)


def evaluate_segmentation(model: PipelineModel, df: DataFrame) -> float:
    """Silhouette of any fitted segmentation model on ``df`` (used to compare champion and challenger),
    measured where the model clusters: its principal components (models before the PCA stage
    clustered the scaled features themselves)."""
    out = model.transform(df)
    return silhouette(out, COMPONENTS_COL if COMPONENTS_COL in out.columns else FEATURES_COL, CLUSTER_COL)
