"""History-conditioned BC: a policy that reads the last H steps of its own episode.

With K=0 a pooled BC policy sees one observation and cannot tell which Hopper variant it is on;
this one sees its episode's last ``history`` observations and the actions it took between them,
so it can identify the dynamics online (how the body answered the previous actions). It is
behavioural cloning on windows of the training demonstrations: the target is the expert's action
at the window's last step. The policy is *stateful* (protocol v2): the evaluator calls
``reset(n_episodes)`` and then ``act(obs, episode_ids)``, and each episode keeps its own history
(:class:`EpisodeHistory`).

A window is H *slots*, oldest first, ending at the current step; slot ``k`` holds the
observation ``k`` steps before, the action taken before it and the observation before that
(so each slot is a transition of the dynamics), with flags for slots before the episode start
(``valid``) and slots whose previous step is unknown (``has_prev``). The same packed layout
(:func:`pack`) comes from the demonstrations in training (:class:`DemoPool`) and from the
episode at test time, so what the network sees is built the same way in both.

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
from baselines.nets import ObsNormalizer, mlp
from metail_envs.benchmark import Policy

# ---------------------------------------------------------------------------------------------
# The packed window layout, shared with baselines.in_context
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# The agent
# ---------------------------------------------------------------------------------------------


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
