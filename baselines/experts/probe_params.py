"""Probe which single parameters make a task hard: fine-tune the nominal base (or train from
scratch) on one-parameter variants at the edges of the suite's ranges.

    metail probe-params --steps 294912 friction=2 mass=2 com_offset=0.05
    metail probe-params --scratch --steps 491520 friction=2

(``python -m baselines.experts.probe_params`` is the same command.)

Each probe is an ordinary run of :func:`baselines.experts.train.train` (``configs/finetune.json``
from the base's best checkpoint, or ``configs/ppo_default.json`` with ``--scratch``; budget
``--steps``, no early stop) into ``runs/experts/probe-<how>-<param>-<value>/``. The printed line
per probe gives the first evaluation (for a fine-tune: the nominal expert on the variant) and the
best one (10 deterministic episodes each, the selection seeds). Evidence for calibrating ranges.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import replace
from pathlib import Path

from baselines.cli import python_m
from baselines.experts.layout import training_dir
from metail_envs.data import default_data_dir
from metail_envs.tasks import DEFAULT_SUITE, Task, load_suite


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``metail probe-params`` and ``python -m baselines.experts.probe_params``."""
    p.add_argument(
        "variants", nargs="+", metavar="NAME=VALUE", help="one probe per parameter value"
    )
    p.add_argument(
        "--steps",
        type=int,
        default=294_912,
        help="training steps of each probe (default %(default)s)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("runs/experts"),
        help="probe runs go here (default %(default)s)",
    )
    p.add_argument(
        "--scratch",
        action="store_true",
        help="PPO from scratch (ppo_default.json) instead of fine-tuning the base",
    )


def run(a: argparse.Namespace) -> int:
    """Train one probe per ``NAME=VALUE`` variant; print its first and best evaluation."""
    from baselines.experts.train import train
    from baselines.experts.train_config import TrainConfig

    how = "scratch" if a.scratch else "finetune"
    tasks = [_probe_task(spec, how) for spec in a.variants]  # every variant checked first
    base = training_dir(default_data_dir(), load_suite(DEFAULT_SUITE).nominal.id)
    config = TrainConfig.load("ppo_default" if a.scratch else "finetune")
    config = replace(config, total_steps=a.steps, patience=None, target_return=None)
    for spec, task in zip(a.variants, tasks):
        r = train(
            task,
            config,
            a.out / task.id,
            resume=True,
            init_from=None if a.scratch else base,
            progress=False,
            log=lambda _: None,
        )
        with (r.out_dir / "progress.csv").open() as f:
            start = float(next(csv.DictReader(f))["eval_mean"])
        print(
            f"{spec:24s} {how:8s} first eval {start:6.0f}  best {r.best_mean:6.0f} "
            f"at {r.best_steps} steps ({r.steps} steps)",
            flush=True,
        )
    return 0


def _probe_task(spec: str, how: str) -> Task:
    """``"friction=2"`` -> the one-parameter task ``probe-<how>-friction-2``; a spec that is not
    ``NAME=VALUE`` is refused by name (an unknown NAME by :class:`Task`)."""
    name, _, value = spec.partition("=")
    try:
        number = float(value)
    except ValueError:
        name = ""
    if not name:
        raise ValueError(f"variant {spec!r} is invalid; accepted: NAME=VALUE, e.g. friction=2")
    return Task({name: number}, id=f"probe-{how}-{name}-{value}")


build_parser, main = python_m("baselines.experts.probe_params")

if __name__ == "__main__":
    raise SystemExit(main())
