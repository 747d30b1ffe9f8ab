"""Retry the experts below the bar: several fresh attempts per task, the best one kept.

A fine-tune that settles into standing still stays there (``hopper-v1/test/06`` reached 1741
once, then hovered near 900 for 400k steps), so running it longer does not help; fresh seeds and
runs from scratch do, by chance. A task whose expert's reference mean in the manifest is below
:data:`RETRY_BELOW` gets the attempts listed in ``configs/retry/default.json`` (each a training config, a
start -- the nominal base or scratch -- and a seed offset). Every attempt's best checkpoint and
the current expert are then scored on the same ``CHOICE_SEED`` episodes, disjoint from the
checkpoint-selection and reference seeds (so the references written afterwards are not measured
on the episodes that chose the expert), and the best one becomes the task's expert. The data
stage then rewrites that task's references and demonstrations (the manifest notices the new
expert's sha256).

Every attempt is one executor job, resumable like any training run; the choice is recorded in
``training/<task key>/retry.json``, and a task with that record is not retried again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from baselines.experts.demos import expert_path, given_or_local, training_dir
from baselines.experts.train import (
    CONFIG_DIR,
    TrainConfig,
    copy_expert,
    drop_checkpoints,
    train_from_job,
)
from metail_envs.data import CHOICE_SEED, load_manifest
from metail_envs.executors import Executor, Job
from metail_envs.tasks import Suite, Task, load_suite

RETRY_BELOW = 1500.0
"""The issue's bar: a task whose expert's reference mean is below it is retried."""
RETRY_FILE = "retry.json"


@dataclass(frozen=True)
class Attempt:
    """One retry of a task: ``config`` (a file under ``configs/``) started from the nominal
    base (``init="base"``) or from scratch (``init="scratch"``), seeded ``seed + task index``."""

    name: str
    config: str
    init: str
    seed: int
    overrides: dict[str, Any]

    def train_config(self, task_index: int) -> TrainConfig:
        return TrainConfig.load(self.config, **self.overrides, seed=self.seed + task_index)


@dataclass(frozen=True)
class RetryPlan:
    """``configs/retry/<name>.json``: the attempts, and how many episodes choose among them."""

    attempts: tuple[Attempt, ...]
    choice_episodes: int
    description: str = ""

    @classmethod
    def load(cls, name: str = "default") -> RetryPlan:
        data = json.loads((CONFIG_DIR / "retry" / f"{name}.json").read_text())
        attempts = tuple(Attempt(**a) for a in data["attempts"])
        for a in attempts:
            if a.init not in ("base", "scratch"):
                raise ValueError(f"attempt {a.name}: init must be 'base' or 'scratch'")
        return cls(attempts, int(data["choice_episodes"]), data.get("description", ""))


def tasks_to_retry(suite: Suite, data_dir: Path, task_ids: Sequence[str] | None = None) -> list:
    """Tasks whose manifest reference is below :data:`RETRY_BELOW` and that have no retry
    record yet, as ``(index in the training order, task)``."""
    from baselines.experts.make_expert_data import training_order

    entries = load_manifest(data_dir).get("tasks", {})
    out = []
    for index, task in enumerate(training_order(suite)):
        entry = entries.get(task.id)
        if task_ids and task.id not in task_ids or entry is None:
            continue
        record = training_dir(data_dir, task.id) / RETRY_FILE
        if entry["expert"]["mean_return"] < RETRY_BELOW and not record.exists():
            out.append((index, task))
    return out


def retry_experts(
    suite_name: str,
    data_dir: Path,
    task_ids: Sequence[str] | None = None,
    plan: RetryPlan | None = None,
    *,
    executor: Executor | None = None,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, dict[str, Any]]:
    """Run every attempt of every task below the bar, then keep each task's best expert.

    Returns, per retried task, the record written to ``training/<key>/retry.json``.
    """
    suite = load_suite(suite_name)
    plan = plan or RetryPlan.load()
    todo = tasks_to_retry(suite, data_dir, task_ids)
    if not todo:
        log("retry: no task below the bar without a retry record")
        return {}
    base_dir = training_dir(data_dir, suite.nominal.id)
    jobs: list[Job] = []
    for index, task in todo:
        run_dir = training_dir(data_dir, task.id)
        jobs.append(
            _choice_job(suite, task, "current", expert_path(data_dir, task.id), run_dir, plan)
        )
        for a in plan.attempts:
            args = {
                "suite": suite.name,
                "task": task.id,
                "name": a.name,
                "config": asdict(a.train_config(index)),
                "run_dir": str(run_dir / a.name),
                "init_from": str(base_dir) if a.init == "base" else None,
                "choice_episodes": plan.choice_episodes,
                "progress": progress,
            }
            jobs.append(Job("baselines.experts.retry:attempt_job", args, tag=(task, a.name)))
    scores: dict[str, dict[str, dict[str, Any]]] = {t.id: {} for _, t in todo}
    with given_or_local(executor) as pool:
        for job in jobs:
            pool.submit(job)
        for job, payload in pool.as_completed(lambda k, v: log(v) if k == "log" else None):
            task, name = job.tag
            if not payload["ok"]:
                log(f"{task.id} {name}: failed: {payload['error']}")
                continue
            scores[task.id][name] = payload["score"]
            log(f"{task.id} {name}: choice mean {payload['score']['mean']:.0f}")
    records = {}
    for _, task in todo:
        records[task.id] = _choose(task, scores[task.id], data_dir, plan, log)
    return records


def _choice_job(
    suite: Suite, task: Task, name: str, expert: Path, run_dir: Path, plan: RetryPlan
) -> Job:
    args = {
        "suite": suite.name,
        "task": task.id,
        "expert": str(expert),
        "out": str(run_dir / f"choice-{name}.json"),
        "choice_episodes": plan.choice_episodes,
    }
    return Job("baselines.experts.retry:choice_job", args, tag=(task, name))


def _choose(
    task: Task,
    scores: dict[str, dict[str, Any]],
    data_dir: Path,
    plan: RetryPlan,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Keep the best-scoring candidate as the expert; record the choice (only once every
    attempt has a score, so an interrupted retry is finished by the next run)."""
    run_dir = training_dir(data_dir, task.id)
    missing = {"current", *(a.name for a in plan.attempts)} - set(scores)
    if missing:
        log(f"{task.id}: no choice yet, attempts {sorted(missing)} have no score")
        return {}
    best = max(scores, key=lambda name: scores[name]["mean"])
    if best != "current":
        copy_expert(run_dir / best, expert_path(data_dir, task.id))
    for a in plan.attempts:  # the kept one lives on in experts/, the others are on record
        (run_dir / a.name / "best.zip").unlink(missing_ok=True)
    record = {
        "task": task.id,
        "below": RETRY_BELOW,
        "choice_seed": CHOICE_SEED,
        "choice_episodes": plan.choice_episodes,
        "scores": scores,
        "kept": best,
    }
    (run_dir / RETRY_FILE).write_text(json.dumps(record, indent=1) + "\n")
    log(f"{task.id}: kept {best} ({scores[best]['mean']:.0f} on the choice episodes)")
    return record


def _score(expert: Path, task: Task, episodes: int) -> dict[str, Any]:
    from stable_baselines3 import PPO

    from baselines.experts.evaluate import evaluate_policy

    policy = PPO.load(expert, device="cpu")
    rets, _ = evaluate_policy(policy, task, episodes, seed=CHOICE_SEED)
    return {"mean": float(rets.mean()), "std": float(rets.std()), "episodes": episodes}


def choice_job(args: dict[str, Any], send: Callable[[Any], None]) -> dict[str, Any]:
    """Executor job: score an expert file on the choice episodes (cached in ``out``)."""
    out = Path(args["out"])
    if out.exists():
        return {"score": json.loads(out.read_text())}
    task = load_suite(args["suite"]).task(args["task"])
    score = _score(Path(args["expert"]), task, args["choice_episodes"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(score) + "\n")
    return {"score": score}


def attempt_job(args: dict[str, Any], send: Callable[[Any], None]) -> dict[str, Any]:
    """Executor job: train (or resume) one attempt, then score its best checkpoint on the
    choice episodes; its resumable checkpoints are deleted once it is scored."""
    run_dir = Path(args["run_dir"])
    train_from_job(args, lambda line: send(("log", f"{args['task']} {line}")))
    payload = choice_job(
        {**args, "expert": str(run_dir / "best.zip"), "out": str(run_dir / "choice.json")}, send
    )
    drop_checkpoints(run_dir)
    return payload
