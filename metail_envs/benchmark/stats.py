"""Aggregate statistics of normalised scores, after "Deep RL at the Edge of the Statistical
Precipice" (Agarwal et al., 2021; the ``rliable`` library).

rliable itself breaks with pandas 3, so the few functions the leaderboard needs are written here
with numpy and scipy. Score matrices are ``(runs, tasks)``: one row per meta-training seed, one
column per task. Intervals come from a stratified bootstrap that resamples runs within each task,
seeded so that every rendering of a leaderboard shows the same interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from .protocol import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations only (not evaluated at run time)
    from typing_extensions import Unpack

Statistic = Callable[[np.ndarray], np.ndarray]
"""Maps score matrices of shape ``(..., runs, tasks)`` to values of shape ``(...)``."""


def normalised_score(ret: float | np.ndarray, random_ret: float, expert_ret: float) -> np.ndarray:
    """``100 * (R - R_random) / (R_expert - R_random)``: 0 is the random policy, 100 the expert."""
    if not expert_ret > random_ret:
        raise ValueError(
            f"expert reference {expert_ret!r} must exceed random reference {random_ret!r}"
        )
    return 100.0 * (np.asarray(ret, dtype=np.float64) - random_ret) / (expert_ret - random_ret)


def _as_matrix(scores: np.ndarray | Sequence[Sequence[float]], name: str = "scores") -> np.ndarray:
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(
            f"{name} must be a (runs, tasks) matrix with both sizes >= 1, got {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(*x.shape[:-2], -1)


def iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean over runs and tasks: the mean of the middle 50% of all scores."""
    from scipy import stats as _st  # scipy on first use: the score function stays light

    return _st.trim_mean(_flat(np.asarray(scores, dtype=np.float64)), 0.25, axis=-1)


def mean(scores: np.ndarray) -> np.ndarray:
    """Mean over runs and tasks."""
    return _flat(np.asarray(scores, dtype=np.float64)).mean(axis=-1)


def median(scores: np.ndarray) -> np.ndarray:
    """Median over runs and tasks."""
    return np.median(_flat(np.asarray(scores, dtype=np.float64)), axis=-1)


def optimality_gap(scores: np.ndarray, gamma: float = 100.0) -> np.ndarray:
    """Mean shortfall of the scores from ``gamma`` (the expert); scores above count as ``gamma``."""
    x = _flat(np.asarray(scores, dtype=np.float64))
    return (gamma - np.minimum(x, gamma)).mean(axis=-1)


AGGREGATES: dict[str, Statistic] = {
    "iqm": iqm,
    "mean": mean,
    "median": median,
    "optimality_gap": optimality_gap,
}


def _resample(x: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    runs, tasks = x.shape
    idx = rng.integers(0, runs, size=(resamples, runs, tasks))
    return x[idx, np.arange(tasks)]


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 100.0 * (1.0 - confidence) / 2.0
    lo, hi = np.percentile(values, [alpha, 100.0 - alpha])
    return float(lo), float(hi)


def _check_bootstrap(resamples: int, confidence: float) -> None:
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"resamples={resamples!r} is invalid; accepted: an integer >= 1")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r} is invalid; accepted: in (0, 1)")


class BootstrapOptions(TypedDict, total=False):
    """The stratified bootstrap's settings, as keyword arguments (defaults: the protocol's
    ``BOOTSTRAP_RESAMPLES``, ``CONFIDENCE`` and ``BOOTSTRAP_SEED``)."""

    resamples: int
    confidence: float
    seed: int


def _bootstrap(options: BootstrapOptions) -> tuple[int, float, np.random.Generator]:
    """``(resamples, confidence, generator)`` of checked options (unknown names refused)."""
    unknown = sorted(set(options) - set(BootstrapOptions.__annotations__))
    if unknown:
        raise TypeError(
            f"unknown bootstrap option(s) {unknown}; accepted: resamples, confidence, seed"
        )
    resamples = options.get("resamples", BOOTSTRAP_RESAMPLES)
    confidence = options.get("confidence", CONFIDENCE)
    _check_bootstrap(resamples, confidence)
    return resamples, confidence, np.random.default_rng(options.get("seed", BOOTSTRAP_SEED))


def stratified_bootstrap_ci(
    scores: np.ndarray, statistic: Statistic = iqm, **options: Unpack[BootstrapOptions]
) -> tuple[float, float]:
    """Percentile interval of ``statistic`` under resampling of runs within each task."""
    resamples, confidence, rng = _bootstrap(options)
    boot = statistic(_resample(_as_matrix(scores), resamples, rng))
    return _percentile_interval(boot, confidence)


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y): for each task the Mann-Whitney U of X's runs against Y's, averaged over tasks.

    ``x`` and ``y`` are ``(..., runs, tasks)`` with the same tasks; ties count one half.
    """
    x = np.asarray(x, dtype=np.float64)[..., :, None, :]
    y = np.asarray(y, dtype=np.float64)[..., None, :, :]
    wins = (x > y).mean(axis=(-3, -2)) + 0.5 * (x == y).mean(axis=(-3, -2))
    return wins.mean(axis=-1)


def probability_of_improvement_ci(
    x: np.ndarray, y: np.ndarray, **options: Unpack[BootstrapOptions]
) -> tuple[float, float]:
    """Interval of P(X > Y), resampling each agent's runs within each task."""
    resamples, confidence, rng = _bootstrap(options)
    x, y = _as_matrix(x, "x"), _as_matrix(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same tasks, got {x.shape[1]} and {y.shape[1]}")
    boot = probability_of_improvement(_resample(x, resamples, rng), _resample(y, resamples, rng))
    return _percentile_interval(boot, confidence)


def performance_profile(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Fraction of (run, task) scores above each threshold ``tau`` (run-score distribution)."""
    x = _flat(np.asarray(scores, dtype=np.float64))
    return (x[..., None] > np.asarray(taus, dtype=np.float64)).mean(axis=-2)


def performance_profile_ci(
    scores: np.ndarray, taus: np.ndarray, **options: Unpack[BootstrapOptions]
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise stratified-bootstrap band of :func:`performance_profile`."""
    resamples, confidence, rng = _bootstrap(options)
    boot = performance_profile(_resample(_as_matrix(scores), resamples, rng), taus)
    alpha = 100.0 * (1.0 - confidence) / 2.0
    lo, hi = np.percentile(boot, [alpha, 100.0 - alpha], axis=0)
    return lo, hi


def summarise(
    scores: np.ndarray, **options: Unpack[BootstrapOptions]
) -> dict[str, float | list[float]]:
    """Every aggregate of one (runs, tasks) matrix, with the IQM's and mean's intervals."""
    x = _as_matrix(scores)
    out: dict[str, float | list[float]] = {k: float(f(x)) for k, f in AGGREGATES.items()}
    for key in ("iqm", "mean"):
        lo, hi = stratified_bootstrap_ci(x, AGGREGATES[key], **options)
        out[f"{key}_ci"] = [lo, hi]
    return out


def tasks_worse(
    x: np.ndarray, y: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Per task (column): is ``x`` below ``y`` on the mean over runs, and is it below with
    confidence (the paired difference's Student-t interval over runs lies below 0; needs the
    same runs in the same row order, e.g. one agent's seeds at K and at K=0)."""
    from scipy import stats as st

    x, y = _as_matrix(x, "x"), _as_matrix(y, "y")
    if x.shape != y.shape:
        raise ValueError(
            f"x and y must have the same (runs, tasks) shape, got {x.shape}, {y.shape}"
        )
    _check_bootstrap(1, confidence)
    d = x - y
    diff = d.mean(axis=0)
    if d.shape[0] < 2:
        return diff < 0, np.zeros_like(diff, dtype=bool)
    half = st.t.ppf(0.5 + confidence / 2, d.shape[0] - 1) * d.std(axis=0, ddof=1)
    return diff < 0, diff + half / np.sqrt(d.shape[0]) < 0
