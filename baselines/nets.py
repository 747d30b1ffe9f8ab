"""The policy networks and losses every baseline shares.

* :class:`ObsNormalizer`: fixed input normalisation inside the module; its statistics are buffers
  computed once from the meta-training demonstrations (so they are saved with the weights and
  never drift while adapting on K demonstrations).
* :class:`GaussianPolicy`: an MLP mean and a state-independent log-std, optionally conditioned on
  a task embedding.
* :func:`gaussian_nll` / :func:`bc_loss`: the behavioural-cloning losses.
* :class:`MeanActionPolicy`: the :class:`metail_envs.benchmark.Policy` adapter (raw observation
  batch in, deterministic mean action clipped to [-1, 1] out).
* :func:`make_policy`: the SB3 actor-critic policy of BC and single-task BC (stable-baselines3
  imported when one is made), its :func:`normalizer`, :func:`action_mean` and :func:`mean_action`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from baselines import base
from baselines.config import MLPConfig

LOG_2PI = math.log(2 * math.pi)
NORM_CLIP = 10.0
"""Normalised observations are clipped to this magnitude (as SB3's VecNormalize does)."""
ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}


class ObsNormalizer(nn.Module):
    """``clip((x - mean) / std, ±NORM_CLIP)`` with ``mean``/``std`` as buffers (identity at first).

    Takes the feature dimension as its only argument, so
    :class:`baselines.features.NormalizeFeaturesExtractor` (``normalize_class=ObsNormalizer``)
    can build it too.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def set_stats(self, obs: np.ndarray | Tensor, min_std: float = 1e-3) -> None:
        """Set the statistics from a batch of raw observations ``(n, dim)``."""
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32)
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0, unbiased=False).clamp_min(min_std))

    def forward(self, x: Tensor) -> Tensor:
        return ((x - self.mean) / self.std).clamp(-NORM_CLIP, NORM_CLIP)


def mlp(
    in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "tanh"
) -> nn.Sequential:
    """A plain MLP; the output layer is linear and initialised small (near-zero actions)."""
    act = ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(in_dim, h), act()]
        in_dim = h
    out = nn.Linear(in_dim, out_dim)
    with torch.no_grad():
        out.weight.mul_(0.01)
        out.bias.zero_()
    return nn.Sequential(*layers, out)


class GaussianPolicy(nn.Module):
    """``obs (+ context) -> Normal(mean, exp(log_std))`` with normalisation inside the module.

    ``forward`` returns ``(mean, log_std)`` broadcast to the batch; ``log_std`` is one learned
    vector clamped to ``[min_log_std, max_log_std]`` so the likelihood cannot blow up on
    near-deterministic expert actions.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int] = (256, 256),
        context_dim: int = 0,
        activation: str = "tanh",
        init_log_std: float = -1.0,
        min_log_std: float = -4.0,
        max_log_std: float = 1.0,
    ) -> None:
        super().__init__()
        self.context_dim = context_dim
        self.min_log_std, self.max_log_std = min_log_std, max_log_std
        self.norm = ObsNormalizer(obs_dim)
        self.body = mlp(obs_dim + context_dim, hidden, act_dim, activation)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))

    def forward(self, obs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x = self.norm(obs)
        if self.context_dim:
            if context is None:
                raise ValueError("this policy is conditioned: forward(obs, context) needs context")
            x = torch.cat([x, context.expand(*x.shape[:-1], self.context_dim)], dim=-1)
        mean = self.body(x)
        log_std = self.log_std.clamp(self.min_log_std, self.max_log_std)
        return mean, log_std.expand_as(mean)


def gaussian_nll(mean: Tensor, log_std: Tensor, acts: Tensor) -> Tensor:
    """Mean over samples of the negative log-likelihood of ``acts`` (summed over action dims)."""
    z = (acts - mean) * torch.exp(-log_std)
    return (0.5 * z.pow(2) + log_std + 0.5 * LOG_2PI).sum(-1).mean()


def bc_loss(mean: Tensor, log_std: Tensor, acts: Tensor, kind: str = "nll") -> Tensor:
    """The behavioural-cloning loss: Gaussian ``"nll"`` or ``"mse"`` of the mean action."""
    if kind == "nll":
        return gaussian_nll(mean, log_std, acts)
    if kind == "mse":
        return (mean - acts).pow(2).sum(-1).mean()
    raise ValueError(f"loss={kind!r} is invalid; accepted: 'nll', 'mse'")


class MeanActionPolicy:
    """The benchmark's ``Policy``: raw observations ``(n, obs_dim)`` -> actions ``(n, act_dim)``.

    ``mean_fn`` maps a float32 observation tensor to mean actions; the result is clipped to
    [-1, 1] and returned as float64. ``adapt_stats`` is what adaptation spent to make it
    (:func:`baselines.base.adapt_stats`; all zeros when nothing was fitted).
    """

    def __init__(
        self, mean_fn: Callable[[Tensor], Tensor], adapt_stats: dict[str, int] | None = None
    ) -> None:
        self.mean_fn = mean_fn
        self.adapt_stats = dict(adapt_stats or base.adapt_stats())

    def act(self, obs: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        with torch.inference_mode():
            a = self.mean_fn(x)
        return a.clamp(-1.0, 1.0).numpy().astype(np.float64)


class DemoEncoder(nn.Module):
    """Demonstrations -> task embedding: an MLP on each normalised (obs, action) pair, mean-pooled.

    Mean pooling makes the embedding independent of the order and (in expectation) the number of
    pairs, so a context of 256 sampled pairs in training and all pairs of K demos at test agree.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int],
        embed_dim: int,
        activation: str = "tanh",
    ) -> None:
        super().__init__()
        self.norm = ObsNormalizer(obs_dim)
        self.body = mlp(obs_dim + act_dim, hidden, embed_dim, activation)
        with torch.no_grad():  # undo mlp's small output init: the embedding should carry signal
            self.body[-1].weight.mul_(100.0)

    def forward(self, obs: Tensor, acts: Tensor) -> Tensor:
        """``obs (..., n, obs_dim)``, ``acts (..., n, act_dim)`` -> ``(..., embed_dim)``."""
        return self.body(torch.cat([self.norm(obs), acts], dim=-1)).mean(-2)


def make_policy(config: MLPConfig) -> nn.Module:
    """A fresh SB3 actor-critic policy with normalised features (normaliser at identity), at the
    config's widths and activation."""
    from stable_baselines3.common.policies import ActorCriticPolicy

    from baselines.features import NormalizeFeaturesExtractor

    obs_space, act_space = base.env_spaces()
    return ActorCriticPolicy(
        obs_space, act_space,
        lr_schedule=lambda _: torch.finfo(torch.float32).max,  # BC owns the optimiser
        net_arch={"pi": list(config.hidden), "vf": []},
        activation_fn=ACTIVATIONS[config.activation],
        features_extractor_class=NormalizeFeaturesExtractor,
        features_extractor_kwargs={"normalize_class": ObsNormalizer},
    )  # fmt: skip


def normalizer(policy: nn.Module) -> ObsNormalizer:
    """The observation normaliser inside a :func:`make_policy` policy."""
    return policy.features_extractor.normalize


def action_mean(policy: nn.Module, obs: torch.Tensor) -> torch.Tensor:
    """The mean action of an SB3 Gaussian actor-critic policy (the value head is not run)."""
    features = policy.extract_features(obs, policy.pi_features_extractor)
    return policy.action_net(policy.mlp_extractor.forward_actor(features))


def mean_action(policy: nn.Module, stats: dict[str, int] | None = None) -> MeanActionPolicy:
    """The deterministic (mean) action of an SB3 Gaussian policy."""
    return MeanActionPolicy(functools.partial(action_mean, policy), stats)
