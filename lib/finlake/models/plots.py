"""PNG figures for model runs: ROC, PR, lift, calibration, silhouette curve, segment profiles.

Each function writes one PNG and returns its path. The Agg backend renders without a display,
on a laptop, a CI runner or a cluster driver alike.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from finlake.models.evaluation import lift_curve, pr_auc, reliability_curve, roc_auc  # noqa: E402


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def roc_png(y, s, path: Path, title: str) -> Path:
    fpr, tpr, _ = roc_curve(y, s)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"ROC-AUC {roc_auc(y, s):.3f}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right")
    return _save(fig, path)


def pr_png(y, s, path: Path, title: str) -> Path:
    precision, recall, _ = precision_recall_curve(y, s)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(recall, precision, label=f"PR-AUC {pr_auc(y, s):.3f}")
    ax.axhline(float(np.mean(y)), linestyle="--", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title=title, ylim=(0, 1.02))
    ax.legend(loc="upper right")
    return _save(fig, path)


def lift_png(y, s, path: Path, title: str) -> Path:
    curve = lift_curve(y, s)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(curve["fraction"] * 100, curve["lift"], marker="o", label="cumulative lift")
    ax.axhline(1.0, linestyle="--", color="grey")
    ax2 = ax.twinx()
    ax2.plot(curve["fraction"] * 100, curve["capture"] * 100, color="tab:orange", label="capture %")
    ax.set(xlabel="top % of customers by score", ylabel="lift", title=title)
    ax2.set_ylabel("share of positives captured (%)")
    return _save(fig, path)


def calibration_png(y, s, path: Path, title: str) -> Path:
    table = reliability_curve(y, s)
    top = float(max(table["mean_predicted"].max(), table["observed_rate"].max(), 1e-6))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(table["mean_predicted"], table["observed_rate"], marker="o", label="model")
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect calibration")
    ax.set(xlabel="mean predicted probability (decile)", ylabel="observed rate", title=title)
    ax.legend(loc="upper left")
    return _save(fig, path)


def silhouette_png(scores: dict[int, float], chosen: int, path: Path) -> Path:
    ks = sorted(scores)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(ks, [scores[k] for k in ks], marker="o")
    ax.axvline(chosen, linestyle="--", color="tab:red", label=f"chosen k={chosen}")
    ax.set(xlabel="number of segments k", ylabel="silhouette (holdout)", title="segmentation: silhouette by k")
    ax.legend()
    return _save(fig, path)


def segment_profile_png(profile: pd.DataFrame, feature_cols: list[str], path: Path) -> Path:
    """Heat map: segment (rows) x feature (columns), centroid z-score."""
    z = profile[[f"z_{c}" for c in feature_cols]].to_numpy()
    labels = [f"{sid}: {name} ({share:.0%})" for sid, name, share in
              zip(profile["segment_id"], profile["segment_name"], profile["share"])]
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(feature_cols) + 3), 0.6 * len(labels) + 2))
    bound = max(1.0, float(np.nanmax(np.abs(z))))
    image = ax.imshow(z, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
    ax.set_xticks(range(len(feature_cols)), feature_cols, rotation=70, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_title("segment profiles: feature z-score of each centroid")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _save(fig, path)


def importance_png(importance: pd.DataFrame, path: Path, title: str, top: int = 20) -> Path:
    head = importance.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(head) + 1.5))
    ax.barh(head["feature"], head["importance"])
    ax.set(xlabel="importance (share)", title=title)
    return _save(fig, path)


def classifier_pngs(y, s, importance: pd.DataFrame, folder: Path, model: str) -> list[Path]:
    """The standard set for a binary classifier."""
    return [roc_png(y, s, folder / "roc.png", f"{model}: ROC"),
            pr_png(y, s, folder / "pr.png", f"{model}: precision-recall"),
            lift_png(y, s, folder / "lift.png", f"{model}: lift"),
            calibration_png(y, s, folder / "calibration.png", f"{model}: calibration"),
            importance_png(importance, folder / "feature_importance.png", f"{model}: feature importance")]
