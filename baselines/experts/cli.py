"""The expert pipeline's ``metail`` commands: arguments only, the work imported inside each
command. ``train-expert``, ``generate-demos`` and ``export-minari`` run here; ``expert-data``
(:mod:`~baselines.experts.make_expert_data`), ``retry-experts`` (:mod:`~baselines.experts.retry`),
``expert-plots``, ``probe-params`` and ``convert-expert`` are their modules' ``add_arguments`` and
``run``, which the ``python -m`` forms use too. The ``metail`` CLI finds these commands through
the ``metail.commands`` entry point group (see ``pyproject.toml``), so ``metail_envs`` never
imports ``baselines``."""

from __future__ import annotations

import argparse
from pathlib import Path

from baselines.cli import module_command
from baselines.experts.arguments import expert_data_arguments, retry_arguments
from metail_envs.cli import Command
from metail_envs.executors import add_executor_arguments
from metail_envs.extras import require_extra
from metail_envs.tasks import DEFAULT_SUITE

TRAIN_HELP = (
    "train PPO experts: one task, a task distribution, or (--all) the training stage of every "
    "task of a suite; `metail expert-data` runs the whole pipeline (train, retry, data)"
)
DEMOS_HELP = (
    "generate more demonstrations of a task into the user cache ($METAIL_CACHE_DIR or "
    "~/.cache/metail); load them with metail_envs.data.load_cached_demos(task, n)"
)
MINARI_HELP = "export a task's demonstrations to a Minari dataset (needs metail[experts])"
EXPERT_DATA_HELP = (
    "regenerate expert_data/: train the experts, retry those below the bar, write references, "
    "demonstrations and manifest (resumable)"
)
RETRY_HELP = (
    "the retry stage alone: fresh attempts for the experts a plan of configs/retry/ selects"
)
PLOTS_HELP = "the experts' per-task table and figures, from the committed data"
PROBE_HELP = "probe which single parameters make a task hard (one PPO run per NAME=VALUE)"
CONVERT_HELP = (
    "write a task's shipped expert as an ordinary SB3 zip (PPO.load reads it, and unpickles: "
    "load only zips you made)"
)


CONFIG_OVERRIDES = {
    "--seed": "seed",
    "--steps": "total_steps",
    "--n-envs": "n_envs",
    "--checkpoint-every": "checkpoint_every",
    "--eval-episodes": "eval_episodes",
}
"""``metail train-expert`` options that override a field of the PPO config (flag: field)."""


def train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--task",
        action="append",
        dest="tasks",
        metavar="ID",
        help="task id, or a split like hopper-v1/train for a task distribution (repeatable)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="the training stage of `metail expert-data`: the nominal base expert, then every "
        "task fine-tuned from it, into --data-dir (no retry, no references or demonstrations)",
    )
    p.add_argument("--suite", default=DEFAULT_SUITE, help="suite of --all (default %(default)s)")
    p.add_argument(
        "--config",
        default="ppo_default",
        help="config name under baselines/experts/configs or a JSON path (default %(default)s)",
    )
    p.add_argument(
        "--finetune-config",
        default="finetune",
        help="per-task config of --all (default %(default)s)",
    )
    for flag, field in CONFIG_OVERRIDES.items():
        p.add_argument(
            flag, type=int, help=f"overrides the config's {field} (default: the config's)"
        )
    p.add_argument("--out", type=Path, help="run directory (default runs/experts/<task>)")
    p.add_argument("--data-dir", type=Path, help="--all: default METAIL_DATA_DIR or expert_data/")
    p.add_argument("--init-from", type=Path, help="start from this run's best checkpoint")
    observe = "observe the task parameters (a privileged, task-conditioned expert)"
    p.add_argument("--observe-context", action="store_true", help=observe)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_executor_arguments(p, "--all: parallel trainings (default 1 locally, all CPUs on Ray)")


def run_train(a: argparse.Namespace) -> int:
    require_extra("benchmark")
    from baselines.experts.train import tasks_from_specs, train
    from baselines.experts.train_config import TrainConfig

    over = {
        field: getattr(a, flag[2:].replace("-", "_")) for flag, field in CONFIG_OVERRIDES.items()
    }
    config = TrainConfig.load(a.config, **over)
    if a.all:
        from baselines.experts.make_expert_data import pipeline_executor, train_experts

        ft = TrainConfig.load(a.finetune_config, **{k: v for k, v in over.items() if k != "seed"})
        with pipeline_executor(a) as pool:
            progress = not a.no_progress
            train_experts(a.suite, a.data_dir, config, ft, a.tasks, progress, executor=pool)
        return 0
    if not a.tasks:
        raise ValueError("give --task ID (repeatable) or --all")
    tasks = tasks_from_specs(a.tasks)
    out = a.out or Path("runs/experts") / a.tasks[0].replace("/", "__")
    r = train(
        tasks,
        config,
        out,
        resume=a.resume,
        init_from=a.init_from,
        observe_context=a.observe_context,
        progress=not a.no_progress,
    )
    print(
        f"{out}: best {r.best_mean:.1f} at step {r.best_steps} ({r.steps} steps, "
        f"{r.wall_s:.0f} s); expert {r.expert_path}"
    )
    return 0


def demos_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, help="task id, e.g. hopper-v1/test/03")
    p.add_argument(
        "--n", type=int, default=10, help="number of demonstrations (default %(default)s)"
    )
    p.add_argument("--seed", type=int, help="first reset seed (default: the cache's seed range)")
    p.add_argument(
        "--data-dir",
        type=Path,
        help="where the experts are (default: METAIL_DATA_DIR or expert_data/)",
    )


def run_demos(a: argparse.Namespace) -> int:
    require_extra("benchmark")
    from baselines.experts.demos import generate_cached
    from baselines.experts.rules import CACHE_SEED

    seed = CACHE_SEED if a.seed is None else a.seed
    path = generate_cached(a.task, a.n, seed, a.data_dir)
    print(f"wrote {a.n} demonstration{'s' * (a.n != 1)} of {a.task} to {path}")
    print(f"load them with: {load_call(a.task, a.n, a.seed, a.data_dir)}")
    return 0


def load_call(task: str, n: int, seed: int | None, data_dir: Path | None) -> str:
    """The Python call that loads what ``generate-demos`` wrote (the cache is found again through
    ``METAIL_CACHE_DIR`` or ``~/.cache/metail``, as it was when writing)."""
    args = [repr(task), f"n={n}"]
    if seed is not None:
        args.append(f"start_seed={seed}")
    if data_dir is not None:
        args.append(f"data_dir={str(data_dir)!r}")
    return f"metail_envs.data.load_cached_demos({', '.join(args)})"


def minari_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, help="task id, e.g. hopper-v1/test/03")
    p.add_argument("--dataset-id", help="Minari dataset id (default metail/<task>-expert-v0)")
    p.add_argument("--data-dir", type=Path, help="where the demonstrations are")
    p.add_argument("--minari-root", type=Path, help="MINARI_DATASETS_PATH for this export")


def run_minari(a: argparse.Namespace) -> int:
    require_extra("experts")
    from baselines.experts.minari_export import export_minari

    ds = export_minari(a.task, a.dataset_id, a.data_dir, a.minari_root)
    where = Path(ds.spec.data_path).parent
    print(f"wrote Minari dataset {ds.spec.dataset_id} ({ds.total_episodes} episodes) to {where}")
    env = f"MINARI_DATASETS_PATH={a.minari_root} " if a.minari_root is not None else ""
    print(f"load it with: {env}minari.load_dataset({ds.spec.dataset_id!r})")
    return 0


TRAIN_EXPERT = Command("train-expert", TRAIN_HELP, train_arguments, run_train)
GENERATE_DEMOS = Command("generate-demos", DEMOS_HELP, demos_arguments, run_demos)
EXPORT_MINARI = Command("export-minari", MINARI_HELP, minari_arguments, run_minari)
EXPERT_DATA = module_command(
    "expert-data",
    EXPERT_DATA_HELP,
    "baselines.experts.make_expert_data",
    arguments=expert_data_arguments,
)
RETRY_EXPERTS = module_command(
    "retry-experts", RETRY_HELP, "baselines.experts.retry", arguments=retry_arguments
)
EXPERT_PLOTS = module_command("expert-plots", PLOTS_HELP, "baselines.experts.plots")
PROBE_PARAMS = module_command("probe-params", PROBE_HELP, "baselines.experts.probe_params")
CONVERT_EXPERT = module_command("convert-expert", CONVERT_HELP, "baselines.experts.convert")
