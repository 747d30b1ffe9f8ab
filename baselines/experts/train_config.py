"""The configuration of one PPO run: hyperparameters and schedule, read from a JSON file under
``configs/`` (:class:`TrainConfig`). What the training loop (:mod:`baselines.experts.train`) runs
and the run's checkpoints (:mod:`baselines.experts.checkpoints`) are rebuilt from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).parent / "configs"
SELECTIONS = ("mean", "reliable")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters and schedule of one PPO run (a JSON file under ``configs/``)."""

    ppo: dict[str, Any]
    normalize: dict[str, Any] = field(default_factory=dict)
    n_envs: int = 1
    seed: int = 0
    total_steps: int = 1_000_000
    min_steps: int = 0
    target_return: float | None = None
    checkpoint_every: int = 49_152
    eval_episodes: int = 10
    patience: int | None = None
    """Stop (after ``min_steps``) when the best evaluation has not improved for this many
    checkpoints."""
    init_log_std: float | None = None
    """Fine-tuning (``init_from``): reset the policy's log standard deviation to this value, so
    a converged expert explores again on the new task (the deterministic policy is unchanged)."""
    lr_decay: bool = False
    """Decay the learning rate linearly to 0 over ``total_steps`` (stepwise, per checkpoint)."""
    decay_steps: int | None = None
    """The steps the learning-rate decay spans, if not ``total_steps`` (a run trained in
    stretches, each with a ``total_steps`` of its own, decays over the whole run)."""
    fall_penalty: float = 0.0
    """Subtracted from the training reward when an episode terminates (the hopper falls), never
    from the evaluation: a fine-tune that trades speed for falls is pushed back to a gait that
    finishes the episode (the retry of experts that fall; 0 is plain Hopper reward)."""
    selection: str = "mean"
    """How checkpoints are compared: ``"mean"`` evaluation return, or ``"reliable"``: mean
    return times the mean fraction of the time limit the episodes last
    (:func:`baselines.experts.train.reliable_return`),
    so a gait that falls in a few episodes loses to a slightly slower one that never falls
    (references must not fall), and of two that always fall the one that lasts longer wins."""
    description: str = ""

    @classmethod
    def load(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a config file (a bare name means ``configs/<name>.json``); ``None`` overrides
        are ignored, so CLI flags left unset keep the file's values."""
        p = Path(path)
        if not p.suffix and not p.exists():
            p = CONFIG_DIR / f"{p}.json"
        if not p.exists():
            raise FileNotFoundError(f"training config {p} not found; available: {available()}")
        data = json.loads(p.read_text())
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{p}: unknown config keys {sorted(unknown)}")
        cfg = cls(**data)
        return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise ValueError(
                f"config selection={self.selection!r} is invalid; accepted: {SELECTIONS}"
            )
        if not isinstance(self.fall_penalty, int | float) or not 0 <= self.fall_penalty < 1e6:
            raise ValueError(
                f"config fall_penalty must be a number in [0, 1e6), got {self.fall_penalty!r}"
            )
        if self.decay_steps is not None and (
            isinstance(self.decay_steps, bool)
            or not isinstance(self.decay_steps, int)
            or self.decay_steps < 1
        ):
            raise ValueError(
                f"config decay_steps must be None or a positive int, got {self.decay_steps!r}"
            )
        for name in ("n_envs", "total_steps", "checkpoint_every", "eval_episodes"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(
                    f"config {name} must be a positive int, got {getattr(self, name)!r}"
                )

    def ppo_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``stable_baselines3.PPO`` (net_arch / activation -> policy_kwargs)."""
        import torch

        kw = dict(self.ppo)
        arch = kw.pop("net_arch", [64, 64])
        act = kw.pop("activation", "tanh")
        acts = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
        if act not in acts:
            raise ValueError(f"config ppo.activation must be one of {list(acts)}, got {act!r}")
        if not arch:
            raise ValueError(
                "config ppo.net_arch must have at least one layer (normalisation is "
                "folded into the first one)"
            )
        kw["policy_kwargs"] = {"net_arch": list(arch), "activation_fn": acts[act]}
        return kw


def available() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))
