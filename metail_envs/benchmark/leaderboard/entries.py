"""One entry per agent from its chosen seed files: its (seeds, tasks) scores per (split, track, K),
failures, costs, and the statistics (:mod:`..stats`) every renderer shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import stats
from ..protocol import CONFIDENCE, FAILED_SCORE
from ..results import job_key
from .board import Cell, Entry, Leaderboard
from .files import Chosen

_Items = list[tuple[Path, dict[str, Any]]]


def build_entries(chosen: Chosen, tasks: dict[str, list[str]], cells: list[Cell]) -> list[Entry]:
    """One entry per agent of ``chosen``, its seed files in seed order, scored on ``tasks``."""
    by_agent: dict[str, _Items] = {}
    for (name, _), item in sorted(chosen.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        by_agent.setdefault(name, []).append(item)
    entries = []
    for name, items in by_agent.items():
        first = items[0][1]["agent"]
        entry = Entry(
            name=name,
            spec=first["spec"],
            privileged=bool(first.get("privileged", False)),
            seeds=[d["seed"] for _, d in items],
            files=[str(p) for p, _ in items],
        )
        for cell in cells:
            _score_cell(entry, items, tasks[cell[0]], cell)
        _costs(entry, items)
        entries.append(entry)
    return entries


def _score_cell(entry: Entry, items: _Items, tasks: list[str], cell: Cell) -> None:
    """The entry's (seeds, tasks) scores and failures in one cell; a failed job scores
    ``FAILED_SCORE`` and its error's first line is kept once."""
    split, track, k = cell
    mat = np.full((len(items), len(tasks)), FAILED_SCORE)
    fails = 0
    for row, (_, doc) in enumerate(items):
        jobs = {job_key(j)[1:]: j for j in doc["jobs"] if j["split"] == split}
        for col, task in enumerate(tasks):
            job = jobs[(task, track, k)]
            if job["status"] == "ok":
                mat[row, col] = job["score"]
            else:
                fails += 1
                first_line = job["error"].splitlines()[0]
                if first_line not in entry.errors:
                    entry.errors.append(first_line)
    entry.scores[cell] = mat
    entry.failures[cell] = fails


def _costs(entry: Entry, items: _Items) -> None:
    """Meta-training time per seed, adaptation time (mean, max) and adaptation steps."""
    adapt_times: list[float] = []
    adapt_steps: list[float | None] = []
    meta_times = []
    for _, doc in items:
        if doc["meta_train"]["time_s"] is not None:
            meta_times.append(doc["meta_train"]["time_s"])
        adapt_times += [j["adapt_time_s"] for j in doc["jobs"] if j["status"] == "ok"]
        adapt_steps += [_steps(j) for j in doc["jobs"] if j["status"] == "ok" and j["k"]]
    steps = [n for n in adapt_steps if n is not None]
    entry.adapt_steps = float(np.mean(steps)) if steps else None
    entry.meta_train_s = float(np.mean(meta_times)) if meta_times else None
    entry.adapt_s = (
        (float(np.mean(adapt_times)), float(np.max(adapt_times))) if adapt_times else None
    )


def _steps(job: dict[str, Any]) -> float | None:
    """Gradient steps of an adaptation, else its forward passes, as the agent reported them."""
    reported = job.get("adapt_stats") or {}
    return reported.get("gradient_steps", reported.get("forward_passes"))


def summarise(board: Leaderboard, resamples: int, seed: int) -> None:
    """Every entry's statistics per cell, with its probability of improvement over each of the
    board's baselines (seeded: every rendering shows the same intervals)."""
    by_name = {e.name: e for e in board.entries}
    for entry in board.entries:
        for cell in board.cells:
            s = stats.summarise(
                entry.scores[cell], resamples=resamples, confidence=CONFIDENCE, seed=seed
            )
            s["poi"] = {}
            for name in board.baselines:
                base = by_name.get(name)
                if base is None or base is entry:
                    continue
                x, y = entry.scores[cell], base.scores[cell]
                ci = stats.probability_of_improvement_ci(
                    x, y, resamples=resamples, confidence=CONFIDENCE, seed=seed
                )
                s["poi"][name] = (float(stats.probability_of_improvement(x, y)), *map(float, ci))
            entry.summary[cell] = s
