"""History-conditioned BC: a policy that reads the last H steps of its own episode.

With K=0 a pooled BC policy sees one observation and cannot tell which Hopper variant it is on;
this one sees its episode's last ``history`` observations and the actions it took between them,
so it can identify the dynamics online (how the body answered the previous actions). It is
behavioural cloning on windows of the training demonstrations: the target is the expert's action
at the window's last step. The policy is *stateful* (protocol v2): the evaluator calls
``reset(n_episodes)`` and then ``act(obs, episode_ids)``, and each episode keeps its own history
(:class:`baselines.history.EpisodeHistory`).

What the network reads is a window of H *slots*, packed as :mod:`baselines.history` lays it out,
the same way from the demonstrations in training and from the episode at test time.

K>0. ``adaptation="none"`` (the default) ignores the demonstrations: this is the K=0 agent, its
score at any K is its K=0 score. ``adaptation="finetune"`` (``--agent-kwargs '{"adaptation":
"finetune"}'``, or ``load(path, adaptation="finetune")``) fine-tunes the network on the K
demonstrations' windows with BC's budget and trainer (:class:`baselines.finetune.FinetuneConfig`,
:func:`baselines.finetune.finetune`), each given demonstration (or window of one) treated as if its
first transition began an episode (the protocol strips where it was cut from). Why not the
default: on a first check (seed 0, test/00, 04, 08, 5 episodes) the fine-tune lowered the mean
score from 28.1 at K=0 to 17.9 (short K=1) and 12.6 (short K=5), worse on 2 of the 3 tasks, and
took 10-15 s per job on a loaded machine (pooled BC's fine-tune on the same jobs: 31.9 -> 23.7
and 28.8).

Default size (``configs/history_bc.json``): H=10 slots of 27 numbers -> MLP 256-256 ReLU -> 3
actions, about 136k parameters; 20k Adam batches of 256 windows (a few minutes on one core).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from baselines.base import TorchAgent, adapt_stats, env_dims, frozen_copy, seed_all
from baselines.config import MLPConfig, PositiveFloat, PositiveInt
from baselines.finetune import FinetuneConfig, finetune
from baselines.history import DemoPool, StatefulHistoryPolicy, ending_at, unpack
from baselines.nets import ObsNormalizer, mlp
from metail_envs.benchmark import Policy


class HistoryBCConfig(FinetuneConfig, MLPConfig, file="history_bc"):
    """The window, the MLP and its training, and (inherited) BC's fine-tuning budget for K>0."""

    adapt_only: ClassVar[tuple[str, ...]] = (*FinetuneConfig.adapt_only, "adaptation")
    history: PositiveInt
    """H: steps of the own episode the policy reads (the current one included)."""
    prev_actions: bool
    """Whether the previous actions are inputs (else observations only)."""
    batch_size: PositiveInt
    """Windows per Adam batch of meta-training (every demonstrated step equally likely)."""
    lr: PositiveFloat
    """Adam learning rate of meta-training."""
    n_batches: PositiveInt
    """Adam batches of meta-training."""
    grad_clip: PositiveFloat
    """Largest gradient norm (clipped above it)."""
    adaptation: Literal["finetune", "none"]
    """K>0: fine-tune on the K demos with BC's budget, or ignore them (``none``: K=0's policy)."""
    log_every: PositiveInt
    """Batches between two entries of the training log."""
    progress: bool
    """Whether to show a progress bar while meta-training."""


class HistoryNet(nn.Module):
    """Packed windows ``(..., H, slot_dim)`` -> mean actions ``(..., act_dim)``: each slot's
    normalised observation, previous action and observation change, and flags, flattened into an
    MLP."""

    def __init__(self, c: HistoryBCConfig) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = env_dims()
        self.history, self.prev_actions = c.history, c.prev_actions
        self.norm = ObsNormalizer(self.obs_dim)
        self.delta_norm = ObsNormalizer(self.obs_dim)
        per_slot = 2 * self.obs_dim + 2 + (self.act_dim if c.prev_actions else 0)
        self.body = mlp(c.history * per_slot, c.hidden, self.act_dim, c.activation)

    def set_stats(self, pool: DemoPool) -> None:
        self.norm.set_stats(pool.obs)
        self.delta_norm.set_stats(pool.obs_changes())

    def forward(self, windows: Tensor) -> Tensor:
        obs, prev_act, prev_obs, valid, has_prev = unpack(windows, self.obs_dim, self.act_dim)
        parts = [
            self.norm(obs) * valid[..., None],
            self.delta_norm(obs - prev_obs) * has_prev[..., None],
            valid[..., None],
            has_prev[..., None],
        ]
        if self.prev_actions:
            parts.append(prev_act)
        return self.body(torch.cat(parts, dim=-1).flatten(-2))


class HistoryPolicy(StatefulHistoryPolicy):
    """History-conditioned BC acting: the MLP on each episode's last H steps."""

    def act(self, obs: np.ndarray, episode_ids: np.ndarray | None = None) -> np.ndarray:
        ids = self._observe(obs, episode_ids)
        x = torch.from_numpy(self.episodes.windows(ids, "right"))
        with torch.inference_mode():
            actions = self.net(x).clamp(-1.0, 1.0).numpy()
        return self._record(ids, actions)


@dataclasses.dataclass(frozen=True)
class _Windows:
    """A demonstration whose "observations" are its packed windows (plus one unused final row),
    so :func:`baselines.finetune.finetune` (which reads ``obs[:-1]`` and ``acts``) fits on them."""

    obs: np.ndarray
    acts: np.ndarray


def demo_windows(trajs: Sequence[Any], history: int) -> list[_Windows]:
    """Every step of each demonstration as a right-aligned window (a demo begins its history)."""
    pool = DemoPool(trajs)
    out = []
    for d, n in enumerate(pool.lengths):
        demo, t = np.full(n, d), np.arange(n)
        packed, acts = pool.windows(demo, ending_at(t, history))
        out.append(_Windows(np.concatenate([packed, packed[-1:]]), acts[:, -1]))
    return out


class HistoryBCAgent(TorchAgent[HistoryBCConfig]):
    """BC over the last H steps of the own episode (pooled training demonstrations); K>0
    ignores the demonstrations, or fine-tunes on them like BC (``adaptation="finetune"``)."""

    adaptation_budget = (
        "none by default (the demos are ignored); adaptation=finetune: adapt_batches Adam "
        "batches of adapt_batch_size on the K demos, at most adapt_max_epochs passes over "
        "their pairs"
    )
    make_net = HistoryNet

    def meta_train(self, demos: Mapping[str, Sequence[Any]], seed: int) -> None:
        c = self.config
        rng = seed_all(seed)
        if not demos:
            raise ValueError("meta_train needs demonstrations of at least one training task")
        pool = DemoPool([t for tid in sorted(demos) for t in demos[tid]])
        self.net = self.build()
        self.net.set_stats(pool)
        optimiser = torch.optim.Adam(self.net.parameters(), lr=c.lr)
        weights = pool.lengths / pool.lengths.sum()  # every step equally likely
        net = self.net

        def loss() -> Tensor:  # squared error of the action at the last step of a window
            demo = rng.choice(pool.n_demos, c.batch_size, p=weights)
            t = (rng.random(c.batch_size) * pool.lengths[demo]).astype(np.int64)
            packed, acts = pool.windows(demo, ending_at(t, c.history))
            pred = net(torch.from_numpy(packed))
            return (pred - torch.from_numpy(acts[:, -1])).pow(2).sum(-1).mean()

        self.fit(loss, optimiser, c.n_batches)
        self.net.train(False)

    def adapt(self, demos: Sequence[Any]) -> Policy:
        net = frozen_copy(self._trained())
        stats = adapt_stats()
        if demos and self.config.adaptation == "finetune":
            stats = finetune(net, demo_windows(demos, self.config.history), self.config, net)
        return HistoryPolicy(net, stats)
