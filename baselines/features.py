"""Flatten-then-normalise features for SB3 policies: the module layout of imitation's
``NormalizeFeaturesExtractor`` (a ``normalize`` submodule after SB3's ``FlattenExtractor``), here
so that building, loading and adapting an SB3-policy baseline needs no imitation and its
checkpoints keep their parameter names."""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import FlattenExtractor
from torch import nn


class NormalizeFeaturesExtractor(FlattenExtractor):
    """``normalize_class(features_dim)`` applied to the flattened observations."""

    def __init__(self, observation_space: gym.Space, normalize_class: type[nn.Module]) -> None:
        super().__init__(observation_space)
        self.normalize = normalize_class(self.features_dim)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.normalize(super().forward(observations))
