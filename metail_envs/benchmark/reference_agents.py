"""The two reference agents that prove the normalisation on every leaderboard.

``random`` acts uniformly at random (scores about 0); ``expert`` is each task's trained expert,
privileged to know the task (scores about 100). Both go through the ordinary agent interface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .agent import Agent, Policy
from .evaluation import ACT_DIM


class RandomPolicy:
    """Uniform actions in [-1, 1] from its own seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, size=(len(obs), ACT_DIM))


class RandomAgent(Agent):
    """Learns nothing; its policies act uniformly at random (the score-0 reference)."""

    def meta_train(self, demos: Mapping[str, Sequence[Any]], seed: int) -> None:
        pass

    def adapt(self, demos: Sequence[Any]) -> Policy:
        # The runner seeds NumPy's global generator from (seed, task, K) before adapt.
        return RandomPolicy(int(np.random.randint(2**31 - 1)))


class ExpertPolicy:
    """Deterministic actions of a trained expert (anything with ``act`` or SB3's ``predict``)."""

    def __init__(self, expert: Any) -> None:
        self.expert = expert

    def act(self, obs: np.ndarray) -> np.ndarray:
        if callable(getattr(self.expert, "act", None)):
            return self.expert.act(obs)
        actions, _ = self.expert.predict(obs, deterministic=True)
        return actions


class ExpertAgent(Agent):
    """The task's own expert (privileged: told the task). The score-100 reference."""

    privileged = True
    task_only = True  # deterministic, ignores demonstrations and seed: one evaluation per task

    def meta_train(self, demos: Mapping[str, Sequence[Any]], seed: int) -> None:
        pass

    def adapt(self, demos: Sequence[Any], task: Any = None) -> Policy:
        if task is None:
            raise ValueError("ExpertAgent.adapt needs task=: the expert is privileged")
        from metail_envs.data import load_expert  # on first use: resolving agents loads no data

        return ExpertPolicy(load_expert(task))
