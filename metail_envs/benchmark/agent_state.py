"""An agent's attributes as plain data, for the default :meth:`Agent.save` / :meth:`Agent.load`.

A checkpoint directory gets ``agent_state.json`` (the agent's class and its attributes as JSON)
and, when the agent holds numpy arrays, ``agent_arrays.npz`` (read with ``allow_pickle=False``).
Nothing is pickled, so loading a checkpoint runs no code but the agent class's own. What JSON
cannot say plainly is tagged with a one-key object: ``{"__ndarray__": name}`` (an array of the
npz), ``{"__npscalar__": name}``, ``{"__tuple__": [...]}``, ``{"__float__": "nan"}`` (a
non-finite float) and ``{"__items__": [[key, value], ...]}`` (a dict with non-string keys).
Anything else (a torch module, a generator, an arbitrary object) is refused at save time: such an
agent overrides ``save``/``load`` (the baselines save a torch ``state_dict``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "metail.agent-state"
VERSION = 1
STATE_FILE = "agent_state.json"
ARRAYS_FILE = "agent_arrays.npz"
LEGACY_PICKLE = "agent.pkl"
_TAGS = ("__ndarray__", "__npscalar__", "__tuple__", "__float__", "__items__")
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class AgentStateError(ValueError):
    """A checkpoint that the default ``Agent.load`` cannot read; the message says why."""


def class_target(cls: type) -> str:
    """``module:QualName`` of a class, as a checkpoint records it."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _refuse(where: str, value: Any) -> TypeError:
    return TypeError(
        f"Agent.save keeps only JSON values (None, bool, int, float, str, list, tuple, dict) and "
        f"numpy arrays; {where} is a {type(value).__module__}.{type(value).__qualname__}. "
        "Override save/load for this agent (e.g. torch: save a state_dict and read it with "
        "torch.load(..., weights_only=True), as baselines.base.TorchAgent does)"
    )


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, value: np.ndarray, where: str) -> str:
        if value.dtype.hasobject:
            raise _refuse(f"{where} (an array of dtype object)", value)
        name = f"a{len(self.arrays)}"
        self.arrays[name] = value
        return name

    def encode(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            if math.isfinite(value):
                return float(value)
            return {"__float__": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
        if isinstance(value, np.ndarray):
            return {"__ndarray__": self.array(value, where)}
        if isinstance(value, np.generic):
            return {"__npscalar__": self.array(np.asarray(value), where)}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value) and not (len(value) == 1 and _tag(value)):
                return {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}
            return {
                "__items__": [
                    [self.encode(k, f"{where} key {k!r}"), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ]
            }
        raise _refuse(where, value)


def _tag(value: dict) -> str | None:
    key = next(iter(value))
    return key if key in _TAGS else None


def _decode(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays, where) for v in value]
    if not isinstance(value, dict):
        return value
    tag = _tag(value) if len(value) == 1 else None
    if tag is None:
        return {k: _decode(v, arrays, where) for k, v in value.items()}
    body = value[tag]
    if tag in ("__ndarray__", "__npscalar__"):
        if body not in arrays:
            raise AgentStateError(f"{where}: array {body!r} is missing from {ARRAYS_FILE}")
        return arrays[body] if tag == "__ndarray__" else arrays[body][()]
    if tag == "__float__" and body in _FLOATS:
        return _FLOATS[body]
    if tag == "__tuple__" and isinstance(body, list):
        return tuple(_decode(v, arrays, where) for v in body)
    if (
        tag == "__items__"
        and isinstance(body, list)
        and all(isinstance(kv, list) and len(kv) == 2 for kv in body)
    ):
        try:
            return {_decode(k, arrays, where): _decode(v, arrays, where) for k, v in body}
        except TypeError as e:  # an unhashable key
            raise AgentStateError(f"{where}: malformed {tag}: {e}") from None
    raise AgentStateError(f"{where}: malformed {tag} entry {body!r}")


def save_state(agent: Any, path: Path) -> None:
    """Write ``vars(agent)`` into the directory ``path`` (JSON, plus an npz for arrays)."""
    path = Path(path)
    try:
        attributes = vars(agent)
    except TypeError:
        raise _refuse(f"{type(agent).__name__} (no __dict__)", agent) from None
    enc = _Encoder()
    state = {k: enc.encode(v, f"{type(agent).__name__}.{k}") for k, v in attributes.items()}
    doc = {"format": FORMAT, "version": VERSION, "class": class_target(type(agent))}
    doc["state"] = state
    (path / STATE_FILE).write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    if enc.arrays:
        np.savez(path / ARRAYS_FILE, allow_pickle=False, **enc.arrays)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def load_state(cls: type, path: Path) -> Any:
    """An instance of ``cls`` (its ``__init__`` not called) with the attributes saved in
    ``path``. Refuses a checkpoint of another class, and pickles, whatever they hold."""
    path = Path(path)
    state_file = path / STATE_FILE
    if not state_file.is_file():
        if (path / LEGACY_PICKLE).exists():
            raise AgentStateError(
                f"{path} holds {LEGACY_PICKLE}, a pickled agent: pickles are never loaded (they "
                "can run any code). Meta-train the agent again (remove the checkpoint, then "
                "metail evaluate writes a new one without pickle)"
            )
        raise AgentStateError(f"{path} has no {STATE_FILE}: not a checkpoint of Agent.save")
    try:
        doc = json.loads(state_file.read_text(), parse_constant=_no_constant)
    except (OSError, ValueError, RecursionError) as e:
        raise AgentStateError(f"{state_file} is not readable as JSON: {e}") from None
    if not isinstance(doc, dict) or (doc.get("format"), doc.get("version")) != (FORMAT, VERSION):
        raise AgentStateError(
            f"{state_file} is not a {FORMAT} version {VERSION} document; meta-train the agent again"
        )
    if doc.get("class") != class_target(cls):
        held = str(doc.get("class"))
        raise TypeError(
            f"{path} holds a {held.rpartition(':')[2]} ({held}), not a {cls.__name__} "
            f"({class_target(cls)})"
        )
    if not isinstance(doc.get("state"), dict):
        raise AgentStateError(f"{state_file}: field 'state' must be a JSON object")
    arrays: dict[str, np.ndarray] = {}
    if (path / ARRAYS_FILE).exists():
        try:
            with np.load(path / ARRAYS_FILE, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as e:  # ValueError: an object array, which needs pickle
            raise AgentStateError(f"{path / ARRAYS_FILE} is not readable: {e}") from None
    agent = cls.__new__(cls)
    where = f"{state_file} field"
    agent.__dict__.update(
        {k: _decode(v, arrays, f"{where} {k!r}") for k, v in doc["state"].items()}
    )
    return agent
