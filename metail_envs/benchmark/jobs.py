"""The one evaluation job: give a meta-trained agent a task's drawn demonstrations, adapt it, run
the adapted policy's episodes and score them.

``metail evaluate``'s workers, tuning (``baselines.validate``) and anything else that scores an
agent call :func:`evaluate_job`; nothing else draws demonstrations, adapts or runs evaluation
episodes, so a tuning score and a leaderboard score of the same (agent, checkpoint, task, track,
K, seed) are the same number.

The jobs of the benchmark's workers (:mod:`._worker`) are typed here too: a :class:`WorkerJob`
is what crosses to a worker process, plain data naming its worker function, and
:func:`executor_job` puts one under the protocol's caps for an executor.
"""

from __future__ import annotations

import hashlib
import math
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from metail_envs.executors import Job
from metail_envs.tasks import Task, load_suite

from . import evaluation
from .agent import AgentSpec
from .protocol import DemoWindow, ProtocolConfig, draw_demos, job_seed
from .results import canonical_json

TICK_S = 0.2
"""At most this long between two progress ticks while episodes are stepped."""

LOAD_CAP_S = 120.0
"""Time allowed to start a job: imports, loading the saved agent and the demonstrations. It is
not an agent's budget (the protocol's caps are), only a guard against hangs."""
WORKER = "metail_envs.benchmark._worker:run"
"""The function an executor's worker calls for every :class:`WorkerJob` (:func:`._worker.run`)."""

Send = Callable[[Any], None]
JobKey = tuple[str, str, str, int]
"""(split, task id, track, K): one evaluation job of an (agent, seed)."""


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (torch only if it is imported)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


@dataclass(frozen=True)
class JobSpec:
    """The coordinates of one evaluation job: task, track, K and the agent's seed."""

    task: Task
    split: str
    track: str
    k: int
    seed: int
    config: ProtocolConfig
    data_dir: str | None = None

    @property
    def job_seed(self) -> int:
        """The job's own seed, from its coordinates (:func:`~.protocol.job_seed`)."""
        return job_seed(self.seed, self.task.id, self.k, self.track)

    @property
    def key(self) -> JobKey:
        """(split, task id, track, K): how a result file indexes the job."""
        return (self.split, self.task.id, self.track, self.k)


@dataclass(frozen=True, kw_only=True)
class WorkerJob:
    """A job of the benchmark's workers as it crosses to a worker process: plain data (builtins
    and frozen dataclasses of them), its worker function named by :attr:`fn` (a name of
    :data:`._worker.FUNCTIONS`, the one table of them), its typed arguments as fields, and the
    expert data directory it reads (None: the worker's default)."""

    fn: ClassVar[str]
    phases: ClassVar[dict[str, str]] = {}
    """What a phase is, for the message of a job that ran past its cap."""
    data_dir: str | None = None


@dataclass(frozen=True, kw_only=True)
class ProbeJob(WorkerJob):
    """Import an agent class: is it privileged, what do its constructor and ``load`` take."""

    fn: ClassVar[str] = "probe"
    phases: ClassVar[dict[str, str]] = {"start": "importing"}
    spec: str


@dataclass(frozen=True, kw_only=True)
class AgentJob(WorkerJob):
    """A job on one (agent, seed) and its checkpoint: an absolute path (a Ray worker's cwd is
    not the runner's)."""

    phases: ClassVar[dict[str, str]] = {
        "eval": "an act call",
        "start": "loading the agent and demonstrations",
    }
    agent: AgentSpec
    seed: int
    checkpoint: str


@dataclass(frozen=True, kw_only=True)
class MetaTrainJob(AgentJob):
    """Construct, meta-train and save one (agent, seed) on the training tasks' demonstrations."""

    fn: ClassVar[str] = "meta_train"
    train_tasks: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class EvaluateJob(AgentJob):
    """Load the meta-trained (agent, seed) from its checkpoint and run one evaluation job."""

    fn: ClassVar[str] = "evaluate"
    config: ProtocolConfig
    split: str
    task: str
    track: str
    k: int

    def job_spec(self) -> JobSpec:
        """The job's coordinates, its task read from the config's suite."""
        task = load_suite(self.config.suite).task(self.task)
        return JobSpec(task, self.split, self.track, self.k, self.seed, self.config, self.data_dir)


@dataclass(frozen=True, kw_only=True)
class ReferencesJob(WorkerJob):
    """Measure one task's normalisation references at the config's episode step limit."""

    fn: ClassVar[str] = "references"
    phases: ClassVar[dict[str, str]] = {"start": "loading the reference agents"}
    config: ProtocolConfig
    split: str
    task: str


def executor_job(
    job: WorkerJob,
    tag: Any = None,
    config: ProtocolConfig | None = None,
    start_cap: float = LOAD_CAP_S,
) -> Job:
    """``job`` as an executor runs it: :data:`WORKER` calls it in a worker process, capped at
    ``start_cap`` seconds before its first phase and, with a ``config``, at the protocol's caps
    in its phases. ``tag`` stays with the caller."""
    caps = {"start": start_cap}
    if config is not None:
        caps.update(
            meta_train=config.meta_train_cap_s, adapt=config.adapt_cap_s, eval=config.act_cap_s
        )
    return Job(WORKER, job, caps, dict(job.phases), tag)


def evaluation_job(
    agent: AgentSpec,
    seed: int,
    checkpoint: Path,
    config: ProtocolConfig,
    key: JobKey,
    data_dir: str | None,
    tag: Any = None,
) -> Job:
    """The executor job that runs evaluation job ``key`` of (agent, seed) on the agent's
    ``checkpoint``: what the runner submits and ``--verify`` re-runs."""
    split, task, track, k = key
    job = EvaluateJob(
        agent=agent,
        seed=seed,
        checkpoint=str(Path(checkpoint).absolute()),
        config=config,
        split=split,
        task=task,
        track=track,
        k=k,
        data_dir=data_dir,
    )
    return executor_job(job, tag, config)


def cut(traj: Any, window: DemoWindow) -> Any:
    """Transitions ``[start, stop)`` of a demonstration, without its infos (so no task
    parameter can leak through them)."""
    from metail_envs.trajectory import make_trajectory

    s, e = window.start, window.stop
    return make_trajectory(
        obs=np.array(traj.obs[s : e + 1]),
        acts=np.array(traj.acts[s:e]),
        infos=None,
        terminal=bool(traj.terminal) and e == len(traj.acts),
        rews=np.array(traj.rews[s:e]),
    )


def job_windows(spec: JobSpec, pool: Sequence[Any]) -> list[DemoWindow]:
    """Which windows of the task's demonstration ``pool`` the job gets (none at K=0)."""
    if spec.k == 0:
        return []
    lengths = [len(t.acts) for t in pool]
    return draw_demos(spec.config, spec.seed, spec.task.id, spec.k, spec.track, lengths)


def job_demos(spec: JobSpec) -> tuple[list[Any], list[DemoWindow]]:
    """The demonstrations ``adapt`` gets in this job, and which windows of the pool they are."""
    if spec.k == 0:
        return [], []
    from metail_envs import data

    pool = data.load_demos(spec.task, data_dir=spec.data_dir)
    windows = job_windows(spec, pool)
    return [cut(pool[w.index], w) for w in windows], windows


def meta_training_demos(task_ids: Sequence[str], data_dir: str | None = None) -> dict[str, list]:
    """``{task id: demonstrations}`` for meta-training: every given training task that ships
    complete demonstrations (one whose expert completed none contributes nothing)."""
    from metail_envs import data

    demos = {tid: list(data.load_demos(tid, data_dir=data_dir)) for tid in task_ids}
    return {tid: trajs for tid, trajs in demos.items() if trajs}


def adapt_stats(policy: Any) -> dict[str, float]:
    """What the policy reports of its adaptation (``policy.adapt_stats``, declared with the
    agent interface: :data:`.agent.ADAPT_STATS`), finite numbers only; empty if it reports
    nothing."""
    raw = getattr(policy, "adapt_stats", None)
    if not isinstance(raw, Mapping):
        return {}
    out = {}
    for key, value in raw.items():
        if isinstance(key, str) and isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value):
                out[key] = value
    return out


def _ticker(send: Send) -> Callable[[int], None]:
    last = [time.monotonic(), 0]

    def on_step(finished: int) -> None:
        last[1] += finished
        now = time.monotonic()
        if last[1] or now - last[0] > TICK_S:
            send(("tick", last[1]))
            last[0], last[1] = now, 0

    return on_step


def config_digest(agent: Any) -> str | None:
    """A short digest of the config the agent adapts with (``agent.config.to_json()``; None for
    an agent without one). Recorded with every job, so that a result file whose jobs ran under
    two configs (a default changed between a run and its ``--resume``) is refused, not mixed."""
    to_json = getattr(getattr(agent, "config", None), "to_json", None)
    if not callable(to_json):
        return None
    return "sha256:" + hashlib.sha256(canonical_json(to_json())).hexdigest()[:16]


def evaluate_job(agent: Any, spec: JobSpec, send: Send | None = None) -> dict[str, Any]:
    """Adapt ``agent`` (freshly loaded: adaptation may change it) on the job's demonstrations
    and run its episodes; returns the job's payload (times, adaptation stats, returns, lengths,
    the demonstration windows used). Raises on an agent error or a cap exceeded."""
    send = send or (lambda message: None)
    config = spec.config
    demos, windows = job_demos(spec)
    seed_everything(spec.job_seed)
    send(("phase", "adapt"))
    start = time.perf_counter()
    if getattr(type(agent), "privileged", False):
        policy = agent.adapt(demos, task=spec.task)
    else:
        policy = agent.adapt(demos)
    adapt_time = time.perf_counter() - start
    if adapt_time > config.adapt_cap_s:
        raise TimeoutError(f"adapt took {adapt_time:.1f} s, over the {config.adapt_cap_s:g} s cap")
    reported = adapt_stats(policy)  # before acting: acting must not count as adaptation
    envs = evaluation.make_envs(spec.task, config.episodes, config.max_steps)
    send(("phase", "eval"))
    start = time.perf_counter()
    try:
        returns, lengths = evaluation.run_episodes(
            policy, envs, config.reset_seeds(), act_cap_s=config.act_cap_s, on_step=_ticker(send)
        )
    finally:
        for env in envs:
            env.close()
    return {
        "agent_config": config_digest(agent),
        "adapt_time_s": adapt_time,
        "adapt_stats": reported,
        "eval_time_s": time.perf_counter() - start,
        "returns": returns,
        "lengths": lengths,
        "demos": [w.to_json() for w in windows],
    }
