"""Calibrate protocol v3's dense suite: how many training tasks N make task inference decide.

For each N (nested: the first N of one seeded draw from the suite's training distribution), one
demonstration per task by the v3 demonstrator (:mod:`baselines.experts.dense_demos`), then at
K=0 on the suite's scored tasks (the protocol's episodes, reset seeds and specialist-normalised
scores, IQM over tasks): the context oracle (:mod:`baselines.context_oracle`, told the task) and
pooled BC (:mod:`baselines.bc`, not told) trained on them; once, the demonstrator itself and
single-task BC on the short track at K=1 (a window of a demonstrator demonstration of the scored
task). The rule (docs/protocol.md): the smallest N where the context oracle reaches 70 on test
while pooled BC stays at most 35 and single-task BC at most 10::

    python -m baselines.calibrate_v3 --out results/calibration-v3
    python -m baselines.calibrate_v3 --out results/calibration-v3 --table

Demonstrations are cached under ``--out`` (``demos-*.npz``, no pickle) and every finished
(agent, N, seed) row is written at once, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baselines.experts.demonstrator import training_tasks
from baselines.experts.demonstrator_table import provenance, split_scores
from baselines.experts.dense_demos import (
    DEMONSTRATOR,
    DemonstratorPolicy,
    load_demonstrator,
    record_demos,
)
from metail_envs.benchmark import stats
from metail_envs.benchmark.protocol import EPISODES, SHORT_WINDOW
from metail_envs.data import load_references
from metail_envs.fileio import atomic_write
from metail_envs.tasks import Task, load_suite
from metail_envs.trajectory import make_trajectory

N_VALUES = (40, 160, 640, 2560)
"""Training-task counts calibrated (nested prefixes of one draw)."""
TASK_SEED = 20261207
"""Seed of the dense draw (the demonstrator trained on another: 20261206)."""
DEMO_SEED = 2_000_000
"""Reset seed of task i's demonstration: ``DEMO_SEED + i`` (apart from evaluation's)."""
SCORED_DEMO_SEED = 3_000_000
"""Reset seeds of the scored tasks' demonstrations (single-task BC's windows)."""
SCORED_DEMOS = 5
"""Demonstrations per scored task; training seed s adapts on a window of demonstration s mod 5."""


def save_demos(path: Path, trajs: Sequence[Any]) -> None:
    """Demonstrations as one npz of concatenated float32 arrays and their lengths."""
    lengths = np.array([len(t.acts) for t in trajs])
    arrays = {
        "lengths": lengths,
        "obs": np.concatenate([t.obs for t in trajs]).astype(np.float32),
        "acts": np.concatenate([t.acts for t in trajs]).astype(np.float32),
        "rews": np.concatenate([t.rews for t in trajs]).astype(np.float32),
    }
    atomic_write(path, lambda tmp: np.savez(tmp.open("wb"), **arrays))


def load_demos(path: Path) -> list[Any]:
    """The demonstrations :func:`save_demos` wrote (read with ``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as z:
        lengths, obs, acts, rews = z["lengths"], z["obs"], z["acts"], z["rews"]
    o_ends = np.cumsum(lengths + 1)
    a_ends = np.cumsum(lengths)
    out = []
    for n, oe, ae in zip(lengths, o_ends, a_ends, strict=True):
        out.append(
            make_trajectory(obs[oe - n - 1 : oe], acts[ae - n : ae], None, True, rews[ae - n : ae])
        )
    return out


def cached_demos(path: Path, make: Callable[[], list[Any]]) -> list[Any]:
    if not path.exists():
        save_demos(path, make())
    return load_demos(path)


def summary(per_task: dict[str, list[float]]) -> dict[str, float]:
    """IQM over tasks per split (the leaderboard's statistic on one run)."""
    return {split: float(stats.iqm(np.array([s]))) for split, s in per_task.items()}


def score_tasks(policy_of: Callable[[Task], Any], tasks: Sequence[Task], refs: dict) -> list[float]:
    """Per task: the mean normalised score of ``policy_of(task)`` over the protocol's episodes."""
    return split_scores(policy_of, tasks, refs, EPISODES)["per_task"]


class Calibration:
    """One calibration run's data, agents and result file (resumable row by row)."""

    def __init__(self, out: Path, suite: str, seeds: Sequence[int]) -> None:
        self.out, self.seeds = out, list(seeds)
        self.suite = load_suite(suite)
        self.refs = load_references(self.suite)
        self.scored = {"test": list(self.suite.test), "ood": list(self.suite.ood)}
        self.path = out / "calibration.json"
        self.doc = json.loads(self.path.read_text()) if self.path.exists() else {"rows": []}
        self.model = load_demonstrator(DEMONSTRATOR, "best")

    def done(self, agent: str, n: int | None, seed: int | None) -> bool:
        return any(
            (r["agent"], r["n_tasks"], r["seed"]) == (agent, n, seed) for r in self.doc["rows"]
        )

    def record(
        self, agent: str, n: int | None, seed: int | None, per_task: dict, t0: float
    ) -> None:
        row = {"agent": agent, "n_tasks": n, "seed": seed, "iqm": summary(per_task),
               "per_task": per_task, "wall_s": round(time.perf_counter() - t0, 1)}  # fmt: skip
        self.doc["rows"].append(row)
        self.doc["provenance"] = provenance()
        atomic_write(self.path, lambda tmp: tmp.write_text(json.dumps(self.doc, indent=1)))
        print(
            f"{agent:>16} N={n} seed={seed}: "
            + ", ".join(f"{k} {v:.1f}" for k, v in row["iqm"].items()),
            flush=True,
        )

    def score(self, policy_of: Callable[[Task], Any]) -> dict[str, list[float]]:
        return {split: score_tasks(policy_of, ts, self.refs) for split, ts in self.scored.items()}

    def dense(self, n_max: int) -> tuple[list[Task], list[Any]]:
        tasks = training_tasks(self.suite.name, n_max, TASK_SEED)
        seeds = [DEMO_SEED + i for i in range(n_max)]
        demos = cached_demos(
            self.out / f"demos-dense-{n_max}.npz", lambda: record_demos(self.model, tasks, seeds)
        )
        return tasks, demos

    def scored_demos(self) -> dict[str, list[Any]]:
        tasks = [t for ts in self.scored.values() for t in ts for _ in range(SCORED_DEMOS)]
        seeds = [SCORED_DEMO_SEED + i % SCORED_DEMOS for i in range(len(tasks))]
        demos = cached_demos(
            self.out / "demos-scored.npz", lambda: record_demos(self.model, tasks, seeds)
        )
        by_task: dict[str, list[Any]] = {}
        for t, d in zip(tasks, demos, strict=True):
            by_task.setdefault(t.id, []).append(d)
        return by_task


def window(traj: Any, size: int = SHORT_WINDOW) -> Any:
    """The short track's window: the first ``size`` transitions (``WINDOW_START = "start"``)."""
    n = min(size, len(traj.acts))
    return make_trajectory(traj.obs[: n + 1], traj.acts[:n], None, False, traj.rews[:n])


def run_references(cal: Calibration) -> None:
    """The demonstrator and single-task BC (short track, K=1): independent of N."""
    if not cal.done("demonstrator", None, None):
        t0 = time.perf_counter()
        per = cal.score(lambda t: DemonstratorPolicy(cal.model, t))
        cal.record("demonstrator", None, None, per, t0)
    demos = cal.scored_demos()
    for seed in cal.seeds:
        if not cal.done("single_task_bc", None, seed):
            t0 = time.perf_counter()
            cal.record("single_task_bc", None, seed, single_task_scores(cal, demos, seed), t0)


def single_task_scores(cal: Calibration, demos: dict[str, list[Any]], seed: int) -> dict:
    """Per split and task: single-task BC on one window (the demonstration ``seed`` picks)."""
    from baselines.base import seed_all
    from baselines.single_task_bc import SingleTaskBCAgent

    agent = SingleTaskBCAgent()
    agent.meta_train({}, seed)
    per: dict[str, list[float]] = {}
    for split, ts in cal.scored.items():
        per[split] = []
        for t in ts:
            seed_all(seed)
            policy = agent.adapt([window(demos[t.id][seed % SCORED_DEMOS])])
            per[split].append(score_tasks(lambda _t, p=policy: p, [t], cal.refs)[0])
    return per


def run_n(cal: Calibration, tasks: Sequence[Task], demos: Sequence[Any], n: int) -> None:
    """The context oracle and pooled BC at K=0, trained on the first ``n`` dense tasks."""
    for seed in cal.seeds:
        if not cal.done("context_oracle", n, seed):
            t0 = time.perf_counter()
            cal.record(
                "context_oracle", n, seed, oracle_scores(cal, tasks[:n], demos[:n], seed), t0
            )
        if not cal.done("bc", n, seed):
            t0 = time.perf_counter()
            cal.record("bc", n, seed, pooled_bc_scores(cal, tasks[:n], demos[:n], seed), t0)


def oracle_scores(cal: Calibration, tasks: Sequence[Task], demos: Sequence[Any], seed: int) -> dict:
    from baselines.context_oracle import ContextOracleAgent

    oracle = ContextOracleAgent()
    oracle.train_on([(t, [d]) for t, d in zip(tasks, demos, strict=True)], seed)
    return cal.score(lambda t: oracle.adapt([], task=t))


def pooled_bc_scores(
    cal: Calibration, tasks: Sequence[Task], demos: Sequence[Any], seed: int
) -> dict:
    from baselines.bc import BCAgent

    bc = BCAgent()
    bc.meta_train({t.id: [d] for t, d in zip(tasks, demos, strict=True)}, seed)
    policy = bc.adapt([])
    return cal.score(lambda _t: policy)


def table(path: Path) -> str:
    """The calibration as Markdown: per N, IQM (mean over seeds) on test / ood."""
    rows = json.loads(path.read_text())["rows"]

    def cell(agent: str, n: int | None) -> str:
        rs = [r["iqm"] for r in rows if r["agent"] == agent and r["n_tasks"] == n]
        if not rs:
            return "-"
        return (
            " / ".join(f"{np.mean([r[s] for r in rs]):.1f}" for s in ("test", "ood"))
            + f" ({len(rs)})"
        )

    ns = sorted({r["n_tasks"] for r in rows if r["n_tasks"] is not None})
    lines = [
        "| N training tasks | context oracle K=0 | pooled BC K=0 | single-task BC short K=1 | demonstrator |",
        "|---|---|---|---|---|",
    ]
    for n in ns:
        lines.append(f"| {n} | {cell('context_oracle', n)} | {cell('bc', n)} | "
                     f"{cell('single_task_bc', None)} | {cell('demonstrator', None)} |")  # fmt: skip
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m baselines.calibrate_v3``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--out", type=Path, required=True, help="result directory (resumed if it exists)"
    )
    p.add_argument(
        "--suite",
        default="hopper-v1",
        help="whose distribution and scored tasks (default %(default)s)",
    )
    p.add_argument(
        "--n-values",
        type=int,
        nargs="+",
        default=list(N_VALUES),
        help="training-task counts (default %(default)s)",
    )
    p.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1], help="training seeds (default %(default)s)"
    )
    p.add_argument("--table", action="store_true", help="print the calibration table, run nothing")
    return p


def main(argv: list[str] | None = None) -> None:
    a = build_parser().parse_args(argv)
    if a.table:
        print(table(a.out / "calibration.json"))
        return
    for n in a.n_values:
        if n < 1:
            raise SystemExit(f"--n-values must be positive, got {n}")
    a.out.mkdir(parents=True, exist_ok=True)
    cal = Calibration(a.out, a.suite, a.seeds)
    run_references(cal)
    tasks, demos = cal.dense(max(a.n_values))
    for n in sorted(a.n_values):
        run_n(cal, tasks, demos, n)


if __name__ == "__main__":
    main()
