"""Tasks, task distributions, the seeded task sampler and the benchmark's frozen suites.

A :class:`Task` is one Hopper variant: an immutable set of parameter values with an id. A
:class:`TaskSampler` draws tasks from per-parameter distributions with its own seeded generator.
A :class:`Suite` is a committed JSON file under ``suites/`` holding both the distribution it was
drawn from and the frozen train / test / ood splits; :func:`load_suite` reads it by name (never a
path), and the tests check that each file's splits are what its definition's seed draws, so a
split is never silently edited. Every constructor here refuses bad input with a ``TypeError`` or
``ValueError`` naming the argument (see ``tests/test_bad_inputs.py``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from metail_envs import checks, hopper_model
from metail_envs.params import BY_NAME, DEFAULTS, GEOMETRY_PARAMS, non_default, validate

SUITES_DIR = Path(__file__).parent / "suites"
DEFAULT_SUITE = "hopper-v1"
"""The benchmark's current suite; hopper-v0 stays loadable but its hardest tasks are unsolved."""
SPLITS = ("train", "test", "ood")

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.+=-]*"
_SUITE_NAME = re.compile(_NAME)
_TASK_ID = re.compile(rf"{_NAME}(/{_NAME})*")
MAX_ID_LENGTH = 200


def _is_name(value: object, what: str, pattern: re.Pattern[str]) -> bool:
    """Whether ``value`` is a string of at most ``MAX_ID_LENGTH`` matching ``pattern``
    (TypeError naming ``what`` if it is no string at all)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__} {checks.show(value)}")
    return len(value) <= MAX_ID_LENGTH and pattern.fullmatch(value) is not None


def check_task_id(task_id: object, what: str = "Task id") -> str:
    """A task id: ``/``-separated names of letters, digits and ``_.+=-``, each starting with a
    letter or digit (so an id is always a safe relative path: no ``..``, no absolute path)."""
    if not _is_name(task_id, what, _TASK_ID):
        raise ValueError(
            f"{what} must be 1-{MAX_ID_LENGTH} characters: names of letters, digits and '_.+=-' "
            f"joined by '/', each starting with a letter or digit (e.g. 'hopper-v1/test/03'), "
            f"got {checks.show(task_id)}"
        )
    return task_id


@dataclass(frozen=True, init=False)
class Task:
    """One Hopper variant: the parameters that differ from Hopper-v4, and an id.

    Build its environment with ``gym.make("metail/HopperVariant-v0", task=task)`` or
    ``gym.make("metail/HopperVariant-v0", **task.params)``.
    """

    id: str
    items: tuple[tuple[str, float], ...]

    def __init__(self, params: Mapping[str, float] | None = None, id: str | None = None) -> None:
        items = tuple(sorted(non_default(validate({} if params is None else params)).items()))
        if id is None:
            digest = hashlib.sha1(json.dumps(items).encode()).hexdigest()[:12]
            id = f"task-{digest}"
        object.__setattr__(self, "id", check_task_id(id))
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

    def __reduce__(self) -> tuple[type[Task], tuple[dict[str, float], str]]:
        """Pickle (and copy) through ``__init__``: an unpickled Task is validated like a new one."""
        return Task, (self.params, self.id)

    def __setstate__(self, state: object) -> None:
        """Older pickles carried ``{"id", "items"}``: validated too, never trusted."""
        if not (isinstance(state, Mapping) and set(state) == {"id", "items"}):
            raise TypeError(
                f"a pickled Task's state must be {{'id', 'items'}}, got {checks.show(state)}"
            )
        try:
            params = dict(state["items"])
        except (TypeError, ValueError):
            raise TypeError(
                f"a pickled Task's items must be (name, value) pairs, got {checks.show(state['items'])}"
            ) from None
        task = Task(params, id=state["id"])
        object.__setattr__(self, "id", task.id)
        object.__setattr__(self, "items", task.items)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "params": self.params}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Task:
        """The inverse of :meth:`to_json`: exactly the keys ``id`` (a string) and ``params``."""
        if not isinstance(data, Mapping):
            raise TypeError(
                f"Task JSON must be an object, got {type(data).__name__} {checks.show(data)}"
            )
        if set(data) != {"id", "params"}:
            raise ValueError(
                f"Task JSON must have exactly the keys 'id' and 'params', got {sorted(map(str, data))}"
            )
        if data["params"] is None:
            raise TypeError("Task JSON 'params' must be an object of name to value, got None")
        return cls(data["params"], id=check_task_id(data["id"], "Task JSON 'id'"))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:.4g}" for k, v in self.items)
        return f"Task({self.id!r}{', ' if args else ''}{args})"


NOMINAL = Task(id="nominal")
"""Hopper-v4 itself: every parameter at its default."""


# --- distributions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Uniform:
    """Uniform on [low, high] (``low == high`` is a constant)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        kind = type(self).__name__
        low = checks.real(f"{kind} low", self.low)
        high = checks.real(f"{kind} high", self.high)
        if not low <= high:
            raise ValueError(f"{kind} low={low:g} must not exceed high={high:g}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high


@dataclass(frozen=True)
class LogUniform(Uniform):
    """Log-uniform on [low, high], 0 < low: equal odds of halving and doubling a multiplier."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.low > 0:
            raise ValueError(
                f"LogUniform low={self.low:g} must be > 0 (a log scale), high={self.high:g}"
            )

    def sample(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


@dataclass(frozen=True)
class Ring:
    """Values outside ``inner`` but inside [low, high]: the out-of-distribution band of a range.

    Accepted when ``low <= inner.low`` and ``inner.high <= high`` with a band of positive width
    on at least one side (and ``low > 0`` around a :class:`LogUniform`).
    """

    inner: Uniform
    low: float
    high: float

    def __post_init__(self) -> None:
        if not isinstance(self.inner, Uniform):
            raise TypeError(
                f"Ring inner must be a Uniform or LogUniform, got {type(self.inner).__name__} "
                f"{checks.show(self.inner)}"
            )
        inner = self.inner
        low = checks.real("Ring low", self.low, -math.inf, inner.low)
        high = checks.real("Ring high", self.high, inner.high, math.inf)
        if isinstance(inner, LogUniform) and not low > 0:
            raise ValueError(f"Ring low={low:g} must be > 0 around a LogUniform (a log scale)")
        if low == inner.low and high == inner.high:
            raise ValueError(
                f"Ring [{low:g}, {high:g}] leaves no band outside its inner range "
                f"[{inner.low:g}, {inner.high:g}]: widen low or high"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

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
    if not isinstance(spec, Mapping):
        raise TypeError(
            f"a distribution must be an object like {{'type': 'uniform', 'low': 0, 'high': 1}}, "
            f"got {type(spec).__name__} {checks.show(spec)}"
        )
    if set(spec) != {"type", "low", "high"}:
        raise ValueError(
            "a distribution must have exactly the keys 'type', 'low' and 'high', "
            f"got {sorted(map(str, spec))}"
        )
    kind = spec["type"]
    if not isinstance(kind, str) or kind not in _DIST_TYPES:
        raise ValueError(
            f"distribution type must be one of {list(_DIST_TYPES)}, got {checks.show(kind)}"
        )
    return _DIST_TYPES[kind](spec["low"], spec["high"])


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
        _check_distributions(
            "distributions", self.distributions, Uniform, "a Uniform or LogUniform"
        )
        _check_distributions("rings", self.rings, Ring, "a Ring")
        self.seed = checks.seed("TaskSampler seed", self.seed)
        if self.constraint is not None and not callable(self.constraint):
            raise TypeError(
                f"constraint must be None or a callable, got {checks.show(self.constraint)}"
            )
        self.ring_params = checks.integer("ring_params", self.ring_params, 0, len(self.rings))
        if self.id_prefix is not None:
            check_task_id(self.id_prefix, "id_prefix")
        self.max_tries = checks.integer("max_tries", self.max_tries, 1)
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
        return [self.sample_one() for _ in range(checks.integer("n", n, 0))]


def _check_distributions(what: str, dists: object, kind: type, kind_text: str) -> None:
    """Each entry names a registry parameter and is a ``kind`` inside that parameter's bounds."""
    if not isinstance(dists, Mapping):
        raise TypeError(
            f"{what} must be a mapping of parameter name to {kind_text}, "
            f"got {type(dists).__name__} {checks.show(dists)}"
        )
    for name, dist in dists.items():
        if name not in BY_NAME:
            validate({name: 1.0})  # the registry's "unknown parameter" error
        if not isinstance(dist, kind):
            raise TypeError(
                f"{what}[{name!r}] must be {kind_text}, got {type(dist).__name__} {checks.show(dist)}"
            )
        validate({name: dist.low})
        validate({name: dist.high})


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
        """The task of that id (``KeyError`` if the suite has none)."""
        if not isinstance(task_id, str):
            raise TypeError(
                f"task_id must be a string, got {type(task_id).__name__} {checks.show(task_id)}"
            )
        try:
            return self._by_id[task_id]
        except KeyError:
            raise KeyError(f"no task {task_id!r} in suite {self.name!r}") from None

    @functools.cached_property
    def _by_id(self) -> Mapping[str, Task]:
        return MappingProxyType({t.id: t for t in self.tasks})

    def sampler(self, seed: int | Sequence[int] | None = None) -> TaskSampler:
        """A sampler of the suite's training distribution (what ``sample_tasks`` draws from)."""
        return _samplers(self.definition, seed)[0]


def check_suite_task(task: Task) -> None:
    """Refuse a Task that takes a committed suite's id without being that suite's task.

    An id is the only name results and data know a task by: ``hopper-v1/test/03`` with other
    parameters would be scored, and stored, as the real test task.
    """
    suite_name = task.id.split("/", 1)[0]
    if "/" not in task.id or not _is_suite(suite_name):
        return
    found = load_suite(suite_name)._by_id.get(task.id)
    if found is None:
        raise ValueError(
            f"Task id {task.id!r} names suite {suite_name!r}, which has no such task; "
            "a task of your own needs an id outside the suites' (e.g. Task(params) names itself)"
        )
    if found.items != task.items:
        raise ValueError(
            f"Task {task.id!r} has other parameters than suite {suite_name!r}'s task of that id: "
            f"got {task.params}, the suite's are {found.params}"
        )


_DEFINITION_KEYS = {
    "name",
    "description",
    "seed",
    "sizes",
    "distribution",
    "torque_to_weight",
    "ood",
}
_REQUIRED_KEYS = {"name", "seed", "sizes", "distribution"}
_OOD_KEYS = {"rings", "torque_to_weight", "params_per_task"}


def _check_keys(
    what: str, value: object, allowed: set[str], required: set[str]
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{what} must be an object, got {type(value).__name__} {checks.show(value)}"
        )
    if not required <= set(value) <= allowed:
        raise ValueError(
            f"{what} must have the keys {sorted(required)} (optional: {sorted(allowed - required)}), "
            f"got {sorted(map(str, value))}"
        )
    return value


def _pair(what: str, value: object, low: float = -math.inf) -> tuple[float, float]:
    if not (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2):
        raise TypeError(f"{what} must be a [low, high] pair, got {checks.show(value)}")
    lo = checks.real(f"{what} low", value[0], low)
    hi = checks.real(f"{what} high", value[1], lo)
    return lo, hi


def _samplers(definition: Mapping[str, Any], seed: Any) -> tuple[TaskSampler, TaskSampler]:
    """The in-distribution and ood samplers of a suite definition, on independent streams."""
    d = _check_keys("suite definition", definition, _DEFINITION_KEYS, _REQUIRED_KEYS)
    name = check_suite_name(d["name"])
    seed = checks.seed("seed", seed)
    dists = _check_keys("suite definition 'distribution'", d["distribution"], set(BY_NAME), set())
    dists = {k: distribution_from_json(v) for k, v in dists.items()}
    in_seed, ood_seed = np.random.SeedSequence(seed).spawn(2)
    bounds = d.get("torque_to_weight")
    low, high = (0.0, math.inf) if bounds is None else _pair("torque_to_weight", bounds, 0.0)
    in_dist = TaskSampler(dists, in_seed, torque_to_weight_within(low, high))
    ood = _check_keys("suite definition 'ood'", d.get("ood", {}), _OOD_KEYS, set())
    ring_specs = _check_keys("ood 'rings'", ood.get("rings", {}), set(dists), set())
    rings = {k: Ring(dists[k], *_pair(f"ood ring {k!r}", v)) for k, v in ring_specs.items()}
    if ood.get("torque_to_weight") is not None:
        low, high = _pair("ood torque_to_weight", ood["torque_to_weight"], 0.0)
    per_task = checks.integer("ood params_per_task", ood.get("params_per_task", 0), 0, len(rings))
    ood_sampler = TaskSampler(
        dists, ood_seed, torque_to_weight_within(low, high), rings, per_task, f"{name}/ood"
    )
    return in_dist, ood_sampler


def generate_splits(definition: Mapping[str, Any]) -> dict[str, list[Task]]:
    """Draw a suite's splits from its definition (seeded): train and test from one stream."""
    if (
        _check_keys("suite definition", definition, _DEFINITION_KEYS, _REQUIRED_KEYS)["seed"]
        is None
    ):
        raise ValueError("a suite definition's 'seed' must be an int: its splits are reproducible")
    in_dist, ood = _samplers(definition, definition["seed"])
    sizes = _check_keys("suite definition 'sizes'", definition["sizes"], set(SPLITS), set(SPLITS))
    sizes = {k: checks.integer(f"sizes {k!r}", v, 0, 10_000) for k, v in sizes.items()}
    name = definition["name"]
    train_test = in_dist.sample(sizes["train"] + sizes["test"])
    return {
        "train": _named(train_test[: sizes["train"]], f"{name}/train"),
        "test": _named(train_test[sizes["train"] :], f"{name}/test"),
        "ood": ood.sample(sizes["ood"]),
    }


def _named(tasks: Sequence[Task], prefix: str) -> list[Task]:
    return [Task(t.params, f"{prefix}/{i:02d}") for i, t in enumerate(tasks)]


def check_suite_name(name: object) -> str:
    """A suite name is a plain file stem (letters, digits, ``_.+=-``): never a path."""
    if not _is_name(name, "suite name", _SUITE_NAME):
        raise ValueError(
            f"suite name must be a plain name of letters, digits and '_.+=-' (no path), "
            f"e.g. {DEFAULT_SUITE!r}; got {checks.show(name)}; available: {available_suites()}"
        )
    return name


def suite_path(name: str) -> Path:
    """The file of a committed suite, ``suites/<name>.json`` (the name is checked, never a path)."""
    return SUITES_DIR / f"{check_suite_name(name)}.json"


@functools.lru_cache(maxsize=64)
def _is_suite(name: str) -> bool:
    """Whether a committed suite of that name exists (cached: ``set_task`` asks it each time)."""
    return suite_path(name).is_file()


def available_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.json"))


def load_suite(name: str = DEFAULT_SUITE) -> Suite:
    """The frozen splits of a benchmark suite, e.g. ``load_suite("hopper-v1").test``."""
    check_suite_name(name)
    return _load_suite(name)


@functools.lru_cache(maxsize=8)
def _load_suite(name: str) -> Suite:
    path = suite_path(name)
    if not path.is_file():
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
    splits = {k: [t.to_json() for t in v] for k, v in generate_splits(definition).items()}
    path = path or suite_path(definition["name"])
    text = json.dumps({"definition": definition, "splits": splits}, indent=1) + "\n"
    if path.exists() and path.read_text() != text:
        raise FileExistsError(
            f"{path} exists with other content: a change to a frozen suite is a new suite "
            "version (a new name, e.g. hopper-v1), never an edit"
        )
    path.write_text(text)
    _is_suite.cache_clear()
    return path
