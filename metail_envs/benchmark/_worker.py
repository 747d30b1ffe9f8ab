"""The benchmark's jobs, run in an executor's worker process: probe an agent, meta-train it,
adapt and evaluate it. This is where untrusted agent code runs, never in the runner (see
:mod:`metail_envs.executors.worker` for how a raise, a hang or a crash costs one job only).

Each job is ``fn(job, send)``; it sends ``("phase", name)`` when a capped phase starts and
``("tick", n_finished)`` during evaluation (at least every few tenths of a second while steps
complete), and returns its payload. The evaluation itself is :func:`.jobs.evaluate_job`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import metail_envs

from ..fileio import atomic_write
from .agent import AgentResolutionError, resolve_agent
from .jobs import JobSpec, evaluate_job, meta_training_demos, seed_everything
from .protocol import ProtocolConfig


def _use_data_dir(data_dir: str | None) -> None:
    if data_dir is not None:
        os.environ["METAIL_DATA_DIR"] = data_dir


def probe(job: dict[str, Any], send: Any) -> dict[str, Any]:
    """Resolve an agent spec, reporting whether it is privileged and what its constructor takes
    (read from its signature: the agent is not constructed)."""
    from .preflight import constructor_params

    try:
        cls = resolve_agent(job["spec"])
    except AgentResolutionError as e:  # the message says it all; no traceback
        return {"ok": False, "error": str(e), "resolution": True}
    return {
        "privileged": bool(getattr(cls, "privileged", False)),
        "task_only": getattr(cls, "task_only", False) is True,
        "target": f"{cls.__module__}:{cls.__qualname__}",
        "init": constructor_params(cls),
        "load": constructor_params(getattr(cls, "load", None)),
    }


def meta_train(job: dict[str, Any], send: Any) -> dict[str, Any]:
    """Construct, meta-train and save one agent; returns the meta-training time."""
    _use_data_dir(job["data_dir"])
    cls = resolve_agent(job["agent"]["spec"])
    agent = cls(**job["agent"]["kwargs"])
    demos = meta_training_demos(job["train_tasks"], job["data_dir"])
    seed_everything(job["seed"])
    send(("phase", "meta_train"))
    start = time.perf_counter()
    agent.meta_train(demos, job["seed"])
    elapsed = time.perf_counter() - start

    def save(tmp: Path) -> None:
        tmp.mkdir()
        agent.save(tmp)

    atomic_write(Path(job["checkpoint"]), save)
    return {"time_s": elapsed}


def evaluate(job: dict[str, Any], send: Any) -> dict[str, Any]:
    """Load the meta-trained agent afresh (with its adaptation mode, if any) and run the one
    evaluation job on it."""
    _use_data_dir(job["data_dir"])
    config = ProtocolConfig.from_json(job["config"])
    task = metail_envs.load_suite(job["suite"]).task(job["task"])
    cls = resolve_agent(job["agent"]["spec"])
    agent = cls.load(Path(job["checkpoint"]), **job["agent"].get("adapt_kwargs", {}))
    spec = JobSpec(task, job["split"], job["track"], job["k"], job["seed"], config, job["data_dir"])
    return evaluate_job(agent, spec, send)


def references(job: dict[str, Any], send: Any) -> dict[str, Any]:
    """The normalisation references of one task at the run's own horizon: the mean returns of
    the expert and of the random reference agent over the run's evaluation episodes (reset
    seeds of the protocol; the random agent seeded 0, K=0), for a run whose episode step limit
    is not the one the shipped references were measured at."""
    from .reference_agents import ExpertAgent, RandomAgent

    _use_data_dir(job["data_dir"])
    config = ProtocolConfig.from_json(job["config"])
    task = metail_envs.load_suite(job["suite"]).task(job["task"])
    spec = JobSpec(task, job["split"], "full", 0, 0, config, job["data_dir"])
    out: dict[str, Any] = {"horizon": config.max_steps}
    for name, agent in (("expert", ExpertAgent()), ("random", RandomAgent())):
        returns = evaluate_job(agent, spec, send)["returns"]
        out[f"{name}_mean"] = sum(returns) / len(returns)
    return out
