"""BC: imitation's ``bc.BC`` on the pooled training demonstrations, fine-tuned on the K demos.

The policy is an SB3 ``ActorCriticPolicy`` (actor MLP, a linear value head that BC never uses)
whose features extractor flattens and normalises with a fixed :class:`~baselines.nets.ObsNormalizer`
(statistics of the pooled training observations, stored as buffers; the module layout of
imitation's ``NormalizeFeaturesExtractor``, so its checkpoints are the same). Meta-training is
imitation's BC (Gaussian negative log-likelihood, entropy bonus, l2) and needs the optional
``imitation`` extra; a saved agent adapts and acts without it. ``adapt`` fine-tunes a copy on the
K demonstrations with :func:`finetune`; K=0 returns the meta-trained policy unchanged. The defaults
(``configs/bc.json``, ``configs/finetune.json``) were tuned on held-out training tasks
(docs/baselines.md).

The fine-tuning budget is :class:`FinetuneConfig` (defaults in ``configs/finetune.json``), shared
with every agent that fine-tunes on the K demos (MAML-BC's and joint's ``adaptation="finetune"``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from baselines.base import TorchAgent, adapt_stats, env_spaces, frozen_copy, seed_all
from baselines.batches import as_tensors, pairs
from baselines.config import (
    AgentConfig,
    Fraction,
    MLPConfig,
    NonNegativeFloat,
    NonNegativeInt,
    OptionalPositiveInt,
    PositiveFloat,
    PositiveInt,
)
from baselines.nets import MeanActionPolicy, ObsNormalizer
from metail_envs.benchmark import Policy


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


def make_policy(config: MLPConfig) -> nn.Module:
    """A fresh SB3 actor-critic policy with normalised features (normaliser at identity), at the
    config's widths and activation."""
    from stable_baselines3.common.policies import ActorCriticPolicy

    from baselines.features import NormalizeFeaturesExtractor
    from baselines.nets import ACTIVATIONS

    obs_space, act_space = env_spaces()
    return ActorCriticPolicy(
        obs_space, act_space,
        lr_schedule=lambda _: torch.finfo(torch.float32).max,  # BC owns the optimiser
        net_arch={"pi": list(config.hidden), "vf": []},
        activation_fn=ACTIVATIONS[config.activation],
        features_extractor_class=NormalizeFeaturesExtractor,
        features_extractor_kwargs={"normalize_class": ObsNormalizer},
    )  # fmt: skip


def normalizer(policy: nn.Module) -> ObsNormalizer:
    return policy.features_extractor.normalize


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


def action_mean(policy: nn.Module, obs: torch.Tensor) -> torch.Tensor:
    """The mean action of an SB3 Gaussian actor-critic policy (the value head is not run)."""
    features = policy.extract_features(obs, policy.pi_features_extractor)
    return policy.action_net(policy.mlp_extractor.forward_actor(features))


@torch.no_grad()
def nll(policy: nn.Module, trajs: Sequence[Any], max_pairs: int = 20_000) -> float:
    """Mean negative log-likelihood of (the first ``max_pairs``) demonstrated actions."""
    obs, acts = (torch.from_numpy(a[:max_pairs]) for a in pairs(trajs))
    return float(-policy.get_distribution(obs).log_prob(acts).mean())


def mean_action(policy: nn.Module, stats: dict[str, int] | None = None) -> MeanActionPolicy:
    """The deterministic (mean) action of an SB3 Gaussian policy."""
    return MeanActionPolicy(functools.partial(action_mean, policy), stats)


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
