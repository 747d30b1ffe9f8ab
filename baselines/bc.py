"""BC: imitation's ``bc.BC`` on the pooled training demonstrations, fine-tuned on the K demos.

The policy is an SB3 ``ActorCriticPolicy`` (actor MLP, a linear value head that BC never uses)
whose features extractor flattens and normalises with a fixed :class:`~baselines.nets.ObsNormalizer`
(statistics of the pooled training observations, stored as buffers; the module layout of
imitation's ``NormalizeFeaturesExtractor``, so its checkpoints are the same). Meta-training is
imitation's BC (Gaussian negative log-likelihood, entropy bonus, l2) and needs the optional
``imitation`` extra; a saved agent adapts and acts without it. ``adapt`` fine-tunes a copy on the
K demonstrations with :func:`baselines.finetune.finetune`; K=0 returns the meta-trained policy
unchanged. The defaults (``configs/bc.json``, ``configs/finetune.json``) were tuned on held-out
training tasks (docs/baselines.md).

The policy (:func:`baselines.nets.make_policy`) and the fine-tune (:mod:`baselines.finetune`)
are shared with other agents; this module holds the BC agent and its meta-training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.base import TorchAgent, env_spaces, frozen_copy, seed_all
from baselines.batches import pairs
from baselines.config import MLPConfig, PositiveFloat, PositiveInt
from baselines.finetune import FinetuneConfig, finetune
from baselines.nets import make_policy, mean_action, normalizer
from metail_envs.benchmark import Policy


class BCConfig(FinetuneConfig, MLPConfig, file="bc"):
    """Pooled BC: the network, imitation's BC meta-training, and (inherited) the fine-tune."""

    batch_size: PositiveInt
    """Pooled (obs, action) pairs per batch of meta-training (imitation's BC)."""
    lr: PositiveFloat
    """Adam learning rate of pooled meta-training (imitation's BC)."""
    l2_weight: float
    """imitation's BC weight decay term."""
    ent_weight: float
    """imitation's BC entropy bonus."""
    n_batches: PositiveInt
    """Batches of pooled meta-training."""
    progress: bool
    """Whether to show a progress bar while meta-training."""


IMITATION_HINT = 'pip install "metail[imitation]"'
"""What installs imitation, which the ``bc`` baseline's meta-training runs on."""


def train_bc(
    policy: nn.Module,
    trajs: Sequence[Any],
    *,
    n_batches: int,
    batch_size: int,
    lr: float,
    l2_weight: float,
    ent_weight: float,
    progress: bool = False,
) -> None:
    """Train ``policy`` in place with imitation's BC (a fresh Adam; silent unless ``progress``);
    without imitation, a ModuleNotFoundError naming the extra that installs it."""
    import tempfile
    import warnings

    try:
        from imitation.algorithms import bc
    except ImportError as e:
        raise ModuleNotFoundError(
            f"the bc baseline's meta-training runs imitation's bc.BC, which is not installed: "
            f"{IMITATION_HINT}",
            name="imitation",
        ) from e
    from imitation.data import rollout
    from imitation.util import logger as imit_logger

    obs_space, act_space = env_spaces()
    transitions = rollout.flatten_trajectories(list(trajs))
    batch_size = min(batch_size, len(transitions))
    with tempfile.TemporaryDirectory() as logdir:
        trainer = bc.BC(
            observation_space=obs_space, action_space=act_space,
            rng=np.random.default_rng(int(torch.randint(2**31 - 1, ()))),
            policy=policy, demonstrations=transitions, batch_size=batch_size,
            optimizer_kwargs={"lr": lr}, l2_weight=l2_weight, ent_weight=ent_weight,
            device="cpu", custom_logger=imit_logger.configure(logdir, format_strs=[]),
        )  # fmt: skip
        with warnings.catch_warnings():  # imitation's own logging of a loss tensor
            warnings.filterwarnings("ignore", "Converting a tensor with requires_grad")
            trainer.train(n_batches=n_batches, progress_bar=progress, log_interval=n_batches)
    policy.set_training_mode(False)


@torch.no_grad()
def nll(policy: nn.Module, trajs: Sequence[Any], max_pairs: int = 20_000) -> float:
    """Mean negative log-likelihood of (the first ``max_pairs``) demonstrated actions."""
    obs, acts = (torch.from_numpy(a[:max_pairs]) for a in pairs(trajs))
    return float(-policy.get_distribution(obs).log_prob(acts).mean())


class BCAgent(TorchAgent[BCConfig]):
    """Pooled BC (imitation) over all training tasks; adaptation fine-tunes on the K demos."""

    adaptation_budget = (
        "fine-tune: adapt_batches Adam batches of adapt_batch_size on the K demos, at most "
        "adapt_max_epochs passes over their pairs"
    )
    make_net = make_policy

    def meta_train(self, demos: Mapping[str, Sequence[Any]], seed: int) -> None:
        c = self.config
        seed_all(seed)
        trajs = [t for tid in sorted(demos) for t in demos[tid]]
        self.net = self.build()
        normalizer(self.net).set_stats(pairs(trajs)[0])
        train_bc(
            self.net, trajs, n_batches=c.n_batches, batch_size=c.batch_size, lr=c.lr,
            l2_weight=c.l2_weight, ent_weight=c.ent_weight, progress=c.progress,
        )  # fmt: skip
        self.log_row(n_batches=c.n_batches, train_nll=nll(self.net, trajs))

    def adapt(self, demos: Sequence[Any]) -> Policy:
        policy = frozen_copy(self._trained())
        stats = finetune(policy, demos, self.config)
        return mean_action(policy, stats)
