"""What every baseline agent has in common: configs, seeding, and small checkpoints.

Hyperparameters live in ``baselines/configs/<agent>.json`` as named configs: ``"default"`` holds
every key, any other name (``"small"`` for the tests) overrides some of them. An agent is built as
``Agent(config="default", **overrides)``; its resolved hyperparameters are ``agent.config``.

A checkpoint is a directory with ``agent.json`` (class, resolved config, training log) and
``model.pt`` (a torch ``state_dict``): no pickled objects. ``load`` rebuilds the networks from
the config and loads the weights (``weights_only=True``).
"""

from __future__ import annotations

import copy
import functools
import json
import random
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from metail_envs.benchmark import Agent

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def load_config(agent: str, config: str = "default", **overrides: Any) -> dict[str, Any]:
    """The resolved hyperparameters of a named config of ``agent``, with ``overrides`` applied."""
    path = CONFIG_DIR / f"{agent}.json"
    named = json.loads(path.read_text())
    if config not in named:
        raise ValueError(f"config={config!r} is not in {path}; accepted: {sorted(named)}")
    resolved = {**named["default"], **named[config]}
    unknown = sorted(set(overrides) - set(resolved))
    if unknown:
        raise ValueError(
            f"unknown hyperparameters {unknown} for {agent!r}; accepted: {sorted(resolved)}"
        )
    resolved.update(overrides)
    return resolved


@functools.lru_cache(maxsize=1)
def env_spaces() -> tuple[Any, Any]:
    """The observation and action spaces of the benchmark's environment (read, not copied)."""
    import gymnasium as gym

    import metail_envs

    env = gym.make(metail_envs.ENV_ID)
    spaces = (env.observation_space, env.action_space)
    env.close()
    return spaces


def env_dims() -> tuple[int, int]:
    obs_space, act_space = env_spaces()
    return int(obs_space.shape[0]), int(act_space.shape[0])


def seed_all(seed: int) -> np.random.Generator:
    """Seed Python's, NumPy's and torch's global generators; return a fresh NumPy generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy whose parameters do not require grad (for adapted or evaluated policies)."""
    out = copy.deepcopy(module)
    out.requires_grad_(False)
    return out


class TorchAgent(Agent):
    """Base class of the baselines: config handling and state_dict checkpoints.

    Subclasses set ``config_name``, build their networks in :meth:`build` (from ``self.config``
    alone, so :meth:`load` can rebuild them) and keep everything learned in ``self.net``.
    """

    config_name: ClassVar[str]

    def __init__(self, config: str = "default", **overrides: Any) -> None:
        self.config = load_config(self.config_name, config, **overrides)
        self.net: nn.Module | None = None
        self.log: list[dict[str, float]] = []

    @abstractmethod
    def build(self) -> nn.Module:
        """The agent's networks, freshly initialised (normalisation at identity)."""

    def _trained(self) -> nn.Module:
        if self.net is None:
            raise RuntimeError(f"{type(self).__name__} is not meta-trained: call meta_train first")
        return self.net

    def log_row(self, **values: float) -> None:
        self.log.append({k: float(v) for k, v in values.items()})

    def save(self, path: Path) -> None:
        path = Path(path)
        meta = {
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "config": self.config,
            "log": self.log,
        }
        (path / "agent.json").write_text(json.dumps(meta, indent=1))
        torch.save(self._trained().state_dict(), path / "model.pt")

    @classmethod
    def load(cls, path: Path) -> TorchAgent:
        path = Path(path)
        meta = json.loads((path / "agent.json").read_text())
        expected = f"{cls.__module__}:{cls.__qualname__}"
        if meta["class"] != expected:
            raise TypeError(f"{path} holds a {meta['class']} checkpoint, not a {expected}")
        agent = cls(**meta["config"])
        agent.log = meta["log"]
        agent.net = agent.build()
        agent.net.load_state_dict(torch.load(path / "model.pt", weights_only=True))
        return agent
