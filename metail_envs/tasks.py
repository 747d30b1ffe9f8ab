"""Tasks, task distributions, the seeded task sampler and the benchmark's frozen suites.

A :class:`Task` is one Hopper variant: an immutable set of parameter values with an id. A
:class:`TaskSampler` draws tasks from per-parameter distributions with its own seeded generator.
A :class:`Suite` is a committed JSON file under ``suites/`` holding both the distribution it was
drawn from and the frozen train / test / ood splits; :func:`load_suite` reads it and checks that
the splits are what the definition's seed produces, so a split is never silently edited.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from metail_envs import hopper_model
from metail_envs.params import DEFAULTS, GEOMETRY_PARAMS, non_default, validate

SUITES_DIR = Path(__file__).parent / "suites"
DEFAULT_SUITE = "hopper-v1"
"""The benchmark's current suite; hopper-v0 stays loadable but its hardest tasks are unsolved."""
SPLITS = ("train", "test", "ood")


@dataclass(frozen=True, init=False)
class Task:
    """One Hopper variant: the parameters that differ from Hopper-v4, and an id.

    Build its environment with ``gym.make("metail/HopperVariant-v0", task=task)`` or
    ``gym.make("metail/HopperVariant-v0", **task.params)``.
    """

    id: str
    items: tuple[tuple[str, float], ...]

    def __init__(self, params: Mapping[str, float] | None = None, id: str | None = None) -> None:
        items = tuple(sorted(non_default(validate(params or {})).items()))
        if id is None:
            digest = hashlib.sha1(json.dumps(items).encode()).hexdigest()[:12]
            id = f"task-{digest}"
        if not isinstance(id, str) or not id:
            raise TypeError(f"Task id must be a non-empty string, got {id!r}")
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "items", items)

    @property
    def params(self) -> dict[str, float]:
        """The parameters that differ from their defaults (keyword arguments of ``gym.make``)."""
        return dict(self.items)

    @functools.cached_property
    def values(self) -> Mapping[str, float]:
        """Every parameter's value, defaults included (read-only)."""
        return MappingProxyType(DEFAULTS | dict(self.items))

    @property
    def changes_geometry(self) -> bool:
        return any(name in GEOMETRY_PARAMS for name, _ in self.items)

    def __getstate__(self) -> dict[str, Any]:  # pickle the value, not the cached ``values``
        return {"id": self.id, "items": self.items}

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "id", state["id"])
        object.__setattr__(self, "items", state["items"])

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "params": self.params}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Task:
        return cls(data["params"], id=data["id"])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:.4g}" for k, v in self.items)
        return f"Task({self.id!r}{', ' if args else ''}{args})"


NOMINAL = Task(id="nominal")
"""Hopper-v4 itself: every parameter at its default."""


# --- distributions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Uniform:
    """Uniform on [low, high]."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high


@dataclass(frozen=True)
class LogUniform(Uniform):
    """Log-uniform on [low, high]: equal odds of halving and doubling a multiplier."""

    def sample(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


@dataclass(frozen=True)
class Ring:
    """Values outside ``inner`` but inside [low, high]: the out-of-distribution band of a range."""

    inner: Uniform
    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        f = math.log if isinstance(self.inner, LogUniform) else (lambda x: x)
        below = f(self.inner.low) - f(self.low)
        above = f(self.high) - f(self.inner.high)
        u = rng.uniform(0.0, below + above)
        y = f(self.low) + u if u < below else f(self.inner.high) + (u - below)
        return float(math.exp(y)) if isinstance(self.inner, LogUniform) else float(y)


Distribution = Uniform | LogUniform
_DIST_TYPES: dict[str, type[Uniform]] = {"uniform": Uniform, "log-uniform": LogUniform}


def distribution_from_json(spec: Mapping[str, Any]) -> Distribution:
    """``{"type": "log-uniform", "low": 0.5, "high": 2}`` -> a distribution."""
    if spec.get("type") not in _DIST_TYPES:
        raise ValueError(f"distribution type must be one of {list(_DIST_TYPES)}, got {spec!r}")
    return _DIST_TYPES[spec["type"]](float(spec["low"]), float(spec["high"]))


# --- the sampler -----------------------------------------------------------------------------

Constraint = Callable[[Mapping[str, float]], bool]


@dataclass
class TaskSampler:
    """Draws tasks from independent per-parameter distributions, with its own seeded generator.

    ``rings`` and ``ring_params`` make out-of-distribution tasks: each task draws ``ring_params``
    randomly chosen parameters from their ring (outside the training range), the rest from
    ``distributions``. ``constraint`` rejects and redraws tasks (e.g. a torque-to-weight bound).
    The global NumPy RNG is never touched: the same seed always gives the same tasks.
    """

    distributions: Mapping[str, Distribution]
    seed: int | Sequence[int] | None = None
    constraint: Constraint | None = None
    rings: Mapping[str, Ring] = field(default_factory=dict)
    ring_params: int = 0
    id_prefix: str | None = None
    max_tries: int = 10_000

    def __post_init__(self) -> None:
        for name, dist in list(self.distributions.items()) + list(self.rings.items()):
            validate({name: dist.low})
            validate({name: dist.high})
        if not 0 <= self.ring_params <= len(self.rings):
            raise ValueError(
                f"ring_params must be in [0, {len(self.rings)}], got {self.ring_params}"
            )
        self.rng = np.random.default_rng(self.seed)
        self._count = 0

    def sample_one(self) -> Task:
        for _ in range(self.max_tries):
            params = {name: dist.sample(self.rng) for name, dist in self.distributions.items()}
            if self.ring_params:
                names = sorted(self.rings)
                chosen = self.rng.choice(len(names), size=self.ring_params, replace=False)
                for i in sorted(chosen):
                    params[names[i]] = self.rings[names[i]].sample(self.rng)
            if self.constraint is None or self.constraint(DEFAULTS | params):
                task_id = f"{self.id_prefix}/{self._count:02d}" if self.id_prefix else None
                self._count += 1
                return Task(params, id=task_id)
        raise RuntimeError(f"no task satisfied the constraint in {self.max_tries} draws")

    def sample(self, n: int) -> list[Task]:
        """Draw ``n`` tasks."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        return [self.sample_one() for _ in range(n)]


def torque_to_weight_within(low: float, high: float) -> Constraint:
    """A constraint keeping actuator strength over total mass (nominal = 1) in [low, high]."""

    def check(values: Mapping[str, float]) -> bool:
        return low <= hopper_model.torque_to_weight(values) <= high

    return check


# --- suites ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    """A frozen benchmark suite: its splits, its nominal task, and the definition they came from."""

    name: str
    train: tuple[Task, ...]
    test: tuple[Task, ...]
    ood: tuple[Task, ...]
    nominal: Task
    definition: Mapping[str, Any]
    sha256: str

    def split(self, name: str) -> tuple[Task, ...]:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, name)

    @property
    def tasks(self) -> tuple[Task, ...]:
        """Every task of the suite: train, test, ood, then nominal."""
        return self.train + self.test + self.ood + (self.nominal,)

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(f"no task {task_id!r} in suite {self.name!r}")

    def sampler(self, seed: int | Sequence[int] | None = None) -> TaskSampler:
        """A sampler of the suite's training distribution (what ``sample_tasks`` draws from)."""
        return _samplers(self.definition, seed)[0]


def _samplers(definition: Mapping[str, Any], seed: Any) -> tuple[TaskSampler, TaskSampler]:
    """The in-distribution and ood samplers of a suite definition, on independent streams."""
    dists = {k: distribution_from_json(v) for k, v in definition["distribution"].items()}
    in_seed, ood_seed = np.random.SeedSequence(seed).spawn(2)
    low, high = definition.get("torque_to_weight", (0.0, math.inf))
    name = definition["name"]
    in_dist = TaskSampler(dists, in_seed, torque_to_weight_within(low, high))
    ood = definition.get("ood", {})
    rings = {
        k: Ring(dists[k], float(lo), float(hi)) for k, (lo, hi) in ood.get("rings", {}).items()
    }
    low, high = ood.get("torque_to_weight", (low, high))
    ood_sampler = TaskSampler(
        dists, ood_seed, torque_to_weight_within(low, high), rings,
        ood.get("params_per_task", 0), f"{name}/ood",
    )  # fmt: skip
    return in_dist, ood_sampler


def generate_splits(definition: Mapping[str, Any]) -> dict[str, list[Task]]:
    """Draw a suite's splits from its definition (seeded): train and test from one stream."""
    in_dist, ood = _samplers(definition, definition["seed"])
    sizes = definition["sizes"]
    name = definition["name"]
    train_test = in_dist.sample(sizes["train"] + sizes["test"])
    return {
        "train": _named(train_test[: sizes["train"]], f"{name}/train"),
        "test": _named(train_test[sizes["train"] :], f"{name}/test"),
        "ood": ood.sample(sizes["ood"]),
    }


def _named(tasks: Sequence[Task], prefix: str) -> list[Task]:
    return [Task(t.params, f"{prefix}/{i:02d}") for i, t in enumerate(tasks)]


def suite_path(name: str) -> Path:
    return SUITES_DIR / f"{name}.json"


def available_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.json"))


@functools.lru_cache(maxsize=8)
def load_suite(name: str = DEFAULT_SUITE) -> Suite:
    """The frozen splits of a benchmark suite, e.g. ``load_suite("hopper-v1").test``."""
    path = suite_path(name)
    if not path.exists():
        raise ValueError(f"unknown suite {name!r}; available: {available_suites()}")
    raw = path.read_bytes()
    data = json.loads(raw)
    splits = {s: tuple(Task.from_json(t) for t in data["splits"][s]) for s in SPLITS}
    return Suite(
        name=name,
        nominal=Task(id=f"{name}/nominal"),
        definition=data["definition"],
        sha256=hashlib.sha256(raw).hexdigest(),
        **splits,
    )


def freeze_suite(definition: Mapping[str, Any], path: Path | None = None) -> Path:
    """Write a new suite file from a definition; never overwrites different frozen splits."""
    path = path or suite_path(definition["name"])
    splits = {k: [t.to_json() for t in v] for k, v in generate_splits(definition).items()}
    text = json.dumps({"definition": definition, "splits": splits}, indent=1) + "\n"
    if path.exists() and path.read_text() != text:
        raise FileExistsError(
            f"{path} exists with other content: a change to a frozen suite is a new suite "
            "version (a new name, e.g. hopper-v1), never an edit"
        )
    path.write_text(text)
    return path
