"""The evaluation run: every (agent, seed) meta-trained once, then every (task, K) adapted and
evaluated, as jobs on an executor (local worker processes or a Ray cluster), with results
written as each job finishes.

The runner never runs agent code itself: the executor's worker processes do (:mod:`._worker`
holds the jobs), under the protocol's caps, and a worker that hangs past a cap is killed and
replaced. Each (agent, seed) has one result file, written only here, atomically after every job;
``resume=True`` runs only the jobs a file lacks. Every job is seeded from (agent seed, task, K),
so a resumed run, or one on another executor, gives the numbers of an uninterrupted one.
"""

from __future__ import annotations

import datetime
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field, replace
from itertools import product
from pathlib import Path
from typing import Any

from metail_envs.data import data_hash, load_references
from metail_envs.executors import (
    RETRIES,
    SHARE,
    Executor,
    Job,
    check_memory_gb,
    check_workers,
    make_executor,
)
from metail_envs.fileio import atomic_write
from metail_envs.tasks import Suite, load_suite

from . import checkpoints
from .agent import AgentSpec
from .jobs import (
    LOAD_CAP_S,
    JobKey,
    JobSpec,
    MetaTrainJob,
    ReferencesJob,
    evaluation_job,
    executor_job,
    job_windows,
)
from .preflight import probe_agents
from .protocol import MIN_SEEDS, ProtocolConfig
from .results import canonical_json, job_key, new_result, read_result, validate_result, write_result
from .stats import normalised_score

AgentLike = str | AgentSpec


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclass
class _Run:
    """One (agent, seed): its result document and the evaluation jobs it still lacks."""

    spec: AgentSpec
    seed: int
    path: Path
    checkpoint: Path
    doc: dict[str, Any]
    todo: list[JobKey]
    trained_with: dict[str, Any]
    """What its checkpoint is meta-trained with (:func:`_trained_with`)."""
    wall_base: float = 0.0
    session_start: float = field(default_factory=time.monotonic)
    task_only: bool = False
    """Its agent declares ``task_only`` (:class:`.agent.Agent`): one evaluation per task."""


@dataclass
class _Shared:
    """The one evaluation of a task by a ``task_only`` agent, and the entries that take it."""

    waiters: list[tuple[_Run, JobKey]] = field(default_factory=list)
    payload: dict[str, Any] | None = None
    ticked: bool = False
    """Whether the job's own progress ticks already counted one entry's episodes."""


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


def _split_ids(suite: Suite, split: str) -> list[str]:
    return [suite.nominal.id] if split == "nominal" else [t.id for t in suite.split(split)]


def resolve_tasks(suite: Suite, config: ProtocolConfig) -> tuple[dict[str, list[str]], list[str]]:
    """The evaluation task ids per split and the training task ids the config selects.

    Training tasks that are evaluated (held out, for tuning) are never given to meta-training.
    """
    by_split = {s: _split_ids(suite, s) for s in config.splits}
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
    held_out = set(by_split.get("train", []))
    return by_split, [t for t in train if t not in held_out]


def _references(suite: Suite, data_dir: str | None, ids: list[str]) -> dict[str, dict]:
    refs = load_references(suite, data_dir=data_dir)
    missing = [t for t in ids if t not in refs]
    if missing:
        raise ValueError(f"the expert data has no normalisation references for {missing}")
    return {t: {k: refs[t][k] for k in ("expert_mean", "random_mean", "horizon")} for t in ids}


def _at_horizon(
    refs: dict[str, dict],
    config: ProtocolConfig,
    data_dir: str | None,
    tasks: dict[str, list[str]],
    pool: Executor,
) -> dict[str, dict]:
    """The references at the run's own episode step limit: the shipped ones where they were
    measured at it, else measured here on every evaluated task (the expert's and the random
    reference's episodes, :func:`._worker.references`), so that a shorter smoke run's expert
    still scores about 100 and random about 0. Each is checked: expert above random."""
    stale = {t for t, ref in refs.items() if ref["horizon"] not in (None, config.max_steps)}
    out = {t: {**refs[t]} for t in refs if t not in stale}
    if stale:
        for split, ids in tasks.items():
            for t in (t for t in ids if t in stale):
                job = ReferencesJob(config=config, split=split, task=t, data_dir=data_dir)
                pool.submit(executor_job(job, t, config))
        for job, payload in pool.as_completed(lambda kind, value: None):
            if not payload["ok"]:
                raise RuntimeError(f"measuring the references of {job.tag!r}: {payload['error']}")
            out[job.tag] = {k: payload[k] for k in ("expert_mean", "random_mean", "horizon")}
    for t, ref in out.items():
        if not ref["expert_mean"] > ref["random_mean"]:
            raise ValueError(
                f"reference of {t!r} at max_steps={ref['horizon']}: the expert's mean return "
                f"{ref['expert_mean']:.3g} must exceed the random reference's "
                f"{ref['random_mean']:.3g}; a horizon this short cannot be normalised (use a "
                "longer max_steps)"
            )
    return out


class Evaluation:
    """One call of :func:`evaluate`: the runs, their result files, and their jobs on an executor."""

    def __init__(self, runs: list[_Run], ctx: _Context, write_results: bool = True) -> None:
        self.runs, self.config, self.suite = runs, ctx.config, ctx.suite
        self.data_dir, self.train_tasks = ctx.data_dir, ctx.train_tasks
        self.write_results = write_results
        self.shared: dict[tuple[bytes, str, str], _Shared] = {}
        self.pools: dict[str, Any] = {}
        """Demonstration pools of the tasks, read once to draw shared entries' windows."""

    def meta_train_job(self, run: _Run) -> Job:
        """The job that meta-trains ``run``'s agent into its checkpoint."""
        job = MetaTrainJob(
            agent=run.spec,
            seed=run.seed,
            checkpoint=str(run.checkpoint.absolute()),  # a Ray worker's cwd is not ours
            train_tasks=self.train_tasks,
            data_dir=self.data_dir,
        )
        cap = self.config.meta_train_cap_s + LOAD_CAP_S
        return executor_job(job, ("meta_train", run, None), self.config, cap)

    def eval_job(self, run: _Run, key: JobKey, tag: Any) -> Job:
        """The job that evaluates ``run``'s checkpoint on ``key``."""
        return evaluation_job(
            run.spec, run.seed, run.checkpoint, self.config, key, self.data_dir, tag
        )

    def queue_evals(self, run: _Run) -> None:
        """Submit the run's missing evaluation jobs; a ``task_only`` agent's entries of one task
        (every seed, track and K) wait on one shared job instead."""
        for key in list(run.todo):
            split, task, _, _ = key
            if not run.task_only:
                self.executor.submit(self.eval_job(run, key, ("eval", run, key)))
                continue
            group = (canonical_json(run.spec.to_json() | {"name": None}), split, task)
            shared = self.shared.get(group)
            if shared is None:
                shared = self.shared[group] = _Shared()
                self.executor.submit(self.eval_job(run, key, ("shared", group, None)))
            shared.waiters.append((run, key))
            if shared.payload is not None:
                self._deliver(shared)

    def _deliver(self, shared: _Shared) -> None:
        """Record a shared evaluation in every entry waiting for it (one entry each, with its
        own job seed); the episodes were ticked once, so later entries count theirs here."""
        assert shared.payload is not None
        runs = {}
        for run, key in shared.waiters:
            if shared.ticked and shared.payload["ok"]:
                self.eps_bar.update(self.config.episodes)
            shared.ticked = True
            self.jobs_bar.update(1)
            self._record(run, key, self._own_windows(run, key, shared.payload))
            run.todo.remove(key)
            runs[id(run)] = run
        shared.waiters = []
        for run in runs.values():
            self.write(run)

    def write(self, run: _Run) -> None:
        if not self.write_results:
            return
        doc = run.doc
        doc["complete"] = doc["meta_train"]["status"] != "pending" and not run.todo
        doc["timing"]["updated"] = _now()
        doc["timing"]["wall_s"] = run.wall_base + time.monotonic() - run.session_start
        write_result(run.path, doc)

    def finish(self, job: Job, payload: dict[str, Any]) -> None:
        kind, run, key = job.tag
        if kind == "shared":
            shared = self.shared[run]  # the tag's second item is the shared job's group
            shared.payload = payload
            self._deliver(shared)
            return
        self.jobs_bar.update(1)
        if kind == "meta_train":
            run.doc["meta_train"] = {
                "status": "ok" if payload["ok"] else "failed",
                "error": None if payload["ok"] else payload["error"],
                "time_s": payload.get("time_s"),
            }
            if payload["ok"]:
                checkpoints.write_record(run.checkpoint, run.trained_with, payload.get("time_s"))
                self.queue_evals(run)
            else:
                error = f"meta-training failed: {payload['error']}"
                for k in run.todo:
                    self._record(run, k, {"ok": False, "error": error})
                    self.jobs_bar.update(1)
                run.todo = []
            self.write(run)
            return
        self._record(run, key, payload)
        run.todo.remove(key)
        self.write(run)

    def _own_windows(self, run: _Run, key: JobKey, payload: dict[str, Any]) -> dict[str, Any]:
        """A shared payload as this entry's: the demonstration windows its own job would have
        been given (drawn as the worker draws them; the task_only agent ignores them)."""
        if not payload["ok"]:
            return payload
        split, task, track, k = key
        spec = JobSpec(self.suite.task(task), split, track, k, run.seed, self.config)
        if task not in self.pools and k > 0:
            from metail_envs.data import load_demos

            self.pools[task] = load_demos(spec.task, data_dir=self.data_dir)
        try:
            windows = job_windows(spec, self.pools.get(task, []))
        except ValueError as e:  # as the entry's own job would have failed (K > the pool)
            return {"ok": False, "error": f"ValueError: {e}"}
        return {**payload, "demos": [w.to_json() for w in windows]}

    def _record(self, run: _Run, key: JobKey, payload: dict[str, Any]) -> None:
        split, task, track, k = key
        spec = JobSpec(self.suite.task(task), split, track, k, run.seed, self.config)
        entry: dict[str, Any] = {
            "split": split,
            "task": task,
            "track": track,
            "k": k,
            "job_seed": spec.job_seed,
            "status": "ok" if payload["ok"] else "failed",
            "error": None if payload["ok"] else payload["error"],
            "demos": payload.get("demos"),
            "agent_config": payload.get("agent_config"),
            "adapt_time_s": payload.get("adapt_time_s"),
            "adapt_stats": payload.get("adapt_stats"),
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
            self.eps_bar.update(self.config.episodes)
        run.doc["jobs"].append(entry)

    def _on_event(self, kind: str, value: Any) -> None:
        if kind == "tick":
            self.eps_bar.update(value)

    def execute(self, executor: Executor, progress: bool) -> None:
        """Probe every agent, then run every pending job on ``executor``, writing as they end."""
        from tqdm.auto import tqdm

        self.executor = executor
        self.jobs_bar = tqdm(total=0, desc="jobs", unit="job", disable=not progress, position=0)
        self.eps_bar = tqdm(total=0, desc="episodes", unit="ep", disable=not progress, position=1)
        try:
            probes = probe_agents(executor, [r.spec for r in self.runs])
            for run in self.runs:
                run.doc["agent"]["privileged"] = probes[run.spec.spec]["privileged"]
                run.doc["agent"]["target"] = probes[run.spec.spec]["target"]
                run.task_only = probes[run.spec.spec].get("task_only", False)
                if run.doc["meta_train"]["status"] == "pending":
                    executor.submit(self.meta_train_job(run))
                    self.jobs_bar.total += 1
                else:
                    self.queue_evals(run)
                self.jobs_bar.total += len(run.todo)
                self.eps_bar.total += len(run.todo) * self.config.episodes
                if run.doc["meta_train"]["status"] == "pending" or run.todo:
                    self.write(run)  # a complete file stays as it is, timing included
            self.jobs_bar.refresh()
            self.eps_bar.refresh()
            for job, payload in executor.as_completed(self._on_event):
                self.finish(job, payload)
        finally:
            self.jobs_bar.close()
            self.eps_bar.close()


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
    executor: str | Executor = "local",
    ray_address: str | None = None,
    retries: int = RETRIES,
    trust_checkpoints: bool = False,
    max_memory_gb: float | None = None,
    meta_train_only: bool = False,
) -> list[Path]:
    """Evaluate agents under the protocol and return their result files (one per agent, seed).

    ``agents``: ``'pkg.module:Class'``, a short name (``random``, ``expert``, a ``metail.agents``
    entry point) or :class:`AgentSpec` (with constructor kwargs), or a list of them. ``seeds``: a
    count (seeds 0..N-1) or explicit seeds. ``resume``: finish the result files already in ``out``
    instead of refusing to touch them. ``executor``: ``"local"`` (worker processes here),
    ``"ray"`` (a Ray cluster at ``ray_address``, or one started here) or an
    :class:`~metail_envs.executors.Executor` (left open); ``workers``: parallel workers (default:
    all cores, or all CPUs of the cluster); ``retries``: times a job whose worker died is rerun.

    A checkpoint already in ``out/checkpoints`` is loaded only if this machine's metail recorded
    it (:mod:`.checkpoints`) or ``trust_checkpoints`` says its directory is trusted: loading a
    checkpoint runs its agent's code. ``max_memory_gb``: the memory cap of each worker process
    of an executor made here (default: a share of this machine's memory per worker; ``inf``: no
    cap); a job that needs more fails alone.

    ``meta_train_only``: meta-train the missing checkpoints and stop (no result file read or
    written; returns the checkpoints); a later call reuses them while the training data is the same.
    """
    config = config or ProtocolConfig()
    specs = _normalise_agents(agents)
    seed_list = _normalise_seeds(seeds)
    _check_executor_args(executor, workers, ray_address, max_memory_gb)
    if not config.quick:  # a quick estimate has its own, fewer seeds
        _warn_few_seeds(len(seed_list))
    data_dir = str(Path(data_dir).resolve()) if data_dir is not None else None
    ctx = _Context.read(config, data_dir, meta_train_only)
    with ExitStack() as stack:
        pool = _open_executor(stack, executor, workers, ray_address, retries, max_memory_gb)
        ctx = replace(ctx, refs=_at_horizon(ctx.refs, config, data_dir, ctx.tasks, pool))
        pairs = product(specs, seed_list)
        runs = [
            _prepare_run(ctx, Path(out), s, seed, resume, trust_checkpoints) for s, seed in pairs
        ]
        Evaluation(runs, ctx, write_results=not meta_train_only).execute(pool, progress)
    return _checkpoints_trained(runs) if meta_train_only else [r.path for r in runs]


def _open_executor(
    stack: ExitStack,
    executor: str | Executor,
    workers: int | None,
    ray_address: str | None,
    retries: int,
    max_memory_gb: float | None,
) -> Executor:
    """The executor given (left open), or one made here by name and closed with ``stack``."""
    if isinstance(executor, Executor):
        return executor
    memory = SHARE if max_memory_gb is None else max_memory_gb
    pool = make_executor(executor, workers, ray_address, retries, memory)
    stack.enter_context(closing(pool))
    return pool


def _checkpoints_trained(runs: list[_Run]) -> list[Path]:
    """The checkpoints of a meta-training-only call; RuntimeError naming each that failed."""
    failed = [r for r in runs if r.doc["meta_train"]["status"] != "ok"]
    if failed:
        raise RuntimeError(
            "meta-training failed: "
            + "; ".join(
                f"{r.spec.name} seed {r.seed}: {r.doc['meta_train']['error']}" for r in failed
            )
        )
    return [r.checkpoint for r in runs]


def _warn_few_seeds(n: int) -> None:
    if n < MIN_SEEDS:
        warnings.warn(
            f"{n} seeds is below the protocol's minimum of {MIN_SEEDS}; "
            "the leaderboard will flag these entries",
            stacklevel=3,  # evaluate()'s caller
        )


def _check_executor_args(
    executor: str | Executor,
    workers: int | None,
    ray_address: str | None,
    max_memory_gb: float | None,
) -> None:
    check_workers(workers)
    if isinstance(executor, Executor) and (workers, ray_address, max_memory_gb) != (None,) * 3:
        raise ValueError(
            "workers, ray_address and max_memory_gb configure a new executor, not a given one"
        )
    check_memory_gb(max_memory_gb)


@dataclass(frozen=True)
class _Context:
    """What every run of one :func:`evaluate` call shares: protocol, suite, tasks, data."""

    config: ProtocolConfig
    suite: Suite
    tasks: dict[str, list[str]]
    refs: dict[str, dict]
    data_hash: str
    training_data_hash: str
    """The hash of the training tasks' data only: what meta-training reads."""
    meta_train_only: bool = False
    data_dir: str | None = None
    """The expert data directory, absolute (None: the default one)."""
    train_tasks: tuple[str, ...] = ()
    """The tasks whose demonstrations meta-training gets."""

    @classmethod
    def read(cls, config: ProtocolConfig, data_dir: str | None, meta_train_only: bool) -> _Context:
        """The run's suite and tasks, and what it reads of the data: the shipped references of
        the evaluated tasks and the data's hashes."""
        suite = load_suite(config.suite)
        tasks, train_tasks = resolve_tasks(suite, config)
        refs = _references(suite, data_dir, [t for ids in tasks.values() for t in ids])
        hashes = data_hash(suite, data_dir=data_dir), data_hash(suite, data_dir, train_tasks)
        return cls(
            config, suite, tasks, refs, *hashes, meta_train_only, data_dir, tuple(train_tasks)
        )

    @property
    def keys(self) -> list[JobKey]:
        """Every evaluation job of a run, in order."""
        conditions = self.config.conditions()
        return [(s, t, tr, k) for s, ids in self.tasks.items() for t in ids for tr, k in conditions]


def _prepare_run(
    ctx: _Context, out: Path, spec: AgentSpec, seed: int, resume: bool, trust: bool
) -> _Run:
    """One (agent, seed)'s run: its result file resumed (``resume``) or begun, and the jobs it
    still lacks; meta-training is marked pending when its checkpoint is gone."""
    path = result_path(out, spec, seed)
    checkpoint = out / "checkpoints" / spec.slug / f"seed_{seed:03d}"
    trained_with = _trained_with(spec, seed, ctx.training_data_hash)
    resumed = path.exists() and not ctx.meta_train_only
    if resumed:
        if not resume:
            raise FileExistsError(
                f"{path} exists; pass resume=True (--resume) to finish it, or another out"
            )
        doc = _resumable(path, spec, seed, ctx.config, ctx.suite.sha256, ctx.data_hash, ctx.refs)
    else:
        suite_info = {"name": ctx.suite.name, "sha256": ctx.suite.sha256}  # versioned by name
        doc = new_result(
            agent=spec.to_json(), seed=seed, config=ctx.config, suite=suite_info,
            data_hash=ctx.data_hash, tasks=ctx.tasks, references=ctx.refs, started=_now(),
        )  # fmt: skip
        if not checkpoint.exists():
            _borrow_checkpoint(out, checkpoint, trained_with, trust)
        _reuse_checkpoint(doc, checkpoint, trained_with, trust)
    done = {job_key(j) for j in doc["jobs"]}
    todo = [] if ctx.meta_train_only else [key for key in ctx.keys if key not in done]
    if doc["meta_train"]["status"] == "ok" and todo and not checkpoint.exists():
        doc["meta_train"] = {"status": "pending", "error": None, "time_s": None}
    elif resumed and doc["meta_train"]["status"] == "ok" and todo:
        verdict = checkpoints.check(checkpoint, trained_with, trust)
        if not verdict.usable:
            raise ValueError(f"cannot resume {path}: {verdict.reason}; {checkpoints.TRUST_HINT}")
    return _Run(spec, seed, path, checkpoint, doc, todo, trained_with, doc["timing"]["wall_s"])


def _reuse_checkpoint(
    doc: dict[str, Any], checkpoint: Path, trained_with: Mapping[str, Any], trust: bool = False
) -> None:
    """Mark meta-training done when ``checkpoint`` was meta-trained by an earlier run with this
    agent, seed and data (its time is kept): shipped checkpoints are re-scored, never retrained.

    Only a checkpoint recorded by this machine's metail, with its files unchanged, or one the
    user trusts (``trust``) is reused; a matching one that is neither is refused (ValueError)
    rather than loaded or overwritten. One of another agent, seed or data is meta-trained again.
    """
    if not checkpoint.exists():
        return
    verdict = checkpoints.check(checkpoint, trained_with, trust)
    if not verdict.matches:
        return
    if not verdict.usable:
        raise ValueError(f"{verdict.reason}; {checkpoints.TRUST_HINT}")
    doc["meta_train"] = {"status": "ok", "error": None, "time_s": verdict.time_s}


def _borrow_checkpoint(
    out: Path, checkpoint: Path, trained_with: Mapping[str, Any], trust: bool
) -> None:
    """Copy into ``checkpoint`` another entry's checkpoint under ``out`` that was meta-trained
    exactly as this run needs (same agent, constructor kwargs, seed and training data; only the
    name or the adaptation kwargs differ), if one may be loaded: one meta-training serves every
    test-time mode. The copy is recorded as this machine's, with the original's time."""
    for other in sorted((out / "checkpoints").glob(f"*/{checkpoint.name}")):
        verdict = checkpoints.check(other, trained_with, trust)
        if other != checkpoint and verdict.usable:
            atomic_write(checkpoint, lambda tmp, src=other: shutil.copytree(src, tmp))
            checkpoints.write_record(checkpoint, trained_with, verdict.time_s)
            return


def _trained_with(spec: AgentSpec, seed: int, training_data_hash: str) -> dict[str, Any]:
    """What a checkpoint must have been meta-trained with to be reused: the agent and its
    kwargs, the seed, and the training tasks' data (the scored tasks' data is not read)."""
    agent = {"spec": spec.spec, "kwargs": dict(spec.kwargs)}
    return {"agent": agent, "seed": seed, "training_data_hash": training_data_hash}


def _resumable(
    path: Path,
    spec: AgentSpec,
    seed: int,
    config: ProtocolConfig,
    suite_sha256: str,
    dhash: str,
    refs: Mapping[str, Mapping[str, float]],
) -> dict[str, Any]:
    doc = read_result(path)
    problems = validate_result(
        doc, suite_sha256=suite_sha256, data_hash=dhash, references=refs, require_complete=False
    )
    if not problems and doc["config"] != config.to_json():
        problems.append(f"it was run with config {doc['config']}, not {config.to_json()}")
    agent = doc.get("agent", {})
    recorded = (agent.get("spec"), agent.get("kwargs"), agent.get("adapt_kwargs", {}))
    if not problems and (*recorded, doc.get("seed")) != (
        spec.spec,
        dict(spec.kwargs),
        dict(spec.adapt_kwargs),
        seed,
    ):
        problems.append(
            f"it holds agent {agent.get('spec')!r} (kwargs {agent.get('kwargs')!r}, adapt_kwargs "
            f"{agent.get('adapt_kwargs', {})!r}) seed {doc.get('seed')!r}"
        )
    if problems:
        raise ValueError(f"cannot resume {path}: " + "; ".join(problems))
    return doc
