"""Shared MLlib stages: feature columns in, one assembled (optionally scaled) vector out.

Every model starts the same way: numeric feature columns of any type, some null, some heavy
tailed (amounts, balances, counts). The stages here make that a clean vector inside the fitted
pipeline, so scoring a new month applies exactly what training learned (medians, scales).
"""

from __future__ import annotations

from pyspark.ml import Estimator, Transformer
from pyspark.ml.feature import Imputer, SQLTransformer, StandardScaler, VectorAssembler
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# A non-negative column whose skewness exceeds this is modelled as log(1 + x): KMeans and
# logistic regression see distances and linear effects, which a few millionaires would
# otherwise dominate. Trees do not care, so classifiers built on GBT skip the transform.
SKEW_LIMIT = 2.0


class FeatureColumnsError(ValueError):
    """The DataFrame lacks feature columns, or a feature column is not numeric."""


def check_feature_columns(df: DataFrame, feature_cols: list[str], *extra: str) -> None:
    """Fail early, naming the columns, instead of deep inside a Spark plan."""
    missing = [c for c in [*feature_cols, *extra] if c not in df.columns]
    if missing:
        raise FeatureColumnsError(f"DataFrame lacks columns {missing}; it has {df.columns}")
    types = dict(df.dtypes)
    bad = [c for c in feature_cols if not (types[c] in ("int", "bigint", "smallint", "tinyint", "double", "float",
                                                         "boolean") or types[c].startswith("decimal"))]
    if bad:
        raise FeatureColumnsError(f"feature columns must be numeric or boolean; not {[(c, types[c]) for c in bad]}")
    if not feature_cols:
        raise FeatureColumnsError("no feature columns given")


def skewed_columns(df: DataFrame, feature_cols: list[str], limit: float = SKEW_LIMIT) -> list[str]:
    """Non-negative feature columns whose skewness exceeds ``limit`` (one aggregation pass)."""
    aggs = []
    for i, c in enumerate(feature_cols):
        x = F.col(c).cast("double")
        aggs += [F.min(x).alias(f"min{i}"), F.skewness(x).alias(f"skew{i}")]
    row = df.agg(*aggs).first()
    return [c for i, c in enumerate(feature_cols)
            if row[f"min{i}"] is not None and row[f"min{i}"] >= 0 and (row[f"skew{i}"] or 0.0) > limit]


def vector_stages(feature_cols: list[str], log_cols: list[str], output_col: str, scale: bool
                  ) -> list[Estimator | Transformer]:
    """Stages: cast (and log1p for ``log_cols``) → median imputation → assemble → [standardise].

    Internal columns are prefixed ``__`` so they never collide with the input's columns.
    """
    exprs = []
    for i, c in enumerate(feature_cols):
        x = f"CAST(`{c}` AS DOUBLE)"
        exprs.append(f"LN(1 + GREATEST({x}, 0)) AS `__x{i}`" if c in log_cols else f"{x} AS `__x{i}`")
    prepare = SQLTransformer(statement=f"SELECT *, {', '.join(exprs)} FROM __THIS__")
    raw = [f"__x{i}" for i in range(len(feature_cols))]
    imputed = [f"__i{i}" for i in range(len(feature_cols))]
    imputer = Imputer(inputCols=raw, outputCols=imputed, strategy="median")
    assembled = "__assembled" if scale else output_col
    stages: list[Estimator | Transformer] = [prepare, imputer,
                                             VectorAssembler(inputCols=imputed, outputCol=assembled, handleInvalid="keep")]
    if scale:
        stages.append(StandardScaler(inputCol=assembled, outputCol=output_col, withMean=True, withStd=True))
    return stages
