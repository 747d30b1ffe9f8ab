"""Helpers shared by the environment tests: make an env, roll out fixed actions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from metail_envs import ENV_ID

TINY_PPO = {
    "description": "a tiny PPO for tests: the real training loop, seconds instead of minutes",
    "ppo": {"n_steps": 256, "batch_size": 64, "n_epochs": 2, "net_arch": [32, 32]},
    "normalize": {"norm_obs": True, "norm_reward": True},
    "total_steps": 1024,
    "checkpoint_every": 256,
    "eval_episodes": 2,
}


def make(**kwargs) -> gym.Env:
    return gym.make(ENV_ID, **kwargs)


def rollout(env: gym.Env, actions: np.ndarray, seed: int) -> list[tuple]:
    """(obs, reward, terminated, truncated) for a fixed action sequence, resetting on episode end."""
    out = [(env.reset(seed=seed)[0],)]
    for a in actions:
        obs, r, term, trunc, _ = env.step(a)
        out.append((obs, r, term, trunc))
        if term or trunc:
            out.append((env.reset(seed=seed + len(out))[0],))
    return out
