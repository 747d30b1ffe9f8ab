"""The fine-tune on the K demonstrations that several agents adapt with: BC's, MAML-BC's and
joint's ``adaptation="finetune"``, history-BC's fine-tune of the history-free part, and
single-task BC's fit from scratch (:func:`fit_mean_action`).

The budget is :class:`FinetuneConfig` (defaults in ``configs/finetune.json``), the fields of every
agent config that fine-tunes; :func:`finetune` spends it, :func:`fit_mean_action` is the trainer:
squared error of the mean action, an optional pull toward the starting parameters, optional early
stopping on held-out pairs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from baselines.base import adapt_stats
from baselines.batches import as_tensors
from baselines.config import (
    AgentConfig,
    Fraction,
    NonNegativeFloat,
    NonNegativeInt,
    OptionalPositiveInt,
    PositiveFloat,
    PositiveInt,
)
from baselines.nets import action_mean


class FinetuneConfig(AgentConfig, file="finetune"):
    """The fine-tuning budget on the K demos: ``adapt_batches`` Adam batches of
    ``adapt_batch_size`` pairs at ``adapt_lr`` (squared error of the mean action), or fewer when
    ``adapt_max_epochs`` passes over the pairs take fewer; with ``adapt_prior_weight`` > 0, a pull
    toward the starting parameters that fades as pairs grow; with ``adapt_holdout`` > 0, early
    stopping on the last part of each demo."""

    adapt_only: ClassVar[tuple[str, ...]] = (
        "adapt_batches", "adapt_batch_size", "adapt_lr", "adapt_max_epochs", "adapt_prior_weight",
        "adapt_holdout", "adapt_eval_every",
    )  # fmt: skip
    adapt_batches: NonNegativeInt
    """Adam batches of the fine-tune on the K demos (fewer if ``adapt_max_epochs`` binds; 0: no
    fine-tune)."""
    adapt_batch_size: PositiveInt
    """(obs, action) pairs per batch of the fine-tune (all of them when there are fewer)."""
    adapt_lr: PositiveFloat
    """Adam learning rate of the fine-tune."""
    adapt_max_epochs: OptionalPositiveInt
    """At most this many passes over the K demos' pairs (None: no cap). A cap binds only on few
    pairs: it shortens the fine-tune on the short track's windows and leaves whole
    demonstrations at ``adapt_batches``."""
    adapt_prior_weight: NonNegativeFloat
    """Weight of the squared distance to the starting parameters, divided by the number of pairs
    fitted: the log-density of a Gaussian prior centred on the meta-learned (or pooled)
    parameters, so the prior holds on the short track's few dozen pairs and weakens on whole
    demonstrations, where it still costs at K=1 (L2-SP, Li et al. 2018; docs/baselines.md).
    0: no pull."""
    adapt_holdout: Fraction
    """The last this fraction of each demo's pairs is held out of the fit; the parameters with
    the lowest squared error on them (the starting ones included) are kept, so a fine-tune that
    only fits the seen pairs better leaves the prior as it was. 0: no holdout, the last
    parameters are kept."""
    adapt_eval_every: PositiveInt
    """Batches between two checks of the held-out error."""

    def batches(self, n_pairs: int) -> int:
        """The Adam batches a fine-tune on ``n_pairs`` pairs gets."""
        if self.adapt_max_epochs is None or n_pairs == 0:
            return self.adapt_batches
        batch = min(self.adapt_batch_size, n_pairs)
        return min(self.adapt_batches, math.ceil(self.adapt_max_epochs * n_pairs / batch))


def fit_mean_action(
    policy: nn.Module,
    trajs: Sequence[Any],
    *,
    n_batches: int,
    batch_size: int,
    lr: float,
    mean_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    prior_weight: float = 0.0,
    holdout: float = 0.0,
    eval_every: int = 1,
) -> dict[str, int]:
    """Fit ``policy``'s mean action to a few demonstrations by squared error, in place; returns
    the budget spent (:func:`baselines.base.adapt_stats`).

    Adaptation's trainer (fine-tuning on the K demos, and single-task BC): a plain Adam loop,
    about 5 times faster per batch here than ``bc.BC`` (which also evaluates the log-likelihood,
    entropy, value head and its logger every batch), and it runs hundreds of times per agent
    under the protocol. Batches are drawn with torch's global generator, which the runner seeds
    from (seed, task, K). ``mean_fn`` maps observations to mean actions (default: an SB3
    policy's, :func:`action_mean`). With ``prior_weight`` > 0 the loss adds ``prior_weight / n``
    times the squared distance of the parameters to where they started (n: pairs fitted). With
    ``holdout`` > 0 the last fraction of each demo's pairs is not trained on: every
    ``eval_every`` batches (and before the first) the squared error on them is measured, and the
    parameters where it was lowest are the ones left in ``policy``.
    """
    if mean_fn is None:
        mean_fn = functools.partial(action_mean, policy)
    (obs, acts), held_out = holdout_split(trajs, holdout)
    batch = min(batch_size, len(obs))
    params = [p for p in policy.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=lr)
    best = EarlyStopping(params, mean_fn, held_out) if held_out is not None else None
    start = [p.detach().clone() for p in params] if prior_weight > 0 else None
    for step in range(n_batches):
        if best is not None and step % eval_every == 0:
            best.check()
        rows = torch.randint(0, len(obs), (batch,))
        loss = (mean_fn(obs[rows]) - acts[rows]).pow(2).sum(-1).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        # the pull's gradient, 2 * prior_weight / n * (p - p0), added in place
        if start is not None:
            with torch.no_grad():
                for p, p0 in zip(params, start, strict=True):
                    if p.grad is not None:  # None: not in the mean action (value head, log std)
                        p.grad.add_(p - p0, alpha=2.0 * prior_weight / len(obs))
        optimiser.step()
    checks = 0
    if best is not None:
        best.check()
        best.restore()
        checks = best.checks
    policy.train(False)
    return adapt_stats(n_batches, n_batches + checks, n_batches * batch)


def holdout_split(
    trajs: Sequence[Any], fraction: float
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor] | None]:
    """The demos' pairs split in time: the first ``1 - fraction`` of each demo to train on, the
    last ``fraction`` (rounded down, at least one pair left to train on) held out; ``None`` held
    out when that leaves nothing."""
    if fraction <= 0.0:
        return as_tensors(trajs), None
    cuts = [min(len(t.acts) - 1, int(fraction * len(t.acts))) for t in trajs]
    if sum(cuts) == 0:
        return as_tensors(trajs), None
    parts = [[], [], [], []]
    for t, cut in zip(trajs, cuts, strict=True):
        obs = np.asarray(t.obs[:-1], dtype=np.float32)
        acts = np.asarray(t.acts, dtype=np.float32)
        end = len(acts) - cut
        for part, array in zip(parts, (obs[:end], acts[:end], obs[end:], acts[end:]), strict=True):
            part.append(array)
    fit_obs, fit_acts, held_obs, held_acts = (torch.from_numpy(np.concatenate(p)) for p in parts)
    return (fit_obs, fit_acts), (held_obs, held_acts)


class EarlyStopping:
    """The parameters with the lowest squared error on held-out pairs seen so far."""

    def __init__(
        self,
        params: Sequence[nn.Parameter],
        mean_fn: Callable[[torch.Tensor], torch.Tensor],
        held_out: tuple[torch.Tensor, torch.Tensor],
    ) -> None:
        self.params, self.mean_fn, self.held_out = list(params), mean_fn, held_out
        self.best_error = math.inf
        self.best_values: list[torch.Tensor] = []
        self.checks = 0

    @torch.no_grad()
    def check(self) -> None:
        obs, acts = self.held_out
        error = float((self.mean_fn(obs) - acts).pow(2).sum(-1).mean())
        self.checks += 1
        if error < self.best_error:
            self.best_error = error
            self.best_values = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def restore(self) -> None:
        for p, value in zip(self.params, self.best_values, strict=True):
            p.copy_(value)


def finetune(
    policy: nn.Module,
    demos: Sequence[Any],
    config: FinetuneConfig,
    mean_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, int]:
    """Fine-tune ``policy`` (a copy the caller owns) on the K demos with ``config``'s budget;
    K=0 or ``adapt_batches=0`` leaves it as it is. Its parameters end frozen."""
    stats = adapt_stats()
    n_batches = config.batches(sum(len(t.acts) for t in demos))
    if demos and n_batches > 0:
        policy.requires_grad_(True)
        stats = fit_mean_action(
            policy, demos, n_batches=n_batches, batch_size=config.adapt_batch_size,
            lr=config.adapt_lr, mean_fn=mean_fn, prior_weight=config.adapt_prior_weight,
            holdout=config.adapt_holdout,
            eval_every=config.adapt_eval_every,
        )  # fmt: skip
    policy.requires_grad_(False)
    return stats
