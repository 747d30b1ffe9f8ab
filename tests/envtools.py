"""Helpers shared by the environment tests: make an env, roll out fixed actions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from metail_envs import ENV_ID


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
