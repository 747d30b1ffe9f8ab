"""Evaluation episodes of one adapted policy on one task, stepped together in one batch.

All unfinished episodes are stepped at once so that ``policy.act`` is called once per step on a
``(n_active, 11)`` batch. Every action batch is checked (shape, finiteness) before it reaches
MuJoCo; a bad one raises :class:`PolicyError` naming what was wrong.

A stateful policy (:class:`.agent.StatefulPolicy`, the interface's one declaration) is told
when the episodes start and which episode each row of a batch belongs to; a stateless one
(:class:`.agent.Policy`) is called ``act(obs)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from .agent import StatefulPolicy

ACT_DIM = 3


class PolicyError(RuntimeError):
    """The policy returned unusable actions or took too long to act."""


def make_envs(task: Any, n: int, max_steps: int) -> list[gym.Env]:
    """``n`` environments of ``task`` with a ``max_steps`` time limit."""
    import metail_envs

    return [gym.make(metail_envs.ENV_ID, task=task, max_episode_steps=max_steps) for _ in range(n)]


def check_actions(actions: Any, n: int) -> np.ndarray:
    """The actions as a float64 ``(n, 3)`` array clipped to [-1, 1]; raises if unusable."""
    try:
        a = np.asarray(actions, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise PolicyError(
            f"act returned {type(actions).__name__}, not an array of shape ({n}, {ACT_DIM}): {e}"
        ) from e
    if a.shape != (n, ACT_DIM):
        raise PolicyError(f"act returned actions of shape {a.shape}, expected ({n}, {ACT_DIM})")
    if not np.all(np.isfinite(a)):
        raise PolicyError("act returned non-finite actions (NaN or infinity)")
    return np.clip(a, -1.0, 1.0)


def run_episodes(
    policy: Any,
    envs: Sequence[gym.Env],
    seeds: Sequence[int],
    *,
    act_cap_s: float | None = None,
    on_step: Callable[[int], None] | None = None,
) -> tuple[list[float], list[int]]:
    """Run one episode in each env (reset with its seed), all stepped together.

    ``on_step(n_finished)`` is called after every step with the number of episodes that ended
    in it. Returns each episode's return and length.
    """
    if len(envs) != len(seeds):
        raise ValueError(f"got {len(envs)} envs but {len(seeds)} seeds")
    act = getattr(policy, "act", None)
    if not callable(act):
        raise PolicyError(f"adapt returned {type(policy).__name__}, which has no act(obs) method")
    n = len(envs)
    batch = np.stack([env.reset(seed=int(s))[0] for env, s in zip(envs, seeds, strict=True)])
    stateful = isinstance(policy, StatefulPolicy) and callable(policy.reset)
    if stateful:
        policy.reset(n)
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    active = list(range(n))
    while active:
        obs = batch[active]
        obs.setflags(write=False)
        start = time.perf_counter()
        if stateful:
            ids = np.array(active, dtype=np.int64)
            ids.setflags(write=False)
            raw = act(obs, ids)
        else:
            raw = act(obs)
        elapsed = time.perf_counter() - start
        if act_cap_s is not None and elapsed > act_cap_s:
            raise PolicyError(f"act took {elapsed:.1f} s, over the {act_cap_s:g} s cap")
        actions = check_actions(raw, len(active))
        still = []
        for j, i in enumerate(active):
            o, r, terminated, truncated, _ = envs[i].step(actions[j])
            returns[i] += float(r)
            lengths[i] += 1
            batch[i] = o
            if not (terminated or truncated):
                still.append(i)
        if on_step is not None:
            on_step(len(active) - len(still))
        active = still
    return [float(r) for r in returns], [int(n) for n in lengths]
