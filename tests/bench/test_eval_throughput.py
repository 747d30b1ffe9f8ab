"""Evaluation throughput: env steps per second of the benchmark's batched episode stepping
against a plain loop over one Gymnasium Hopper-v4, measured in the same run.

Run: ``python -m pytest tests/bench/test_eval_throughput.py -m bench``. Both drive the same
deterministic policy (damped joints, so episodes last) and count every env step; the evaluation
steps 10 HopperVariant-v0 episodes of the nominal task together, calling ``act`` once per step
on the batch, with the action checks of a real evaluation. The session summary prints the
ratio (per env step; > 1 means evaluation is faster than the plain loop).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import metail_envs
from metail_envs.benchmark import evaluation

EPISODES = 10
MAX_STEPS = 300
SEEDS = tuple(range(1000, 1000 + EPISODES))
GROUP = "evaluation env steps (10 episodes x <= 300 steps)"


def damped(obs: np.ndarray) -> np.ndarray:
    return np.clip(-0.3 * obs[..., 8:11], -1.0, 1.0)


class Damped:
    def act(self, obs):
        return damped(obs)


def _eval_steps() -> int:
    envs = evaluation.make_envs(metail_envs.load_suite("hopper-v1").nominal, EPISODES, MAX_STEPS)
    _, lengths = evaluation.run_episodes(Damped(), envs, SEEDS)
    return sum(lengths)


STEPS = _eval_steps()


def plain_loop(env: gym.Env) -> None:
    obs, _ = env.reset(seed=0)
    for _ in range(STEPS):
        obs, _, terminated, truncated, _ = env.step(damped(obs).astype(np.float32))
        if terminated or truncated:
            obs, _ = env.reset()


def test_plain_hopper_v4_loop(benchmark, record):
    env = gym.make("Hopper-v4", max_episode_steps=MAX_STEPS)
    benchmark.pedantic(plain_loop, args=(env,), rounds=10, warmup_rounds=1)
    record(benchmark, GROUP, "reference", STEPS)


def test_batched_evaluation(benchmark, record):
    nominal = metail_envs.load_suite("hopper-v1").nominal
    envs = evaluation.make_envs(nominal, EPISODES, MAX_STEPS)
    result = benchmark.pedantic(
        evaluation.run_episodes, args=(Damped(), envs, SEEDS), rounds=10, warmup_rounds=1
    )
    assert sum(result[1]) == STEPS
    record(benchmark, GROUP, "candidate", STEPS)
