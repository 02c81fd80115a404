"""Metrics on small hand-checked arrays (no Spark)."""

import numpy as np
import pytest

from finlake.models import evaluation as ev

# 20 rows, 4 positives; the scores rank positives at places 1, 2, 5 and 12.
Y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
S = np.linspace(1.0, 0.05, 20)


def test_lift_and_capture_in_top_10_percent_count_the_top_two_rows():
    lift, capture = ev.lift_and_capture(Y, S, 0.10)
    assert capture == pytest.approx(2 / 4)
    assert lift == pytest.approx((2 / 2) / (4 / 20))


def test_recall_at_budget_flags_at_least_one_row():
    assert ev.recall_at_budget(Y, S, 0.005) == pytest.approx(1 / 4)


def test_precision_at_k_is_share_of_positives_among_the_k_highest():
    assert ev.precision_at_k(Y, S, 5) == pytest.approx(3 / 5)


def test_brier_is_mean_squared_error_of_probabilities():
    assert ev.brier([1, 0], [0.8, 0.4]) == pytest.approx((0.04 + 0.16) / 2)


def test_perfect_ranking_scores_one_and_random_scores_near_base_rate():
    y = np.array([0] * 90 + [1] * 10)
    assert ev.roc_auc(y, np.arange(100)) == 1.0
    assert ev.pr_auc(y, np.arange(100)) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    y_big = np.tile(y, 100)
    assert ev.pr_auc(y_big, rng.random(len(y_big))) == pytest.approx(0.10, abs=0.02)


def test_threshold_for_budget_flags_exactly_the_budget():
    s = np.arange(1000) / 1000
    threshold = ev.threshold_for_budget(s, 0.005)
    assert (s >= threshold).sum() == 5


def test_reliability_curve_bins_by_score_quantile():
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    s = np.array([0.1, 0.1, 0.2, 0.2, 0.7, 0.8, 0.9, 0.9])
    table = ev.reliability_curve(y, s, bins=2)
    assert table["rows"].tolist() == [4, 4]
    assert table["observed_rate"].tolist() == [0.25, 0.75]
    assert table["mean_predicted"].tolist() == pytest.approx([0.15, 0.825])
