"""Probe which single parameters make a task hard: fine-tune the nominal base (or train from
scratch) on one-parameter variants at the edges of the suite's ranges.

    python -m baselines.experts.probe_params --steps 294912 friction=2 mass=2 com_offset=0.05
    python -m baselines.experts.probe_params --scratch --steps 491520 friction=2

Each probe is an ordinary run of :func:`baselines.experts.train.train` (``configs/finetune.json``
from the base's best checkpoint, or ``configs/ppo_default.json`` with ``--scratch``; budget
``--steps``, no early stop) into ``runs/experts/probe-<how>-<param>-<value>/``. The printed line
per probe gives the first evaluation (for a fine-tune: the nominal expert on the variant) and the
best one (10 deterministic episodes each, the selection seeds). Evidence for calibrating ranges.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from baselines.experts.layout import training_dir
from metail_envs.data import default_data_dir
from metail_envs.tasks import DEFAULT_SUITE, Task, load_suite


def main(argv: Sequence[str] | None = None) -> int:
    from baselines.experts.train import TrainConfig, train

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("variants", nargs="+", help="name=value")
    p.add_argument("--steps", type=int, default=294_912)
    p.add_argument("--out", type=Path, default=Path("runs/experts"))
    p.add_argument(
        "--scratch",
        action="store_true",
        help="PPO from scratch (ppo_default.json) instead of fine-tuning the base",
    )
    a = p.parse_args(argv)
    base = training_dir(default_data_dir(), load_suite(DEFAULT_SUITE).nominal.id)
    name = "ppo_default" if a.scratch else "finetune"
    config = replace(TrainConfig.load(name), total_steps=a.steps, patience=None, target_return=None)
    for spec in a.variants:
        name, value = spec.split("=")
        how = "scratch" if a.scratch else "finetune"
        task = Task({name: float(value)}, id=f"probe-{how}-{name}-{value}")
        r = train(
            task,
            config,
            a.out / task.id,
            resume=True,
            init_from=None if a.scratch else base,
            progress=False,
            log=lambda _: None,
        )
        import csv

        with (r.out_dir / "progress.csv").open() as f:
            start = float(next(csv.DictReader(f))["eval_mean"])
        print(
            f"{spec:24s} {how:8s} first eval {start:6.0f}  best {r.best_mean:6.0f} "
            f"at {r.best_steps} steps ({r.steps} steps)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
