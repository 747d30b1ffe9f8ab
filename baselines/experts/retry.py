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

Plan ``reliability`` (``configs/retry/reliability.json``) retries experts that fall: a task whose
expert completes (reaches the time limit in) fewer than ``min_completion`` of its reference
episodes -- 90% on scored tasks, 50% on training tasks -- gets fine-tunes of its own expert and of
the base that select checkpoints by the *reliable* return (mean return times completion rate), and
the choice prefers candidates that complete ``min_completion`` of the choice episodes, then the
highest reliable return (:func:`~baselines.experts.train.reliable_return`).

Every attempt is one executor job, resumable like any training run; the choice is recorded in
``training/<task key>/retry.json`` (``retry-<plan>.json`` for other plans), and a task with that
record is not retried again by that plan.

    metail retry-experts --plan reliability --task hopper-v1/test/02 --workers 2

(``python -m baselines.experts.retry`` is the same command.)
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from baselines.experts.checkpoints import copy_expert, drop_checkpoints
from baselines.experts.demos import given_or_local
from baselines.experts.layout import expert_path, training_dir, training_order
from baselines.experts.rules import CHOICE_SEED
from baselines.experts.train import train_from_job
from baselines.experts.train_config import CONFIG_DIR, TrainConfig
from metail_envs.data import load_manifest
from metail_envs.executors import Executor, Job
from metail_envs.tasks import Suite, Task, load_suite

RETRY_BELOW = 1500.0
"""The issue's bar: a task whose expert's reference mean is below it is retried."""
RETRY_FILE = "retry.json"
INITS = ("base", "scratch", "current")
RULES = ("below_bar", "completion")


@dataclass(frozen=True)
class Attempt:
    """One retry of a task: ``config`` (a file under ``configs/``) started from the nominal
    base (``init="base"``), from scratch (``init="scratch"``) or from the task's current expert
    (``init="current"``), seeded ``seed + task index``."""

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
    name: str = "default"
    rule: str = "below_bar"
    """Which tasks are retried: ``below_bar`` (reference mean below :data:`RETRY_BELOW`) or
    ``completion`` (reference completion rate below ``min_completion`` of the task's split)."""
    min_completion: dict[str, float] | None = None
    """Per split (``train``, ``test``, ``ood``, ``nominal``): the completion rate a kept expert
    should reach; candidates reaching it on the choice episodes are preferred."""

    @classmethod
    def load(cls, name: str = "default") -> RetryPlan:
        path = CONFIG_DIR / "retry" / f"{name}.json"
        if not path.exists():
            plans = sorted(p.stem for p in (CONFIG_DIR / "retry").glob("*.json"))
            raise ValueError(f"retry plan {name!r} not found; accepted: {plans}")
        data = json.loads(path.read_text())
        attempts = tuple(Attempt(**a) for a in data["attempts"])
        for a in attempts:
            if a.init not in INITS:
                raise ValueError(f"attempt {a.name}: init must be one of {INITS}, got {a.init!r}")
        rule = data.get("rule", "below_bar")
        if rule not in RULES:
            raise ValueError(f"retry plan {name}: rule must be one of {RULES}, got {rule!r}")
        return cls(
            attempts,
            int(data["choice_episodes"]),
            data.get("description", ""),
            name,
            rule,
            data.get("min_completion"),
        )

    @property
    def record_name(self) -> str:
        """The file recording a task's choice under this plan."""
        return RETRY_FILE if self.name == "default" else f"retry-{self.name}.json"

    def completion_bar(self, task: Task) -> float:
        """The completion rate asked of ``task``'s expert (0 when the plan asks none)."""
        if not self.min_completion:
            return 0.0
        return float(self.min_completion[_split_of(task)])

    def choice_key(self, task: Task, score: dict[str, Any]) -> tuple[bool, float]:
        """Candidates meeting the completion bar first, then by (reliable) mean return."""
        if not self.min_completion:
            return (True, score["mean"])
        completion = score.get("completion", 0.0)
        return (completion >= self.completion_bar(task), score.get("reliable", 0.0))


def _split_of(task: Task) -> str:
    parts = task.id.split("/")
    return "nominal" if parts[-1] == "nominal" else parts[1]


def tasks_to_retry(
    suite: Suite,
    data_dir: Path,
    task_ids: Sequence[str] | None = None,
    plan: RetryPlan | None = None,
) -> list:
    """Tasks the plan's rule selects (every one of ``task_ids`` when given) that have no record
    of this plan yet, as ``(index in the training order, task)``, scored tasks first."""
    plan = plan or RetryPlan.load()
    entries = load_manifest(data_dir).get("tasks", {})
    out = []
    for index, task in enumerate(training_order(suite)):
        entry = entries.get(task.id)
        if task_ids and task.id not in task_ids or entry is None:
            continue
        if (training_dir(data_dir, task.id) / plan.record_name).exists():
            continue
        if task_ids or _needs_retry(plan, task, entry["expert"]):
            out.append((index, task))
    return out


def _needs_retry(plan: RetryPlan, task: Task, reference: dict[str, Any]) -> bool:
    if plan.rule == "below_bar":
        return reference["mean_return"] < RETRY_BELOW
    completion = reference.get("completion_rate")
    if completion is None:
        raise ValueError(
            f"{task.id}: the manifest has no completion_rate; regenerate the data stage first"
        )
    return completion < plan.completion_bar(task)


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
    todo = tasks_to_retry(suite, data_dir, task_ids, plan)
    if not todo:
        log(f"retry ({plan.name}): no task to retry without a record of this plan")
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
                "init_from": _init_from(a, base_dir, expert_path(data_dir, task.id)),
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
            scores[task.id][name] = score = payload["score"]
            log(
                f"{task.id} {name}: choice mean {score['mean']:.0f}, "
                f"completion {score.get('completion', float('nan')):.2f}"
            )
    records = {}
    for _, task in todo:
        records[task.id] = _choose(task, scores[task.id], data_dir, plan, log)
    return records


def _init_from(attempt: Attempt, base_dir: Path, expert: Path) -> str | None:
    return {"base": str(base_dir), "scratch": None, "current": str(expert)}[attempt.init]


def _choice_job(
    suite: Suite, task: Task, name: str, expert: Path, run_dir: Path, plan: RetryPlan
) -> Job:
    args = {
        "suite": suite.name,
        "task": task.id,
        "expert": str(expert),
        "out": str(
            run_dir / f"choice-{name}{'' if plan.name == 'default' else '-' + plan.name}.json"
        ),
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
    best = max(scores, key=lambda name: plan.choice_key(task, scores[name]))
    if best != "current":
        copy_expert(run_dir / best, expert_path(data_dir, task.id))
    for a in plan.attempts:  # the kept one lives on in experts/, the others are on record
        (run_dir / a.name / "best.zip").unlink(missing_ok=True)
    record = {
        "task": task.id,
        "plan": plan.name,
        "rule": plan.rule,
        "below": RETRY_BELOW,
        "min_completion": plan.completion_bar(task),
        "choice_seed": CHOICE_SEED,
        "choice_episodes": plan.choice_episodes,
        "scores": scores,
        "kept": best,
    }
    (run_dir / plan.record_name).write_text(json.dumps(record, indent=1) + "\n")
    log(f"{task.id}: kept {best} ({scores[best]['mean']:.0f} on the choice episodes)")
    return record


def _score(expert: Path, task: Task, episodes: int) -> dict[str, Any]:
    from baselines.experts.evaluate import evaluate_policy
    from baselines.experts.ppo_files import load_policy
    from baselines.experts.train import MAX_STEPS, reliable_return

    policy = load_policy(expert)  # its tensors, weights-only: nothing unpickled
    rets, lengths = evaluate_policy(policy, task, episodes, seed=CHOICE_SEED)
    return {
        "mean": float(rets.mean()),
        "std": float(rets.std()),
        "completion": float(np.mean(lengths >= MAX_STEPS)),
        "mean_length": float(lengths.mean()),
        "reliable": reliable_return(rets, lengths),
        "episodes": episodes,
    }


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


def run(a: argparse.Namespace) -> int:
    """The retry stage alone, with a plan other than the pipeline's default (``metail
    retry-experts`` runs this too)."""
    from metail_envs.data import default_data_dir
    from metail_envs.executors import make_executor

    plan = RetryPlan.load(a.plan)
    data_dir = (a.data_dir or default_data_dir()).absolute()
    with make_executor(a.executor, a.workers, a.ray_address, a.retries) as pool:
        retry_experts(a.suite, data_dir, a.tasks, plan, executor=pool, progress=not a.no_progress)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m baselines.experts.retry``, the same options as ``metail
    retry-experts`` (:func:`baselines.experts.cli.retry_arguments`)."""
    from baselines.cli import module_parser
    from baselines.experts.arguments import retry_arguments

    return module_parser("baselines.experts.retry", main.__doc__, retry_arguments)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m baselines.experts.retry --plan NAME [--task ID ...]``: the retry stage alone,
    with a plan other than the pipeline's default (the same as ``metail retry-experts``)."""
    import sys

    a = build_parser().parse_args(argv)
    try:
        return run(a)
    except ValueError as e:
        print(f"retry: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
