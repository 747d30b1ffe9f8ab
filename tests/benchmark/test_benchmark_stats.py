"""The aggregate statistics against known cases, and the bootstrap interval's coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy import stats as st

from metail_envs.benchmark import stats


def test_normalised_score_maps_references_to_0_and_100():
    assert stats.normalised_score(10.0, 10.0, 30.0) == 0.0
    assert stats.normalised_score(30.0, 10.0, 30.0) == 100.0
    assert stats.normalised_score(20.0, 10.0, 30.0) == 50.0
    np.testing.assert_allclose(stats.normalised_score(np.array([0.0, 40.0]), 10, 30), [-50, 150])
    with pytest.raises(ValueError, match="expert reference"):
        stats.normalised_score(1.0, 5.0, 5.0)


def test_point_aggregates_on_known_cases():
    x = np.arange(1.0, 9.0).reshape(2, 4)  # 1..8
    assert stats.iqm(x) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert stats.mean(x) == pytest.approx(4.5)
    assert stats.median(x) == pytest.approx(4.5)
    skewed = np.array([[0.0, 0.0, 1.0, 2.0], [3.0, 4.0, 100.0, 1000.0]])
    assert stats.iqm(skewed) == pytest.approx((1 + 2 + 3 + 4) / 4)
    assert stats.optimality_gap(np.array([[50.0, 120.0]])) == pytest.approx(25.0)
    assert stats.optimality_gap(np.array([[50.0, 120.0]]), gamma=200.0) == pytest.approx(115.0)
    rng = np.random.default_rng(1)
    y = rng.normal(size=(7, 9))
    assert stats.iqm(y) == pytest.approx(st.trim_mean(y.ravel(), 0.25))


def test_probability_of_improvement_known_cases():
    a = np.array([[1.0, 5.0], [2.0, 6.0]])
    assert stats.probability_of_improvement(a + 10, a) == 1.0
    assert stats.probability_of_improvement(a, a + 10) == 0.0
    assert stats.probability_of_improvement(a, a) == 0.5
    # task 0: X={1,3} vs Y={2}: 1/2; task 1: X={10,10} vs Y={10}: ties, 1/2
    x = np.array([[1.0, 10.0], [3.0, 10.0]])
    y = np.array([[2.0, 10.0]])
    assert stats.probability_of_improvement(x, y) == pytest.approx(0.5)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    by_task = [st.mannwhitneyu(x[:, t], y[:, t]).statistic / 20 for t in range(3)]
    assert stats.probability_of_improvement(x, y) == pytest.approx(np.mean(by_task))
    lo, hi = stats.probability_of_improvement_ci(x, y, resamples=500, seed=0)
    assert 0.0 <= lo <= stats.probability_of_improvement(x, y) <= hi <= 1.0


def test_performance_profile_counts_scores_above_each_threshold():
    x = np.array([[0.0, 50.0, 100.0]])
    np.testing.assert_allclose(
        stats.performance_profile(x, [-1, 25, 75, 100]), [1, 2 / 3, 1 / 3, 0]
    )
    lo, hi = stats.performance_profile_ci(np.tile(x, (4, 1)), [25.0], resamples=200)
    np.testing.assert_allclose([lo[0], hi[0]], [2 / 3, 2 / 3])  # constant per task


def test_bootstrap_is_seeded_and_stratified():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 6))
    a = stats.stratified_bootstrap_ci(x, seed=7)
    assert a == stats.stratified_bootstrap_ci(x, seed=7)
    assert a != stats.stratified_bootstrap_ci(x, seed=8)
    assert a[0] < float(stats.iqm(x)) < a[1]
    # Every run scores the same within a task: resampling runs inside tasks changes nothing,
    # so a stratified interval has zero width (a pooled bootstrap would not).
    per_task = np.tile(np.arange(6.0) * 10, (5, 1))
    lo, hi = stats.stratified_bootstrap_ci(per_task, resamples=300)
    assert lo == hi == pytest.approx(float(stats.iqm(per_task)))


def test_bad_inputs_are_refused_with_the_parameter_named():
    with pytest.raises(ValueError, match="resamples"):
        stats.stratified_bootstrap_ci(np.ones((2, 2)), resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        stats.stratified_bootstrap_ci(np.ones((2, 2)), confidence=1.5)
    with pytest.raises(ValueError, match=r"\(runs, tasks\)"):
        stats.stratified_bootstrap_ci(np.ones(4))
    with pytest.raises(ValueError, match="finite"):
        stats.stratified_bootstrap_ci(np.array([[1.0, np.nan]]))


def _true_mixture_iqm(dists) -> float:
    """IQM of the equal-weight mixture of ``dists``: 2 × ∫ x f(x) dx between its quartiles."""

    def cdf(x):
        return np.mean([d.cdf(x) for d in dists])

    lo_b, hi_b = min(d.ppf(1e-9) for d in dists), max(d.ppf(1 - 1e-9) for d in dists)
    q1 = optimize.brentq(lambda x: cdf(x) - 0.25, lo_b, hi_b, xtol=1e-12)
    q3 = optimize.brentq(lambda x: cdf(x) - 0.75, lo_b, hi_b, xtol=1e-12)
    parts = [integrate.quad(lambda x, d=d: x * d.pdf(x), q1, q3)[0] for d in dists]
    return 2.0 * float(np.mean(parts))


def test_bootstrap_interval_covers_true_iqm_at_about_the_nominal_rate():
    # Five tasks with different, skewed score distributions; ten seeds each, as on the board.
    dists = [st.gamma(a=2.0, loc=10.0 * m, scale=5.0 + m) for m in range(5)]
    truth = _true_mixture_iqm(dists)
    rng = np.random.default_rng(12345)
    trials, hits = 300, 0
    for trial in range(trials):
        x = np.column_stack([d.rvs(size=10, random_state=rng) for d in dists])
        lo, hi = stats.stratified_bootstrap_ci(x, resamples=1000, seed=trial)
        hits += lo <= truth <= hi
    coverage = hits / trials
    # nominal 0.95; 300 trials give a standard error of about 0.013
    assert 0.90 <= coverage <= 0.99, coverage


def test_tasks_worse_on_the_mean_and_with_confidence():
    zero = np.array([[10.0, 50.0, 30.0], [12.0, 52.0, 30.0], [11.0, 48.0, 30.0]])
    adapted = zero + np.array([[-5.0, 1.0, -20.0], [-6.0, -2.0, 15.0], [-5.5, 0.5, 1.0]])
    lower, sure = stats.tasks_worse(adapted, zero)
    # task 0: always lower (confident); task 1: mean -0.17, noisy; task 2: mean -1.3, noisy
    assert lower.tolist() == [True, True, True]
    assert sure.tolist() == [True, False, False]
    d = adapted[:, 0] - zero[:, 0]  # the paired t interval by hand
    upper = d.mean() + st.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    assert upper < 0
    lower, sure = stats.tasks_worse(zero, zero)
    assert not lower.any() and not sure.any()
    with pytest.raises(ValueError, match="same"):
        stats.tasks_worse(zero, zero[:, :2])


def test_unknown_bootstrap_options_are_refused_by_name():
    from metail_envs.benchmark.stats import stratified_bootstrap_ci, summarise

    x = np.arange(12.0).reshape(3, 4)
    with pytest.raises(TypeError, match=r"unknown bootstrap option\(s\) \['resample'\]"):
        stratified_bootstrap_ci(x, resample=10)
    with pytest.raises(ValueError, match="confidence=1.5 is invalid"):
        summarise(x, confidence=1.5)
    assert stratified_bootstrap_ci(x, seed=3) == stratified_bootstrap_ci(x, seed=3)
