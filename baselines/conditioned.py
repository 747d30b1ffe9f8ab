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

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from baselines.base import TorchAgent, adapt_stats, env_dims, frozen_copy, seed_all
from baselines.batches import TaskDemos, as_tensors, load_tasks, pooled_obs, stack_rows
from baselines.config import AgentConfig, LayerWidths, PositiveFloat, PositiveInt, Probability
from baselines.nets import DemoEncoder, GaussianPolicy, MeanActionPolicy, bc_loss
from metail_envs.benchmark import Policy


class ConditionedConfig(AgentConfig, file="conditioned"):
    """The encoder, the conditioned policy and their meta-training."""

    hidden: LayerWidths
    """Widths of the conditioned policy's hidden layers."""
    encoder_hidden: LayerWidths
    """Widths of the per-pair encoder's hidden layers (its outputs are averaged)."""
    embed_dim: PositiveInt
    """Size of the task embedding the policy is conditioned on."""
    activation: Literal["tanh", "relu", "elu"]
    """The nonlinearity of the encoder and the policy."""
    init_log_std: float
    """The Gaussian policy's initial log standard deviation (learned from there)."""
    min_log_std: float
    """The smallest log standard deviation the policy may reach."""
    loss: Literal["nll", "mse"]
    """BC loss: negative log-likelihood of the Gaussian, or squared error of its mean."""
    meta_batch: PositiveInt
    """Training tasks per iteration."""
    max_context_demos: PositiveInt
    """At most this many of a task's demos form its context; the others its query."""
    p_no_context: Probability
    """Probability that a task is trained with the no-context embedding (K=0)."""
    context_size: PositiveInt
    """(obs, action) pairs drawn from a task's context per iteration."""
    query_size: PositiveInt
    """(obs, action) pairs drawn from a task's query per iteration."""
    lr: PositiveFloat
    """Adam learning rate of meta-training."""
    iterations: PositiveInt
    """Iterations of meta-training."""
    grad_clip: PositiveFloat
    """Largest gradient norm (clipped above it)."""
    log_every: PositiveInt
    """Iterations between two entries of the training log."""
    progress: bool
    """Whether to show a progress bar while meta-training."""


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


class ConditionedAgent(TorchAgent[ConditionedConfig]):
    """Demonstration-conditioned BC policy; adaptation is an encoder forward pass."""

    adaptation_budget = "one encoder pass over the K demos' pairs, no gradient step"
    make_net = ConditionedNet

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
