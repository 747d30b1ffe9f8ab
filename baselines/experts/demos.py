"""Demonstrations by the demonstrator, the normalisation references by the experts, and the
manifest.

A demonstration is one deterministic episode of the one demonstrator (``demonstrator/``, a
context-conditioned PPO told the task's parameters) from a recorded reset seed, with raw
observations (float32), as a ``TrajectoryWithRew`` (imitation's where it is installed, else
metail's own: :mod:`metail_envs.trajectory`). Every episode is shipped, falls included: what the
demonstrator does on a task is what it demonstrates (protocol v3). imitation marks every
trajectory ``terminal=True``; the truth is in ``infos[-1]``: ``task_id``, ``seed``,
``terminated`` (the Hopper fell) and ``truncated`` (the time limit). Infos are written as plain
JSON (``json.dumps``), which ``imitation.data.serialize.load`` reads too.

The references are each task's own specialist expert (score 100): the data stage starts from
the training stage's SB3 zip, ``training/<key>/expert.zip`` (:func:`expert_path`), writes the
shipped, tensor-only ``experts/<key>.pt`` (:func:`plain_expert_path`) and measures the
references on that file. A task's references and its demonstrations are regenerated apart:
a new demonstrator re-records the demonstrations and keeps the references.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from baselines.experts.evaluate import (
    episode_stats,
    evaluate_episodes,
    random_reference,
)
from baselines.experts.layout import demonstrator_dir, expert_path, plain_expert_path
from baselines.experts.rules import (
    CACHE_SEED,
    DATA_RULES,
    DEMO_SEED,
    EVAL_SEED,
    DataRule,
    data_rule,
    rules_json,
)
from metail_envs import ENV_ID
from metail_envs.data import (
    DATA_FORMAT,
    MANIFEST,
    cached_demos_path,
    default_data_dir,
    resolve_task,
    sha256_path,
    task_key,
)
from metail_envs.executors import Executor, Job, LocalExecutor
from metail_envs.fileio import atomic_write, write_json_atomic
from metail_envs.tasks import DEFAULT_SUITE, Suite, Task, load_suite


def save_demos(path: str | Path, trajs: Sequence) -> str:
    """Write in ``imitation.data.serialize.save``'s format (a HuggingFace dataset directory),
    with the infos as plain JSON; replaces ``path`` atomically. Returns the sha256."""

    import datasets

    if not trajs:
        raise ValueError("trajs must not be empty (a dataset of no rows cannot be read back)")
    datasets.disable_progress_bars()
    columns = {
        "obs": [t.obs for t in trajs],
        "acts": [t.acts for t in trajs],
        "infos": [
            [json.dumps(i) for i in (t.infos if t.infos is not None else [{}] * len(t.acts))]
            for t in trajs
        ],
        "terminal": [bool(t.terminal) for t in trajs],
        "rews": [t.rews for t in trajs],
    }
    path = atomic_write(
        path, lambda tmp: datasets.Dataset.from_dict(columns).save_to_disk(str(tmp))
    )
    return sha256_path(path)


def _summary(trajs: Sequence, seeds: Sequence[int]) -> dict[str, Any]:
    return {
        "n": len(trajs),
        "returns": [round(float(np.sum(t.rews)), 3) for t in trajs],
        "lengths": [len(t.acts) for t in trajs],
        "seeds": list(map(int, seeds)),
    }


def versions() -> dict[str, str | None]:
    """Versions of everything that shapes the data (written to the manifest; imitation's is
    None where the optional extra is not installed)."""
    import mujoco
    import stable_baselines3
    import torch

    import metail_envs

    return {
        "metail": metail_envs.__version__,
        "mujoco": mujoco.__version__,
        "gymnasium": gym.__version__,
        "sb3": stable_baselines3.__version__,
        "imitation": _version_or_none("imitation"),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def _version_or_none(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def build_task_data(
    task: Task, data_dir: Path, rule: DataRule | None = None, old: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A task's manifest entry: its expert converted to the shipped format with the references
    measured on that file (kept from ``old`` where they were made from the same trained expert
    by the same rule), and its demonstrations by the demonstrator (kept from ``old`` where they
    are intact and by the current demonstrator), by ``rule`` (default: the task's
    :func:`baselines.experts.rules.data_rule`)."""
    rule = rule or data_rule(task)
    source = expert_path(data_dir, task.id)
    if not source.exists():
        raise FileNotFoundError(f"{source}: no trained expert for {task.id} yet")
    old = old or {}
    refs = (
        old
        if _references_intact(old, data_dir, source, rule)
        else reference_entry(task, data_dir, rule)
    )
    demos = old if _demos_intact(old, data_dir, rule) else demo_entry(task, data_dir, rule)
    return {"demos": demos["demos"], "expert": refs["expert"], "random": refs["random"]}


def reference_entry(task: Task, data_dir: Path, rule: DataRule) -> dict[str, Any]:
    """Convert a task's trained SB3 expert to the shipped, tensor-only file and measure the
    expert and random references on it (the file the benchmark loads)."""
    from baselines.experts.convert import write_plain
    from metail_envs.expert_policy import load_expert_file

    source, plain = expert_path(data_dir, task.id), plain_expert_path(data_dir, task.id)
    arch = write_plain(source, plain)
    policy = load_expert_file(plain, arch)
    ref = episode_stats(evaluate_episodes(policy, task, rule.reference_episodes, EVAL_SEED))
    return {
        "expert": {
            "file": plain.relative_to(data_dir).as_posix(),
            "sha256": sha256_path(plain),
            "arch": arch,
            "source": {
                "file": source.relative_to(data_dir).as_posix(),
                "sha256": sha256_path(source),
            },
            "n_episodes": rule.reference_episodes,
            "seed": EVAL_SEED,
            **ref,
        },
        "random": {
            **random_reference(task, rule.random_episodes, EVAL_SEED),
            "n_episodes": rule.random_episodes,
            "seed": EVAL_SEED,
        },
    }


def demo_entry(task: Task, data_dir: Path, rule: DataRule) -> dict[str, Any]:
    """``rule.demos`` episodes of the demonstrator on ``task`` from reset seeds
    ``DEMO_SEED + i``, every one shipped (falls included: what the demonstrator does is what
    it demonstrates), and their manifest record."""
    from baselines.experts.dense_demos import data_demonstrator, demonstrator_info, record_demos

    seeds = [DEMO_SEED + i for i in range(rule.demos)]
    trajs = record_demos(data_demonstrator(data_dir), [task] * rule.demos, seeds, progress=False)
    demo_file = f"demos/{task_key(task.id)}"
    (data_dir / "demos").mkdir(parents=True, exist_ok=True)
    falls = [s for s, t in zip(seeds, trajs, strict=True) if t.infos[-1]["terminated"]]
    return {
        "demos": {
            "file": demo_file,
            "sha256": save_demos(data_dir / demo_file, trajs),
            **_summary(trajs, seeds),
            "wanted": rule.demos,
            "seed": DEMO_SEED,
            "falls": falls,
            "demonstrator": demonstrator_info(demonstrator_dir(data_dir)),
        }
    }


def task_data(args: dict[str, Any], send: Any) -> dict[str, Any]:
    """Executor job: one task's references and demonstrations; returns its manifest entry (the
    process running the pipeline writes the manifest)."""
    task = load_suite(args["suite"]).task(args["task"])
    rule = DataRule(**args["rule"])
    return {"entry": build_task_data(task, Path(args["data_dir"]), rule, args.get("old"))}


def data_job(
    task: Task,
    suite_name: str,
    data_dir: Path,
    rule: DataRule | None = None,
    old: dict[str, Any] | None = None,
) -> Job:
    """The job of :func:`task_data` for ``task`` (by ``rule``, default the task's
    :func:`baselines.experts.rules.data_rule`; the parts of ``old`` still intact are kept),
    tagged ``("data", task)``."""
    rule = rule or data_rule(task)
    args = {"suite": suite_name, "task": task.id, "data_dir": str(data_dir), "rule": asdict(rule)}
    if old:
        args["old"] = old
    return Job("baselines.experts.demos:task_data", args, tag=("data", task))


class Manifest:
    """``manifest.json`` of a data directory, written by one process only (the one that runs
    the pipeline, however many workers compute the entries), each time through a temporary file
    and an atomic rename, so a reader or an interruption never sees half a file.

    A manifest of another data format (or an unreadable one) is started afresh: every task's
    data is then regenerated from its trained expert. ``rules`` (default
    :data:`baselines.experts.rules.DATA_RULES`) say how many episodes each task's data takes.
    """

    def __init__(
        self,
        suite: Suite,
        data_dir: Path,
        command: str = "",
        log: Any = print,
        rules: dict[str, DataRule] | None = None,
    ) -> None:
        self.suite, self.data_dir, self.path = suite, data_dir, data_dir / MANIFEST
        self.rules = dict(DATA_RULES if rules is None else rules)
        self.doc = self._read(log)
        if self.doc.get("suite_sha256") not in (None, suite.sha256):
            raise ValueError(
                f"{self.path} belongs to another version of {suite.name}; use a fresh data_dir"
            )
        self.doc.update(
            {
                "format": DATA_FORMAT,
                "suite": suite.name,
                "suite_sha256": suite.sha256,
                "command": command or self.doc.get("command", ""),
                "versions": versions(),
                "rule": {
                    **rules_json(self.rules),
                    "time_limit": gym.spec(ENV_ID).max_episode_steps,
                },
            }
        )
        self.tasks: dict[str, Any] = self.doc.setdefault("tasks", {})
        self.failed: dict[str, str] = {}

    def _read(self, log: Any) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            doc = json.loads(self.path.read_text())
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            log(f"{self.path}: unreadable, written afresh")
            return {}
        if doc.get("format") != DATA_FORMAT and doc.get("tasks"):
            log(
                f"{self.path}: data format {doc.get('format', 1)} -> {DATA_FORMAT}: every "
                "task's data is regenerated"
            )
            doc["tasks"] = {}
        return doc

    def needs_data(self, task: Task, force: bool = False) -> bool:
        """Whether ``task`` has a trained expert but no intact data of the current rule for it
        (or ``force``)."""
        source = expert_path(self.data_dir, task.id)
        if not source.exists():
            return False
        old, rule = self.tasks.get(task.id), self.rule(task)
        return (
            force
            or not old
            or not _references_intact(old, self.data_dir, source, rule)
            or not _demos_intact(old, self.data_dir, rule)
        )

    def rule(self, task: Task) -> DataRule:
        """The rule ``task``'s data is drawn by."""
        return data_rule(task, self.rules)

    def job(self, task: Task, force: bool = False) -> Job:
        """The :func:`data_job` of ``task`` by this manifest's rules (its intact parts kept
        unless ``force``)."""
        old = None if force else self.tasks.get(task.id)
        return data_job(task, self.suite.name, self.data_dir, self.rule(task), old)

    def record(self, task: Task, payload: dict[str, Any], log: Any) -> None:
        """Put a finished :func:`data_job`'s entry in the manifest and write it."""
        if not payload["ok"]:
            self.failed[task.id] = payload["error"]
            log(f"{task.id}: writing its data failed: {payload['error']}")
            return
        e = self.tasks[task.id] = payload["entry"]
        self.doc["tasks"] = self.tasks = dict(sorted(self.tasks.items()))
        self.write()
        ex, d = e["expert"], e["demos"]
        log(
            f"{task.id}: expert {ex['mean_return']:.0f}±{ex['std_return']:.0f} (completes "
            f"{ex['completion_rate']:.0%} of {ex['n_episodes']}), random "
            f"{e['random']['mean_return']:.0f}; {d['n']} demos by the demonstrator "
            f"({len(d['falls'])} fell), mean return {np.mean(d['returns']):.0f}"
        )

    def write(self) -> None:
        self.doc.pop("shortfalls", None)
        write_manifest(self.path, self.doc)


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Replace ``path`` atomically (a temporary file, then a rename)."""
    write_json_atomic(path, manifest)


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
    rules: dict[str, DataRule] | None = None,
) -> dict[str, Any]:
    """Write the shipped expert, references and demonstrations of every task with a trained
    expert (or of ``task_ids`` only; the other tasks' entries stay as they are), and the manifest.
    ``rules``: how many episodes (default :data:`baselines.experts.rules.DATA_RULES`).

    A task whose entry matches its trained expert's sha256, the current demonstrator, the
    current data rule and intact files is skipped unless ``force``; of a task whose references
    are intact only the demonstrations are re-recorded. Each task is a job on ``executor`` (default: one local
    worker); the manifest is rewritten here after each, so this too can be interrupted and rerun.
    """
    suite = load_suite(suite_name)
    data_dir = (Path(data_dir) if data_dir is not None else default_data_dir()).absolute()
    wanted = set(task_ids) if task_ids else None
    if wanted is not None:
        unknown = wanted - {t.id for t in suite.tasks}
        if unknown:
            raise KeyError(f"tasks {sorted(unknown)} are not in suite {suite_name!r}")
    selected = [t for t in suite.tasks if wanted is None or t.id in wanted]
    manifest = Manifest(suite, data_dir, command, log, rules)
    todo = [t for t in selected if manifest.needs_data(t, force)]
    if todo:
        with given_or_local(executor) as pool:
            for task in todo:
                pool.submit(manifest.job(task, force))
            for job, payload in pool.as_completed():
                manifest.record(job.tag[1], payload, log)
    manifest.write()
    if manifest.failed:
        raise RuntimeError(f"the data of {sorted(manifest.failed)} could not be written")
    return manifest.doc


def _references_intact(entry: dict[str, Any], data_dir: Path, source: Path, rule: DataRule) -> bool:
    """Whether an entry's references were made from this trained expert, by this rule, and its
    shipped expert file is unchanged."""
    try:
        expert = entry["expert"]
        plain = data_dir / expert["file"]
        return (
            expert["source"]["sha256"] == sha256_path(source)
            and expert["n_episodes"] == rule.reference_episodes
            and expert["seed"] == EVAL_SEED
            and entry["random"]["n_episodes"] == rule.random_episodes
            and plain.exists()
            and sha256_path(plain) == expert["sha256"]
        )
    except (KeyError, TypeError):
        return False


def _demos_intact(entry: dict[str, Any], data_dir: Path, rule: DataRule) -> bool:
    """Whether an entry's demonstrations are the current demonstrator's, by this rule, and
    their files are unchanged."""
    from baselines.experts.dense_demos import demonstrator_info

    try:
        demos = entry["demos"]
        return (
            demos["demonstrator"] == demonstrator_info(demonstrator_dir(data_dir))
            and demos["wanted"] == rule.demos
            and demos["seed"] == DEMO_SEED
            and (data_dir / demos["file"]).exists()
            and sha256_path(data_dir / demos["file"]) == demos["sha256"]
        )
    except (KeyError, TypeError):
        return False


def generate_cached(
    task: Task | str, n: int, start_seed: int = CACHE_SEED, data_dir: str | Path | None = None
) -> Path:
    """Generate ``n`` more demonstrations of a suite task by the demonstrator into the user
    cache (same format as the shipped ones, seeds ``start_seed ..``), with their sha256 and the
    demonstrator's identity beside them; returns the path."""
    from baselines.experts.dense_demos import data_demonstrator, demonstrator_info, record_demos

    _, t = resolve_task(task)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    root = (Path(data_dir) if data_dir is not None else default_data_dir()).absolute()
    seeds = list(range(start_seed, start_seed + n))
    trajs = record_demos(data_demonstrator(root), [t] * n, seeds, progress=False)
    path = cached_demos_path(t, seeds)
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = save_demos(path, trajs)
    meta = {
        "task": t.id,
        "sha256": digest,
        "demonstrator": demonstrator_info(demonstrator_dir(root)),
        **_summary(trajs, seeds),
        "versions": versions(),
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return path
