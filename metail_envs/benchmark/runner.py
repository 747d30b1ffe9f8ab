"""The evaluation run: every (agent, seed) meta-trained once, then every (task, K) adapted and
evaluated, in parallel worker processes, with results written as each job finishes.

The runner never runs agent code itself: :mod:`._worker` processes do, under the protocol's
caps, and a worker that hangs past a cap is killed and replaced. Each (agent, seed) has one
result file, rewritten atomically after every job; ``resume=True`` runs only the jobs a file
lacks. Every job is seeded from (agent seed, task, K), so a resumed run gives the numbers of an
uninterrupted one.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import socket
import subprocess
import sys
import time
import warnings
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from . import results as R
from .agent import AgentResolutionError, AgentSpec
from .protocol import MIN_SEEDS, ProtocolConfig, job_seed
from .stats import normalised_score

GRACE_S = 2.0
"""Slack over a cap before a worker is killed (the worker itself enforces the exact cap)."""
PROBE_CAP_S = 120.0
"""Time allowed to import an agent class."""
LOAD_CAP_S = 120.0
"""Time allowed to start a job: imports, loading the saved agent and the demonstrations. It is
not an agent's budget (the protocol's caps are), only a guard against hangs."""

AgentLike = str | AgentSpec


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


_BOOT = (
    "import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
    "from metail_envs.benchmark._worker import main; main(int(sys.argv[2]))"
)


@dataclass
class _Run:
    """One (agent, seed): its result document and the evaluation jobs it still lacks."""

    spec: AgentSpec
    seed: int
    path: Path
    checkpoint: Path
    doc: dict[str, Any]
    todo: list[tuple[str, str, int]]
    wall_base: float = 0.0
    session_start: float = field(default_factory=time.monotonic)


@dataclass
class _Job:
    kind: str
    run: _Run | None
    message: dict[str, Any]
    key: tuple[str, str, int] | None = None


class _Worker:
    """One worker process (a fresh interpreter), its socket, and the job and deadline it is on.

    Workers are started with ``subprocess`` rather than ``multiprocessing`` so that the caller's
    ``__main__`` is never re-imported (scripts need no ``if __name__ == "__main__"`` guard).
    """

    def __init__(self) -> None:
        mine, theirs = socket.socketpair()
        paths = json.dumps([p for p in sys.path if p])
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, paths, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self.conn = Connection(mine.detach())
        self.job: _Job | None = None
        self.phase = "start"
        self.cap = math.inf
        self.deadline = math.inf

    def start(self, job: _Job, cap: float) -> None:
        self.job, self.phase = job, "start"
        self.set_cap(cap)
        self.conn.send(job.message)

    def set_cap(self, cap: float) -> None:
        self.cap, self.deadline = cap, time.monotonic() + cap + GRACE_S

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, kill: bool = False) -> None:
        if not kill:
            try:
                self.conn.send(None)
            except OSError:
                kill = True
        if kill:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.conn.close()


def _normalise_agents(agents: AgentLike | Sequence[AgentLike]) -> list[AgentSpec]:
    items = [agents] if isinstance(agents, str | AgentSpec) else list(agents)
    if not items:
        raise ValueError("agents must name at least one agent")
    specs = [a if isinstance(a, AgentSpec) else AgentSpec(a) for a in items]
    slugs = [s.slug for s in specs]
    if len(set(slugs)) != len(slugs):
        raise ValueError(f"agent names must be distinct, got {[s.name for s in specs]}")
    return specs


def _normalise_seeds(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(
                f"seeds={seeds!r} is invalid; accepted: a count >= 1 or a list of ints"
            )
        return list(range(seeds))
    out = list(seeds)
    if (
        not out
        or len(set(out)) != len(out)
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in out)
    ):
        raise ValueError(f"seeds={seeds!r} is invalid; accepted: distinct non-negative ints")
    return out


def resolve_tasks(suite: Any, config: ProtocolConfig) -> tuple[dict[str, list[str]], list[str]]:
    """The evaluation task ids per split and the training task ids the config selects."""
    by_split = {s: [t.id for t in suite.split(s)] for s in config.splits}
    if config.tasks is not None:
        known = {t for ids in by_split.values() for t in ids}
        unknown = [t for t in config.tasks if t not in known]
        if unknown:
            raise ValueError(
                f"tasks {unknown} are not in splits {list(config.splits)}; accepted ids look like "
                f"{sorted(known)[:3]} (all: metail_envs.load_suite({suite.name!r}).split(name))"
            )
        by_split = {s: [t for t in ids if t in config.tasks] for s, ids in by_split.items()}
        empty = [s for s, ids in by_split.items() if not ids]
        if empty:
            raise ValueError(
                f"splits {empty} have none of tasks={list(config.tasks)}; give tasks of every "
                "split in splits, or leave those splits out"
            )
    train = [t.id for t in suite.train]
    if config.train_tasks is not None:
        unknown = [t for t in config.train_tasks if t not in train]
        if unknown:
            raise ValueError(f"train_tasks {unknown} are not training tasks of {suite.name!r}")
        train = list(config.train_tasks)
    return by_split, train


def _references(api: Any, suite: Any, data_dir: Any, ids: list[str]) -> dict[str, dict]:
    refs = api.load_references(suite, data_dir=data_dir)
    missing = [t for t in ids if t not in refs]
    if missing:
        raise ValueError(f"the expert data has no normalisation references for {missing}")
    out = {}
    for t in ids:
        ref = {k: float(refs[t][k]) for k in ("expert_mean", "random_mean")}
        if not ref["expert_mean"] > ref["random_mean"]:
            raise ValueError(f"reference of {t!r}: expert mean must exceed random mean, got {ref}")
        out[t] = ref
    return out


class _Scheduler:
    """Runs jobs on a pool of workers, enforcing caps and recording every outcome."""

    def __init__(self, n_workers: int, config: ProtocolConfig, progress: bool) -> None:
        from tqdm.auto import tqdm

        self.n_workers = n_workers
        self.config = config
        self.idle: list[_Worker] = []
        self.busy: list[_Worker] = []
        self.queue: deque[_Job] = deque()
        self.jobs_bar = tqdm(total=0, desc="jobs", unit="job", disable=not progress, position=0)
        self.eps_bar = tqdm(total=0, desc="episodes", unit="ep", disable=not progress, position=1)

    def _worker(self) -> _Worker:
        return self.idle.pop() if self.idle else _Worker()

    def probe(self, spec: str) -> dict[str, Any]:
        """Import an agent class in a worker; raises AgentResolutionError if it cannot."""
        worker = self._worker()
        worker.start(_Job("probe", None, {"kind": "probe", "spec": spec}), PROBE_CAP_S)
        payload = self._wait_single(worker, PROBE_CAP_S)
        if payload is None:
            raise AgentResolutionError(f"agent {spec!r}: importing it did not finish in time")
        if not payload["ok"]:
            raise AgentResolutionError(payload["error"])
        return payload

    def _wait_single(self, worker: _Worker, cap: float) -> dict[str, Any] | None:
        if worker.conn.poll(cap):
            try:
                kind, payload = worker.conn.recv()
            except (EOFError, OSError):
                worker.stop(kill=True)
                return None
            worker.job = None
            self.idle.append(worker)
            return payload
        worker.stop(kill=True)
        return None

    def _cap(self, phase: str) -> float:
        c = self.config
        caps = {"meta_train": c.meta_train_cap_s, "adapt": c.adapt_cap_s, "eval": c.act_cap_s}
        return caps.get(phase, LOAD_CAP_S)

    def run(self, runner: Evaluation) -> None:
        try:
            while self.queue or self.busy:
                while self.queue and len(self.busy) < self.n_workers:
                    job = self.queue.popleft()
                    worker = self._worker()
                    cap = self.config.meta_train_cap_s if job.kind == "meta_train" else 0.0
                    worker.start(job, cap + self._cap("start"))
                    self.busy.append(worker)
                wait([w.conn for w in self.busy], timeout=0.25)
                for worker in list(self.busy):
                    self._service(worker, runner)
        finally:
            for w in self.idle + self.busy:
                w.stop(kill=w in self.busy)
            self.idle, self.busy = [], []
            self.jobs_bar.close()
            self.eps_bar.close()

    def _service(self, worker: _Worker, runner: Evaluation) -> None:
        job = worker.job
        assert job is not None
        try:
            while worker.conn.poll():
                kind, value = worker.conn.recv()
                if kind == "phase":
                    worker.phase = value
                    worker.set_cap(self._cap(value))
                elif kind == "tick":
                    worker.set_cap(self._cap("eval"))
                    self.eps_bar.update(value)
                elif kind == "done":
                    self.busy.remove(worker)
                    worker.job = None
                    self.idle.append(worker)
                    runner.finish(job, value)
                    return
        except (EOFError, OSError):
            pass
        if not worker.alive() or worker.conn.closed:
            code = worker.proc.wait()
            error = f"worker process died (exit code {code}) during {worker.phase}"
        elif time.monotonic() > worker.deadline:
            what = {"eval": "an act call", "start": "loading the agent and demonstrations"}
            error = (
                f"timed out: {what.get(worker.phase, worker.phase)} ran past its "
                f"{worker.cap:g} s cap; "
                "the worker was killed"
            )
        else:
            return
        self.busy.remove(worker)
        worker.stop(kill=True)
        runner.finish(job, {"ok": False, "error": error})


class Evaluation:
    """One call of :func:`evaluate`: the runs, their result files, and the scheduler."""

    def __init__(self, runs: list[_Run], config: ProtocolConfig, common: dict[str, Any]) -> None:
        self.runs, self.config, self.common = runs, config, common

    def eval_job(self, run: _Run, key: tuple[str, str, int]) -> _Job:
        split, task, k = key
        message = {
            "kind": "eval",
            "agent": run.spec.to_json(),
            "seed": run.seed,
            "checkpoint": str(run.checkpoint),
            "task": task,
            "k": k,
            "job_seed": job_seed(run.seed, task, k),
            **self.common,
        }
        return _Job("eval", run, message, key)

    def queue_evals(self, run: _Run, sched: _Scheduler) -> None:
        sched.queue.extend(self.eval_job(run, key) for key in run.todo)

    def write(self, run: _Run) -> None:
        doc = run.doc
        doc["complete"] = doc["meta_train"]["status"] != "pending" and not run.todo
        doc["timing"]["updated"] = _now()
        doc["timing"]["wall_s"] = run.wall_base + time.monotonic() - run.session_start
        R.write_result(run.path, doc)

    def finish(self, job: _Job, payload: dict[str, Any]) -> None:
        run = job.run
        assert run is not None
        self.sched.jobs_bar.update(1)
        if job.kind == "meta_train":
            run.doc["meta_train"] = {
                "status": "ok" if payload["ok"] else "failed",
                "error": None if payload["ok"] else payload["error"],
                "time_s": payload.get("time_s"),
            }
            if payload["ok"]:
                record = {**_trained_with(run.doc), "time_s": payload.get("time_s")}
                R.write_json_atomic(run.checkpoint / R.META_TRAIN_RECORD, record)
                self.queue_evals(run, self.sched)
            else:
                error = f"meta-training failed: {payload['error']}"
                for key in run.todo:
                    self._record(run, key, {"ok": False, "error": error})
                    self.sched.jobs_bar.update(1)
                run.todo = []
            self.write(run)
            return
        assert job.key is not None
        self._record(run, job.key, payload)
        run.todo.remove(job.key)
        self.write(run)

    def _record(self, run: _Run, key: tuple[str, str, int], payload: dict[str, Any]) -> None:
        split, task, k = key
        entry: dict[str, Any] = {
            "split": split,
            "task": task,
            "k": k,
            "job_seed": job_seed(run.seed, task, k),
            "status": "ok" if payload["ok"] else "failed",
            "error": None if payload["ok"] else payload["error"],
            "adapt_time_s": payload.get("adapt_time_s"),
            "eval_time_s": payload.get("eval_time_s"),
            "returns": payload.get("returns"),
            "lengths": payload.get("lengths"),
            "mean_return": None,
            "score": None,
        }
        if payload["ok"]:
            ref = run.doc["references"][task]
            entry["mean_return"] = sum(entry["returns"]) / len(entry["returns"])
            entry["score"] = float(
                normalised_score(entry["mean_return"], ref["random_mean"], ref["expert_mean"])
            )
        else:
            self.sched.eps_bar.update(self.config.episodes)
        run.doc["jobs"].append(entry)

    def execute(self, n_workers: int, progress: bool) -> None:
        self.sched = sched = _Scheduler(n_workers, self.config, progress)
        try:
            probes = {}
            for spec in sorted({r.spec.spec for r in self.runs}):
                probes[spec] = sched.probe(spec)
            for run in self.runs:
                run.doc["agent"]["privileged"] = probes[run.spec.spec]["privileged"]
                run.doc["agent"]["target"] = probes[run.spec.spec]["target"]
                if run.doc["meta_train"]["status"] == "pending":
                    message = {
                        "kind": "meta_train",
                        "agent": run.spec.to_json(),
                        "seed": run.seed,
                        "checkpoint": str(run.checkpoint),
                        **self.common,
                    }
                    sched.queue.append(_Job("meta_train", run, message))
                    sched.jobs_bar.total += 1
                else:
                    self.queue_evals(run, sched)
                sched.jobs_bar.total += len(run.todo)
                sched.eps_bar.total += len(run.todo) * self.config.episodes
                self.write(run)
            sched.jobs_bar.refresh()
            sched.eps_bar.refresh()
        except BaseException:
            for w in sched.idle:
                w.stop()
            sched.jobs_bar.close()
            sched.eps_bar.close()
            raise
        sched.run(self)


def result_path(out: Path, spec: AgentSpec, seed: int) -> Path:
    """Where the result file of (agent, seed) lives under an output directory."""
    return Path(out) / "results" / spec.slug / f"seed_{seed:03d}.json"


def evaluate(
    agents: AgentLike | Sequence[AgentLike],
    *,
    out: str | Path,
    seeds: int | Sequence[int] = MIN_SEEDS,
    config: ProtocolConfig | None = None,
    workers: int | None = None,
    resume: bool = False,
    data_dir: str | Path | None = None,
    progress: bool = True,
) -> list[Path]:
    """Evaluate agents under the protocol and return their result files (one per agent, seed).

    ``agents``: ``'pkg.module:Class'``, a short name (``random``, ``expert``, a ``metail.agents``
    entry point) or :class:`AgentSpec` (with constructor kwargs), or a list of them. ``seeds``: a
    count (seeds 0..N-1) or explicit seeds. ``workers``: parallel processes (default all cores).
    ``resume``: finish the result files already in ``out`` instead of refusing to touch them.
    """
    import metail_envs

    config = config or ProtocolConfig()
    specs = _normalise_agents(agents)
    seed_list = _normalise_seeds(seeds)
    n_workers = (os.cpu_count() or 1) if workers is None else workers
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"workers={workers!r} is invalid; accepted: an integer >= 1")
    if len(seed_list) < MIN_SEEDS:
        warnings.warn(
            f"{len(seed_list)} seeds is below the protocol's minimum of {MIN_SEEDS}; "
            "the leaderboard will flag these entries",
            stacklevel=2,
        )
    out = Path(out)
    suite = metail_envs.load_suite(config.suite)
    tasks, train_tasks = resolve_tasks(suite, config)
    eval_ids = [t for ids in tasks.values() for t in ids]
    from metail_envs import data as api

    data_dir = str(Path(data_dir).resolve()) if data_dir is not None else None
    refs = _references(api, suite, data_dir, eval_ids)
    dhash = api.data_hash(suite, data_dir=data_dir)
    suite_info = {
        "name": suite.name,  # versioned by name: hopper-v1
        "sha256": suite.sha256,
    }
    keys = [(s, t, k) for s, ids in tasks.items() for t in ids for k in config.k_values]

    runs = []
    for spec in specs:
        for seed in seed_list:
            path = result_path(out, spec, seed)
            checkpoint = out / "checkpoints" / spec.slug / f"seed_{seed:03d}"
            if path.exists():
                if not resume:
                    raise FileExistsError(
                        f"{path} exists; pass resume=True (--resume) to finish it, or another out"
                    )
                doc = _resumable(path, spec, seed, config, suite.sha256, dhash, refs)
            else:
                doc = R.new_result(
                    agent=spec.to_json(), seed=seed, config=config, suite=suite_info,
                    data_hash=dhash, tasks=tasks, references=refs, started=_now(),
                )  # fmt: skip
                _reuse_checkpoint(doc, checkpoint)
            done = {(j["split"], j["task"], j["k"]) for j in doc["jobs"]}
            todo = [key for key in keys if key not in done]
            if doc["meta_train"]["status"] == "ok" and todo and not checkpoint.exists():
                doc["meta_train"] = {"status": "pending", "error": None, "time_s": None}
            runs.append(_Run(spec, seed, path, checkpoint, doc, todo, doc["timing"]["wall_s"]))

    common = {
        "suite": suite.name,
        "data_dir": data_dir,
        "config": config.to_json(),
        "train_tasks": train_tasks,
    }
    Evaluation(runs, config, common).execute(n_workers, progress)
    return [r.path for r in runs]


def _reuse_checkpoint(doc: dict[str, Any], checkpoint: Path) -> None:
    """Mark meta-training done when ``checkpoint`` was meta-trained by an earlier run with this
    agent, seed and data (its time is kept): shipped checkpoints are re-scored, never retrained."""
    path = checkpoint / R.META_TRAIN_RECORD
    if not path.is_file():
        return
    record = json.loads(path.read_text())
    if {k: v for k, v in record.items() if k != "time_s"} == _trained_with(doc):
        doc["meta_train"] = {"status": "ok", "error": None, "time_s": record.get("time_s")}


def _trained_with(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What a checkpoint must have been meta-trained with to be reused for ``doc``."""
    agent = {"spec": doc["agent"]["spec"], "kwargs": doc["agent"]["kwargs"]}
    return {"agent": agent, "seed": doc["seed"], "data_hash": doc["protocol"]["data_hash"]}


def _resumable(
    path: Path,
    spec: AgentSpec,
    seed: int,
    config: ProtocolConfig,
    suite_sha256: str,
    dhash: str,
    refs: Mapping[str, Mapping[str, float]],
) -> dict[str, Any]:
    doc = R.read_result(path)
    problems = R.validate_result(
        doc, suite_sha256=suite_sha256, data_hash=dhash, references=refs, require_complete=False
    )
    if not problems and doc["config"] != config.to_json():
        problems.append(f"it was run with config {doc['config']}, not {config.to_json()}")
    agent = doc.get("agent", {})
    if not problems and (agent.get("spec"), agent.get("kwargs"), doc.get("seed")) != (
        spec.spec,
        dict(spec.kwargs),
        seed,
    ):
        problems.append(f"it holds agent {agent.get('spec')!r} seed {doc.get('seed')!r}")
    if problems:
        raise ValueError(f"cannot resume {path}: " + "; ".join(problems))
    return doc
