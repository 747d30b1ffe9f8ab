"""A demonstration-conditioned policy: an encoder turns the K demos into a task embedding.

In the spirit of Task-Embedded Control Networks and PEARL's context encoder (deterministic here):
``z = mean_i f(obs_i, act_i)`` over the (obs, action) pairs of the K demonstrations, and the
policy is ``π(a | obs, z)``; with K=0, ``z`` is a learned "no-context" embedding. Nothing is
fitted at test time: ``adapt`` is one forward pass of the encoder.

Meta-training, one iteration: for each task of a meta-batch pick a context of k demos (k=0 with
probability ``p_no_context``, else 1..``max_context_demos``), encode ``context_size`` pairs drawn
from them, and minimise the BC loss of ``query_size`` pairs of the task's other demos given that
embedding (encoder, policy and no-context embedding trained jointly with Adam).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from baselines.base import TorchAgent, adapt_stats, env_dims, frozen_copy, seed_all
from baselines.batches import TaskDemos, as_tensors, load_tasks, pooled_obs, stack_rows
from baselines.config import AgentConfig
from baselines.nets import DemoEncoder, GaussianPolicy, MeanActionPolicy, bc_loss
from metail_envs.benchmark import Policy


@dataclasses.dataclass(frozen=True)
class ConditionedConfig(AgentConfig):
    """The encoder, the conditioned policy and their meta-training."""

    file: ClassVar[str] = "conditioned"
    hidden: tuple[int, ...]
    encoder_hidden: tuple[int, ...]
    embed_dim: int
    activation: Literal["tanh", "relu", "elu"]
    init_log_std: float
    min_log_std: float
    loss: Literal["nll", "mse"]
    meta_batch: int
    max_context_demos: int
    p_no_context: float
    context_size: int
    query_size: int
    lr: float
    iterations: int
    grad_clip: float
    log_every: int
    progress: bool

    def check(self) -> None:
        super().check()
        self.require_positive(
            "embed_dim", "meta_batch", "max_context_demos", "context_size", "query_size", "lr",
            "iterations", "grad_clip", "log_every",
        )  # fmt: skip
        self.require("p_no_context", 0.0 <= self.p_no_context <= 1.0, "[0, 1]")
        for name in ("hidden", "encoder_hidden"):
            self.require(name, all(h > 0 for h in getattr(self, name)), "positive layer widths")


class ConditionedNet(nn.Module):
    """Encoder, conditioned policy and the learned no-context embedding."""

    def __init__(self, c: ConditionedConfig) -> None:
        super().__init__()
        obs_dim, act_dim = env_dims()
        self.encoder = DemoEncoder(obs_dim, act_dim, c.encoder_hidden, c.embed_dim, c.activation)
        self.policy = GaussianPolicy(
            obs_dim, act_dim, c.hidden, context_dim=c.embed_dim, activation=c.activation,
            init_log_std=c.init_log_std, min_log_std=c.min_log_std,
        )  # fmt: skip
        self.no_context = nn.Parameter(torch.zeros(c.embed_dim))

    def set_stats(self, obs: np.ndarray) -> None:
        self.encoder.norm.set_stats(obs)
        self.policy.norm.set_stats(obs)

    def embed(self, obs: Tensor, acts: Tensor, empty: Tensor) -> Tensor:
        """Embeddings ``(T, embed_dim)`` of contexts ``(T, n, d)``; rows with ``empty`` get the
        no-context embedding."""
        z = self.encoder(obs, acts)
        return torch.where(empty[:, None], self.no_context.expand_as(z), z)


class ConditionedAgent(TorchAgent):
    """Demonstration-conditioned BC policy; adaptation is an encoder forward pass."""

    config_cls = ConditionedConfig
    config: ConditionedConfig
    adaptation_budget = "one encoder pass over the K demos' pairs, no gradient step"

    def build(self) -> nn.Module:
        return ConditionedNet(self.config)

    def sample_batch(self, rng: np.random.Generator, tasks: Sequence[TaskDemos]) -> dict[str, Any]:
        c = self.config
        n = min(c.meta_batch, len(tasks))
        chosen = [tasks[i] for i in rng.choice(len(tasks), n, replace=False)]
        empty = rng.random(n) < c.p_no_context
        c_rows, q_rows = [], []
        for t, no_ctx in zip(chosen, empty):
            context, query = t.split(rng, c.max_context_demos)
            if no_ctx:
                query = np.arange(t.n_demos)
            c_rows.append(t.sample(rng, context, c.context_size))
            q_rows.append(t.sample(rng, query, c.query_size))
        c_obs, c_acts = stack_rows(chosen, c_rows)
        q_obs, q_acts = stack_rows(chosen, q_rows)
        return {"c_obs": c_obs, "c_acts": c_acts, "q_obs": q_obs, "q_acts": q_acts,
                "empty": torch.from_numpy(empty)}  # fmt: skip

    def loss(self, batch: Mapping[str, Tensor]) -> Tensor:
        net = self._trained()
        z = net.embed(batch["c_obs"], batch["c_acts"], batch["empty"])
        mean, log_std = net.policy(batch["q_obs"], z[:, None, :])
        return bc_loss(mean, log_std, batch["q_acts"], self.config.loss)

    def meta_train(self, demos: Mapping[str, Sequence[Any]], seed: int) -> None:
        c = self.config
        rng = seed_all(seed)
        tasks = load_tasks(demos)
        self.net = self.build()
        self.net.set_stats(pooled_obs(tasks))
        optimiser = torch.optim.Adam(self.net.parameters(), lr=c.lr)
        self.fit(lambda: self.loss(self.sample_batch(rng, tasks)), optimiser, c.iterations)

    @torch.no_grad()
    def embedding(self, demos: Sequence[Any]) -> Tensor:
        """The task embedding of some demonstrations (all their pairs); K=0: no-context."""
        net = self._trained()
        if not demos:
            return net.no_context.detach().clone()
        obs, acts = as_tensors(demos)
        return net.encoder(obs, acts)

    def adapt(self, demos: Sequence[Any]) -> Policy:
        z = self.embedding(demos)
        policy = frozen_copy(self._trained().policy)
        n_pairs = sum(len(t.acts) for t in demos)
        stats = adapt_stats(forward_passes=1, examples=n_pairs) if demos else adapt_stats()
        return MeanActionPolicy(lambda x: policy(x, z)[0], stats)
