"""The benchmark's jobs, run in an executor's worker process: probe an agent, meta-train it,
adapt and evaluate it. This is where untrusted agent code runs, never in the runner (see
:mod:`metail_envs.executors.worker` for how a raise, a hang or a crash costs one job only).

Every job is a :class:`.jobs.WorkerJob`; :func:`run` calls the function that :data:`FUNCTIONS`
registers under its name, ``fn(job, send)``, with the job's data directory in force. A function
sends ``("phase", name)`` when a capped phase starts and ``("tick", n_finished)`` during
evaluation (at least every few tenths of a second while steps complete), and returns its
payload. The evaluation itself is :func:`.jobs.evaluate_job`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..fileio import atomic_write
from ..manifest import using_data_dir
from .agent import AgentResolutionError, resolve_agent
from .jobs import (
    EvaluateJob,
    JobSpec,
    MetaTrainJob,
    ProbeJob,
    ReferencesJob,
    Send,
    WorkerJob,
    evaluate_job,
    meta_training_demos,
    seed_everything,
)


def probe(job: ProbeJob, send: Send) -> dict[str, Any]:
    """Resolve an agent spec, reporting whether it is privileged and what its constructor takes
    (read from its signature: the agent is not constructed)."""
    from .preflight import constructor_params

    try:
        cls = resolve_agent(job.spec)
    except AgentResolutionError as e:  # the message says it all; no traceback
        return {"ok": False, "error": str(e), "resolution": True}
    return {
        "privileged": bool(getattr(cls, "privileged", False)),
        "task_only": getattr(cls, "task_only", False) is True,
        "target": f"{cls.__module__}:{cls.__qualname__}",
        "init": constructor_params(cls),
        "load": constructor_params(getattr(cls, "load", None)),
    }


def meta_train(job: MetaTrainJob, send: Send) -> dict[str, Any]:
    """Construct, meta-train and save one agent; returns the meta-training time."""
    cls = resolve_agent(job.agent.spec)
    agent = cls(**job.agent.kwargs)
    demos = meta_training_demos(job.train_tasks, job.data_dir)
    seed_everything(job.seed)
    send(("phase", "meta_train"))
    start = time.perf_counter()
    agent.meta_train(demos, job.seed)
    elapsed = time.perf_counter() - start

    def save(tmp: Path) -> None:
        tmp.mkdir()
        agent.save(tmp)

    atomic_write(Path(job.checkpoint), save)
    return {"time_s": elapsed}


def evaluate(job: EvaluateJob, send: Send) -> dict[str, Any]:
    """Load the meta-trained agent afresh (with its adaptation mode, if any) and run the one
    evaluation job on it."""
    spec = job.job_spec()
    cls = resolve_agent(job.agent.spec)
    agent = cls.load(Path(job.checkpoint), **job.agent.adapt_kwargs)
    return evaluate_job(agent, spec, send)


def references(job: ReferencesJob, send: Send) -> dict[str, Any]:
    """The normalisation references of one task at the run's own horizon: the mean returns of
    the expert and of the random reference agent over the run's evaluation episodes (reset
    seeds of the protocol; the random agent seeded 0, K=0), for a run whose episode step limit
    is not the one the shipped references were measured at."""
    from metail_envs.tasks import load_suite

    from .reference_agents import ExpertAgent, RandomAgent

    config = job.config
    task = load_suite(config.suite).task(job.task)
    spec = JobSpec(task, job.split, "full", 0, 0, config, job.data_dir)
    out: dict[str, Any] = {"horizon": config.max_steps}
    for name, agent in (("expert", ExpertAgent()), ("random", RandomAgent())):
        returns = evaluate_job(agent, spec, send)["returns"]
        out[f"{name}_mean"] = sum(returns) / len(returns)
    return out


FUNCTIONS: dict[str, Callable[[Any, Send], dict[str, Any]]] = {
    ProbeJob.fn: probe,
    MetaTrainJob.fn: meta_train,
    EvaluateJob.fn: evaluate,
    ReferencesJob.fn: references,
}
"""The one table of the workers' functions, by the names their jobs give (:attr:`WorkerJob.fn`)."""


def run(job: WorkerJob, send: Send) -> dict[str, Any]:
    """Every benchmark job's entry in the worker (:data:`.jobs.WORKER`): the function
    :data:`FUNCTIONS` registers under the job's name, run with the job's data directory as the
    process's default (for agent code that reads the data without naming a directory)."""
    if not isinstance(job, WorkerJob):
        raise TypeError(f"a benchmark worker runs a WorkerJob, got {type(job).__name__}")
    with using_data_dir(job.data_dir):
        return FUNCTIONS[job.fn](job, send)
