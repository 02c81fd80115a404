"""Churn as a latent process: a decline starts (hazard), then the customer leaves 60-120 days later.

Precursors (falling activity, money moved to other banks, complaints, product closures) are
driven by how far a customer is into the decline, so they show in the months before the churn
date. Because the process is explicit, the true probability of churning within 90 days of any
date can be computed exactly, which is what the oracle score in ``_truth/churn_monthly`` is.
"""

from __future__ import annotations

import numpy as np

# Base daily hazard of a decline starting; with persona multipliers (mean ~1.1) and individual
# frailty (mean ~1.13) it gives a yearly churn of about 12%.
BASE_DECLINE_HAZARD = 3.0e-4
DECLINE_MIN_DAYS = 60
DECLINE_MAX_DAYS = 120
HORIZON_DAYS = 90
# Activity at the churn date relative to normal: it falls from 1 to this floor, fastest early on.
ACTIVITY_FLOOR = 0.05
DECLINE_SHAPE = 0.6  # < 1: most of the fall happens in the first weeks of the decline


def sample_churn(
    hazard: np.ndarray, earliest_onset: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Decline start and churn date per customer (datetime64[D]; may lie after the period)."""
    wait = rng.exponential(1.0 / hazard)
    onset = earliest_onset + np.minimum(wait, 365 * 50).astype("timedelta64[D]")
    duration = rng.integers(DECLINE_MIN_DAYS, DECLINE_MAX_DAYS + 1, len(hazard)).astype("timedelta64[D]")
    return onset, onset + duration


def decline_progress(days: np.ndarray, onset: np.ndarray, churn: np.ndarray) -> np.ndarray:
    """How far into the decline each customer is on each day: 0 before it, 1 at the churn date.

    ``days`` has shape (n_days,); ``onset`` and ``churn`` have shape (n_customers,); the result
    has shape (n_customers, n_days).
    """
    span = (churn - onset).astype(float)[:, None]
    into = (days[None, :] - onset[:, None]).astype(float)
    return np.clip(into / span, 0.0, 1.0)


def activity_factor(progress: np.ndarray) -> np.ndarray:
    """Multiplier of normal activity during a decline."""
    return 1.0 - (1.0 - ACTIVITY_FLOOR) * progress**DECLINE_SHAPE


def p_churn_within(
    as_of: np.ndarray,
    onset: np.ndarray,
    hazard: np.ndarray,
    earliest_onset: np.ndarray,
    horizon: int = HORIZON_DAYS,
) -> np.ndarray:
    """True probability of churning in (as_of, as_of + horizon] for a customer active at as_of.

    Given the latent state at ``as_of``: if the decline has started ``a`` days ago, the churn
    date is onset + D with D uniform on [60, 120] conditioned on D > a; otherwise a decline must
    still start and run its course within the horizon (exponential wait, then D).
    """
    lo, hi = float(DECLINE_MIN_DAYS), float(DECLINE_MAX_DAYS) + 1.0  # D uniform on the integers lo..hi-1
    a = (as_of - onset).astype(float)
    started = a >= 0
    # Started: P(D <= a + h | D > a), D uniform on [lo, hi).
    floor = np.maximum(a, lo - 1.0)
    p_started = np.clip((np.minimum(a + horizon, hi - 1.0) - floor) / np.maximum(hi - 1.0 - floor, 1e-9), 0.0, 1.0)
    # Not started: integral over the onset day s (after the earliest possible onset s0) of
    # hazard * exp(-hazard (s - s0)) * P(D <= h - s).
    s = np.arange(0, horizon + 1, dtype=float)
    s0 = np.maximum((earliest_onset - as_of).astype(float), 0.0)[:, None]
    cdf_d = np.clip((horizon - s - (lo - 1.0)) / (hi - lo), 0.0, 1.0)
    wait = s[None, :] - s0
    dens = np.where(wait >= 0, hazard[:, None] * np.exp(-hazard[:, None] * np.maximum(wait, 0.0)), 0.0)
    p_not_started = (dens * cdf_d[None, :]).sum(axis=1)
    return np.where(started, p_started, p_not_started)
