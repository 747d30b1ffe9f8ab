"""Episodes of a policy on a task: evaluation, the expert and random references, the cross-task
matrix.

Reset seeds are disjoint by purpose (see :mod:`baselines.experts.rules`), so no number is measured on the
episodes it was selected on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from baselines.experts.rules import EVAL_SEED
from metail_envs import ENV_ID
from metail_envs.benchmark.stats import normalised_score
from metail_envs.tasks import Task


class Predictor(Protocol):
    """What the experts' pipeline runs: an SB3-style ``predict`` (a loaded PPO, a random
    predictor). Not the benchmark's :class:`metail_envs.benchmark.Policy`, which ``act``s."""

    def predict(self, observation: np.ndarray, deterministic: bool = True) -> tuple[Any, Any]: ...


class RandomPredictor:
    """A uniform random predictor over the action space, seeded: the lower normalisation reference."""

    def __init__(self, action_space: gym.spaces.Box, seed: int = 0) -> None:
        self.space = action_space
        self.space.seed(seed)

    def predict(
        self, observation: np.ndarray, deterministic: bool = True
    ) -> tuple[np.ndarray, None]:
        return self.space.sample(), None


@dataclass
class Episode:
    """One episode's outcome, and its arrays when recorded (raw observations). ``complete``: it
    ran to the environment's time limit (no fall, no unstable simulation)."""

    ret: float
    length: int
    terminated: bool
    truncated: bool
    seed: int
    obs: list[np.ndarray] = field(default_factory=list)
    acts: list[np.ndarray] = field(default_factory=list)
    rews: list[float] = field(default_factory=list)
    complete: bool = False


def run_episode(policy: Predictor, env: gym.Env, seed: int, record: bool = False) -> Episode:
    """One episode from ``env.reset(seed=seed)`` with deterministic actions."""
    obs, _ = env.reset(seed=seed)
    ep = Episode(0.0, 0, False, False, seed)
    if record:
        ep.obs.append(obs)
    while True:
        action, _ = policy.predict(obs, deterministic=True)
        action = np.asarray(action, dtype=np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        ep.ret += float(reward)
        ep.length += 1
        if record:
            ep.obs.append(obs)
            ep.acts.append(action)
            ep.rews.append(float(reward))
        if terminated or truncated:
            ep.terminated, ep.truncated = bool(terminated), bool(truncated)
            limit = env.spec.max_episode_steps if env.spec is not None else None
            ep.complete = (
                ep.truncated
                and not ep.terminated
                and not info.get("unstable", False)
                and limit is not None
                and ep.length >= limit
            )
            return ep


def evaluate_episodes(
    policy: Predictor,
    task: Task,
    n_episodes: int,
    seed: int = EVAL_SEED,
    observe_context: bool = False,
) -> list[Episode]:
    """``n_episodes`` deterministic episodes on ``task`` from reset seeds ``seed + i``
    (``observe_context``: the policy sees the task's normalised parameters, as it was trained)."""
    env = gym.make(ENV_ID, task=task, observe_context=observe_context)
    try:
        return [run_episode(policy, env, seed + i) for i in range(n_episodes)]
    finally:
        env.close()


def evaluate_policy(
    policy: Predictor,
    task: Task,
    n_episodes: int,
    seed: int = EVAL_SEED,
    observe_context: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Returns and lengths of ``n_episodes`` deterministic episodes on ``task`` (seeds
    ``seed .. seed + n - 1``)."""
    eps = evaluate_episodes(policy, task, n_episodes, seed, observe_context)
    return np.array([e.ret for e in eps]), np.array([e.length for e in eps])


def episode_stats(episodes: Sequence[Episode]) -> dict[str, Any]:
    """Mean and standard deviation of the return, completion rate (the fraction of episodes
    that reach the time limit), mean length, and the per-episode returns and lengths."""
    if not episodes:
        raise ValueError("episodes must not be empty")
    rets = np.array([e.ret for e in episodes])
    return {
        "mean_return": float(rets.mean()),
        "std_return": float(rets.std()),
        "completion_rate": float(np.mean([e.complete for e in episodes])),
        "mean_length": float(np.mean([e.length for e in episodes])),
        "returns": [round(float(r), 2) for r in rets],
        "lengths": [int(e.length) for e in episodes],
    }


def random_reference(task: Task, n_episodes: int = 100, seed: int = EVAL_SEED) -> dict[str, float]:
    """Mean and standard deviation of a uniform random policy's return on ``task``."""
    env = gym.make(ENV_ID, task=task)
    policy = RandomPredictor(env.action_space, seed)
    env.close()
    rets, _ = evaluate_policy(policy, task, n_episodes, seed)
    return {"mean_return": float(rets.mean()), "std_return": float(rets.std())}


def cross_task_matrix(
    experts: Mapping[str, Predictor],
    tasks: Sequence[Task],
    references: Mapping[str, Mapping[str, float]],
    n_episodes: int = 5,
    seed: int = EVAL_SEED,
) -> np.ndarray:
    """``M[i, j]``: expert of ``tasks[i]`` run on ``tasks[j]``, normalised on j to
    ``100 * (R - random) / (expert_j - random)``, with ``references[task_id]`` holding
    ``expert_mean`` and ``random_mean``."""
    m = np.zeros((len(tasks), len(tasks)))
    for i, ti in enumerate(tasks):
        for j, tj in enumerate(tasks):
            rets, _ = evaluate_policy(experts[ti.id], tj, n_episodes, seed)
            ref = references[tj.id]
            m[i, j] = normalised_score(rets.mean(), ref["random_mean"], ref["expert_mean"])
    return m
