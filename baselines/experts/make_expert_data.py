"""Regenerate ``expert_data/``: one seeded, resumable command for experts, references and demos.

    metail expert-data --suite hopper-v1 --resume

(``python -m baselines.experts.make_expert_data`` is the same command; manifests written before
the ``metail`` front door record that form.)

Stage ``train`` (resumable across sessions; its state lives in ``expert_data/training/``):

1. the base expert: SB3's default PPO inside VecNormalize from scratch on the nominal Hopper
   (``configs/ppo_default.json``); its best evaluated checkpoint is the nominal expert;
2. every other task, test and ood first, then train: a copy of the base fine-tuned on that task
   (``configs/finetune.json``), evaluated before training and every checkpoint, keeping the best
   evaluated one, stopping early once it reaches the target after ``min_steps``.

Finished experts go to ``expert_data/training/<task key>/expert.zip`` (an SB3 zip: the training
stages' own output, read by the pipeline only); a finished task's resumable checkpoints are
deleted (the base's best checkpoint stays: every fine-tune starts from it).

Stage ``retry`` (:mod:`baselines.experts.retry`): a task whose expert's reference is below the
issue's bar of 1500 gets several fresh attempts (``configs/retry/default.json``); the best one is kept.

Stage ``data`` (for every task whose trained expert exists, or the ``--task`` ones only): the
expert converted to the shipped, tensor-only ``experts/<task key>.pt``, then on that file the
expert reference (``EVAL_SEED`` episodes, with its completion rate), the random reference, the
demonstrator's demonstrations from ``DEMO_SEED`` (every episode, falls included), and
``manifest.json``; the numbers of each are :data:`baselines.experts.rules.DATA_RULES`. A task whose data
is intact for its current expert, the current demonstrator and the rule is skipped, so
``--stage data --task ID`` after a retrain rewrites that task only (and the data hash with it),
and a new demonstrator re-records every task's demonstrations but keeps the references. With ``--stage all`` (the default:
train, retry, data) each task's data is written as soon as its expert is in place, so an
interrupted run leaves a consistent, usable manifest.

Every task's training and data is a job on an executor (:mod:`metail_envs.executors`): one local
worker by default, tasks in order as above; ``--workers N`` trains N tasks at a time once the
base exists, ``--executor ray`` on a Ray cluster (whose nodes must all see ``--data-dir``). Only
this process writes ``manifest.json``, whatever the number of workers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from baselines.experts.arguments import expert_data_arguments as add_arguments
from baselines.experts.checkpoints import copy_expert, drop_checkpoints
from baselines.experts.demos import Manifest, build_data, given_or_local, write_manifest
from baselines.experts.layout import expert_path, training_dir, training_order
from baselines.experts.retry import RETRY_BELOW, retry_experts
from baselines.experts.rules import DataRule
from baselines.experts.train import TrainResult, train_from_job
from baselines.experts.train_config import TrainConfig
from metail_envs.data import MANIFEST, REGENERATE, default_data_dir
from metail_envs.executors import Executor, Job, make_executor
from metail_envs.tasks import DEFAULT_SUITE, Suite, Task, load_suite

COMMAND = "metail expert-data --suite {suite} --resume"
DATA_COMMAND = REGENERATE
"""The data stage alone (recorded in the manifest when it wrote it): rewrites ``experts/``,
``demos/`` and the manifest from the trained experts under ``training/``; the command every
data error names (:data:`metail_envs.data.REGENERATE`)."""


def train_experts(
    suite_name: str = DEFAULT_SUITE,
    data_dir: str | Path | None = None,
    base_config: TrainConfig | None = None,
    finetune_config: TrainConfig | None = None,
    task_ids: Sequence[str] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    *,
    executor: Executor | None = None,
    command: str | None = None,
    rules: dict[str, DataRule] | None = None,
) -> dict[str, TrainResult]:
    """Train (or resume) the base expert, then every task's fine-tuned expert, as jobs on
    ``executor`` (default: one local worker, so the tasks run in :func:`training_order`).

    The base runs alone first (every fine-tune starts from it); then every task is independent
    (seeded by its index in the training order) and the executor's workers take them in order.
    With ``command`` (recorded in the manifest), a task's references and demonstrations are
    written as soon as its expert is in place (``rules``: how many episodes, default
    :data:`baselines.experts.rules.DATA_RULES`); the manifest is written by this process only.
    A task that fails is reported and the others go on; the run then raises.
    """
    suite = load_suite(suite_name)
    data_dir = (Path(data_dir) if data_dir is not None else default_data_dir()).absolute()
    base_config = base_config or TrainConfig.load("ppo_default")
    finetune_config = finetune_config or TrainConfig.load("finetune")
    order = training_order(suite)
    wanted = set(task_ids) if task_ids else {t.id for t in order}
    unknown = wanted - {t.id for t in order}
    if unknown:
        raise KeyError(f"tasks {sorted(unknown)} are not in suite {suite_name!r}")
    configs = (base_config, finetune_config)
    jobs = _training_jobs(suite, order, wanted, configs, data_dir, progress, log)
    manifest = Manifest(suite, data_dir, command, log, rules) if command is not None else None
    with given_or_local(executor) as pool:
        results, failed = _run_training(pool, suite, jobs, manifest, data_dir, log)
    if manifest is not None and manifest.failed:
        failed.update(manifest.failed)
    if failed:
        raise RuntimeError(f"tasks {sorted(failed)} failed: " + "; ".join(failed.values()))
    return results


def _training_jobs(
    suite: Suite,
    order: Sequence[Task],
    wanted: set[str],
    configs: tuple[TrainConfig, TrainConfig],
    data_dir: Path,
    progress: bool,
    log: Callable[[str], None],
) -> dict[str, Job]:
    """The nominal base's job and each wanted task's fine-tuning job (``configs``: base and
    fine-tuning), seeded by the task's index in the training order; an outdated run restarts."""
    base_config, finetune_config = configs
    jobs = {}
    for index, task in enumerate(order):
        if task.id not in wanted and task is not suite.nominal:
            continue
        base = task is suite.nominal
        config = (
            base_config if base else replace(finetune_config, seed=finetune_config.seed + index)
        )
        jobs[task.id] = job = _train_job(suite, task, config, data_dir, progress)
        if not base:
            _restart_if_outdated(Path(job.args["run_dir"]), config, Path(job.args["expert"]), log)
    return jobs


def _run_training(
    pool: Executor,
    suite: Suite,
    jobs: dict[str, Job],
    manifest: Manifest | None,
    data_dir: Path,
    log: Callable[[str], None],
) -> tuple[dict[str, TrainResult], dict[str, str]]:
    """The base first, then the fine-tunes and (with a ``manifest``) each task's data job as its
    expert lands. Returns the results and the failures (task id -> error)."""
    results: dict[str, TrainResult] = {}
    failed: dict[str, str] = {}

    def relay(kind: str, value: Any) -> None:
        if kind == "log":
            log(value)

    pool.submit(jobs.pop(suite.nominal.id))
    for job, payload in pool.as_completed(relay):
        kind, task = job.tag
        if kind == "data":
            manifest.record(task, payload, log)
            continue
        if not payload["ok"]:
            failed[task.id] = payload["error"]
            log(f"{task.id}: training failed: {payload['error']}")
            if task is suite.nominal:
                break  # nothing can be fine-tuned without it
            continue
        results[task.id] = r = TrainResult(**payload["result"])
        log(
            f"{task.id}: expert {job.args['expert']} best {r.best_mean:.0f} at "
            f"{r.best_steps} steps, {r.steps} steps in {r.wall_s / 60:.1f} min"
        )
        if manifest is not None and manifest.needs_data(task):
            pool.submit(manifest.job(task), first=True)
        if task is suite.nominal:
            _submit_tasks(pool, jobs.values(), manifest, data_dir)
    return results, failed


def _train_job(
    suite: Suite, task: Task, config: TrainConfig, data_dir: Path, progress: bool
) -> Job:
    """The job of :func:`train_task`: ``task``'s run, fine-tuned from the nominal base's."""
    base = task is suite.nominal
    args = {
        "suite": suite.name,
        "task": task.id,
        "config": asdict(config),
        "run_dir": str(training_dir(data_dir, task.id)),
        "expert": str(expert_path(data_dir, task.id)),
        "init_from": None if base else str(training_dir(data_dir, suite.nominal.id)),
        "progress": progress,
    }
    return Job("baselines.experts.make_expert_data:train_task", args, tag=("train", task))


def _submit_tasks(
    pool: Executor, jobs: Iterable[Job], manifest: Manifest | None, data_dir: Path
) -> None:
    """Queue the fine-tunes; one finished in an earlier stretch only gets its data written."""
    for job in jobs:
        task = job.tag[1]
        if (
            Path(job.args["expert"]).exists()
            and (Path(job.args["run_dir"]) / "state.json").exists()
        ):
            if manifest is not None and manifest.needs_data(task):
                pool.submit(manifest.job(task))
            continue
        pool.submit(job)


def train_task(args: dict[str, Any], send: Callable[[Any], None]) -> dict[str, Any]:
    """Executor job: train (or resume) one task's expert into ``training/<key>/expert.zip``;
    a fine-tune's resumable checkpoints are then deleted (the base keeps its own)."""
    run_dir, expert = Path(args["run_dir"]), Path(args["expert"])
    result = train_from_job(args, lambda line: send(("log", line)))
    if (run_dir / "best.zip").exists() or not expert.exists():
        copy_expert(run_dir, expert)
    if args["init_from"] is not None:
        drop_checkpoints(run_dir)  # the base keeps its best checkpoint: fine-tunes start from it
    (run_dir / "best.zip").unlink(missing_ok=True)  # its copy, expert.zip, is the one
    return {"result": asdict(result)}


def _restart_if_outdated(run_dir: Path, config: TrainConfig, expert: Path, log) -> None:
    """Restart a task's run made with another config, unless it finished above ``RETRY_BELOW``.

    The old run's state and learning curve are kept as ``*-attempt<k>`` files, so every attempt
    stays on record.
    """
    state_path = run_dir / "state.json"
    if not state_path.exists():
        return
    state = json.loads(state_path.read_text())
    same = json.dumps(state["config"], sort_keys=True) == json.dumps(
        json.loads(json.dumps(asdict(config))), sort_keys=True
    )
    if same or (state["done"] and expert.exists() and state["best_mean"] >= RETRY_BELOW):
        return
    k = 1 + len(list(run_dir.glob("state-attempt*.json")))
    state_path.rename(run_dir / f"state-attempt{k}.json")
    if (run_dir / "progress.csv").exists():
        (run_dir / "progress.csv").rename(run_dir / f"progress-attempt{k}.csv")
    drop_checkpoints(run_dir)
    (run_dir / "best.zip").unlink(missing_ok=True)
    expert.unlink(missing_ok=True)
    _forget(run_dir.parent.parent, run_dir.name)
    log(
        f"{run_dir.name}: restarting with the current config (attempt {k} reached "
        f"{state['best_mean']:.0f} with another config)"
    )


def _forget(data_dir: Path, key: str) -> None:
    """Remove a task's shipped expert, demonstrations and manifest entry (its expert is being
    retrained)."""
    import shutil

    shutil.rmtree(data_dir / "demos" / key, ignore_errors=True)
    (data_dir / "experts" / f"{key}.pt").unlink(missing_ok=True)
    path = data_dir / MANIFEST
    if path.exists():
        manifest = json.loads(path.read_text())
        manifest.get("tasks", {}).pop(key.replace("__", "/"), None)
        write_manifest(path, manifest)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m baselines.experts.make_expert_data``, the same options as
    ``metail expert-data`` (:func:`baselines.experts.cli.expert_data_arguments`)."""
    from baselines.cli import module_parser

    return module_parser("baselines.experts.make_expert_data", __doc__, add_arguments)


def pipeline_executor(a: argparse.Namespace) -> Executor:
    """The executor of the options; locally one worker unless ``--workers`` says otherwise
    (one task after another, as before there was a choice)."""
    workers = 1 if a.executor == "local" and a.workers is None else a.workers
    return make_executor(a.executor, workers, a.ray_address, a.retries)


def run(a: argparse.Namespace) -> int:
    """The stages the options name (``metail expert-data`` runs this too)."""
    command = (DATA_COMMAND if a.stage == "data" else COMMAND).format(suite=a.suite)
    with pipeline_executor(a) as pool:
        if a.stage in ("train", "all"):
            train_experts(
                a.suite,
                a.data_dir,
                TrainConfig.load(a.base_config),
                TrainConfig.load(a.finetune_config),
                a.tasks,
                progress=not a.no_progress,
                executor=pool,
                command=command if a.stage == "all" else None,
            )
        if a.stage in ("retry", "all"):
            data_dir = (a.data_dir or default_data_dir()).absolute()
            retry_experts(a.suite, data_dir, a.tasks, executor=pool, progress=not a.no_progress)
        if a.stage in ("data", "all"):
            build_data(a.suite, a.data_dir, a.tasks, command=command, executor=pool)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(build_parser().parse_args(argv))
    except (ValueError, KeyError) as e:  # e.g. --executor ray without Ray, an unknown --task
        print(f"make_expert_data: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
