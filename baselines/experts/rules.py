"""The data generation rules: which reset seeds each purpose draws from, how many episodes a
task's references and demonstrations take, and the completion bar of an expert.

The one place these numbers live; the data stage records them in the manifest's ``rule``
(:func:`rules_json`) and the benchmark reads only what the manifest says
(:mod:`metail_envs.data`). The seeds are disjoint by purpose, so no number is measured on the
episodes it was selected on. ``CACHE_SEED`` belongs to the user cache's layout, which the reader
shares (:data:`metail_envs.data.CACHE_SEED`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from metail_envs.data import CACHE_SEED
from metail_envs.tasks import Task

__all__ = [
    "CACHE_SEED",
    "CHOICE_SEED",
    "DATA_RULES",
    "DEMO_SEED",
    "EVAL_SEED",
    "MIN_COMPLETION",
    "SCORED",
    "SELECT_SEED",
    "DataRule",
    "data_rule",
    "rules_json",
    "task_split",
]

SELECT_SEED = 10_000
"""Reset seeds ``SELECT_SEED + i``: evaluations that pick the best checkpoint during training."""
EVAL_SEED = 20_000
"""Reset seeds ``EVAL_SEED + i``: the expert and random references written to the manifest."""
DEMO_SEED = 0
"""Reset seeds ``DEMO_SEED + i``: the fixed, shipped demonstrations (the demonstrator's)."""
CHOICE_SEED = 30_000
"""Reset seeds ``CHOICE_SEED + i``: choosing among the retried experts of a task below the bar."""


@dataclass(frozen=True)
class DataRule:
    """How a task's references and demonstrations are drawn (the one place these numbers live).

    The expert reference (the task's own specialist, score 100) is the mean return of
    ``reference_episodes`` deterministic episodes from ``EVAL_SEED + i``; the random one of
    ``random_episodes`` uniform-random episodes from the same seeds. The demonstrations are
    ``demos`` deterministic episodes of the one demonstrator (``expert_data/demonstrator/``)
    from reset seeds ``DEMO_SEED + i``, every one shipped, falls included (protocol v3: every
    demonstration, of training and of scored tasks, comes from that one policy).
    """

    reference_episodes: int
    demos: int
    random_episodes: int = 100


DATA_RULES = {
    "scored": DataRule(reference_episodes=50, demos=20),
    "train": DataRule(reference_episodes=20, demos=10),
}
"""The rule of the scored tasks (test, ood, nominal: every score is normalised by them) and of
the training tasks (meta-training data only)."""
SCORED = ("test", "ood", "nominal")
MIN_COMPLETION = {"scored": 0.9, "train": 0.5}
"""The fraction of its reference episodes an expert must complete (reach the time limit in):
the bar of the retry stage (a training task below it is retried after the scored tasks)."""


def task_split(task: Task | str) -> str:
    """``train``, ``test``, ``ood`` or ``nominal``: the second component of a task id."""
    task_id = task.id if isinstance(task, Task) else task
    parts = task_id.split("/")
    if len(parts) < 2 or parts[1] not in ("train", *SCORED):
        raise ValueError(f"task must be a suite task id like 'hopper-v1/test/03', got {task_id!r}")
    return parts[1]


def data_rule(task: Task | str, rules: dict[str, DataRule] | None = None) -> DataRule:
    """The rule of a task in ``rules`` (default :data:`DATA_RULES`): ``scored`` for test, ood
    and nominal, ``train`` for the training tasks."""
    rules = DATA_RULES if rules is None else rules
    return rules["scored" if task_split(task) in SCORED else "train"]


def rules_json(rules: dict[str, DataRule] | None = None) -> dict[str, Any]:
    """``rules`` (default :data:`DATA_RULES`) with the seeds, as the manifest records them."""
    rules = DATA_RULES if rules is None else rules
    return {
        "seeds": {"eval": EVAL_SEED, "demos": DEMO_SEED},
        **{name: asdict(rule) for name, rule in rules.items()},
    }
