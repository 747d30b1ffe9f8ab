"""Windows of an episode's own history, the building blocks of the agents that read it
(:mod:`baselines.history_bc`, :mod:`baselines.in_context`).

A window is H *slots*, oldest first, ending at the current step; slot ``k`` holds the
observation ``k`` steps before, the action taken before it and the observation before that
(so each slot is a transition of the dynamics), with flags for slots before the episode start
(``valid``) and slots whose previous step is unknown (``has_prev``). The same packed layout
(:func:`pack`) comes from the demonstrations in training (:class:`DemoPool`) and from the
episode at test time, so what the network sees is built the same way in both.

:class:`EpisodeHistory` keeps each evaluation episode's last steps, and
:class:`StatefulHistoryPolicy` is what a stateful policy over them does on every call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from torch import Tensor


def slot_dim(obs_dim: int, act_dim: int) -> int:
    """Numbers per slot: obs, previous action, previous obs, valid flag, has-previous flag."""
    return 2 * obs_dim + act_dim + 2


def pack(
    obs: np.ndarray, prev_act: np.ndarray, prev_obs: np.ndarray, valid: np.ndarray,
    has_prev: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Windows ``(..., H, slot_dim)`` float32 from their parts; what is not known (slots before
    the episode, the step before the first) is zeroed, so only the flags tell it apart."""
    has_prev = has_prev & valid
    parts = [
        obs * valid[..., None],
        prev_act * has_prev[..., None],
        prev_obs * has_prev[..., None],
        valid[..., None],
        has_prev[..., None],
    ]
    return np.concatenate(parts, axis=-1, dtype=np.float32)


def unpack(windows: Tensor, obs_dim: int, act_dim: int) -> tuple[Tensor, ...]:
    """``(obs, prev_act, prev_obs, valid, has_prev)`` of packed windows (flags as floats)."""
    o, a = obs_dim, act_dim
    return (
        windows[..., :o],
        windows[..., o : o + a],
        windows[..., o + a : 2 * o + a],
        windows[..., 2 * o + a],
        windows[..., 2 * o + a + 1],
    )


class DemoPool:
    """Demonstrations as concatenated arrays, to gather packed windows of any of their steps.

    ``demo`` indexes the pool's demonstrations (in the order given); ``steps`` are step numbers
    within a demonstration, any integers: a step outside ``[0, T)`` gives an invalid slot.
    """

    def __init__(self, trajs: Sequence[Any]) -> None:
        if not trajs:
            raise ValueError("no demonstrations given")
        obs = [np.asarray(t.obs, dtype=np.float32) for t in trajs]
        acts = [np.asarray(t.acts, dtype=np.float32) for t in trajs]
        self.lengths = np.array([len(a) for a in acts], dtype=np.int64)
        if (self.lengths < 1).any():
            raise ValueError("every demonstration needs at least one transition")
        self.obs = np.concatenate(obs)
        self.acts = np.concatenate(acts)
        self.obs_start = np.concatenate([[0], np.cumsum(self.lengths + 1)[:-1]])
        self.act_start = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])

    def obs_changes(self) -> np.ndarray:
        """Every demonstrated step's observation change, all demonstrations concatenated."""
        return np.concatenate(
            [
                self.obs[s + 1 : s + n + 1] - self.obs[s : s + n]
                for s, n in zip(self.obs_start, self.lengths)
            ]
        )

    @property
    def n_demos(self) -> int:
        return len(self.lengths)

    def windows(self, demo: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Packed windows ``(B, H, slot_dim)`` of demos ``demo (B,)`` at ``steps (B, H)``, and
        the expert's action at each slot ``(B, H, act_dim)`` (zero where invalid)."""
        n = self.lengths[demo][:, None]
        valid = (steps >= 0) & (steps < n)
        has_prev = valid & (steps >= 1)
        u = np.clip(steps, 0, n - 1)
        up = np.clip(steps - 1, 0, n - 1)
        o0, a0 = self.obs_start[demo][:, None], self.act_start[demo][:, None]
        packed = pack(self.obs[o0 + u], self.acts[a0 + up], self.obs[o0 + up], valid, has_prev)
        return packed, self.acts[a0 + u] * valid[..., None]


def ending_at(t: np.ndarray, history: int) -> np.ndarray:
    """Steps ``(B, H)`` of right-aligned windows: the last slot is step ``t (B,)``."""
    return t[:, None] - (history - 1) + np.arange(history)[None]


class EpisodeHistory:
    """Each episode's last ``history`` observations and the actions taken after them.

    :meth:`observe` appends an observation to the given episodes; :meth:`record` stores the
    action taken on it. Episodes are independent: rows are keyed by episode id, never by their
    position in a batch.
    """

    def __init__(self, n_episodes: int, history: int, obs_dim: int, act_dim: int) -> None:
        if isinstance(n_episodes, bool) or not isinstance(n_episodes, int | np.integer):
            raise TypeError(f"n_episodes={n_episodes!r} must be an integer >= 1")
        if n_episodes < 1:
            raise ValueError(f"n_episodes={n_episodes!r} is invalid; accepted: >= 1")
        self.history = history
        self.obs = np.zeros((n_episodes, history + 1, obs_dim), dtype=np.float32)
        self.acts = np.zeros((n_episodes, history + 1, act_dim), dtype=np.float32)
        self.steps = np.zeros(n_episodes, dtype=np.int64)

    def check_ids(self, episode_ids: Any, n_rows: int) -> np.ndarray:
        ids = np.asarray(episode_ids)
        if ids.shape != (n_rows,) or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"episode_ids must be {n_rows} integers, one per row of obs")
        if len(ids) and (ids.min() < 0 or ids.max() >= len(self.steps)):
            raise ValueError(f"episode_ids must lie in [0, {len(self.steps)}) (reset's n)")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("episode_ids must be distinct: one row per episode")
        return ids

    def observe(self, ids: np.ndarray, obs: np.ndarray) -> None:
        self.obs[ids] = np.roll(self.obs[ids], -1, axis=1)
        self.acts[ids] = np.roll(self.acts[ids], -1, axis=1)
        self.obs[ids, -1] = obs
        self.acts[ids, -1] = 0.0
        self.steps[ids] += 1

    def record(self, ids: np.ndarray, actions: np.ndarray) -> None:
        self.acts[ids, -1] = actions

    def windows(self, ids: np.ndarray, align: Literal["right", "left"] = "right") -> np.ndarray:
        """Packed windows of the episodes: ``right``: the current step is the last slot (slots
        before the episode start invalid); ``left``: the episode's first kept step is slot 0
        (while fewer than H steps were seen, the current step is slot ``steps - 1``)."""
        h = self.history
        seen = self.steps[ids][:, None]
        age = (h - 1) - np.arange(h)[None]  # age of each slot, right-aligned
        valid, has_prev = age < seen, age + 1 < seen
        obs, prev_obs, prev_act = self.obs[ids, 1:], self.obs[ids, :-1], self.acts[ids, :-1]
        packed = pack(obs, prev_act, prev_obs, valid, has_prev)
        if align == "right":
            return packed
        shift = np.minimum(self.steps[ids], h)  # rotate the valid slots to the front
        order = (np.arange(h)[None] + (h - shift)[:, None]) % h
        return np.take_along_axis(packed, order[..., None], axis=1)


class StatefulHistoryPolicy:
    """What a stateful policy over its own episode's history does on every call: ``reset(n)``
    makes one history per episode, ``_observe`` checks the ids and appends the observations,
    ``_record`` appends the actions taken. ``act(obs)`` alone is refused (the policy needs to
    know whose history a row continues)."""

    def __init__(self, net: Any, stats: dict[str, int]) -> None:
        self.net = net
        self.adapt_stats = stats
        self.act_forward_passes = 0
        """Forward passes spent acting (not adapting): one per ``act`` call."""
        self.episodes: EpisodeHistory | None = None

    def reset(self, n_episodes: int) -> None:
        net = self.net
        self.episodes = EpisodeHistory(n_episodes, net.history, net.obs_dim, net.act_dim)

    def _observe(self, obs: np.ndarray, episode_ids: np.ndarray | None) -> np.ndarray:
        if self.episodes is None or episode_ids is None:
            raise TypeError("a stateful policy: call reset(n_episodes), then act(obs, episode_ids)")
        ids = self.episodes.check_ids(episode_ids, len(obs))
        self.episodes.observe(ids, np.asarray(obs, dtype=np.float32))
        return ids

    def _record(self, ids: np.ndarray, actions: np.ndarray) -> np.ndarray:
        self.act_forward_passes += 1
        self.episodes.record(ids, actions)
        return actions.astype(np.float64)
