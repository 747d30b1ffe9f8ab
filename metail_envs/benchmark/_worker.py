"""The benchmark's jobs, run in an executor's worker process: probe an agent, meta-train it,
adapt and evaluate it. This is where untrusted agent code runs, never in the runner (see
:mod:`metail_envs.executors.worker` for how a raise, a hang or a crash costs one job only).

Each job is ``fn(job, send)``; it sends ``("phase", name)`` when a capped phase starts and
``("tick", n_finished)`` during evaluation (at least every few tenths of a second while steps
complete), and returns its payload.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import metail_envs
from metail_envs import data

from . import evaluation
from .agent import AgentResolutionError, resolve_agent
from .protocol import ProtocolConfig

TICK_S = 0.2


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def _use_data_dir(data_dir: str | None) -> None:
    if data_dir is not None:
        os.environ["METAIL_DATA_DIR"] = data_dir


def _strip(traj: Any) -> Any:
    """A demonstration without its infos, so no task parameter can leak through them."""
    from imitation.data.types import TrajectoryWithRew

    return TrajectoryWithRew(
        obs=traj.obs, acts=traj.acts, infos=None, terminal=traj.terminal, rews=traj.rews
    )


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
        "target": f"{cls.__module__}:{cls.__qualname__}",
        "init": constructor_params(cls),
    }


def meta_train(job: dict[str, Any], send: Any) -> dict[str, Any]:
    """Construct, meta-train and save one agent; returns the meta-training time."""
    _use_data_dir(job["data_dir"])
    cls = resolve_agent(job["agent"]["spec"])
    agent = cls(**job["agent"]["kwargs"])
    suite = metail_envs.load_suite(job["suite"])
    demos = {
        tid: list(data.load_demos(suite.task(tid), data_dir=job["data_dir"]))
        for tid in job["train_tasks"]
    }
    seed_everything(job["seed"])
    send(("phase", "meta_train"))
    start = time.perf_counter()
    agent.meta_train(demos, job["seed"])
    elapsed = time.perf_counter() - start
    target = Path(job["checkpoint"])
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    agent.save(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return {"time_s": elapsed}


def evaluate(job: dict[str, Any], send: Any) -> dict[str, Any]:
    """Load the meta-trained agent afresh, adapt it on K demonstrations, run the episodes."""
    _use_data_dir(job["data_dir"])
    config = ProtocolConfig.from_json(job["config"])
    suite = metail_envs.load_suite(job["suite"])
    task = suite.task(job["task"])
    k = job["k"]
    cls = resolve_agent(job["agent"]["spec"])
    agent = cls.load(Path(job["checkpoint"]))
    demos = [_strip(t) for t in data.load_demos(task, n=k, data_dir=job["data_dir"])] if k else []
    if len(demos) != k:
        raise RuntimeError(f"task {task.id!r} gave {len(demos)} demonstrations, K={k} needed")
    seed_everything(job["job_seed"])
    send(("phase", "adapt"))
    start = time.perf_counter()
    policy = (
        agent.adapt(demos, task=task) if getattr(cls, "privileged", False) else agent.adapt(demos)
    )
    adapt_time = time.perf_counter() - start
    if adapt_time > config.adapt_cap_s:
        raise TimeoutError(f"adapt took {adapt_time:.1f} s, over the {config.adapt_cap_s:g} s cap")
    envs = evaluation.make_envs(task, config.episodes, config.max_steps)
    send(("phase", "eval"))
    last = [time.monotonic(), 0]

    def on_step(finished: int) -> None:
        last[1] += finished
        now = time.monotonic()
        if last[1] or now - last[0] > TICK_S:
            send(("tick", last[1]))
            last[0], last[1] = now, 0

    start = time.perf_counter()
    try:
        returns, lengths = evaluation.run_episodes(
            policy, envs, config.reset_seeds(), act_cap_s=config.act_cap_s, on_step=on_step
        )
    finally:
        for env in envs:
            env.close()
    return {
        "adapt_time_s": adapt_time,
        "eval_time_s": time.perf_counter() - start,
        "returns": returns,
        "lengths": lengths,
    }
