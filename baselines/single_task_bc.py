"""Single-task BC: a policy fitted to the K demonstrations alone, no meta-training (the floor).

``meta_train`` learns nothing (the training demonstrations are ignored); ``adapt`` fits a fresh
policy of :mod:`baselines.bc`'s architecture (:func:`baselines.nets.make_policy`) to the K demonstrations (normalisation statistics
from them too) with the same trainer as BC's fine-tuning (:func:`baselines.finetune.fit_mean_action`).
With K=0 the policy is the untrained initialisation. This is the score every meta-learner must
beat; with the tuned 256-256 network it is a high one (docs/baselines.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baselines.base import TorchAgent, adapt_stats
from baselines.batches import pairs
from baselines.config import MLPConfig, NonNegativeInt, PositiveFloat, PositiveInt
from baselines.finetune import fit_mean_action
from baselines.nets import make_policy, mean_action, normalizer
from metail_envs.benchmark import Policy


class SingleTaskBCConfig(MLPConfig, file="single_task_bc"):
    """The network and the fit on the K demos: ``n_batches`` Adam batches of ``batch_size``."""

    batch_size: PositiveInt
    """Pairs per Adam batch of the fit on the K demos."""
    lr: PositiveFloat
    """Adam learning rate of the fit on the K demos."""
    n_batches: NonNegativeInt
    """Adam batches of the fit (0: the untrained network)."""


class SingleTaskBCAgent(TorchAgent[SingleTaskBCConfig]):
    """BC trained from scratch on each task's K demonstrations."""

    adaptation_budget = "fit from scratch: n_batches Adam batches of batch_size on the K demos"
    make_net = make_policy

    def meta_train(self, demos: Mapping[str, Sequence[Any]], seed: int) -> None:
        self.net = self.build()  # only so that save/load have something to write; never used

    def adapt(self, demos: Sequence[Any]) -> Policy:
        """The runner seeds torch's global generator from (seed, task, K) before this call."""
        c = self.config
        policy = self.build()
        stats = adapt_stats()
        if demos:
            normalizer(policy).set_stats(pairs(demos)[0])
            stats = fit_mean_action(
                policy, demos, n_batches=c.n_batches, batch_size=c.batch_size, lr=c.lr
            )
        policy.requires_grad_(False)
        return mean_action(policy, stats)
