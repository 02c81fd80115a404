"""Synthetic feature tables with planted structure, so model tests know the right answer.

Built with numpy and handed to Spark: tiny (hundreds of rows), deterministic by seed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

SEGMENT_FEATURES = ["aum_balance", "txn_count_30d", "spend_90d", "login_count_30d", "age"]
CHURN_FEATURES = ["txn_count_30d", "txn_trend", "balance_trend", "complaints_90d", "outflow_90d", "tenure_months"]
FRAUD_FEATURES = ["amount_ratio_90d", "txn_count_1h", "new_merchant", "is_night", "is_international"]

# persona -> (aum mean log, txn_count mean, spend mean log, logins mean, age mean)
_PERSONAS = {
    "affluent_investor": (13.0, 12, 9.5, 6, 55),
    "young_digital": (8.5, 40, 8.0, 45, 26),
    "retired_saver": (11.5, 4, 7.0, 1, 70),
    "dormant": (6.0, 0.3, 3.0, 0.2, 45),
}


def customers(n: int = 400, seed: int = 1) -> pd.DataFrame:
    """One row per customer: four well separated personas, a few null features."""
    rng = np.random.default_rng(seed)
    names = list(_PERSONAS)
    persona = rng.choice(len(names), size=n)
    p = np.array([_PERSONAS[names[i]] for i in persona])
    frame = pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "persona": [names[i] for i in persona],
        "aum_balance": np.exp(rng.normal(p[:, 0], 0.4)),
        "txn_count_30d": rng.poisson(p[:, 1]).astype("int64"),
        "spend_90d": np.exp(rng.normal(p[:, 2], 0.4)),
        "login_count_30d": rng.poisson(p[:, 3]).astype("int64"),
        "age": np.clip(rng.normal(p[:, 4], 4), 18, 95).round().astype("int64"),
    })
    frame.loc[rng.random(n) < 0.03, "aum_balance"] = np.nan
    return frame


def churn_snapshots(n_customers: int = 150, months: int = 8, seed: int = 2) -> pd.DataFrame:
    """(customer_id, as_of) monthly snapshots; churn probability is a known logistic of features.

    ``true_p`` is the planted probability (the oracle); ``churned`` is drawn from it.
    """
    rng = np.random.default_rng(seed)
    rows = []
    month_ends = [(pd.Timestamp(2025, 1, 31) + pd.offsets.MonthEnd(m)).date() for m in range(months)]
    for as_of in month_ends:
        n = n_customers
        f = {
            "txn_count_30d": rng.poisson(10, n).astype("int64"),
            "txn_trend": rng.normal(0, 1, n),
            "balance_trend": rng.normal(0, 1, n),
            "complaints_90d": rng.poisson(0.3, n).astype("int64"),
            "outflow_90d": np.exp(rng.normal(7, 1.0, n)),
            "tenure_months": rng.integers(1, 240, n).astype("int64"),
        }
        logit = (-2.2 - 1.4 * f["txn_trend"] - 1.0 * f["balance_trend"] + 0.9 * f["complaints_90d"]
                 + 0.6 * (np.log(f["outflow_90d"]) - 7) - 0.004 * f["tenure_months"])
        p = 1 / (1 + np.exp(-logit))
        rows.append(pd.DataFrame({"customer_id": [f"C{i:05d}" for i in range(n)], "as_of": as_of, **f,
                                  "true_p": p, "churned": rng.random(n) < p}))
    return pd.concat(rows, ignore_index=True)


def card_transactions(n: int = 3000, days: int = 120, seed: int = 3) -> pd.DataFrame:
    """Card transactions over ``days``; ~3% fraud driven by a known logistic; reports arrive 10-60 days late."""
    rng = np.random.default_rng(seed)
    start = datetime(2025, 1, 1)
    ts = sorted(start + timedelta(seconds=float(s)) for s in rng.uniform(0, days * 86400, n))
    f = {
        "amount_ratio_90d": np.exp(rng.normal(0, 0.8, n)),
        "txn_count_1h": rng.poisson(0.4, n).astype("int64"),
        "new_merchant": rng.random(n) < 0.2,
        "is_night": rng.random(n) < 0.15,
        "is_international": rng.random(n) < 0.05,
    }
    logit = (-5.5 + 2.2 * np.log(f["amount_ratio_90d"]) + 1.2 * f["txn_count_1h"] + 2.0 * f["new_merchant"]
             + 1.5 * f["is_night"] + 2.0 * f["is_international"])
    p = 1 / (1 + np.exp(-logit))
    fraud = rng.random(n) < p
    delay = rng.uniform(10, 60, n)
    reported = [t + timedelta(days=float(d)) if fr else None for t, d, fr in zip(ts, delay, fraud)]
    return pd.DataFrame({"txn_id": [f"T{i:06d}" for i in range(n)], "customer_id": [f"C{i % 300:05d}" for i in range(n)],
                         "ts": ts, "business_date": [t.date() for t in ts], **f, "true_p": p,
                         "is_fraud": fraud, "fraud_reported_at": reported})


def to_spark(spark, frame: pd.DataFrame):
    """A Spark DataFrame with NaN turned into null (as a feature table would hold it)."""
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            columns[name] = [None if pd.isna(v) else v.to_pydatetime() for v in values]
        else:
            columns[name] = [None if (isinstance(v, float) and np.isnan(v)) else (v.item() if hasattr(v, "item") else v)
                             for v in values]
    rows = list(zip(*columns.values()))
    return spark.createDataFrame(rows, schema=list(frame.columns))
