"""The training environments of a PPO run: HopperVariant envs in one ``DummyVecEnv``
(:func:`make_vec_env`), each switched to a task drawn at every reset when the run trains on
several (:class:`TaskCycler`), with a fall penalty on the training reward if the config asks for
one (:class:`FallPenalty`), and task ids in place of Tasks in the infos (:class:`TaskIdInfo`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from metail_envs import ENV_ID
from metail_envs.tasks import Task


class TaskCycler(gym.Wrapper):
    """Switches the environment to a task drawn (seeded) from ``tasks`` at every reset."""

    def __init__(self, env: gym.Env, tasks: Sequence[Task], seed: int) -> None:
        super().__init__(env)
        self.tasks = list(tasks)
        self.rng = np.random.default_rng(seed)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        self.env.unwrapped.set_task(self.tasks[int(self.rng.integers(len(self.tasks)))])
        return self.env.reset(**kwargs)


class TaskIdInfo(gym.Wrapper):
    """Replaces ``info["task"]`` by its id: SB3 deep-copies infos at every step, and an id is
    cheaper to copy than a Task (and always picklable)."""

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return obs, _task_id(info)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, _task_id(info)


class FallPenalty(gym.Wrapper):
    """Subtracts ``penalty`` from the reward of the step that terminates an episode (a fall;
    the time limit truncates, it does not terminate)."""

    def __init__(self, env: gym.Env, penalty: float) -> None:
        super().__init__(env)
        self.penalty = float(penalty)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward - self.penalty * terminated, terminated, truncated, info


def _task_id(info: dict[str, Any]) -> dict[str, Any]:
    if "task" in info:
        info = {**info, "task": info["task"].id}
    return info


def make_vec_env(
    tasks: Sequence[Task],
    n_envs: int,
    seed: int,
    observe_context: bool = False,
    fall_penalty: float = 0.0,
):
    """``n_envs`` monitored HopperVariant envs in a DummyVecEnv (one process, one core); a
    positive ``fall_penalty`` is taken off the reward of every fall (:class:`FallPenalty`)."""
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    def factory(i: int) -> Callable[[], gym.Env]:
        def make() -> gym.Env:
            env = gym.make(ENV_ID, task=tasks[0], observe_context=observe_context)
            if len(tasks) > 1:
                env = TaskCycler(env, tasks, seed + 7919 * i)
            if fall_penalty:
                env = FallPenalty(env, fall_penalty)
            return Monitor(TaskIdInfo(env))

        return make

    return DummyVecEnv([factory(i) for i in range(n_envs)])
