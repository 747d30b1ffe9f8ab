"""The demonstrator as a reference agent: the policy that made every demonstration (privileged).

It is told the scored task and plays the frozen demonstrator (``expert_data/demonstrator/``, a
context-conditioned PPO) with that task's true parameters, ignoring the demonstrations: the
score of the demonstrations themselves. Beside the expert (each task's own specialist, 100) and
the context oracle it reads: an agent that imitates the demonstrations perfectly scores the
demonstrator's score, not the expert's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from metail_envs.benchmark import Agent, Policy
from metail_envs.tasks import Task


class DemonstratorAgent(Agent):
    """The frozen demonstrator on the scored task (privileged: told the task)."""

    privileged = True
    task_only = True  # deterministic, ignores demonstrations and seed: one evaluation per task

    def meta_train(self, demos: Mapping[str, Sequence[Any]], seed: int) -> None:
        pass

    def adapt(self, demos: Sequence[Any], task: Task | None = None) -> Policy:
        if task is None:
            raise ValueError("DemonstratorAgent.adapt needs task=: the demonstrator is privileged")
        from baselines.experts.dense_demos import DemonstratorPolicy, data_demonstrator
        from metail_envs.manifest import default_data_dir

        return DemonstratorPolicy(data_demonstrator(default_data_dir()), task)
