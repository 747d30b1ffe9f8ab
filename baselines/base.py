"""What every baseline agent has in common: typed configs, seeding, adaptation budgets, and
small checkpoints.

Each agent has a frozen config dataclass (:mod:`baselines.config`) whose defaults live in
``baselines/configs/<agent>.json``; an agent is built as ``Agent(config="default", **overrides)``
(or ``Agent(config=SomeConfig(...))``) and its resolved hyperparameters are ``agent.config``.

A checkpoint is a directory with ``agent.json`` (class, checkpoint version, resolved config,
training log) and ``model.pt`` (a torch ``state_dict``): no pickled objects. ``load`` rebuilds
the networks from the config and loads the weights (``weights_only=True``); a checkpoint of
another version of the agent (its parameters mean something else) is refused with a ValueError.

Every adapted policy carries ``adapt_stats``: what its adaptation cost (:func:`adapt_stats`).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from baselines.config import AgentConfig
from metail_envs.benchmark import Agent
from metail_envs.benchmark.jobs import seed_everything

C = TypeVar("C", bound=AgentConfig)

ADAPT_STAT_KEYS = ("gradient_steps", "forward_passes", "examples")
"""What an adapted policy's ``adapt_stats`` counts: optimiser steps, network forward passes (one
per batch), and (obs, action) pairs passed through the network (with repetition)."""


def adapt_stats(
    gradient_steps: int = 0, forward_passes: int = 0, examples: int = 0
) -> dict[str, int]:
    """An adaptation budget as reported on adapted policies (``policy.adapt_stats``)."""
    return {
        "gradient_steps": int(gradient_steps),
        "forward_passes": int(forward_passes),
        "examples": int(examples),
    }


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
    """Seed Python's, NumPy's and torch's global generators (the benchmark's
    :func:`~metail_envs.benchmark.jobs.seed_everything`); return a fresh NumPy generator."""
    seed_everything(seed)
    return np.random.default_rng(seed)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy whose parameters do not require grad (for adapted or evaluated policies)."""
    out = copy.deepcopy(module)
    out.requires_grad_(False)
    return out


class TorchAgent(Agent, Generic[C]):
    """Base class of the baselines: typed config, adaptation budget, state_dict checkpoints.

    A subclass names its config class once, as the type argument
    (``class BCAgent(TorchAgent[BCConfig])``: ``config_cls`` and the type of ``self.config``),
    sets ``adaptation_budget``, and builds its networks from ``self.config`` alone (so
    :meth:`load` can rebuild them): with ``make_net`` (``XNet(config)``) or by overriding
    :meth:`build`. Everything learned is kept in ``self.net``. ``checkpoint_version`` is raised
    whenever a saved parameter changes meaning, so older checkpoints are refused, not misread.
    """

    config_cls: ClassVar[type[AgentConfig]]
    """The config dataclass: the type argument of ``TorchAgent[...]``."""
    config: C
    adaptation_budget: ClassVar[str]
    """One line: what ``adapt`` spends on the K demonstrations (shown with the results)."""
    make_net: ClassVar[Callable[[Any], nn.Module]]
    """The freshly initialised networks of a config (normalisation at identity)."""
    checkpoint_version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in cls.__dict__.get("__orig_bases__", ()):
            if get_origin(base) is TorchAgent:
                (cls.config_cls,) = get_args(base)

    def __init__(self, config: str | AgentConfig = "default", **overrides: Any) -> None:
        if isinstance(config, AgentConfig):
            if not isinstance(config, self.config_cls):
                raise TypeError(
                    f"config={type(config).__name__} is not a {self.config_cls.__name__}"
                )
            self.config = self.config_cls.from_dict({**config.to_json(), **overrides})
        else:
            self.config = self.config_cls.named(config, **overrides)
        self.net: nn.Module | None = None
        self.log: list[dict[str, float]] = []

    def build(self) -> nn.Module:
        """The agent's networks, freshly initialised (normalisation at identity)."""
        make_net = getattr(type(self), "make_net", None)
        if make_net is None:
            raise NotImplementedError(f"{type(self).__name__} sets neither make_net nor build")
        return make_net(self.config)

    def _trained(self) -> nn.Module:
        if self.net is None:
            raise RuntimeError(f"{type(self).__name__} is not meta-trained: call meta_train first")
        return self.net

    def log_row(self, **values: float) -> None:
        self.log.append({k: float(v) for k, v in values.items()})

    def fit(
        self,
        loss_fn: Callable[[], torch.Tensor],
        optimiser: torch.optim.Optimizer,
        iterations: int,
        schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
    ) -> None:
        """The meta-training loop of the agents trained by plain gradient descent:
        ``iterations`` optimiser steps on ``loss_fn()`` (a fresh batch each call), the gradient
        norm clipped to ``config.grad_clip``, the loss logged every ``config.log_every`` steps and
        at the last, a progress bar when ``config.progress``."""
        c: Any = self.config
        net = self._trained()
        bar = tqdm(range(iterations), desc=type(self).__name__, disable=not c.progress)
        for it in bar:
            loss = loss_fn()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), c.grad_clip)
            optimiser.step()
            if schedule is not None:
                schedule.step()
            if it % c.log_every == 0 or it == iterations - 1:
                self.log_row(iteration=it, loss=loss.item())
                bar.set_postfix(loss=f"{loss.item():.4f}")

    @classmethod
    def target(cls) -> str:
        return f"{cls.__module__}:{cls.__qualname__}"

    def save(self, path: Path) -> None:
        path = Path(path)
        meta = {
            "class": self.target(),
            "version": self.checkpoint_version,
            "config": self.config.to_json(),
            "log": self.log,
        }
        (path / "agent.json").write_text(json.dumps(meta, indent=1))
        torch.save(self._trained().state_dict(), path / "model.pt")

    @classmethod
    def load(cls, path: Path, **overrides: Any) -> TorchAgent:
        """The agent saved in ``path``. ``overrides`` may change only the config fields that
        meta-training never reads (``config_cls.adapt_only``), e.g. the adaptation mode."""
        path = Path(path)
        meta = json.loads((path / "agent.json").read_text())
        if meta.get("class") != cls.target():
            raise TypeError(f"{path} holds a {meta.get('class')} checkpoint, not a {cls.target()}")
        version = meta.get("version", 1)
        if version != cls.checkpoint_version:
            raise ValueError(
                f"{path} is a version-{version} checkpoint of {cls.__name__}; this code reads "
                f"version {cls.checkpoint_version} only (the saved parameters mean something "
                "else now): meta-train the agent again"
            )
        refused = sorted(set(overrides) - set(getattr(cls.config_cls, "adapt_only", ())))
        if refused:
            raise ValueError(
                f"load overrides {refused} would change what was meta-trained; accepted: "
                f"{sorted(getattr(cls.config_cls, 'adapt_only', ()))}"
            )
        try:
            agent = cls(**{**meta["config"], **overrides})
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: its config does not fit {cls.__name__}: {e}") from e
        agent.log = meta["log"]
        agent.net = agent.build()
        state = torch.load(path / "model.pt", weights_only=True)
        try:
            agent.net.load_state_dict(state)
        except RuntimeError as e:
            raise ValueError(
                f"{path}/model.pt does not match {cls.__name__}'s networks for its config "
                f"(meta-train the agent again): {str(e).splitlines()[0]}"
            ) from e
        return agent
