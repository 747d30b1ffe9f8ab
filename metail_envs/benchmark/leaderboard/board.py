"""The leaderboard's data: the entries (one per agent), the files left out, and the board.

What :func:`.aggregate.load_leaderboard` builds and every renderer reads; no computation here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..protocol import HEADLINE, SECOND_BASELINE_AGENT
from .verdicts import NOT_VERIFIED

if TYPE_CHECKING:
    from ..verify import Check, EntryVerdict

Cell = tuple[str, str, int]
"""A (split, track, K) column of the leaderboard."""


@dataclass
class Excluded:
    """A result file left out, and why."""

    path: str
    reasons: list[str]


@dataclass
class Entry:
    """One agent's aggregated results."""

    name: str
    spec: str
    privileged: bool
    seeds: list[int]
    files: list[str]
    scores: dict[Cell, np.ndarray] = field(default_factory=dict)
    """(seeds, tasks) normalised scores, failed jobs counted as ``FAILED_SCORE``."""
    failures: dict[Cell, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    meta_train_s: float | None = None
    adapt_s: tuple[float, float] | None = None
    adapt_steps: float | None = None
    """Mean gradient steps (or forward passes) per adaptation, as the agent reported them."""
    summary: dict[Cell, dict[str, Any]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    """Why its results are implausible (:mod:`..plausibility`, :mod:`..verify`); shown, not hidden."""
    verdict: str = NOT_VERIFIED
    """How re-running its jobs compared: one of :data:`.verdicts.VERDICTS`."""
    verify_detail: str = ""
    """What the verdict rests on (which files, how many jobs), in a line."""


@dataclass
class Leaderboard:
    """Validated, aggregated results and the files that were left out."""

    entries: list[Entry]
    excluded: list[Excluded]
    settings: dict[str, Any] | None
    official: bool
    tasks: dict[str, list[str]]
    cells: list[Cell]
    baseline: str
    resamples: int
    outputs: dict[str, Path] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    """The jobs re-run by ``verify``, and how each compared bit for bit."""
    verdicts: dict[str, EntryVerdict] = field(default_factory=dict)
    """``verify``'s verdict on each entry judged (also on those whose files were all left out)."""

    @property
    def baselines(self) -> list[str]:
        """The agents every entry's probability of improvement is computed against."""
        return [b for b in (self.baseline, SECOND_BASELINE_AGENT) if b]


def headline_order(condition: tuple[str, int]) -> tuple[int, str, int]:
    """The sort key of a (track, K) condition: the protocol's headline order, then the rest."""
    rank = HEADLINE.index(condition) if condition in HEADLINE else len(HEADLINE)
    return (rank, *condition)
