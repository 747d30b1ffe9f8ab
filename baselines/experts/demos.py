"""Demonstrations from the experts, the normalisation references, and the manifest.

A demonstration is one episode of a task's expert with deterministic actions from a recorded reset
seed, with raw observations (float32), as an ``imitation.data.types.TrajectoryWithRew``. imitation
marks every trajectory ``terminal=True``; the truth is in ``infos[-1]``: ``task_id``, ``seed``,
``terminated`` (the Hopper fell) and ``truncated`` (the time limit, or an unstable simulation).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from baselines.experts.evaluate import Policy, evaluate_policy, random_reference, run_episode
from metail_envs import ENV_ID
from metail_envs.data import (
    CACHE_SEED,
    DEMO_SEED,
    EVAL_SEED,
    MANIFEST,
    cached_demos_path,
    default_data_dir,
    resolve_task,
    sha256_path,
    task_key,
)
from metail_envs.executors import Executor, Job, LocalExecutor
from metail_envs.tasks import DEFAULT_SUITE, Suite, Task, load_suite

N_DEMOS = 10
N_EVAL = 20
N_RANDOM = 100


def generate_demos(policy: Policy, task: Task, seeds: Iterable[int]) -> list:
    """One deterministic expert episode per reset seed, as TrajectoryWithRew (raw observations)."""
    from imitation.data.types import TrajectoryWithRew

    env = gym.make(ENV_ID, task=task)
    trajs = []
    try:
        for seed in seeds:
            ep = run_episode(policy, env, int(seed), record=True)
            infos: list[dict[str, Any]] = [{} for _ in range(ep.length)]
            infos[-1] = {
                "task_id": task.id,
                "seed": int(seed),
                "terminated": ep.terminated,
                "truncated": ep.truncated,
            }
            trajs.append(
                TrajectoryWithRew(
                    obs=np.asarray(ep.obs, dtype=np.float32),
                    acts=np.asarray(ep.acts, dtype=np.float32),
                    infos=np.array(infos, dtype=object),
                    terminal=True,
                    rews=np.asarray(ep.rews, dtype=np.float32),
                )
            )
    finally:
        env.close()
    return trajs


def save_demos(path: str | Path, trajs: Sequence) -> str:
    """Save with ``imitation.data.serialize.save`` (replacing ``path``); returns the sha256."""
    import shutil

    import datasets
    from imitation.data import serialize

    datasets.disable_progress_bars()
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    serialize.save(tmp, trajs)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return sha256_path(path)


def _summary(trajs: Sequence, seeds: Sequence[int]) -> dict[str, Any]:
    return {
        "n": len(trajs),
        "returns": [round(float(np.sum(t.rews)), 3) for t in trajs],
        "lengths": [len(t.acts) for t in trajs],
        "seeds": list(map(int, seeds)),
    }


def versions() -> dict[str, str]:
    """Versions of everything that shapes the data (written to the manifest)."""
    import imitation
    import mujoco
    import stable_baselines3
    import torch

    import metail_envs

    return {
        "metail": metail_envs.__version__,
        "mujoco": mujoco.__version__,
        "gymnasium": gym.__version__,
        "sb3": stable_baselines3.__version__,
        "imitation": imitation.__version__,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def build_task_data(
    task: Task,
    data_dir: Path,
    n_demos: int = N_DEMOS,
    n_eval: int = N_EVAL,
    n_random: int = N_RANDOM,
) -> dict[str, Any]:
    """References and fixed demonstrations of one task whose expert exists in ``data_dir``."""
    from stable_baselines3 import PPO

    key = task_key(task.id)
    expert_file = expert_path(data_dir, task.id)
    if not expert_file.exists():
        raise FileNotFoundError(f"{expert_file}: no expert for {task.id} yet")
    expert = PPO.load(expert_file, device="cpu")
    rets, lengths = evaluate_policy(expert, task, n_eval, seed=EVAL_SEED)
    seeds = list(range(DEMO_SEED, DEMO_SEED + n_demos))
    trajs = generate_demos(expert, task, seeds)
    demo_file = f"demos/{key}"
    (data_dir / "demos").mkdir(parents=True, exist_ok=True)
    digest = save_demos(data_dir / demo_file, trajs)
    return {
        "demos": {"file": demo_file, "sha256": digest, **_summary(trajs, seeds)},
        "expert": {
            "file": expert_file.relative_to(data_dir).as_posix(),
            "sha256": sha256_path(expert_file),
            "mean_return": float(rets.mean()),
            "std_return": float(rets.std()),
            "n_episodes": n_eval,
            "seed": EVAL_SEED,
            "mean_length": float(lengths.mean()),
        },
        "random": {
            **random_reference(task, n_random, EVAL_SEED),
            "n_episodes": n_random,
            "seed": EVAL_SEED,
        },
    }


def task_data(args: dict[str, Any], send: Any) -> dict[str, Any]:
    """Executor job: one task's references and demonstrations; returns its manifest entry (the
    process running the pipeline writes the manifest)."""
    task = load_suite(args["suite"]).task(args["task"])
    return {"entry": build_task_data(task, Path(args["data_dir"]))}


def expert_path(data_dir: Path, task_id: str) -> Path:
    """A task's expert in a data directory: ``experts/<task key>.zip``."""
    return Path(data_dir) / "experts" / f"{task_key(task_id)}.zip"


def training_dir(data_dir: Path, task_id: str) -> Path:
    """A task's training run (state, learning curve, checkpoints, retry attempts):
    ``training/<task key>/``."""
    return Path(data_dir) / "training" / task_key(task_id)


def data_job(task: Task, suite_name: str, data_dir: Path) -> Job:
    """The job of :func:`task_data` for ``task``, tagged ``("data", task)``."""
    args = {"suite": suite_name, "task": task.id, "data_dir": str(data_dir)}
    return Job("baselines.experts.demos:task_data", args, tag=("data", task))


class Manifest:
    """``manifest.json`` of a data directory, written by one process only (the one that runs
    the pipeline, however many workers compute the entries), each time through a temporary file
    and an atomic rename, so a reader or an interruption never sees half a file."""

    def __init__(self, suite: Suite, data_dir: Path, command: str = "") -> None:
        self.suite, self.data_dir, self.path = suite, data_dir, data_dir / MANIFEST
        self.doc = json.loads(self.path.read_text()) if self.path.exists() else {}
        if self.doc.get("suite_sha256") not in (None, suite.sha256):
            raise ValueError(
                f"{self.path} belongs to another version of {suite.name}; use a fresh data_dir"
            )
        self.doc.update(
            {
                "suite": suite.name,
                "suite_sha256": suite.sha256,
                "command": command or self.doc.get("command", ""),
                "versions": versions(),
            }
        )
        self.tasks: dict[str, Any] = self.doc.setdefault("tasks", {})
        self.failed: dict[str, str] = {}

    def needs_data(self, task: Task, force: bool = False) -> bool:
        """Whether ``task`` has an expert but no intact data for it (or ``force``)."""
        expert = expert_path(self.data_dir, task.id)
        if not expert.exists():
            return False
        old = self.tasks.get(task.id)
        return force or not old or not _intact(old, self.data_dir, sha256_path(expert))

    def record(self, task: Task, payload: dict[str, Any], log: Any) -> None:
        """Put a finished :func:`data_job`'s entry in the manifest and write it."""
        if not payload["ok"]:
            self.failed[task.id] = payload["error"]
            log(f"{task.id}: writing its data failed: {payload['error']}")
            return
        e = self.tasks[task.id] = payload["entry"]
        self.doc["tasks"] = self.tasks = dict(sorted(self.tasks.items()))
        self.write()
        log(
            f"{task.id}: expert {e['expert']['mean_return']:.0f}±{e['expert']['std_return']:.0f} "
            f"random {e['random']['mean_return']:.0f}, {e['demos']['n']} demos"
        )

    def write(self) -> None:
        write_manifest(self.path, self.doc)


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Replace ``path`` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    tmp.replace(path)


@contextmanager
def given_or_local(executor: Executor | None) -> Iterator[Executor]:
    """``executor`` as it is, or one local worker for the block (the tasks run in order)."""
    if executor is not None:
        yield executor
        return
    with LocalExecutor(1) as pool:
        yield pool


def build_data(
    suite_name: str = DEFAULT_SUITE,
    data_dir: str | Path | None = None,
    task_ids: Sequence[str] | None = None,
    command: str = "",
    force: bool = False,
    log: Any = print,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Write references and demonstrations of every task with an expert, and the manifest.

    A task whose manifest entry already matches its expert file's sha256 (and whose demos are
    intact) is skipped unless ``force``. Each task is a job on ``executor`` (default: one local
    worker); the manifest is rewritten here after each, so this too can be interrupted and rerun.
    """
    suite = load_suite(suite_name)
    data_dir = (Path(data_dir) if data_dir is not None else default_data_dir()).absolute()
    manifest = Manifest(suite, data_dir, command)
    wanted = set(task_ids) if task_ids else None
    todo = [
        t
        for t in suite.tasks
        if (wanted is None or t.id in wanted) and manifest.needs_data(t, force)
    ]
    if todo:
        with given_or_local(executor) as pool:
            for task in todo:
                pool.submit(data_job(task, suite.name, data_dir))
            for job, payload in pool.as_completed():
                manifest.record(job.tag[1], payload, log)
    manifest.write()
    if manifest.failed:
        raise RuntimeError(f"the data of {sorted(manifest.failed)} could not be written")
    return manifest.doc


def _intact(entry: dict[str, Any], data_dir: Path, expert_sha: str) -> bool:
    demos = data_dir / entry["demos"]["file"]
    return (
        entry["expert"]["sha256"] == expert_sha
        and demos.exists()
        and sha256_path(demos) == entry["demos"]["sha256"]
    )


def generate_cached(
    task: Task | str, n: int, start_seed: int = CACHE_SEED, data_dir: str | Path | None = None
) -> Path:
    """Generate ``n`` more demonstrations of a suite task into the user cache (same format as the
    shipped ones, seeds ``start_seed ..``), with their sha256 beside them; returns the path."""
    from metail_envs.data import load_expert, load_manifest

    _, t = resolve_task(task)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    seeds = list(range(start_seed, start_seed + n))
    trajs = generate_demos(load_expert(t, data_dir), t, seeds)
    path = cached_demos_path(t, seeds)
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = save_demos(path, trajs)
    expert_sha = load_manifest(data_dir)["tasks"][t.id]["expert"]["sha256"]
    meta = {
        "task": t.id,
        "sha256": digest,
        "expert_sha256": expert_sha,
        **_summary(trajs, seeds),
        "versions": versions(),
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return path
