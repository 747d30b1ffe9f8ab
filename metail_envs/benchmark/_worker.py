"""The worker process that runs untrusted agent code: meta-training, adaptation and evaluation.

A worker takes one job at a time from its pipe and answers with progress messages and a final
``("done", payload)``. Everything an agent does happens here, never in the runner, so an agent
that raises, hangs or crashes the interpreter costs one job: the runner records the error, kills
the worker if it must, and starts another.

Messages to the runner: ``("phase", name)`` when a capped phase starts, ``("tick", n_finished)``
during evaluation (at least every few tenths of a second while steps complete), ``("done", dict)``.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

import metail_envs
from metail_envs import data

from . import evaluation
from .agent import AgentResolutionError, resolve_agent
from .protocol import ProtocolConfig

TICK_S = 0.2
_ERROR_CHARS = 2000


def format_error(e: BaseException) -> str:
    """``Type: message`` and the innermost frames of the traceback, kept short."""
    head = f"{type(e).__name__}: {e}"
    frames = "".join(traceback.format_tb(e.__traceback__, limit=-3))
    text = f"{head}\n{frames}".strip()
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def _limit_threads() -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


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
    """Resolve an agent spec, reporting whether it is privileged."""
    cls = resolve_agent(job["spec"])
    return {
        "privileged": bool(getattr(cls, "privileged", False)),
        "target": f"{cls.__module__}:{cls.__qualname__}",
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


JOBS = {"probe": probe, "meta_train": meta_train, "eval": evaluate}


def _exit_with_parent() -> None:
    """Exit when the runner is gone (killed), so that no worker is left behind."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def main(fd: int) -> None:
    """Entry point of a worker started by the runner with one end of a socket pair."""
    _exit_with_parent()
    worker_main(Connection(fd))


def worker_main(conn: Connection) -> None:
    """Serve jobs until the pipe closes; every job ends with exactly one ``done`` message."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    _limit_threads()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            payload = {"ok": True, **JOBS[job["kind"]](job, conn.send)}
        except AgentResolutionError as e:
            payload = {"ok": False, "error": str(e), "resolution": True}
        except BaseException as e:  # third-party code may raise anything, SystemExit included
            payload = {"ok": False, "error": format_error(e)}
        conn.send(("done", payload))
