"""Regenerate ``expert_data/``: one seeded, resumable command for experts, references and demos.

    python -m baselines.experts.make_expert_data --suite hopper-v1 --resume

Stage ``train`` (resumable across sessions; its state lives in ``expert_data/training/``):

1. the base expert: SB3's default PPO inside VecNormalize from scratch on the nominal Hopper
   (``configs/ppo_default.json``); its best evaluated checkpoint is the nominal expert;
2. every other task, test and ood first, then train: a copy of the base fine-tuned on that task
   (``configs/finetune.json``), evaluated before training and every checkpoint, keeping the best
   evaluated one, stopping early once it reaches the target after ``min_steps``.

Finished experts go to ``expert_data/experts/<task key>.zip``; a finished task's resumable
checkpoints are deleted (the base's best checkpoint stays: every fine-tune starts from it).

Stage ``data`` (for every task whose expert exists): expert and random references over
``EVAL_SEED`` episodes, the fixed demonstrations from ``DEMO_SEED``, and ``manifest.json``.
With ``--stage all`` (the default) each task's data is written as soon as its expert is in place,
so an interrupted run leaves a consistent, usable manifest.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

from baselines.experts.train import TrainConfig, TrainResult, copy_expert, drop_checkpoints, train
from metail_envs.data import MANIFEST, default_data_dir, task_key
from metail_envs.tasks import DEFAULT_SUITE, Suite, Task, load_suite

COMMAND = "python -m baselines.experts.make_expert_data --suite {suite} --resume"
RETRY_BELOW = 1500.0
"""A task finished below this (the issue's bar) with an older config is retrained."""


def training_order(suite: Suite) -> list[Task]:
    """Nominal (the base) first, then test and ood (they score every agent), then train."""
    return [suite.nominal, *suite.test, *suite.ood, *suite.train]


def train_experts(
    suite_name: str = DEFAULT_SUITE,
    data_dir: str | Path | None = None,
    base_config: TrainConfig | None = None,
    finetune_config: TrainConfig | None = None,
    task_ids: Sequence[str] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    after_task: Callable[[Task], None] | None = None,
) -> dict[str, TrainResult]:
    """Train (or resume) the base expert and every task's fine-tuned expert, in order;
    ``after_task(task)`` runs when a task's expert is in place (e.g. to write its data)."""
    suite = load_suite(suite_name)
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    base_config = base_config or TrainConfig.load("ppo_default")
    finetune_config = finetune_config or TrainConfig.load("finetune")
    state_dir = data_dir / "training"
    base_dir = state_dir / task_key(suite.nominal.id)
    order = training_order(suite)
    wanted = set(task_ids) if task_ids else {t.id for t in order}
    unknown = wanted - {t.id for t in order}
    if unknown:
        raise KeyError(f"tasks {sorted(unknown)} are not in suite {suite_name!r}")
    results: dict[str, TrainResult] = {}
    for index, task in enumerate(order):
        if task.id not in wanted and task is not suite.nominal:
            continue
        expert = data_dir / "experts" / f"{task_key(task.id)}.zip"
        run_dir = state_dir / task_key(task.id)
        if task is suite.nominal:
            result = train(task, base_config, run_dir, resume=True, progress=progress, log=log)
        else:
            config = replace(finetune_config, seed=finetune_config.seed + index)
            _restart_if_outdated(run_dir, config, expert, log)
            if expert.exists() and (run_dir / "state.json").exists():
                if after_task is not None:
                    after_task(task)  # a no-op where its data is already written
                continue  # finished in an earlier stretch
            result = train(
                task, config, run_dir, resume=True, init_from=base_dir, progress=progress, log=log
            )
        copy_expert(run_dir, expert)
        if task is not suite.nominal:
            drop_checkpoints(run_dir)
            (run_dir / "best.zip").unlink(missing_ok=True)  # the copy in experts/ is the one
        results[task.id] = result
        if after_task is not None:
            after_task(task)
        log(
            f"{task.id}: expert {expert} best {result.best_mean:.0f} at {result.best_steps} "
            f"steps, {result.steps} steps in {result.wall_s / 60:.1f} min"
        )
    return results


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
    """Remove a task's demonstrations and manifest entry (its expert is being retrained)."""
    import shutil

    shutil.rmtree(data_dir / "demos" / key, ignore_errors=True)
    path = data_dir / MANIFEST
    if path.exists():
        manifest = json.loads(path.read_text())
        manifest.get("tasks", {}).pop(key.replace("__", "/"), None)
        tmp = path.with_name(f".tmp-{path.name}")
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
        tmp.replace(path)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", default=DEFAULT_SUITE)
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="default: METAIL_DATA_DIR or the repository's expert_data/",
    )
    p.add_argument("--stage", choices=("train", "data", "all"), default="all")
    p.add_argument(
        "--task",
        action="append",
        dest="tasks",
        help="only these task ids (repeatable); the nominal base is always trained first",
    )
    p.add_argument("--base-config", default="ppo_default")
    p.add_argument("--finetune-config", default="finetune")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue where the last run stopped "
        "(the training state is always kept; this flag documents the intent)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars (for log files)")


def run(a: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)
    from baselines.experts.demos import build_data

    command = COMMAND.format(suite=a.suite)

    def write_data(task: Task) -> None:
        build_data(a.suite, a.data_dir, [task.id], command=command)

    if a.stage in ("train", "all"):
        train_experts(
            a.suite,
            a.data_dir,
            TrainConfig.load(a.base_config),
            TrainConfig.load(a.finetune_config),
            a.tasks,
            progress=not a.no_progress,
            after_task=write_data if a.stage == "all" else None,
        )
    if a.stage in ("data", "all"):
        build_data(a.suite, a.data_dir, a.tasks, command=command)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
