"""The agent interface every metail agent implements, ours and anyone else's, and how a name
given on the command line is turned into an agent class.

An agent is meta-trained once per seed on the training tasks' demonstrations, saved, and then
loaded afresh for every adaptation, so an adapted policy can never change the meta-trained agent
(nor another adaptation). Subclassing :class:`Agent` is optional: any class with the same
methods works, :class:`Agent` only adds ``save``/``load`` of plain data (JSON and numpy arrays,
never pickle: :mod:`.agent_state`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from metail_envs.trajectory import TrajectoryWithRew  # or imitation's, field for field

ENTRY_POINT_GROUP = "metail.agents"
BUILTIN_AGENTS: dict[str, str] = {
    "random": "metail_envs.benchmark.reference_agents:RandomAgent",
    "expert": "metail_envs.benchmark.reference_agents:ExpertAgent",
}
"""Short names that work without installing anything (also registered as entry points)."""

REQUIRED_METHODS = ("meta_train", "adapt", "save", "load")


@runtime_checkable
class Policy(Protocol):
    """An adapted policy: maps a batch of raw observations to a batch of actions."""

    def act(self, obs: Any) -> Any:
        """``obs``: float64 array ``(n, 11)``; returns finite actions ``(n, 3)`` in [-1, 1].

        Evaluation calls it once per step for all unfinished episodes together and wants
        deterministic actions; actions outside [-1, 1] are clipped.
        """
        ...


@runtime_checkable
class StatefulPolicy(Protocol):
    """An adapted policy that keeps state across the steps of its episodes (recurrent,
    in-context, history-conditioned). A policy with a ``reset`` method is one: evaluation tells
    it when the episodes start and which episode each row of a batch belongs to."""

    def reset(self, n_episodes: int) -> None:
        """``n_episodes`` episodes start now, numbered ``0 .. n_episodes - 1``."""
        ...

    def act(self, obs: Any, episode_ids: Any) -> Any:
        """``obs``: ``(n_active, 11)``; ``episode_ids``: ``(n_active,)`` ints, which episode each
        row is. Episodes that ended stop appearing; returns actions ``(n_active, 3)``."""
        ...


ADAPT_STATS = ("gradient_steps", "forward_passes", "examples")
"""What an adapted policy may report of its adaptation's cost, as an attribute
``policy.adapt_stats = {"gradient_steps": ..., ...}`` (these keys or others; finite numbers
only, read before the first ``act``): the result file records it per job."""


class Agent(ABC):
    """Base class of metail agents. Constructed as ``cls(**agent_kwargs)``.

    Set ``privileged = True`` only for reference agents that must know the task (the expert):
    their ``adapt`` is then called ``adapt(demos, task=task)`` with the :class:`~metail_envs.
    tasks.Task` itself; the leaderboard marks them as references. ``adapt`` returns a
    :class:`Policy` or a :class:`StatefulPolicy`, optionally with :data:`ADAPT_STATS`.
    ``task_only = True`` lets the runner evaluate each task once for all seeds and conditions.
    """

    privileged: ClassVar[bool] = False
    task_only: ClassVar[bool] = False
    """True only for an agent whose adapted policy depends on the task alone: not on the
    demonstrations, K, track or seed, and deterministic (the expert reference). The runner then
    plays each task's episodes once and records them in every (seed, track, K) entry of that
    task; ``--verify`` re-runs such entries one by one like any other, so a false claim shows."""

    @abstractmethod
    def meta_train(self, demos: Mapping[str, Sequence[TrajectoryWithRew]], seed: int) -> None:
        """Learn from ``{train task id: demonstrations}``, offline, seeded by ``seed``.

        The training tasks' parameters may be read with
        ``metail_envs.load_suite("hopper-v1").task(task_id).params``; test tasks may not.
        """

    @abstractmethod
    def adapt(self, demos: Sequence[TrajectoryWithRew]) -> Policy:
        """Return a policy for an unseen task given its first K demonstrations (K may be 0)."""

    def save(self, path: Path) -> None:
        """Write the meta-trained agent into the (existing, empty) directory ``path``.

        The default keeps the agent's attributes as plain data: JSON values and numpy arrays
        (``agent_state.json``, ``agent_arrays.npz``). An agent holding anything else (a torch
        module, an arbitrary object) gets a TypeError naming the attribute and overrides
        ``save``/``load``. Nothing is pickled.
        """
        from .agent_state import save_state

        save_state(self, Path(path))

    @classmethod
    def load(cls, path: Path) -> Agent:
        """Read an agent written by :meth:`save` (its ``__init__`` is not called again).

        Refuses a checkpoint of another class, and an ``agent.pkl``: pickles are never loaded.
        An agent with several test-time adaptation modes takes them as keyword arguments here
        (``load(path, **adapt_kwargs)``, :attr:`AgentSpec.adapt_kwargs`): each mode is then
        scored from the one meta-training.
        """
        from .agent_state import load_state

        return load_state(cls, Path(path))


class AgentResolutionError(ValueError):
    """An agent name or ``module:Class`` that cannot be turned into an agent class."""


def available_agents() -> dict[str, str]:
    """Short agent names and their targets: built-ins and the ``metail.agents`` entry points.

    Nothing is imported: entry points are listed, not loaded.
    """
    names = dict(BUILTIN_AGENTS)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        names.setdefault(ep.name, ep.value)
    return names


def is_file_spec(spec: str) -> bool:
    """Whether ``spec`` names a class in a Python file: ``path/to/my_agent.py:MyAgent``."""
    return isinstance(spec, str) and spec.rpartition(":")[0].endswith(".py")


def file_spec(spec: str) -> str:
    """A file spec with its file made absolute (workers, also on Ray, may run elsewhere)."""
    path, _, attr = spec.rpartition(":")
    return f"{Path(path).expanduser().resolve()}:{attr}"


def _import_file(path_text: str, what: str) -> Any:
    """The module of a Python file, imported once per process under a name derived from its
    absolute path; its directory goes on ``sys.path`` so that it can import its neighbours."""
    import hashlib
    import importlib.util
    import sys

    path = Path(path_text).expanduser().resolve()
    name = f"metail_agent_file_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    if not path.is_file():
        raise AgentResolutionError(f"agent {what!r}: there is no file {str(path)!r}")
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise AgentResolutionError(f"agent {what!r}: {str(path)!r} is not a Python module")
    module = importlib.util.module_from_spec(module_spec)
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException as e:
        del sys.modules[name]
        raise AgentResolutionError(
            f"agent {what!r}: importing file {str(path)!r} failed: {type(e).__name__}: {e}"
        ) from e
    return module


def _import_target(target: str, what: str) -> type:
    if is_file_spec(target):
        module_name, _, attr = target.rpartition(":")
    else:
        module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise AgentResolutionError(
            f"agent {what!r} must be 'package.module:Class', 'path/to/file.py:Class' or a "
            f"registered short name; known short names: {', '.join(sorted(available_agents()))}"
        )
    if is_file_spec(target):
        obj: Any = _import_file(module_name, what)
    else:
        try:
            obj = importlib.import_module(module_name)
        except Exception as e:
            raise AgentResolutionError(
                f"agent {what!r}: cannot import module {module_name!r}: {e} (a module must be "
                "importable by the worker processes: installed, or on PYTHONPATH; or give the "
                "file: 'path/to/file.py:Class')"
            ) from e
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as e:
            raise AgentResolutionError(
                f"agent {what!r}: module {module_name!r} has no attribute {attr!r}"
            ) from e
    return obj


def resolve_agent(spec: str) -> type:
    """Turn ``'pkg.module:Class'``, ``'path/to/file.py:Class'`` or a short name into the agent
    class, importing only it.

    A module must be importable where the workers run (installed, or on ``PYTHONPATH``: the
    current directory is not on a console script's path); a file is imported from its path.
    Short names are looked up among the built-ins and then the ``metail.agents`` entry points;
    only the matching entry point is loaded.
    """
    if not isinstance(spec, str) or not spec:
        raise AgentResolutionError(f"agent={spec!r} must be a non-empty string")
    if ":" in spec:
        cls = _import_target(spec, spec)
    elif spec in BUILTIN_AGENTS:
        cls = _import_target(BUILTIN_AGENTS[spec], spec)
    else:
        eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=spec)
        if not eps:
            raise AgentResolutionError(
                f"unknown agent {spec!r}; accepted: 'package.module:Class' or one of "
                f"{', '.join(sorted(available_agents()))} (entry point group {ENTRY_POINT_GROUP!r})"
            )
        ep = next(iter(eps))
        try:
            cls = ep.load()
        except Exception as e:
            raise AgentResolutionError(
                f"agent {spec!r}: loading entry point {ep.value!r} failed: {e}"
            ) from e
    check_agent_class(cls, spec)
    return cls


def check_agent_class(cls: Any, spec: str) -> None:
    """Refuse objects that are not classes with the agent methods, naming what is missing."""
    if not isinstance(cls, type):
        raise AgentResolutionError(f"agent {spec!r} resolves to {cls!r}, which is not a class")
    missing = [m for m in REQUIRED_METHODS if not callable(getattr(cls, m, None))]
    if missing:
        raise AgentResolutionError(
            f"agent {spec!r} ({cls.__module__}.{cls.__qualname__}) lacks {', '.join(missing)}; "
            f"an agent needs {', '.join(REQUIRED_METHODS)} (subclass metail_envs.benchmark.Agent)"
        )


@dataclass(frozen=True)
class AgentSpec:
    """An agent to evaluate: what to import, how to construct it, how to load it for adaptation,
    and its leaderboard name.

    ``spec``: ``'pkg.module:Class'``, ``'path/to/file.py:Class'`` (made absolute here; named
    ``file:Class`` unless ``name`` says otherwise) or a short name.

    ``kwargs`` go to the constructor (meta-training); ``adapt_kwargs`` to ``load`` before each
    adaptation (a test-time mode, e.g. ``{"adaptation": "finetune"}``). An entry whose
    checkpoint is missing borrows one already in the output directory that was meta-trained
    with the same agent, kwargs, seed and training data (under another name or mode), so an
    evaluation of a second mode after the first meta-trains nothing.
    """

    spec: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    adapt_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.spec, str) or not self.spec:
            raise ValueError(f"agent spec={self.spec!r} must be a non-empty string")
        if not isinstance(self.kwargs, Mapping):
            raise ValueError(f"agent kwargs must be a JSON object (dict), got {self.kwargs!r}")
        object.__setattr__(self, "kwargs", dict(self.kwargs))
        if not isinstance(self.adapt_kwargs, Mapping):
            raise ValueError(
                f"agent adapt_kwargs must be a JSON object (dict), got {self.adapt_kwargs!r}"
            )
        object.__setattr__(self, "adapt_kwargs", dict(self.adapt_kwargs))
        if is_file_spec(self.spec):
            object.__setattr__(self, "spec", file_spec(self.spec))
            if self.name is None:  # my_agent:MyAgent, not the whole path
                path, _, attr = self.spec.rpartition(":")
                object.__setattr__(self, "name", f"{Path(path).stem}:{attr}")
        if self.name is None:
            object.__setattr__(self, "name", self.spec)

    @property
    def slug(self) -> str:
        """The name made safe as a directory name."""
        keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(self.name))
        return keep.strip("._") or "agent"

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> AgentSpec:
        """The spec a result file's ``agent`` entry records (extra keys ignored)."""
        return cls(doc["spec"], doc.get("kwargs", {}), doc.get("name"), doc.get("adapt_kwargs", {}))

    def to_json(self) -> dict[str, Any]:
        """As result files record it (``adapt_kwargs`` only when given)."""
        out = {"spec": self.spec, "kwargs": dict(self.kwargs), "name": self.name}
        if self.adapt_kwargs:
            out["adapt_kwargs"] = dict(self.adapt_kwargs)
        return out
