"""Figures of the experts, from the committed data (every number comes from a command here).

    metail expert-plots summary      # per-task table of returns, steps, time
    metail expert-plots returns      # expert vs random return per task
    metail expert-plots curves       # learning curves of every training run
    metail expert-plots matrix       # cross-task matrix (test + ood + nominal)
    metail expert-plots gif          # the expert on a light, heavy, short Hopper

(``python -m baselines.experts.plots WHAT`` is the same command.) Figures go to ``docs/img/``; the cross-task matrix's numbers to ``expert_data/cross_task.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from baselines.cli import python_m
from baselines.experts.layout import training_dir
from metail_envs.data import default_data_dir, load_manifest
from metail_envs.tasks import DEFAULT_SUITE, Task, load_suite

IMG_DIR = Path(__file__).resolve().parents[2] / "docs" / "img"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_returns(
    suite: str = DEFAULT_SUITE, data_dir: Path | None = None, out: Path | None = None
) -> Path:
    """Expert (mean ± std over the manifest's episodes) and random return for every task."""
    plt = _plt()
    tasks = load_manifest(data_dir)["tasks"]
    ids = [t.id for t in load_suite(suite).tasks if t.id in tasks]
    exp = np.array([tasks[i]["expert"]["mean_return"] for i in ids])
    std = np.array([tasks[i]["expert"]["std_return"] for i in ids])
    rnd = np.array([tasks[i]["random"]["mean_return"] for i in ids])
    colors = {"train": "C0", "test": "C1", "ood": "C3", "nominal": "C2"}
    c = [colors[i.split("/")[1]] for i in ids]
    fig, ax = plt.subplots(figsize=(max(6, 0.22 * len(ids) + 2), 3.6))
    x = np.arange(len(ids))
    ax.bar(x, exp, yerr=std, color=c, capsize=1.5, error_kw={"lw": 0.8})
    ax.bar(x, rnd, color="k", alpha=0.6)
    ax.axhline(1500, color="gray", ls="--", lw=0.8)
    ax.axhline(3000, color="gray", ls=":", lw=0.8)
    ax.set_xticks(x, [i.split("/", 1)[1] for i in ids], rotation=90, fontsize=6)
    ax.set_ylabel("return (mean ± std, 20 episodes)")
    ax.set_title(
        f"{suite}: expert return per task (median {np.median(exp):.0f}, min {exp.min():.0f})",
        fontsize=9,
    )
    handles = [plt.Rectangle((0, 0), 1, 1, color=v) for v in colors.values()]
    handles.append(plt.Rectangle((0, 0), 1, 1, color="k", alpha=0.6))
    ax.legend(handles, [*colors, "random"], fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return _save(fig, out or IMG_DIR / "expert_returns.png")


def plot_curves(data_dir: Path | None = None, out: Path | None = None) -> Path:
    """Evaluation return against steps of every training run under ``training/``, the retry
    stage's attempts included."""
    plt = _plt()
    root = (data_dir or default_data_dir()) / "training"
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for run in sorted(root.iterdir()):
        rows = _csv(run / "progress.csv")
        if not rows:
            continue
        steps = [int(r["steps"]) for r in rows]
        ret = [float(r["eval_mean"]) for r in rows]
        base = run.name.endswith("__nominal")
        ax.plot(
            steps,
            ret,
            color="k" if base else "C0",
            lw=1.6 if base else 0.6,
            alpha=1 if base else 0.5,
            label="nominal base (from scratch)" if base else None,
        )
        for attempt in sorted(d for d in run.iterdir() if d.is_dir()):  # the retry stage
            rows = _csv(attempt / "progress.csv")
            steps = [int(r["steps"]) for r in rows]
            ax.plot(steps, [float(r["eval_mean"]) for r in rows], color="C3", lw=0.6, alpha=0.6)
    ax.plot([], [], color="C0", lw=0.6, label="per-task fine-tunes of the base")
    ax.plot([], [], color="C3", lw=0.6, label="retries of the tasks below 1500")
    ax.set_xlabel("PPO steps")
    ax.set_ylabel("evaluation return (10 episodes)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, out or IMG_DIR / "learning_curves.png")


def _csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def cross_task(
    suite: str = DEFAULT_SUITE,
    data_dir: Path | None = None,
    n_episodes: int = 3,
    out: Path | None = None,
) -> dict:
    """The cross-task matrix over test + ood + nominal, saved as JSON and plotted."""
    from baselines.experts.evaluate import cross_task_matrix
    from baselines.experts.rules import EVAL_SEED
    from metail_envs.data import load_expert

    s = load_suite(suite)
    manifest = load_manifest(data_dir)["tasks"]
    wanted = [*s.test, *s.ood, s.nominal]
    tasks = [t for t in wanted if t.id in manifest]
    missing = [t.id for t in wanted if t.id not in manifest]
    if len(tasks) < 2:
        raise ValueError(f"too few tasks with expert data for a matrix (missing {missing})")
    refs = {
        t.id: {
            "expert_mean": manifest[t.id]["expert"]["mean_return"],
            "random_mean": manifest[t.id]["random"]["mean_return"],
        }
        for t in tasks
    }
    experts = {t.id: load_expert(t, data_dir) for t in tasks}
    m = cross_task_matrix(experts, tasks, refs, n_episodes, EVAL_SEED)
    ids = [t.id for t in tasks]
    off = ~np.eye(len(ids), dtype=bool)
    nominal_row = m[ids.index(s.nominal.id)][[i for i in range(len(ids)) if ids[i] != s.nominal.id]]
    result = {
        "complete": not missing,
        "missing": missing,
        "tasks": ids,
        "n_episodes": n_episodes,
        "seed": EVAL_SEED,
        "matrix": np.round(m, 2).tolist(),
        "off_diagonal_median": float(np.median(m[off])),
        "nominal_expert_on_others_median": float(np.median(nominal_row)),
        "nominal_expert_on_others_mean": float(np.mean(nominal_row)),
        "rows_above_80_on_most_others": [
            ids[i] for i in range(len(ids)) if (m[i][off[i]] > 80).mean() > 0.5
        ],
    }
    path = (data_dir or default_data_dir()) / "cross_task.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    _plot_matrix(m, ids, out or IMG_DIR / "cross_task.png")
    return result


def _plot_matrix(m: np.ndarray, ids: Sequence[str], out: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    im = ax.imshow(np.clip(m, -10, 110), cmap="viridis", vmin=0, vmax=100)
    labels = [i.split("/", 1)[1] for i in ids]
    ax.set_xticks(range(len(ids)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(ids)), labels, fontsize=7)
    for i in range(len(ids)):
        for j in range(len(ids)):
            ax.text(
                j,
                i,
                f"{m[i, j]:.0f}",
                ha="center",
                va="center",
                fontsize=5,
                color="w" if m[i, j] < 60 else "k",
            )
    ax.set_xlabel("run on task j")
    ax.set_ylabel("expert of task i")
    ax.set_title("normalised score of task i's expert on task j (100 = j's expert)", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return _save(fig, out)


def _save(fig, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    _plt().close(fig)
    return out


def gif_tasks(suite: str = DEFAULT_SUITE, data_dir: Path | None = None) -> dict[str, Task]:
    """A light, a heavy and a short-legged task among those whose expert hops (>= 1500), by
    total mass and leg length, so the three look different."""
    from metail_envs.hopper_model import total_mass

    entries = load_manifest(data_dir)["tasks"]
    good = {k for k, e in entries.items() if e["expert"]["mean_return"] >= 1500}
    tasks = [t for t in load_suite(suite).tasks if t.id in good]
    legs = {t.id: t.values["thigh_length"] + t.values["leg_length"] for t in tasks}
    short = min(tasks, key=lambda t: legs[t.id])
    rest = [t for t in tasks if t is not short]
    return {
        "light": min(rest, key=lambda t: total_mass(t.values)),
        "heavy": max(rest, key=lambda t: total_mass(t.values)),
        "short legs": short,
    }


def render_gif(
    suite: str = DEFAULT_SUITE,
    data_dir: Path | None = None,
    out: Path | None = None,
    steps: int = 400,
    every: int = 4,
    size: int = 200,
) -> Path:
    """The experts of three different variants side by side (headless, ``MUJOCO_GL=egl``)."""
    import gymnasium as gym
    import imageio.v2 as imageio

    from baselines.experts.rules import DEMO_SEED
    from metail_envs import ENV_ID
    from metail_envs.data import load_expert
    from metail_envs.hopper_model import total_mass

    chosen = gif_tasks(suite, data_dir)
    panels = []
    for label, task in chosen.items():
        env = gym.make(ENV_ID, task=task, render_mode="rgb_array", width=size, height=size)
        policy = load_expert(task, data_dir)
        obs, _ = env.reset(seed=DEMO_SEED)
        frames = []
        for i in range(steps):
            if i % every == 0:
                frames.append(env.render())
            obs, _, term, trunc, _ = env.step(policy.predict(obs, deterministic=True)[0])
            if term or trunc:
                break
        env.close()
        text = f"{label}: {task.id.split('/', 1)[1]}, {total_mass(task.values):.1f} kg"
        panels.append(_caption(frames, text))
    n = max(len(p) for p in panels)
    frames = [np.concatenate([p[min(i, len(p) - 1)] for p in panels], axis=1) for i in range(n)]
    out = out or IMG_DIR / "experts.gif"
    out.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimsave(out, frames, duration=1000 * every * 0.008, loop=0)
    return out


def _caption(frames: list[np.ndarray], text: str) -> list[np.ndarray]:
    """Write ``text`` at the top of every frame (matplotlib's text rendering, once)."""
    plt = _plt()
    h, w = frames[0].shape[:2]
    fig = plt.figure(figsize=(w / 100, 18 / 100), dpi=100)
    fig.text(0.02, 0.2, text, fontsize=7, color="k")
    fig.canvas.draw()
    band = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    plt.close(fig)
    band = band[:, :w]
    return [np.concatenate([band, f[: h - band.shape[0]]], axis=0) for f in frames]


def summary(suite: str = DEFAULT_SUITE, data_dir: Path | None = None) -> str:
    """A markdown table per task (expert and random return, training steps and time) and the
    bar's checks, from the manifest and the training states."""
    root = data_dir or default_data_dir()
    tasks = load_manifest(root)["tasks"]
    rows = [
        "| task | expert | random | expert/random | best at step | steps | minutes |",
        "|---|---|---|---|---|---|---|",
    ]
    exp, total_steps, total_s = [], 0, 0.0
    for t in load_suite(suite).tasks:
        if t.id not in tasks:
            continue
        e, r = tasks[t.id]["expert"], tasks[t.id]["random"]
        run = training_dir(root, t.id)
        st = json.loads((run / "state.json").read_text())
        steps, wall, best_at = st["steps"], st["wall_s"], str(st["best_steps"])
        if (run / "retry.json").exists():  # every attempt counts; the kept one's best step shows
            retry = json.loads((run / "retry.json").read_text())
            attempts = [json.loads(p.read_text()) for p in sorted(run.glob("*/state.json"))]
            steps += sum(a["steps"] for a in attempts)
            wall += sum(a["wall_s"] for a in attempts)
            if retry["kept"] != "current":
                kept = json.loads((run / retry["kept"] / "state.json").read_text())
                best_at = f"{kept['best_steps']} (retry {retry['kept']})"
        exp.append(e["mean_return"])
        total_steps += steps
        total_s += wall
        rows.append(
            f"| {t.id} | {e['mean_return']:.0f} ± {e['std_return']:.0f} | {r['mean_return']:.0f} "
            f"| {e['mean_return'] / max(r['mean_return'], 1e-9):.0f} | {best_at} "
            f"| {steps} | {wall / 60:.1f} |"
        )
    exp_a = np.array(exp)
    rows.append("")
    rows.append(
        f"{len(exp)} of {len(load_suite(suite).tasks)} tasks; median expert return "
        f"{np.median(exp_a):.0f}, min {exp_a.min():.0f}, {int((exp_a >= 1500).sum())} at >= 1500; "
        f"{total_steps} PPO steps in {total_s / 3600:.2f} h of training (one core each)"
    )
    return "\n".join(rows)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``metail expert-plots`` and ``python -m baselines.experts.plots``."""
    p.add_argument(
        "what",
        choices=("summary", "returns", "curves", "matrix", "gif", "all"),
        help="summary: the per-task table; returns, curves, matrix, gif: the figures; all",
    )
    p.add_argument("--suite", default=DEFAULT_SUITE, help="task suite (default %(default)s)")
    p.add_argument(
        "--data-dir",
        type=Path,
        help="expert data directory (default: METAIL_DATA_DIR or expert_data/)",
    )
    p.add_argument(
        "--episodes", type=int, default=3, help="matrix: episodes per pair (default %(default)s)"
    )


def run(a: argparse.Namespace) -> int:
    """Print the table, or draw the figures and print where they went."""
    import torch

    torch.set_num_threads(1)
    if a.what in ("summary", "all"):
        print(summary(a.suite, a.data_dir))
    if a.what in ("returns", "all"):
        print(plot_returns(a.suite, a.data_dir))
    if a.what in ("curves", "all"):
        print(plot_curves(a.data_dir))
    if a.what in ("matrix", "all"):
        r = cross_task(a.suite, a.data_dir, a.episodes)
        print(json.dumps({k: v for k, v in r.items() if k != "matrix"}, indent=1))
    if a.what in ("gif", "all"):
        print(render_gif(a.suite, a.data_dir))
    return 0


build_parser, main = python_m("baselines.experts.plots")

if __name__ == "__main__":
    raise SystemExit(main())
