"""The context oracle: behavioural cloning told the true task (a privileged reference).

A Gaussian MLP on the observation plus the task's true normalised parameters (what
``observe_context=True`` appends), trained by BC on every meta-training demonstration, each
paired with its own task's parameters; ``adapt(demos, task=)`` ignores the demonstrations and
conditions on the scored task's parameters. It shows on every leaderboard what perfect task
identification gives a BC prior trained on the protocol's data: the gap between it and the best
non-privileged agent is what inference still misses, the gap between it and the expert is what
the data misses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from baselines.base import TorchAgent, env_dims, seed_all
from baselines.batches import pairs
from baselines.config import AgentConfig, LayerWidths, PositiveFloat, PositiveInt
from baselines.nets import GaussianPolicy, MeanActionPolicy, bc_loss
from metail_envs.benchmark import Policy
from metail_envs.params import PARAMS, context_of
from metail_envs.tasks import Task


class ContextOracleConfig(AgentConfig, file="context_oracle"):
    """The context-conditioned policy and its BC training."""

    hidden: LayerWidths
    """Widths of the policy's hidden layers."""
    activation: Literal["tanh", "relu", "elu"]
    """The policy's nonlinearity."""
    init_log_std: float
    """The Gaussian policy's initial log standard deviation (learned from there)."""
    min_log_std: float
    """The smallest log standard deviation the policy may reach."""
    loss: Literal["nll", "mse"]
    """BC loss: negative log-likelihood of the Gaussian, or squared error of its mean."""
    batch_size: PositiveInt
    """(observation, context, action) triples per gradient step."""
    lr: PositiveFloat
    """Adam learning rate."""
    iterations: PositiveInt
    """Gradient steps of training."""
    grad_clip: PositiveFloat
    """Largest gradient norm (clipped above it)."""
    log_every: PositiveInt
    """Iterations between two entries of the training log."""
    progress: bool
    """Whether to show a progress bar while training."""


def make_oracle_net(c: ContextOracleConfig) -> nn.Module:
    """A fresh Gaussian policy on (observation, normalised context)."""
    obs_dim, act_dim = env_dims()
    return GaussianPolicy(
        obs_dim, act_dim, c.hidden, context_dim=len(PARAMS), activation=c.activation,
        init_log_std=c.init_log_std, min_log_std=c.min_log_std,
    )  # fmt: skip


class ContextOracleAgent(TorchAgent[ContextOracleConfig]):
    """BC on observations plus the true task parameters; told the scored task's parameters."""

    privileged = True
    adaptation_budget = "none: conditions on the task's true parameters (privileged)"
    make_net = make_oracle_net

    def meta_train(self, demos: Mapping[str, Sequence[Any]], seed: int) -> None:
        from metail_envs.manifest import resolve_task

        self.train_on([(resolve_task(tid)[1], demos[tid]) for tid in sorted(demos)], seed)

    def train_on(self, tasks: Sequence[tuple[Task, Sequence[Any]]], seed: int) -> None:
        """Train on ``(task, its demonstrations)`` pairs: tasks need not belong to a suite."""
        c = self.config
        rng = seed_all(seed)
        obs, ctx, acts = [], [], []
        for task, trajs in tasks:
            o, a = pairs(trajs)
            obs.append(o)
            acts.append(a)
            ctx.append(np.broadcast_to(context_of(task.params), (len(o), len(PARAMS))))
        obs_t, ctx_t, acts_t = (
            torch.as_tensor(np.concatenate(x)).float() for x in (obs, ctx, acts)
        )
        self.net = self.build()
        self.net.norm.set_stats(obs_t)
        opt = torch.optim.Adam(self.net.parameters(), lr=c.lr)

        def loss_fn() -> torch.Tensor:
            i = torch.as_tensor(rng.integers(len(obs_t), size=c.batch_size))
            mean, log_std = self.net(obs_t[i], ctx_t[i])
            return bc_loss(mean, log_std, acts_t[i], c.loss)

        self.fit(loss_fn, opt, c.iterations)

    def adapt(self, demos: Sequence[Any], task: Any = None) -> Policy:
        if task is None:
            raise ValueError("ContextOracleAgent.adapt needs task=: the oracle is privileged")
        net = self._trained()
        context = torch.as_tensor(context_of(task.params))
        return MeanActionPolicy(lambda obs: net(obs, context)[0])
