"""Calibrate protocol v2's short track: which window length T and window rule make priors matter.

The rule (issue "Protocol v2", docs/protocol.md): choose T and where the window starts so that
single-task BC (the floor) scores at most 40 on test at K=1, while the best prior-based agent
leaves at least 30 points to the expert; among the settings that pass, the one where the prior
gains most over the floor. Every setting is scored by ``metail evaluate`` itself (the one
evaluation job, seeded demonstration draws) on the test split, with non-official configs that
differ only in ``short_window`` and ``window_start``; the pooled agents are meta-trained once per
seed and their checkpoints reused across settings (meta-training does not see the window)::

    python -m baselines.calibrate_short_track --seeds 0 1 2 --out results/calibration

writes ``OUT/<T>-<start>/`` (result files, resumable with the same command) and
``OUT/calibration.json`` / ``OUT/calibration.md`` (the table docs/protocol.md shows).
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from baselines.cli import python_m

FLOOR = "single_task_bc"
PRIORS = ("bc",)
"""Prior-based agents: pooled BC fine-tuned on the window (the strongest prior measured in v1)."""
FLOOR_MAX = 40.0
"""The floor's test IQM at K=1 must be at most this."""
EXPERT_GAP_MIN = 30.0
"""The best prior-based agent must leave at least this many points to the expert (100)."""


def setting_config(window: int, start: str, k_values: Sequence[int], **overrides: Any):
    """The protocol's short track at one (T, start), on the test split only (``overrides``:
    smaller runs for tests)."""
    from metail_envs.benchmark import ProtocolConfig

    return ProtocolConfig(
        splits=("test",),
        tracks=("short",),
        short_k_values=tuple(k_values),
        short_window=window,
        window_start=start,
        **overrides,
    )


def _share_checkpoints(source: Path, target: Path) -> None:
    """Give ``target`` the meta-trained checkpoints of ``source`` (re-used, not retrained)."""
    src = source / "checkpoints"
    if src.is_dir() and not (target / "checkpoints").exists():
        shutil.copytree(src, target / "checkpoints")


def _scores(out: Path, agent: str, k: int) -> np.ndarray:
    """The (seeds, tasks) matrix of ``agent`` at K in a run directory (failed jobs score 0)."""
    from metail_envs.benchmark.protocol import FAILED_SCORE

    rows = []
    for path in sorted((out / "results" / agent).glob("seed_*.json")):
        doc = json.loads(path.read_text())
        jobs = sorted((j for j in doc["jobs"] if j["k"] == k), key=lambda j: j["task"])
        rows.append([j["score"] if j["status"] == "ok" else FAILED_SCORE for j in jobs])
    return np.array(rows, dtype=np.float64)


@dataclass(frozen=True)
class Grid:
    """The settings calibrated (window lengths T x window starts), the K values and the agent
    seeds each setting is scored with."""

    seeds: tuple[int, ...] = (0, 1, 2)
    windows: tuple[int, ...] = (25, 50, 100)
    starts: tuple[str, ...] = ("start", "offset")
    k_values: tuple[int, ...] = (1, 5)

    def settings(self) -> list[tuple[int, str]]:
        """Every (T, start), in order."""
        return [(window, start) for window in self.windows for start in self.starts]


def calibrate(
    out: str | Path,
    grid: Grid = Grid(),
    *,
    workers: int | None = None,
    data_dir: str | Path | None = None,
    progress: bool = True,
    agent_kwargs: dict[str, dict[str, Any]] | None = None,
    **config_overrides: Any,
) -> dict[str, Any]:
    """Score the floor and the priors at every (T, start); returns (and writes) the table.

    ``agent_kwargs`` (per agent name) and ``config_overrides`` (of the protocol config) make the
    tiny runs of the tests; the calibration itself uses neither.
    """
    import warnings

    from metail_envs.benchmark import AgentSpec, evaluate

    kwargs = agent_kwargs or {}
    agents = [AgentSpec(name, kwargs.get(name, {}), name) for name in (FLOOR, *PRIORS)]
    out = Path(out)
    first: Path | None = None
    for window, start in grid.settings():
        run = out / f"{window}-{start}"
        if first is not None:
            _share_checkpoints(first, run)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*below the protocol's minimum")
            evaluate(
                agents, out=run, seeds=list(grid.seeds), workers=workers, resume=True,
                config=setting_config(window, start, grid.k_values, **config_overrides),
                data_dir=data_dir, progress=progress,
            )  # fmt: skip
        first = first or run
    return tabulate(out, grid, data_dir)


def _complete(run: Path, seeds: Sequence[int]) -> bool:
    files = [run / "results" / a / f"seed_{s:03d}.json" for a in (FLOOR, *PRIORS) for s in seeds]
    return all(f.is_file() and json.loads(f.read_text()).get("complete") for f in files)


def tabulate(
    out: str | Path, grid: Grid = Grid(), data_dir: str | Path | None = None
) -> dict[str, Any]:
    """The table of every setting whose runs are complete (the others are listed as pending),
    written to ``OUT/calibration.json`` and ``OUT/calibration.md``."""
    from metail_envs import data, load_suite
    from metail_envs.benchmark.stats import summarise

    out = Path(out)
    rows, pending = [], []
    for window, start in grid.settings():
        run = out / f"{window}-{start}"
        if not _complete(run, grid.seeds):
            pending.append(f"{window}-{start}")
            continue
        for agent in (FLOOR, *PRIORS):
            for k in grid.k_values:
                s = summarise(_scores(run, agent, k))
                rows.append({"window": window, "start": start, "agent": agent, "k": k,
                             "iqm": s["iqm"], "iqm_ci": s["iqm_ci"]})  # fmt: skip
    data_hash = data.data_hash(load_suite(), data_dir=data_dir)
    table = {"seeds": list(grid.seeds), "data_hash": data_hash, "rows": rows, "pending": pending,
             "choice": choose(rows, min(grid.k_values))}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibration.json").write_text(json.dumps(table, indent=1) + "\n")
    (out / "calibration.md").write_text(markdown(table) + "\n")
    return table


def choose(rows: list[dict[str, Any]], k: int) -> dict[str, Any] | None:
    """The setting that passes the rule at ``k`` with the largest gain of a prior over the
    floor; ``None`` if no setting passes."""
    best = None
    for window, start in dict.fromkeys((r["window"], r["start"]) for r in rows):
        at = {
            r["agent"]: r["iqm"]
            for r in rows
            if (r["window"], r["start"], r["k"]) == (window, start, k)
        }
        prior = max(at[a] for a in PRIORS)
        passes = at[FLOOR] <= FLOOR_MAX and prior <= 100.0 - EXPERT_GAP_MIN
        gain = prior - at[FLOOR]
        if passes and (best is None or gain > best["gain"]):
            best = {"window": window, "start": start, "k": k, "floor": at[FLOOR],
                    "prior": prior, "gain": gain}  # fmt: skip
    return best


def markdown(table: dict[str, Any]) -> str:
    """The calibration table as Markdown: one row per (T, start), IQM [95% CI] per agent and K."""
    rows = table["rows"]
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    ks = sorted({r["k"] for r in rows})
    header = ["T", "window start"] + [f"{a} K={k}" for k in ks for a in agents]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for window, start in dict.fromkeys((r["window"], r["start"]) for r in rows):
        cells = [str(window), start]
        for k in ks:
            for a in agents:
                [r] = [
                    r
                    for r in rows
                    if (r["window"], r["start"], r["agent"], r["k"]) == (window, start, a, k)
                ]
                cells.append(f"{r['iqm']:.1f} [{r['iqm_ci'][0]:.1f}, {r['iqm_ci'][1]:.1f}]")
        lines.append("| " + " | ".join(cells) + " |")
    c = table["choice"]
    lines.append("")
    if table.get("pending"):
        lines.append(f"Not measured yet: {', '.join(table['pending'])}.")
    lines.append(
        "No setting passes the rule."
        if c is None
        else f"Chosen: T={c['window']}, window start {c['start']} (K={c['k']}: floor "
        f"{c['floor']:.1f}, best prior {c['prior']:.1f}, gain {c['gain']:.1f}); seeds "
        f"{table['seeds']}, test split, IQM [95% stratified bootstrap CI]; data hash "
        f"{table['data_hash'][:12]}."
    )
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``metail calibrate-short-track`` and
    ``python -m baselines.calibrate_short_track``."""
    p.add_argument(
        "--out",
        default="results/calibration",
        help="settings and table go here (default %(default)s)",
    )
    grid = Grid()
    lists = {
        "--seeds": (int, grid.seeds, "agent seeds"),
        "--windows": (int, grid.windows, "window lengths T to try"),
        "--starts": (str, grid.starts, "where windows start"),
        "--k-values": (int, grid.k_values, "short-track K values scored"),
    }
    for flag, (kind, default, what) in lists.items():
        p.add_argument(
            flag, type=kind, nargs="+", default=list(default), help=f"{what} (default %(default)s)"
        )
    p.add_argument("--workers", type=int, help="parallel evaluation workers (default: all cores)")
    p.add_argument(
        "--data-dir", help="expert data directory (default: METAIL_DATA_DIR or expert_data/)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--tabulate", action="store_true", help="only tabulate the finished settings")


def run(a: argparse.Namespace) -> int:
    """Score every setting (or, with ``--tabulate``, only read the finished ones); print the
    table."""
    grid = Grid(tuple(a.seeds), tuple(a.windows), tuple(a.starts), tuple(a.k_values))
    if a.tabulate:
        print(markdown(tabulate(a.out, grid, a.data_dir)))
        return 0
    table = calibrate(
        a.out, grid, workers=a.workers, data_dir=a.data_dir, progress=not a.no_progress
    )
    print(markdown(table))
    return 0


build_parser, main = python_m("baselines.calibrate_short_track")

if __name__ == "__main__":
    raise SystemExit(main())
