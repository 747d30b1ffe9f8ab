"""Demonstrations as arrays, and the batches the meta-learners train on.

A demonstration of T steps gives T ``(obs, action)`` pairs (its final observation has no action).
:class:`TaskDemos` keeps one task's pairs in two arrays with per-demonstration offsets so that a
support/query split and fixed-size batches (stackable over tasks for ``vmap``) are cheap to draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from metail_envs.benchmark.protocol import ProtocolConfig, draw_demos


def pairs(trajs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """All ``(obs, action)`` pairs of some demonstrations as float32 arrays ``(n, d)``."""
    if not trajs:
        raise ValueError("no demonstrations given")
    obs = np.concatenate([np.asarray(t.obs[:-1], dtype=np.float32) for t in trajs])
    acts = np.concatenate([np.asarray(t.acts, dtype=np.float32) for t in trajs])
    return obs, acts


def as_tensors(trajs: Sequence[Any]) -> tuple[Tensor, Tensor]:
    obs, acts = pairs(trajs)
    return torch.from_numpy(obs), torch.from_numpy(acts)


@dataclass(frozen=True)
class TaskDemos:
    """One task's demonstrations: pairs of all demos concatenated, and where each demo starts."""

    obs: np.ndarray
    acts: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray

    @classmethod
    def from_trajs(cls, trajs: Sequence[Any]) -> TaskDemos:
        obs, acts = pairs(trajs)
        lengths = np.array([len(t.acts) for t in trajs])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        return cls(obs, acts, starts, lengths)

    @property
    def n_demos(self) -> int:
        return len(self.lengths)

    def split(self, rng: np.random.Generator, max_support: int) -> tuple[np.ndarray, np.ndarray]:
        """A random support/query split of the demos: 1..max_support support demos (at least one
        demo is left for the query; with a single demo both are that demo)."""
        if self.n_demos == 1:
            return np.array([0]), np.array([0])
        order = rng.permutation(self.n_demos)
        k = int(rng.integers(1, min(max_support, self.n_demos - 1) + 1))
        return order[:k], order[k:]

    def short_split(
        self, rng: np.random.Generator, k: int, protocol: ProtocolConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        """A support as the protocol's short track gives it: rows of K windows, K demos drawn
        and cut exactly as :func:`~metail_envs.benchmark.protocol.draw_demos` does for a job
        (fresh draw seed); and the query demos (the others; with a single demo, that demo)."""
        k = min(k, max(self.n_demos - 1, 1))
        seed = int(rng.integers(2**31))
        windows = draw_demos(protocol, seed, "meta-training", k, "short", self.lengths)
        rows = np.concatenate([self.starts[w.index] + np.arange(w.start, w.stop) for w in windows])
        used = {w.index for w in windows}
        query = np.array([i for i in range(self.n_demos) if i not in used] or sorted(used))
        return rows, query

    def sample(self, rng: np.random.Generator, demos: np.ndarray, n: int) -> np.ndarray:
        """Row indices of ``n`` pairs drawn uniformly (with replacement) from some demos."""
        d = demos[rng.integers(0, len(demos), n)]
        return self.starts[d] + (rng.random(n) * self.lengths[d]).astype(np.int64)


def load_tasks(demos: Mapping[str, Sequence[Any]]) -> list[TaskDemos]:
    """The meta-training demonstrations as :class:`TaskDemos`, in sorted task-id order."""
    if not demos:
        raise ValueError("meta_train needs demonstrations of at least one training task")
    return [TaskDemos.from_trajs(demos[t]) for t in sorted(demos)]


def pooled_obs(tasks: Sequence[TaskDemos]) -> np.ndarray:
    """Every observation of every task (for the normalisation statistics)."""
    return np.concatenate([t.obs for t in tasks])


def stack_rows(tasks: Sequence[TaskDemos], rows: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
    """``(obs, acts)`` tensors ``(n_tasks, n, d)`` from per-task row indices of equal length."""
    obs = np.stack([t.obs[r] for t, r in zip(tasks, rows)])
    acts = np.stack([t.acts[r] for t, r in zip(tasks, rows)])
    return torch.from_numpy(obs), torch.from_numpy(acts)


def sample_pooled(
    rng: np.random.Generator, tasks: Sequence[TaskDemos], n: int
) -> tuple[Tensor, Tensor]:
    """``n`` pairs of the pooled demonstrations: a uniform task, then a uniform pair of it."""
    which = rng.integers(0, len(tasks), n)
    obs = np.empty((n, tasks[0].obs.shape[1]), dtype=np.float32)
    acts = np.empty((n, tasks[0].acts.shape[1]), dtype=np.float32)
    for i in np.unique(which):
        mask = which == i
        rows = rng.integers(0, len(tasks[i].obs), int(mask.sum()))
        obs[mask], acts[mask] = tasks[i].obs[rows], tasks[i].acts[rows]
    return torch.from_numpy(obs), torch.from_numpy(acts)
