"""Env step rate of HopperVariant-v0 against Gymnasium's Hopper-v4, and the cost of a task switch.

Run: ``python -m pytest tests/bench -m bench`` (see README). Both envs are made with
``gym.make`` as users make them and driven by the same seeded random actions, resetting when an
episode ends. Goals (issue 2): step rate >= 1.25x Hopper-v4; a dynamics switch adds < 20 us to a
reset.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from metail_envs import ENV_ID, Task

STEPS = 2000
ACTIONS = np.random.default_rng(0).uniform(-1, 1, (STEPS, 3)).astype(np.float32)


def run_steps(env: gym.Env) -> None:
    env.reset(seed=0)
    for a in ACTIONS:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()


@pytest.mark.parametrize("role, env_id", [("reference", "Hopper-v4"), ("candidate", ENV_ID)])
def test_step_rate(benchmark, record, role, env_id):
    env = gym.make(env_id)
    benchmark.pedantic(run_steps, args=(env,), rounds=15, warmup_rounds=2)
    record(benchmark, "env step (2000 steps, resets included)", role, STEPS)


TASKS = (
    Task({"mass": 1.6, "friction": 0.7, "com_offset": 0.03}),
    Task({"mass": 0.7, "damping": 1.5}),
)


def plain_resets(env: gym.Env) -> None:
    for _ in range(200):
        env.reset()


def switching_resets(env: gym.Env) -> None:
    u = env.unwrapped
    for i in range(200):
        u.set_task(TASKS[i % 2])
        env.reset()


@pytest.mark.parametrize("role, fn", [("reference", plain_resets), ("candidate", switching_resets)])
def test_task_switch_cost(benchmark, record, role, fn):
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    benchmark.pedantic(fn, args=(env,), rounds=30, warmup_rounds=2)
    record(
        benchmark, "reset with a dynamics task switch (set_task + reset) vs plain reset", role, 200
    )
