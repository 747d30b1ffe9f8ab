"""The v3 demonstrator: one context-conditioned PPO policy over the training distribution.

Per-task experts cost about 0.1 core-hour each, too dear for thousands of training tasks. The
demonstrator is one policy that sees the true normalised context and is trained with a new task
drawn at every reset (domain randomisation), so it can demonstrate any task of the distribution.

The run is an ordinary :func:`baselines.experts.train.train` run directory (resumable: an
interrupted run loses at most one checkpoint interval), trained in stretches of ``--every``
steps; after each stretch its latest policy is scored on the suite's 40 training and 20 scored
tasks (deterministic episodes from the reset seeds :data:`SCORE_SEED` on, normalised by each
task's specialist expert and random references) and one row per split is appended to
``curve.csv``, the learning curve whose table (``--table``) docs/experts.md shows::

    python -m baselines.experts.demonstrator --out expert_data/training/demonstrator --resume
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from baselines.experts.checkpoints import folded_checkpoint
from baselines.experts.evaluate import evaluate_episodes
from baselines.experts.train import train
from baselines.experts.train_config import TrainConfig
from metail_envs.benchmark import stats
from metail_envs.data import load_references
from metail_envs.fileio import atomic_write
from metail_envs.tasks import Task, load_suite

CURVE_FIELDS = ("steps", "wall_s", "split", "median", "iqm", "mean", "completion")
SCORE_SEED = 1_000_003
"""Reset seeds of the curve's episodes: apart from training's and from selection's."""


def training_tasks(suite: str, n_tasks: int, seed: int) -> list[Task]:
    """``n_tasks`` tasks drawn from ``suite``'s training distribution (seeded)."""
    if not isinstance(n_tasks, int) or n_tasks < 1:
        raise ValueError(f"n_tasks must be a positive int, got {n_tasks!r}")
    return load_suite(suite).sampler(seed).sample(n_tasks)


def score_split(
    policy, tasks: list[Task], refs: dict, episodes: int, observe_context: bool = True
) -> dict[str, float]:
    """Median, IQM and mean normalised score and completion rate of ``policy`` over ``tasks``
    (the per-task mean over ``episodes`` deterministic episodes; ``observe_context`` as the
    policy was trained)."""
    scores, complete = [], []
    for t in tasks:
        eps = evaluate_episodes(policy, t, episodes, SCORE_SEED, observe_context=observe_context)
        r = refs[t.id]
        rets = np.array([e.ret for e in eps])
        scores.append(stats.normalised_score(rets, r["random_mean"], r["expert_mean"]).mean())
        complete.extend(e.complete for e in eps)
    per_task = np.array([scores])  # one run x the tasks: the leaderboard's statistics' shape
    return {
        "median": float(stats.median(per_task)),
        "iqm": float(stats.iqm(per_task)),
        "mean": float(stats.mean(per_task)),
        "completion": float(np.mean(complete)),
    }


def append_curve(path: Path, rows: list[dict]) -> None:
    """Append rows to the learning curve (rewritten atomically: an interrupt loses nothing)."""
    old = list(csv.DictReader(path.open())) if path.exists() else []

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=CURVE_FIELDS)
            w.writeheader()
            w.writerows(old + rows)

    atomic_write(path, write)


def curve_table(path: Path) -> str:
    """The learning curve as a Markdown table: per curve point, median / IQM / completion on
    each split (the table docs/experts.md shows)."""
    by_steps: dict[int, dict[str, dict]] = {}
    for r in csv.DictReader(path.open()):
        by_steps.setdefault(int(r["steps"]), {})[r["split"]] = r
    splits = ("train", "test", "ood")
    head = "| steps | " + " | ".join(f"{s} median / IQM / completion" for s in splits) + " |"
    lines = [head, "|---" * (1 + len(splits)) + "|"]
    for steps, row in sorted(by_steps.items()):
        cells = [
            f"{float(row[s]['median']):.1f} / {float(row[s]['iqm']):.1f} / "
            f"{float(row[s]['completion']):.0%}"
            if s in row
            else "-"
            for s in splits
        ]
        lines.append(f"| {steps:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m baselines.experts.demonstrator``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="the run directory")
    p.add_argument(
        "--config",
        default="demonstrator",
        help="training config (configs/*.json; default %(default)s)",
    )
    p.add_argument(
        "--suite",
        default="hopper-v1",
        help="whose training distribution and tasks (default %(default)s)",
    )
    p.add_argument(
        "--n-tasks",
        type=int,
        default=4096,
        help="training tasks drawn (seeded; default %(default)s)",
    )
    p.add_argument(
        "--task-seed",
        type=int,
        default=20261206,
        help="seed of the task draw (default %(default)s)",
    )
    p.add_argument(
        "--every",
        type=int,
        default=1_048_576,
        help="steps between curve points (default %(default)s)",
    )
    p.add_argument(
        "--episodes",
        type=int,
        default=1,
        help="curve episodes per scored task (default %(default)s)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="stop at this many steps in all (default: the config's total_steps)",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--hide-context",
        action="store_true",
        help="train and score without the context in the observation: the calibration's "
        "measure of how much the policy must know its task (default: the context is shown)",
    )
    p.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="a run directory whose best checkpoint starts (default: none)",
    )
    p.add_argument(
        "--table", action="store_true", help="print the curve as Markdown, train nothing"
    )
    return p


def main(argv: list[str] | None = None) -> None:
    a = build_parser().parse_args(argv)
    if a.table:
        print(curve_table(a.out / "curve.csv"))
        return
    config = TrainConfig.load(a.config)
    stop = a.steps or config.total_steps
    tasks = training_tasks(a.suite, a.n_tasks, a.task_seed)
    suite = load_suite(a.suite)
    refs = load_references(suite)
    splits = {"train": list(suite.train), "test": list(suite.test), "ood": list(suite.ood)}
    curve = a.out / "curve.csv"
    done = (
        max((int(r["steps"]) for r in csv.DictReader(curve.open())), default=0)
        if curve.exists()
        else 0
    )
    observe_context = not a.hide_context  # train() refuses a change on resume
    resume = a.resume
    while done < stop:
        target = min(stop, (done // a.every + 1) * a.every)
        t0 = time.perf_counter()
        train(
            tasks,
            replace(config, total_steps=target),
            a.out,
            resume=resume,
            observe_context=observe_context,
        )
        resume = True
        policy = folded_checkpoint(a.out, "last", config, tasks[0])
        rows = []
        for split, ts in splits.items():
            row = score_split(policy, ts, refs, a.episodes, observe_context)
            rows.append(
                {
                    "steps": target,
                    "wall_s": round(time.perf_counter() - t0, 1),
                    "split": split,
                    **row,
                }
            )
            summary = ", ".join(f"{k} {row[k]:.2f}" for k in ("median", "iqm", "completion"))
            print(f"{target:>10} {split:>5}: {summary}", flush=True)
        append_curve(curve, rows)
        done = target


if __name__ == "__main__":
    main()
