"""The v3 demonstrator against the per-task specialist experts, on the same episodes.

Both are scored on every task of the suite (40 training, 10 test, 10 ood) with the protocol's
evaluation episodes (reset seeds from ``RESET_SEED_BASE``, deterministic actions, normalised by
each task's specialist and random references): per split, the median and IQM over tasks of the
per-task mean score, and the completion rate (episodes that run the whole ``MAX_STEPS``)::

    python -m baselines.experts.demonstrator_table --out results/demonstrator
    python -m baselines.experts.demonstrator_table --out results/demonstrator --table
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.experts.dense_demos import (
    DEMONSTRATOR,
    DemonstratorPolicy,
    demonstrator_info,
    load_demonstrator,
)
from metail_envs.benchmark import stats
from metail_envs.benchmark.evaluation import make_envs, run_episodes
from metail_envs.benchmark.protocol import EPISODES, MAX_STEPS, RESET_SEED_BASE
from metail_envs.benchmark.reference_agents import ExpertPolicy
from metail_envs.benchmark.results import environment_info
from metail_envs.data import load_expert, load_references
from metail_envs.fileio import atomic_write
from metail_envs.tasks import Task, load_suite

SPLITS = ("train", "test", "ood")


def split_scores(
    policy_of: Callable[[Task], Any], tasks: Sequence[Task], refs: dict, episodes: int
) -> dict[str, Any]:
    """Per task mean normalised score and completion; median, IQM and completion over tasks."""
    seeds = [RESET_SEED_BASE + i for i in range(episodes)]
    per_task, complete = [], []
    for t in tasks:
        rets, lengths = run_episodes(policy_of(t), make_envs(t, episodes, MAX_STEPS), seeds)
        r = refs[t.id]
        per_task.append(
            float(stats.normalised_score(np.array(rets), r["random_mean"], r["expert_mean"]).mean())
        )
        complete += [n >= MAX_STEPS for n in lengths]
    m = np.array([per_task])
    return {
        "median": float(stats.median(m)),
        "iqm": float(stats.iqm(m)),
        "completion": float(np.mean(complete)),
        "per_task": per_task,
    }


def compare(suite_name: str, episodes: int) -> dict[str, Any]:
    """The demonstrator's and the specialists' scores on every split of the suite."""
    torch.set_num_threads(1)
    suite = load_suite(suite_name)
    refs = load_references(suite)
    model = load_demonstrator(DEMONSTRATOR, "best")
    agents: dict[str, Callable[[Task], Any]] = {
        "demonstrator": lambda t: DemonstratorPolicy(model, t),
        "specialists": lambda t: ExpertPolicy(load_expert(t)),
    }
    splits = {s: list(getattr(suite, s)) for s in SPLITS}
    return {
        "suite": suite.name,
        "episodes": episodes,
        "scores": {
            a: {s: split_scores(f, ts, refs, episodes) for s, ts in splits.items()}
            for a, f in agents.items()
        },
        "provenance": provenance(),
    }


def provenance() -> dict[str, Any]:
    """Versions, machine, commit and the demonstrator file a result was measured with."""
    import subprocess

    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=DEMONSTRATOR, capture_output=True, text=True
    ).stdout.strip()
    return {**environment_info(), "commit": commit, "demonstrator": demonstrator_info()}


def table(doc: dict[str, Any]) -> str:
    """Markdown: per split, median / IQM / completion of the demonstrator and the specialists."""
    lines = [
        "| split (tasks) | demonstrator median / IQM / completion "
        "| specialists median / IQM / completion |",
        "|---|---|---|",
    ]
    for s in SPLITS:
        cells = []
        for a in ("demonstrator", "specialists"):
            r = doc["scores"][a][s]
            cells.append(f"{r['median']:.1f} / {r['iqm']:.1f} / {r['completion']:.0%}")
        n = len(doc["scores"]["demonstrator"][s]["per_task"])
        lines.append(f"| {s} ({n}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m baselines.experts.demonstrator_table``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="where compare.json goes")
    p.add_argument("--suite", default="hopper-v1", help="whose tasks (default %(default)s)")
    p.add_argument(
        "--episodes", type=int, default=EPISODES, help="episodes per task (default %(default)s)"
    )
    p.add_argument("--table", action="store_true", help="print the table of --out, run nothing")
    return p


def main(argv: list[str] | None = None) -> None:
    a = build_parser().parse_args(argv)
    path = a.out / "compare.json"
    if not a.table:
        if a.episodes < 1:
            raise SystemExit(f"--episodes must be at least 1, got {a.episodes}")
        doc = compare(a.suite, a.episodes)
        a.out.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: tmp.write_text(json.dumps(doc, indent=1)))
    print(table(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
