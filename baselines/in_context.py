"""In-context imitation: a small transformer that reads the K demonstrations as a prompt (the
family of Prompt-DT) and its own episode's recent history, and outputs the action. Nothing is
fitted at test time: ``adapt`` only stores the prompt (encoded once).

Tokens. A *prompt token* is one demonstrated transition ``(obs_t, a_t, obs_t+1 - obs_t)``: it
says what the expert did and how this task's body answered, so the prompt is a set (no order,
no positions). A *history token* is one step of the own episode, the packed slot of
:mod:`baselines.history` (``obs_t``, the previous action and observation change, flags), with
a learned position; the window holds the last ``history`` steps, the oldest first.

Network (plain ``torch.nn``): an MLP embeds each prompt token; a learned *null* token is always
prepended (it is the whole prompt at K=0); ``prompt_layers`` Transformer encoder layers mix the
prompt. ``decoder_layers`` Transformer decoder layers run over the history tokens with a causal
mask, cross-attending to the prompt; a linear head gives the mean action at every history slot.
The prompt is encoded once in ``adapt``; each ``act`` runs the decoder on the episodes' windows.

The prompt. At most ``prompt_tokens`` transitions: each of the K demonstrations contributes at
most ``prompt_tokens // K`` of its transitions, evenly spaced when it has more (deterministic).
On the protocol's short track (K windows of ``SHORT_WINDOW`` transitions) with the shipped
``prompt_tokens``, this is every transition given; on the full track, a strided subset of each
whole demonstration.

Meta-training (the 40 training tasks' demonstrations). Each sequence of a batch: a uniform task;
a condition (K=0 with probability ``p_no_prompt``, else the short track with probability
``p_short`` with K uniform in ``SHORT_K_VALUES``, else the full track with K uniform in the
protocol's ``K_VALUES`` above 0); the K demonstrations and windows drawn exactly as the protocol
draws them for a job (:func:`metail_envs.benchmark.protocol.draw_demos`, the protocol's short
window and window start, a fresh draw seed per sequence); the prompt built from them as in
``adapt``; then a window of ``history`` consecutive steps of another demonstration of the task
(the same one if the task has no other; tasks without demonstrations are skipped), from its
first step with probability ``p_episode_start`` (as at the start of an episode). The
loss is the squared error of the expert's action at every slot of the window (causal: slot j sees
slots 0..j), so a short history at an episode's start is trained too. At test, while fewer than
``history`` steps were seen, the episode's steps fill slots 0..t and slot t's output is acted on.

The sizes and budgets are the fields of :class:`InContextConfig` (values in
``configs/in_context.json``; why they were chosen: docs/baselines.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from baselines.base import TorchAgent, adapt_stats, env_dims, frozen_copy, seed_all
from baselines.config import (
    AgentConfig,
    NonNegativeFloat,
    NonNegativeInt,
    OptionalPositiveInt,
    PositiveFloat,
    PositiveInt,
    Probability,
)
from baselines.history import DemoPool, StatefulHistoryPolicy, unpack
from baselines.nets import ObsNormalizer
from metail_envs.benchmark import Policy
from metail_envs.benchmark import protocol as P


class InContextConfig(AgentConfig, file="in_context"):
    """The transformer's size, the context lengths and the meta-training."""

    history: PositiveInt
    """Steps of the own episode in the context (the current one included)."""
    history_actions: bool
    """Whether history tokens hold the previous action (else observations only)."""
    prompt_tokens: PositiveInt
    """At most this many demonstrated transitions in the prompt."""
    d_model: PositiveInt
    """Width of every token embedding and attention layer (a multiple of ``heads``)."""
    heads: PositiveInt
    """Attention heads per layer."""
    feedforward: PositiveInt
    """Width of each layer's feed-forward block."""
    prompt_layers: NonNegativeInt
    """Transformer encoder layers that mix the prompt's tokens (0: none)."""
    decoder_layers: PositiveInt
    """Causal decoder layers over the history, cross-attending to the prompt."""
    batch_size: PositiveInt
    """Sequences (prompt + history window) per Adam batch."""
    lr: PositiveFloat
    """AdamW learning rate (after warm-up)."""
    weight_decay: NonNegativeFloat
    """AdamW weight decay."""
    iterations: PositiveInt
    """Adam batches of meta-training."""
    warmup: NonNegativeInt
    """Batches of linear learning-rate warm-up at the start."""
    grad_clip: PositiveFloat
    """Largest gradient norm (clipped above it)."""
    p_no_prompt: Probability
    """Probability that a training sequence is a K=0 one (the null token alone)."""
    p_short: Probability
    """Probability that a sequence with a prompt draws it as the short track does (else the
    full track)."""
    p_episode_start: Probability
    """Probability that a sequence's history window starts at its demonstration's first step."""
    short_window: OptionalPositiveInt
    """Short-track window length in meta-training (None: the protocol's ``SHORT_WINDOW``)."""
    window_start: Literal["start", "offset"] | None
    """Short-track window start in meta-training (None: the protocol's ``WINDOW_START``)."""
    log_every: PositiveInt
    """Batches between two entries of the training log."""
    progress: bool
    """Whether to show a progress bar while meta-training."""

    def check(self) -> None:
        super().check()
        self.require("d_model", self.d_model % self.heads == 0, "a multiple of heads")

    def protocol(self) -> P.ProtocolConfig:
        """The protocol settings the prompts are drawn with in meta-training."""
        return P.ProtocolConfig(
            short_window=self.short_window or P.SHORT_WINDOW,
            window_start=self.window_start or P.WINDOW_START,
        )


def transitions(obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
    """A demonstration's transitions ``(T, 2 obs_dim + act_dim)``: obs, action, next obs."""
    obs = np.asarray(obs, dtype=np.float32)
    return np.concatenate([obs[:-1], np.asarray(acts, dtype=np.float32), obs[1:]], axis=1)


def build_prompt(demos: Sequence[np.ndarray], budget: int) -> np.ndarray:
    """The prompt from K demonstrations' transitions: each gives at most ``budget // K`` of
    them (all if it has no more, else evenly spaced ones), concatenated."""
    if not demos:
        return np.zeros((0, 0), dtype=np.float32)
    share = max(1, budget // len(demos))
    parts = []
    for t in demos:
        if len(t) > share:
            t = t[np.linspace(0, len(t) - 1, share).round().astype(np.int64)]
        parts.append(t)
    return np.concatenate(parts).astype(np.float32, copy=False)


class InContextNet(nn.Module):
    """Prompt encoder and causal history decoder (see the module docstring)."""

    def __init__(self, c: InContextConfig) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = env_dims()
        self.history, self.history_actions = c.history, c.history_actions
        o, a, d = self.obs_dim, self.act_dim, c.d_model
        self.norm = ObsNormalizer(o)
        self.delta_norm = ObsNormalizer(o)
        self.prompt_in = nn.Sequential(nn.Linear(2 * o + a, d), nn.GELU(), nn.Linear(d, d))
        self.history_in = nn.Sequential(nn.Linear(2 * o + a + 2, d), nn.GELU(), nn.Linear(d, d))
        self.null = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.pos = nn.Parameter(torch.randn(c.history, d) * 0.02)

        def layer(cls: type[nn.Module]) -> nn.Module:
            return cls(
                d, c.heads, c.feedforward, dropout=0.0, activation="gelu", batch_first=True,
                norm_first=True,
            )  # fmt: skip

        self.encoder = (
            nn.TransformerEncoder(
                layer(nn.TransformerEncoderLayer), c.prompt_layers, enable_nested_tensor=False
            )
            if c.prompt_layers
            else None
        )
        self.decoder = nn.TransformerDecoder(layer(nn.TransformerDecoderLayer), c.decoder_layers)
        self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, a))

    def set_stats(self, pool: DemoPool) -> None:
        self.norm.set_stats(pool.obs)
        self.delta_norm.set_stats(pool.obs_changes())

    def encode(self, prompt: Tensor, pad: Tensor) -> tuple[Tensor, Tensor]:
        """Prompts ``(B, P, 2o+a)`` with padding ``(B, P)`` (True: no token) -> the memory
        ``(B, P+1, d)`` (the null token first) and its padding mask."""
        o, a = self.obs_dim, self.act_dim
        b = prompt.shape[0]
        tokens = self.null.expand(b, 1, -1)
        if prompt.shape[1]:
            obs, act, nxt = prompt[..., :o], prompt[..., o : o + a], prompt[..., o + a :]
            x = torch.cat([self.norm(obs), act, self.delta_norm(nxt - obs)], dim=-1)
            tokens = torch.cat([tokens, self.prompt_in(x)], dim=1)
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool), pad], dim=1)
        if self.encoder is not None:
            tokens = self.encoder(tokens, src_key_padding_mask=pad)
        return tokens, pad

    def decode(self, windows: Tensor, memory: Tensor, pad: Tensor) -> Tensor:
        """Left-aligned history windows ``(B, L, slot_dim)`` -> mean actions ``(B, L, a)`` at
        every slot (slot j sees slots 0..j). A memory of batch 1 is shared by all B windows:
        they are then decoded as one sequence with a block-diagonal causal mask, so the prompt
        is projected once."""
        obs, prev_act, prev_obs, valid, has_prev = unpack(windows, self.obs_dim, self.act_dim)
        x = torch.cat(
            [
                self.norm(obs) * valid[..., None],
                prev_act * has_prev[..., None] * self.history_actions,
                self.delta_norm(obs - prev_obs) * has_prev[..., None],
                valid[..., None],
                has_prev[..., None],
            ],
            dim=-1,
        )
        b, length = windows.shape[:2]
        h = self.history_in(x) + self.pos[:length]
        causal = torch.ones(length, length, dtype=torch.bool).triu(1)
        if memory.shape[0] == 1 and b > 1:
            blocks = torch.block_diag(*[~causal] * b)
            h = self.decoder(
                h.reshape(1, b * length, -1), memory, tgt_mask=~blocks,
                memory_key_padding_mask=pad,
            )  # fmt: skip
            return self.head(h.reshape(b, length, -1))
        h = self.decoder(
            h, memory, tgt_mask=causal, memory_key_padding_mask=pad, tgt_is_causal=True
        )
        return self.head(h)


class InContextPolicy(StatefulHistoryPolicy):
    """The stateful policy: the encoded prompt (``memory``) and each episode's history window."""

    def __init__(self, net: InContextNet, memory: Tensor, pad: Tensor, stats: dict[str, int]):
        super().__init__(net, stats)
        self.memory, self.pad = memory, pad

    def act(self, obs: np.ndarray, episode_ids: np.ndarray | None = None) -> np.ndarray:
        ids = self._observe(obs, episode_ids)
        seen = np.minimum(self.episodes.steps[ids], self.net.history)
        length = int(seen.max()) if len(ids) else 1
        windows = torch.from_numpy(self.episodes.windows(ids, "left")[:, :length])
        with torch.inference_mode():
            out = self.net.decode(windows, self.memory, self.pad)
            actions = out[torch.arange(len(ids)), torch.from_numpy(seen - 1)]
            actions = actions.clamp(-1.0, 1.0).numpy()
        return self._record(ids, actions)


class InContextAgent(TorchAgent[InContextConfig]):
    """Prompt-conditioned causal transformer; adaptation is one encoder pass over the prompt."""

    adaptation_budget = "one prompt-encoder pass over the K demos' transitions, no gradient step"
    make_net = InContextNet

    def sample_batch(
        self,
        rng: np.random.Generator,
        pool: DemoPool,
        tasks: Sequence[tuple[str, np.ndarray]],
        trans: Sequence[np.ndarray],
    ) -> dict[str, Tensor]:
        """One batch: prompts drawn as the protocol draws them, and history windows of another
        demonstration of the same task. ``tasks``: (task id, its demos' indices in ``pool``)."""
        c = self.config
        protocol = c.protocol()
        full_k = [k for k in P.K_VALUES if k > 0]
        prompts, demo, start = [], np.empty(c.batch_size, np.int64), np.empty(c.batch_size)
        for b in range(c.batch_size):
            task_id, ids = tasks[int(rng.integers(len(tasks)))]
            lengths = pool.lengths[ids]
            used: list[int] = []
            prompt = np.zeros((0, 2 * pool.obs.shape[1] + pool.acts.shape[1]), np.float32)
            if rng.random() >= c.p_no_prompt:
                short = rng.random() < c.p_short
                track = "short" if short else "full"
                k = int(rng.choice(P.SHORT_K_VALUES if short else full_k))
                k = min(k, len(ids))
                seed = int(rng.integers(2**31))
                windows = P.draw_demos(protocol, seed, task_id, k, track, lengths)
                used = [w.index for w in windows]
                prompt = build_prompt(
                    [trans[ids[w.index]][w.start : w.stop] for w in windows], c.prompt_tokens
                )
            others = [i for i in range(len(ids)) if i not in used] or list(range(len(ids)))
            demo[b] = ids[others[int(rng.integers(len(others)))]]
            last = max(int(pool.lengths[demo[b]]) - c.history, 0)
            start[b] = 0 if rng.random() < c.p_episode_start else int(rng.integers(last + 1))
            prompts.append(prompt)
        steps = start.astype(np.int64)[:, None] + np.arange(c.history)[None]
        windows, acts = pool.windows(demo, steps)
        width = max(len(p) for p in prompts)
        padded = np.zeros((c.batch_size, width, prompts[0].shape[1]), np.float32)
        pad = np.ones((c.batch_size, width), dtype=bool)
        for b, p in enumerate(prompts):
            padded[b, : len(p)], pad[b, : len(p)] = p, False
        return {
            "prompt": torch.from_numpy(padded), "pad": torch.from_numpy(pad),
            "windows": torch.from_numpy(windows), "acts": torch.from_numpy(acts),
        }  # fmt: skip

    def loss(self, batch: Mapping[str, Tensor]) -> Tensor:
        net = self._trained()
        memory, pad = net.encode(batch["prompt"], batch["pad"])
        pred = net.decode(batch["windows"], memory, pad)
        valid = unpack(batch["windows"], net.obs_dim, net.act_dim)[3]
        err = (pred - batch["acts"]).pow(2).sum(-1)
        return (err * valid).sum() / valid.sum().clamp_min(1.0)

    def meta_train(self, demos: Mapping[str, Sequence[Any]], seed: int) -> None:
        c = self.config
        rng = seed_all(seed)
        if not demos:
            raise ValueError("meta_train needs demonstrations of at least one training task")
        order = sorted(demos)
        trajs = [t for tid in order for t in demos[tid]]
        pool = DemoPool(trajs)  # raises if there is no demonstration at all
        counts = np.cumsum([0] + [len(demos[tid]) for tid in order])
        tasks = [  # a task without demonstrations (an expert that always fell) gives nothing
            (tid, np.arange(counts[i], counts[i + 1]))
            for i, tid in enumerate(order)
            if counts[i + 1] > counts[i]
        ]
        trans = [transitions(t.obs, t.acts) for t in trajs]
        self.net = self.build()
        self.net.set_stats(pool)
        optimiser = torch.optim.AdamW(self.net.parameters(), lr=c.lr, weight_decay=c.weight_decay)

        def rate(it: int) -> float:  # linear warm-up, then cosine decay to 0
            if it < c.warmup:
                return (it + 1) / c.warmup
            return 0.5 * (1 + math.cos(math.pi * (it - c.warmup) / max(1, c.iterations - c.warmup)))

        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, rate)
        self.fit(
            lambda: self.loss(self.sample_batch(rng, pool, tasks, trans)),
            optimiser, c.iterations, schedule,
        )  # fmt: skip
        self.net.train(False)

    def prompt(self, demos: Sequence[Any]) -> np.ndarray:
        """The prompt ``adapt`` builds from some demonstrations (``(0, 0)`` for none)."""
        return build_prompt([transitions(t.obs, t.acts) for t in demos], self.config.prompt_tokens)

    def adapt(self, demos: Sequence[Any]) -> Policy:
        net = frozen_copy(self._trained())
        net.train(False)
        prompt = self.prompt(demos)
        if not len(prompt):
            prompt = np.zeros((0, 2 * net.obs_dim + net.act_dim), np.float32)
        with torch.inference_mode():
            x = torch.from_numpy(prompt)[None]
            memory, pad = net.encode(x, torch.zeros(x.shape[:2], dtype=torch.bool))
        stats = adapt_stats(forward_passes=1, examples=len(prompt)) if demos else adapt_stats()
        return InContextPolicy(net, memory, pad, stats)
