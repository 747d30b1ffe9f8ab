"""The one evaluation job: give a meta-trained agent a task's drawn demonstrations, adapt it, run
the adapted policy's episodes and score them.

``metail evaluate``'s workers, tuning (``baselines.validate``) and anything else that scores an
agent call :func:`evaluate_job`; nothing else draws demonstrations, adapts or runs evaluation
episodes, so a tuning score and a leaderboard score of the same (agent, checkpoint, task, track,
K, seed) are the same number.
"""

from __future__ import annotations

import hashlib
import math
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from metail_envs.tasks import Task

from . import evaluation
from .protocol import DemoWindow, ProtocolConfig, draw_demos, job_seed
from .results import canonical_json

TICK_S = 0.2
"""At most this long between two progress ticks while episodes are stepped."""

Send = Callable[[Any], None]


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
    def key(self) -> tuple[str, str, str, int]:
        """(split, task id, track, K): how a result file indexes the job."""
        return (self.split, self.task.id, self.track, self.k)


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
