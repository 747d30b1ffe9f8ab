"""The type of a demonstration: imitation's ``TrajectoryWithRew`` where imitation is installed,
else metail's own :class:`TrajectoryWithRew` with the same fields and checks.

imitation is an optional extra (``metail[imitation]``); the benchmark reads and hands out
demonstrations without it. Code that builds a demonstration calls :func:`make_trajectory`, so
agents get imitation's type whenever imitation is there (``bc.BC`` and ``rollout`` accept only
that) and a field-compatible one otherwise.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class TrajectoryWithRew:
    """One episode (or a window of one): the fields and shape checks of imitation's type."""

    obs: np.ndarray
    """Observations, ``(len + 1, obs_dim)``."""
    acts: np.ndarray
    """Actions, ``(len, act_dim)``."""
    infos: np.ndarray | None
    """Info dicts, ``(len,)``, or None."""
    terminal: bool
    """Whether it ends in the episode's final state."""
    rews: np.ndarray
    """Rewards, float ``(len,)``."""

    def __post_init__(self) -> None:
        n = len(self.acts)
        if len(self.obs) != n + 1:
            raise ValueError(
                f"expected one more observations than actions: {len(self.obs)} != {n} + 1"
            )
        if self.infos is not None and len(self.infos) != n:
            raise ValueError(
                f"infos when present must be present for each action: {len(self.infos)} != {n}"
            )
        if n == 0:
            raise ValueError("Degenerate trajectory: must have at least one action.")
        if self.rews.shape != (n,):
            raise ValueError(
                f"rewards must be 1D array, one entry for each action: {self.rews.shape} != ({n},)"
            )
        if not np.issubdtype(self.rews.dtype, np.floating):
            raise ValueError(f"rewards dtype {self.rews.dtype} not a float")

    def __len__(self) -> int:
        """The number of transitions (actions)."""
        return len(self.acts)

    def __eq__(self, other: object) -> bool:
        """Equal fields, arrays by value; ``infos=None`` equals empty dicts (as imitation's)."""
        if not isinstance(other, TrajectoryWithRew) or len(self) != len(other):
            return False
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "infos":
                a, b = ([{}] * len(self) if x is None else x for x in (a, b))
            if not np.array_equal(a, b):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside


FIELDS = ("obs", "acts", "infos", "terminal", "rews")
"""The fields both types share, in their order."""


@functools.lru_cache(maxsize=1)
def trajectory_class() -> type:
    """imitation's ``TrajectoryWithRew`` if imitation imports, else metail's own."""
    try:
        from imitation.data.types import TrajectoryWithRew as Imitation
    except ImportError:
        return TrajectoryWithRew
    return Imitation


def make_trajectory(
    obs: np.ndarray, acts: np.ndarray, infos: Any, terminal: bool, rews: np.ndarray
) -> Any:
    """A demonstration of :func:`trajectory_class` (shapes checked on construction)."""
    return trajectory_class()(obs=obs, acts=acts, infos=infos, terminal=terminal, rews=rews)
