"""The benchmark protocol "hopper-v1, protocol v3": its constants and the run configuration.

Every number that decides whether two results are comparable lives here and only here; the
runner, the result files, the leaderboard and ``docs/protocol.md`` all read them from this module.
A :class:`ProtocolConfig` may shrink the evaluation (fewer tasks, shorter episodes) or evaluate
other tasks (held-out training tasks for tuning, the nominal Hopper) for tests, tuning and smoke
runs; such a configuration is recorded in every result file and the leaderboard never mixes it
with the official one. Earlier protocols are not read: their leaderboards are rendered documents
under ``docs/history/``.

Protocol v3 meta-trains on the training tasks' demonstrations and scores each agent on two
*tracks*: ``full`` gives ``adapt`` K whole demonstrations (the ceiling), ``short`` gives K windows
of ``SHORT_WINDOW`` consecutive transitions (few-shot that is really few: where a meta-learned
prior can matter). Which demonstrations (and windows) a job gets is drawn from the task's pool,
seeded from (seed, task, K, track): :func:`draw_demos`. Every demonstration, of the training and
of the scored tasks, is an episode of one demonstrator (``expert_data/demonstrator/``, the data
rule in the manifest); scores are normalised by each task's own specialist expert (100) and a
uniform-random policy (0). What changed from v2 (the demonstrations) and why: docs/protocol.md.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from metail_envs.tasks import DEFAULT_SUITE

SUITE = DEFAULT_SUITE
PROTOCOL_VERSION = 3
PROTOCOL_NAME = f"{SUITE}, protocol v{PROTOCOL_VERSION}"

EVAL_SPLITS: tuple[str, ...] = ("test", "ood")
"""Scored splits: ``test`` is in distribution, ``ood`` out of distribution."""
OTHER_SPLITS: tuple[str, ...] = ("train", "nominal")
"""Unofficial evaluation task sets: held-out training tasks (tuning) and the nominal Hopper."""
K_VALUES: tuple[int, ...] = (0, 1, 5)
"""Numbers of whole demonstrations given to ``adapt`` on the full track; K=0 scores the
meta-trained policy alone."""
TRACKS: tuple[str, ...] = ("full", "short")
"""``full``: K whole demonstrations; ``short``: K windows of :data:`SHORT_WINDOW` transitions."""
SHORT_K_VALUES: tuple[int, ...] = (1, 5)
"""Numbers of demonstration windows on the short track (K=0 is the same on both tracks)."""
SHORT_WINDOW = 50
"""Transitions per demonstration on the short track (calibrated: docs/protocol.md)."""
WINDOW_STARTS: tuple[str, ...] = ("start", "offset")
"""Where a short window starts: at the episode start, or at a seeded random offset."""
WINDOW_START = "start"
"""The short track's window rule (calibrated: docs/protocol.md)."""
DEMO_DRAWS: tuple[str, ...] = ("seeded",)
"""Which K demonstrations a job gets: K drawn per (seed, task, K, track) (:func:`draw_demos`)."""
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
BASELINE_AGENT = "single_task_bc"
"""Agent name the probability of improvement is computed against: the floor every method must
beat (behavioural cloning from the K demonstrations alone)."""
HEADLINE: tuple[tuple[str, int], ...] = (
    ("short", 5),
    ("short", 1),
    ("full", 5),
    ("full", 1),
    ("full", 0),
)
"""The leaderboard's column order: the short track leads, then the full track, then K=0."""
SECOND_BASELINE_AGENT = "bc"
"""A second comparison: pooled behavioural cloning fine-tuned on the K demonstrations."""
QUICK_TASKS: tuple[str, ...] = (
    f"{SUITE}/test/01",
    f"{SUITE}/test/02",
    f"{SUITE}/test/09",
    f"{SUITE}/ood/02",
    f"{SUITE}/ood/04",
    f"{SUITE}/ood/05",
)
"""The scored tasks of a quick estimate (``metail evaluate --quick``): three of each split,
drawn once (``random.Random(20261207).sample(range(10), 3)``, test then ood) and frozen here."""
QUICK_EPISODES = 5
"""Evaluation episodes per (task, K, seed) of a quick estimate (the full 1000-step horizon)."""
QUICK_SEEDS = 2
"""Meta-training seeds of a quick estimate."""
FAILED_SCORE = 0.0
"""Normalised score a failed job counts as in the aggregates (the random reference's)."""


def _check_choice(name: str, values: Sequence[Any], accepted: Sequence[Any]) -> None:
    bad = [v for v in values if v not in accepted]
    if bad or not values or len(set(values)) != len(values):
        raise ValueError(
            f"{name}={tuple(values)!r} is invalid; accepted: a non-empty set of distinct "
            f"values from {tuple(accepted)!r}"
        )


Condition = tuple[str, int]
"""A (track, K) of the protocol: ``("short", 5)`` is five windows of a few transitions."""


def condition_label(track: str, k: int) -> str:
    """``short K=5``; K=0 is the same on every track: ``K=0``."""
    return "K=0" if k == 0 else f"{track} K={k}"


@dataclass(frozen=True)
class ProtocolConfig:
    """What one evaluation run does. The defaults are the official protocol.

    ``tasks`` restricts evaluation to some task ids of ``splits`` and ``train_tasks`` restricts
    the demonstrations given to meta-training; both are for tests, tuning and smoke runs (None =
    all). ``splits`` may also name ``train`` (held-out training tasks, with ``train_tasks``
    excluding them) or ``nominal``; such a configuration is not official.
    """

    suite: str = SUITE
    splits: tuple[str, ...] = EVAL_SPLITS
    k_values: tuple[int, ...] = K_VALUES
    episodes: int = EPISODES
    max_steps: int = MAX_STEPS
    adapt_cap_s: float = ADAPT_CAP_S
    act_cap_s: float = ACT_CAP_S
    meta_train_cap_s: float = META_TRAIN_CAP_S
    tasks: tuple[str, ...] | None = None
    train_tasks: tuple[str, ...] | None = None
    reset_seed_base: int = field(default=RESET_SEED_BASE)
    version: int = PROTOCOL_VERSION
    tracks: tuple[str, ...] = TRACKS
    short_k_values: tuple[int, ...] = SHORT_K_VALUES
    short_window: int = SHORT_WINDOW
    window_start: str = WINDOW_START
    demo_draw: str = "seeded"
    quick: bool = False
    """A quick estimate (:meth:`quick_estimate`): never a leaderboard entry unless asked for."""

    @classmethod
    def quick_estimate(cls) -> ProtocolConfig:
        """The quick estimate: the official protocol on :data:`QUICK_TASKS` with
        :data:`QUICK_EPISODES` episodes (every track and K, the full horizon)."""
        return cls(tasks=QUICK_TASKS, episodes=QUICK_EPISODES, quick=True)

    def __post_init__(self) -> None:
        for name in ("splits", "k_values", "tasks", "train_tasks", "tracks", "short_k_values"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        if self.suite != SUITE:
            raise ValueError(f"suite={self.suite!r} is not known; accepted: {SUITE!r}")
        if self.version != PROTOCOL_VERSION:
            raise ValueError(
                f"version={self.version!r} is invalid; accepted: {PROTOCOL_VERSION} (earlier "
                "protocols are archived as rendered documents in docs/history/)"
            )
        _check_choice("splits", self.splits, EVAL_SPLITS + OTHER_SPLITS)
        _check_choice("tracks", self.tracks, TRACKS)
        _check_choice("k_values", self.k_values, range(0, 101))
        if not isinstance(self.short_k_values, tuple):
            raise ValueError(
                f"short_k_values={self.short_k_values!r} is invalid; accepted: K values"
            )
        if "short" in self.tracks:
            _check_choice("short_k_values", self.short_k_values, range(1, 101))
        _check_choice("window_start", (self.window_start,), WINDOW_STARTS)
        _check_choice("demo_draw", (self.demo_draw,), DEMO_DRAWS)
        for name in ("episodes", "max_steps", "short_window", "reset_seed_base"):
            value = getattr(self, name)
            low = 0 if name == "reset_seed_base" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}={value!r} is invalid; accepted: an integer >= {low}")
        for name in ("adapt_cap_s", "act_cap_s", "meta_train_cap_s"):
            value = getattr(self, name)
            bad_type = isinstance(value, bool) or not isinstance(value, int | float)
            if bad_type or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name}={value!r} is invalid; accepted: a number of seconds > 0")
        for name in ("tasks", "train_tasks"):
            value = getattr(self, name)
            if value is not None and (not value or not all(isinstance(t, str) for t in value)):
                raise ValueError(
                    f"{name}={value!r} is invalid; accepted: None (all) or task-id strings"
                )
        if not isinstance(self.quick, bool):
            raise ValueError(f"quick={self.quick!r} is invalid; accepted: true or false")
        if self.quick and replace(self, quick=False).settings() != _quick_settings():
            raise ValueError(
                "quick=True is the fixed quick estimate (ProtocolConfig.quick_estimate(): "
                f"tasks {list(QUICK_TASKS)}, episodes={QUICK_EPISODES}); it takes no other "
                "settings"
            )

    @property
    def name(self) -> str:
        """The protocol's name, e.g. ``hopper-v1, protocol v3``."""
        return f"{self.suite}, protocol v{self.version}"

    def conditions(self) -> tuple[Condition, ...]:
        """Every (track, K) a task is evaluated under, in leaderboard order."""
        out = [("full", k) for k in self.k_values] if "full" in self.tracks else []
        if "short" in self.tracks:
            out += [("short", k) for k in self.short_k_values]
        return tuple(out)

    def reset_seeds(self) -> tuple[int, ...]:
        """The fixed reset seed of each evaluation episode."""
        return tuple(self.reset_seed_base + i for i in range(self.episodes))

    def settings(self) -> dict[str, Any]:
        """The fields that decide whether two results are comparable (caps excluded)."""
        return {
            "suite": self.suite,
            "version": self.version,
            "splits": list(self.splits),
            "k_values": list(self.k_values),
            "tracks": list(self.tracks),
            "short_k_values": list(self.short_k_values),
            "short_window": self.short_window,
            "window_start": self.window_start,
            "demo_draw": self.demo_draw,
            "episodes": self.episodes,
            "max_steps": self.max_steps,
            "tasks": None if self.tasks is None else list(self.tasks),
            "train_tasks": None if self.train_tasks is None else list(self.train_tasks),
            "reset_seed_base": self.reset_seed_base,
            **({"quick": True} if self.quick else {}),
        }

    def is_official(self) -> bool:
        """Whether the settings are those of the official protocol of this version."""
        return self.settings() == ProtocolConfig().settings()

    def to_json(self) -> dict[str, Any]:
        """As result files record it (``quick`` only when true)."""
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        if not self.quick:
            del d["quick"]
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ProtocolConfig:
        """The config a result file recorded (its ``version`` must be the current one)."""
        if not isinstance(d, Mapping):
            raise ValueError(f"protocol config must be a JSON object, got {type(d).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(
                f"unknown protocol config keys {sorted(unknown)}; known: {sorted(known)}"
            )
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        if "version" not in d:
            raise ValueError(f"protocol config lacks 'version'; accepted: {PROTOCOL_VERSION}")
        return cls(**kwargs)


def _quick_settings() -> dict[str, Any]:
    """The settings of the quick estimate, less its ``quick`` mark."""
    return {**ProtocolConfig().settings(), "tasks": list(QUICK_TASKS), "episodes": QUICK_EPISODES}


def _digest(*parts: Any) -> int:
    text = "|".join(str(p) for p in ("metail", *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def job_seed(seed: int, task_id: str, k: int, track: str) -> int:
    """The seed of one adaptation and its evaluation, derived only from (agent seed, task, K,
    track).

    Seeding every job from its own coordinates makes a resumed run give the numbers of an
    uninterrupted one, whatever order the jobs ran in.
    """
    return _digest(seed, task_id, k, track)


@dataclass(frozen=True)
class DemoWindow:
    """Transitions ``[start, stop)`` of demonstration ``index`` of a task's pool."""

    index: int
    start: int
    stop: int

    def to_json(self) -> list[int]:
        return [self.index, self.start, self.stop]


def draw_demos(
    config: ProtocolConfig, seed: int, task_id: str, k: int, track: str, lengths: Sequence[int]
) -> list[DemoWindow]:
    """Which of a task's demonstrations (``lengths``: transitions of each in the pool) a job
    with these coordinates gets, and which window of each.

    ``seeded`` (the only rule) draws K distinct ones from the pool
    with a generator seeded from (seed, task, K, track), so that seeds cover the spread of
    demonstrations. On the short track each is cut to ``short_window`` transitions, from the
    start or from a seeded offset (``window_start``).
    """
    if track not in config.tracks:
        raise ValueError(f"track={track!r} is invalid; accepted: {config.tracks}")
    if k > len(lengths):
        raise ValueError(
            f"K={k} demonstrations asked of {task_id!r}, whose pool has {len(lengths)}"
        )
    import numpy as np

    rng = np.random.default_rng(_digest("demos", seed, task_id, k, track))
    indices = sorted(int(i) for i in rng.choice(len(lengths), size=k, replace=False))
    windows = []
    for i in indices:
        n = int(lengths[i])
        if track == "full":
            windows.append(DemoWindow(i, 0, n))
            continue
        size = min(config.short_window, n)
        if config.window_start == "start":
            start = 0
        else:
            start = int(rng.integers(0, n - size + 1))
        windows.append(DemoWindow(i, start, start + size))
    return windows
