"""Checks made before an evaluation starts any job, so that a wrong argument is a one-line error
instead of a run in which every job fails: the output directory, and the agent's constructor
arguments read from its signature (the agent class is imported in a worker, never constructed).
"""

from __future__ import annotations

import inspect
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from metail_envs.executors import Executor

from .agent import AgentResolutionError, AgentSpec
from .jobs import ProbeJob, executor_job

PROBE_CAP_S = 120.0
"""Time allowed to import an agent class."""


def constructor_params(cls: Any) -> dict[str, Any] | None:
    """What ``cls(**kwargs)`` (or any callable) accepts, from its signature: ``{"names": [...], "required":
    [...], "any": bool}`` (``any``: it takes ``**kwargs``); ``None`` when it has no signature."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return None
    names: list[str] = []
    required: list[str] = []
    any_kw = False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            any_kw = True
        elif p.kind is not p.VAR_POSITIONAL:
            if p.kind is not p.POSITIONAL_ONLY:
                names.append(p.name)
            if p.default is p.empty:
                required.append(p.name)
    return {"names": names, "required": required, "any": any_kw}


def check_agent_kwargs(
    spec: str, kwargs: Mapping[str, Any], params: Mapping[str, Any] | None
) -> None:
    """Refuse constructor kwargs that ``params`` (:func:`constructor_params`) does not accept, or
    that lack a required argument, with a ValueError naming what the agent takes."""
    if params is None:
        return
    names = list(params["names"])
    takes = ", ".join(names) if names else "no arguments"
    unknown = [k for k in kwargs if k not in names]
    if unknown and not params["any"]:
        what = "argument" if len(unknown) == 1 else "arguments"
        listed = ", ".join(repr(k) for k in unknown)
        raise ValueError(f"agent {spec!r} takes no {what} {listed}; it takes: {takes}")
    missing = [r for r in params["required"] if r not in kwargs]
    if missing:
        listed = ", ".join(repr(k) for k in missing)
        raise ValueError(
            f"agent {spec!r} needs {listed} (give --agent-kwargs, a JSON object); it takes: {takes}"
        )


def check_adapt_kwargs(
    spec: str, adapt_kwargs: Mapping[str, Any], params: Mapping[str, Any] | None
) -> None:
    """Refuse adaptation kwargs that the agent's ``load`` (``params``) cannot take."""
    if not adapt_kwargs or params is None or params["any"]:
        return
    unknown = [k for k in adapt_kwargs if k not in params["names"]]
    if unknown:
        takes = ", ".join(n for n in params["names"] if n != "path") or "nothing but the path"
        raise ValueError(
            f"agent {spec!r}: its load takes no adaptation kwargs {unknown} (--adapt-kwargs); "
            f"it takes: {takes}"
        )


def probe_agents(executor: Executor, agents: Iterable[AgentSpec]) -> dict[str, dict[str, Any]]:
    """Import each agent class in a worker of ``executor`` and check its kwargs against its
    constructor; returns the probe of each spec. Raises AgentResolutionError (a ValueError) for
    an agent that cannot be imported, ValueError for kwargs it does not take."""
    probes: dict[str, dict[str, Any]] = {}
    for agent in agents:
        if agent.spec not in probes:
            job = executor_job(ProbeJob(spec=agent.spec), start_cap=PROBE_CAP_S)
            payload = executor.run_one(job)
            if not payload["ok"]:
                error = payload["error"]
                resolution = payload.get("resolution")
                raise AgentResolutionError(error if resolution else f"{agent.spec}: {error}")
            probes[agent.spec] = payload
        check_agent_kwargs(agent.spec, agent.kwargs, probes[agent.spec].get("init"))
        check_adapt_kwargs(agent.spec, agent.adapt_kwargs, probes[agent.spec].get("load"))
    return probes


def check_out_dir(out: str | Path, flag: str = "--out") -> None:
    """Refuse an output directory that is a file, lies under a file, or cannot be written,
    before anything is created (a temporary file is made and removed in the nearest existing
    directory)."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {out} is a file, not a directory")
    existing = path.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{flag} {out} is under {existing}, which is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {out} is not writable: no write permission on {existing}")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise ValueError(f"{flag} {out} is not writable: {e.strerror} ({existing})") from None
