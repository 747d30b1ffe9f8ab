"""Agents for the benchmark tests: a small honest one and the misbehaving ones.

Imported by worker processes as ``metail_test_agents:<Class>`` (the tests put this directory
on ``sys.path``).
"""

from __future__ import annotations

import os
import time

import numpy as np

from metail_envs.benchmark import Agent
from metail_envs.benchmark.reference_agents import ExpertAgent


class MeanActionPolicy:
    def __init__(self, action: np.ndarray) -> None:
        self.action = action

    def act(self, obs: np.ndarray) -> np.ndarray:
        return np.tile(self.action, (len(obs), 1))


class MeanActionAgent(Agent):
    """Meta-trains the mean demonstrated action; adapts to the mean of the K given demos."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.mean = None

    def meta_train(self, demos, seed):
        acts = np.concatenate([t.acts for ts in demos.values() for t in ts])
        noise = np.random.default_rng(seed).normal(0.0, 0.05, size=acts.shape[1])
        self.mean = self.scale * acts.mean(axis=0) + noise

    def adapt(self, demos):
        if not demos:
            return MeanActionPolicy(self.mean)
        self.mean = None  # an adaptation that changes the agent must not affect the next one
        return MeanActionPolicy(np.concatenate([t.acts for t in demos]).mean(axis=0))


class RaisingAgent(MeanActionAgent):
    def adapt(self, demos):
        raise RuntimeError("adapt exploded on purpose")


class HangingAgent(MeanActionAgent):
    def adapt(self, demos):
        time.sleep(3600)


class NaNPolicy:
    def act(self, obs):
        return np.full((len(obs), 3), np.nan)


class NaNAgent(MeanActionAgent):
    def adapt(self, demos):
        return NaNPolicy()


class WrongShapePolicy:
    def act(self, obs):
        return np.zeros((len(obs), 2))


class WrongShapeAgent(MeanActionAgent):
    def adapt(self, demos):
        return WrongShapePolicy()


class HangingActPolicy:
    def act(self, obs):
        time.sleep(3600)


class HangingActAgent(MeanActionAgent):
    def adapt(self, demos):
        return HangingActPolicy()


class CrashingAgent(MeanActionAgent):
    def adapt(self, demos):
        os._exit(3)


class FailingMetaTrainAgent(MeanActionAgent):
    def meta_train(self, demos, seed):
        raise ValueError("meta-training exploded on purpose")


def scripted_action(obs: np.ndarray) -> np.ndarray:
    """The tiny data's demonstrator: damp the joint velocities (keeps the hopper upright)."""
    return np.clip(-0.3 * np.asarray(obs)[..., 8:11], -1.0, 1.0)


class SlowAgent(MeanActionAgent):
    """A correct agent whose adaptation takes ``delay`` seconds (for the tests that interrupt a
    run); its numbers do not depend on the delay."""

    def __init__(self, scale: float = 1.0, delay: float = 0.3) -> None:
        super().__init__(scale)
        self.delay = delay

    def adapt(self, demos):
        time.sleep(self.delay)
        return super().adapt(demos)


class ClockPolicy:
    """A stateful policy: each episode's action follows its own step count and the running sum
    of its own observations, so a state mixed up between episodes changes the actions.
    ``by_row=True`` is the bug the interface prevents: state kept per batch row, not per episode."""

    def __init__(self, gain: float, by_row: bool = False) -> None:
        self.gain, self.by_row = gain, by_row
        self.adapt_stats = {"forward_passes": 0}

    def reset(self, n_episodes: int) -> None:
        self.steps = np.zeros(n_episodes)
        self.memory = np.zeros((n_episodes, 11))

    def act(self, obs: np.ndarray, episode_ids: np.ndarray) -> np.ndarray:
        ids = np.arange(len(obs)) if self.by_row else episode_ids
        self.steps[ids] += 1
        self.memory[ids] += obs
        phase = self.gain * self.steps[ids, None] + 0.01 * self.memory[ids, :3]
        return np.sin(phase * np.array([1.0, 1.7, 2.3]))


class ClockAgent(Agent):
    """Adapts nothing; its policy is stateful (reset, act(obs, episode_ids))."""

    def __init__(self, gain: float = 0.3, by_row: bool = False) -> None:
        self.gain, self.by_row = gain, by_row

    def meta_train(self, demos, seed):
        pass

    def adapt(self, demos):
        return ClockPolicy(self.gain, self.by_row)


class CountingPolicy(MeanActionPolicy):
    def __init__(self, action: np.ndarray, examples: int) -> None:
        super().__init__(action)
        self.adapt_stats = {"examples": examples, "gradient_steps": 0}


class CountingAgent(MeanActionAgent):
    """Reports how many transitions ``adapt`` was given, as its adaptation stats."""

    def adapt(self, demos):
        policy = super().adapt(demos)
        return CountingPolicy(policy.action, sum(len(t.acts) for t in demos))


class MemoryHogAgent(MeanActionAgent):
    """Allocates ``gb`` gigabytes in ``adapt``: a memory cap below that must fail its jobs alone."""

    def __init__(self, scale: float = 1.0, gb: float = 3.0) -> None:
        super().__init__(scale)
        self.gb = gb

    def adapt(self, demos):
        hog = np.ones(int(self.gb * 1e9) // 8)
        return MeanActionPolicy(np.full(3, hog[0] - 1.0))


class StatefulAgent(MeanActionAgent):
    """Keeps every kind of plain state the default ``save``/``load`` round-trips."""

    def meta_train(self, demos, seed):
        super().meta_train(demos, seed)
        self.table = {
            "weights": np.arange(6, dtype=np.float32).reshape(2, 3),
            "by_task": {0: (1, 2.5), "x": [None, True, "s"]},
            "odd": [float("nan"), float("inf"), -float("inf")],
            "count": np.int64(7),
            "__tuple__": "a key that looks like a tag",
        }


class ShiftAgent(MeanActionAgent):
    """MeanActionAgent with a test-time mode given to ``load``: its actions shifted by ``shift``."""

    shift = 0.0

    @classmethod
    def load(cls, path, shift: float = 0.0):
        agent = super().load(path)
        agent.shift = shift
        return agent

    def adapt(self, demos):
        return MeanActionPolicy(np.clip(super().adapt(demos).action + self.shift, -1.0, 1.0))


class UnsharedExpertAgent(ExpertAgent):
    """The expert reference without ``task_only``: every (seed, track, K) evaluated anew."""

    task_only = False
