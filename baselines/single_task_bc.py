"""Single-task BC: imitation's BC from the K demonstrations alone, no meta-training (the floor).

``meta_train`` learns nothing (the training demonstrations are ignored); ``adapt`` trains a fresh
policy of :mod:`baselines.bc`'s architecture on the K demonstrations (normalisation statistics
from them too), by default like imitation's default BC: a 32-32 network, batch 32, 20k batches.
With K=0 the policy is the untrained initialisation. This is the score every meta-learner must
beat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from baselines.base import TorchAgent
from baselines.batches import pairs
from baselines.bc import fit_mean_action, make_policy, mean_action, normalizer
from metail_envs.benchmark import Policy


class SingleTaskBCAgent(TorchAgent):
    """BC trained from scratch on each task's K demonstrations."""

    config_name = "single_task_bc"

    def build(self) -> nn.Module:
        return make_policy(self.config["hidden"], self.config["activation"])

    def meta_train(self, demos: Mapping[str, Sequence[Any]], seed: int) -> None:
        self.net = self.build()  # only so that save/load have something to write; never used

    def adapt(self, demos: Sequence[Any]) -> Policy:
        """The runner seeds torch's global generator from (seed, task, K) before this call."""
        c = self.config
        policy = self.build()
        if demos:
            normalizer(policy).set_stats(pairs(demos)[0])
            fit_mean_action(
                policy, demos, n_batches=c["n_batches"], batch_size=c["batch_size"], lr=c["lr"]
            )
        policy.requires_grad_(False)
        return mean_action(policy)
