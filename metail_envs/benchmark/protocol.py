"""The benchmark protocol "hopper-v1, protocol v1": its constants and the run configuration.

Every number that decides whether two results are comparable lives here and only here; the
runner, the result files, the leaderboard and ``docs/protocol.md`` all read them from this module.
A :class:`ProtocolConfig` may shrink the evaluation (fewer tasks, shorter episodes) for tests and
smoke runs; such a configuration is recorded in every result file and the leaderboard never
mixes it with the official one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from metail_envs.tasks import DEFAULT_SUITE

SUITE = DEFAULT_SUITE
PROTOCOL_VERSION = 1
PROTOCOL_NAME = f"{SUITE}, protocol v{PROTOCOL_VERSION}"

SPLITS: tuple[str, ...] = ("test", "ood")
"""Evaluation splits: ``test`` is in distribution, ``ood`` out of distribution."""
K_VALUES: tuple[int, ...] = (0, 1, 5)
"""Numbers of demonstrations given to ``adapt``; K=0 scores the meta-trained policy alone."""
EPISODES = 10
"""Evaluation episodes per (task, K, seed)."""
MAX_STEPS = 1000
"""Step limit of an evaluation episode (the time limit of Hopper-v4)."""
RESET_SEED_BASE = 1_000
"""Episode ``i`` of every evaluation is reset with seed ``RESET_SEED_BASE + i``."""
ADAPT_CAP_S = 60.0
"""Wall-clock cap of one ``adapt`` call."""
ACT_CAP_S = 10.0
"""Wall-clock cap of one ``act`` call on a batch of observations."""
META_TRAIN_CAP_S = 6 * 3600.0
"""Wall-clock cap of one meta-training run (only there so that a hang cannot stall a run)."""
MIN_SEEDS = 5
"""Meta-training seeds an agent needs to be scored under the protocol."""
LEADERBOARD_SEEDS = 10
"""Seeds asked of a leaderboard entry when time allows."""
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
BASELINE_AGENT = "bc"
"""Agent name the probability of improvement is computed against."""
FAILED_SCORE = 0.0
"""Normalised score a failed job counts as in the aggregates (the random reference's)."""


def _check_choice(name: str, values: Sequence[Any], accepted: Sequence[Any]) -> None:
    bad = [v for v in values if v not in accepted]
    if bad or not values or len(set(values)) != len(values):
        raise ValueError(
            f"{name}={tuple(values)!r} is invalid; accepted: a non-empty set of distinct "
            f"values from {tuple(accepted)!r}"
        )


@dataclass(frozen=True)
class ProtocolConfig:
    """What one evaluation run does. The defaults are the official protocol.

    ``tasks`` restricts evaluation to some task ids of ``splits`` and ``train_tasks`` restricts
    the demonstrations given to meta-training; both are for tests and smoke runs (None = all).
    """

    suite: str = SUITE
    splits: tuple[str, ...] = SPLITS
    k_values: tuple[int, ...] = K_VALUES
    episodes: int = EPISODES
    max_steps: int = MAX_STEPS
    adapt_cap_s: float = ADAPT_CAP_S
    act_cap_s: float = ACT_CAP_S
    meta_train_cap_s: float = META_TRAIN_CAP_S
    tasks: tuple[str, ...] | None = None
    train_tasks: tuple[str, ...] | None = None
    reset_seed_base: int = field(default=RESET_SEED_BASE)

    def __post_init__(self) -> None:
        for name in ("splits", "k_values", "tasks", "train_tasks"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        if self.suite != SUITE:
            raise ValueError(f"suite={self.suite!r} is not known; accepted: {SUITE!r}")
        _check_choice("splits", self.splits, SPLITS)
        _check_choice("k_values", self.k_values, range(0, 101))
        for name in ("episodes", "max_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} is invalid; accepted: an integer >= 1")
        for name in ("adapt_cap_s", "act_cap_s", "meta_train_cap_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name}={value!r} is invalid; accepted: a number of seconds > 0")
        for name in ("tasks", "train_tasks"):
            value = getattr(self, name)
            if value is not None and (not value or not all(isinstance(t, str) for t in value)):
                raise ValueError(
                    f"{name}={value!r} is invalid; accepted: None (all) or task-id strings"
                )

    def reset_seeds(self) -> tuple[int, ...]:
        """The fixed reset seed of each evaluation episode."""
        return tuple(self.reset_seed_base + i for i in range(self.episodes))

    def settings(self) -> dict[str, Any]:
        """The fields that decide whether two results are comparable (caps excluded)."""
        return {
            "suite": self.suite,
            "splits": list(self.splits),
            "k_values": list(self.k_values),
            "episodes": self.episodes,
            "max_steps": self.max_steps,
            "tasks": None if self.tasks is None else list(self.tasks),
            "train_tasks": None if self.train_tasks is None else list(self.train_tasks),
            "reset_seed_base": self.reset_seed_base,
        }

    def is_official(self) -> bool:
        """Whether the settings are those of the official protocol."""
        return self.settings() == ProtocolConfig().settings()

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ProtocolConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(
                f"unknown protocol config keys {sorted(unknown)}; known: {sorted(known)}"
            )
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def job_seed(seed: int, task_id: str, k: int) -> int:
    """The seed of one adaptation and its evaluation, derived only from (agent seed, task, K).

    Seeding every job from its own coordinates makes a resumed run give the numbers of an
    uninterrupted one, whatever order the jobs ran in.
    """
    digest = hashlib.sha256(f"metail|{seed}|{task_id}|{k}".encode()).digest()
    return int.from_bytes(digest[:4], "little")
