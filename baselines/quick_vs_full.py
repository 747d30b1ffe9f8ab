"""How far a quick estimate (``metail evaluate --quick``) falls from the full protocol, for the
shipped baselines: the table of docs/results.md.

For every entry of the committed board (``results/``), its shipped checkpoints of the quick
estimate's seeds are copied into a fresh directory and re-scored under the quick estimate (no
meta-training); the quick IQM of every (split, track, K) is set beside the full board's. The
table and the measured numbers (with versions and commit) go to ``--out``::

    python -m baselines.quick_vs_full --out results/quick_vs_full
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from metail_envs.benchmark import AgentSpec, ProtocolConfig, evaluate, load_leaderboard
from metail_envs.benchmark.protocol import QUICK_SEEDS, condition_label
from metail_envs.benchmark.results import read_result
from metail_envs.fileio import atomic_write

ROOT = Path(__file__).resolve().parents[1]


def shipped_entries(results: Path) -> list[tuple[AgentSpec, str]]:
    """Each entry of the committed board: its agent spec and its directory name."""
    out = []
    for d in sorted((results / "results").iterdir()):
        doc = read_result(d / "seed_000.json")
        out.append((AgentSpec.from_json(doc["agent"]), d.name))
    return out


def rescore_quick(results: Path, work: Path, workers: int | None) -> list[Path]:
    """The quick estimate of every shipped entry, from copies of its shipped checkpoints."""
    specs = []
    for spec, slug in shipped_entries(results):
        for seed in range(QUICK_SEEDS):
            src = results / "checkpoints" / slug / f"seed_{seed:03d}"
            dst = work / "checkpoints" / spec.slug / src.name
            if src.exists() and not dst.exists():
                shutil.copytree(src, dst)
        specs.append(spec)
    return evaluate(
        specs, out=work, seeds=QUICK_SEEDS, config=ProtocolConfig.quick_estimate(),
        resume=True, trust_checkpoints=True, workers=workers, progress=sys.stderr.isatty(),
    )  # fmt: skip


def table(full: object, quick: object) -> tuple[str, list[dict]]:
    """Markdown rows agent x (split, track, K): quick IQM [CI], full IQM [CI], difference."""
    rows, lines = [], []
    head = "| agent | split | condition | quick IQM [95% CI] | full IQM [95% CI] | quick - full |"
    lines += [head, "|---|---|---|---|---|---|"]
    by_name = {e.name: e for e in full.entries}
    for q in quick.entries:
        f = by_name.get(q.name)
        if f is None:
            continue
        for cell in quick.cells:
            qs, fs = q.summary[cell], f.summary[cell]
            split, track, k = cell
            d = qs["iqm"] - fs["iqm"]
            rows.append({"agent": q.name, "split": split, "track": track, "k": k,
                         "quick_iqm": qs["iqm"], "quick_ci": list(qs["iqm_ci"]),
                         "full_iqm": fs["iqm"], "full_ci": list(fs["iqm_ci"])})  # fmt: skip
            ci = lambda s: f"{s['iqm']:.1f} [{s['iqm_ci'][0]:.1f}, {s['iqm_ci'][1]:.1f}]"  # noqa: E731
            lines.append(
                f"| {q.name} | {split} | {condition_label(track, k)} | {ci(qs)} | {ci(fs)} | "
                f"{d:+.1f} |"
            )
    return "\n".join(lines), rows


def summary(rows: list[dict]) -> str:
    """Per (track, K), over the non-reference agents and both splits: the mean and largest
    |quick - full| IQM, and how often the full IQM lies inside the quick estimate's interval."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        if r["agent"] not in ("expert", "random"):
            groups.setdefault((r["track"], r["k"]), []).append(r)
    lines = [
        "| condition | entries | mean abs(quick - full) | largest | full IQM inside quick CI |",
        "|---|---|---|---|---|",
    ]
    order = sorted(groups, key=lambda c: (c[0] != "short", -c[1]))
    for track, k in order + [("all", -1)]:
        rs = [r for g in groups.values() for r in g] if track == "all" else groups[(track, k)]
        d = [abs(r["quick_iqm"] - r["full_iqm"]) for r in rs]
        inside = sum(r["quick_ci"][0] <= r["full_iqm"] <= r["quick_ci"][1] for r in rs)
        label = "all" if track == "all" else condition_label(track, k)
        lines.append(
            f"| {label} | {len(rs)} | {sum(d) / len(d):.1f} | {max(d):.1f} | "
            f"{inside}/{len(rs)} ({inside / len(rs):.0%}) |"
        )
    return "\n".join(lines)


def provenance() -> dict[str, str]:
    """Versions, machine and commit this table was measured with."""
    import platform
    import subprocess

    from baselines.experts.demos import versions

    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {**versions(), "commit": commit, "cpus": str(os.cpu_count()), "node": platform.node()}


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m baselines.quick_vs_full``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--results",
        type=Path,
        default=ROOT / "results",
        help="the committed board's result files (default %(default)s)",
    )
    p.add_argument("--out", type=Path, required=True, help="where the table and numbers go")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")
    p.add_argument(
        "--summary", action="store_true", help="print the summary of --out's table, run nothing"
    )
    return p


def main(argv: list[str] | None = None) -> None:
    a = build_parser().parse_args(argv)
    if a.summary:
        print(summary(json.loads((a.out / "quick_vs_full.json").read_text())["rows"]))
        return
    start = time.perf_counter()
    work = a.out / "run"
    paths = rescore_quick(a.results, work, a.workers)
    quick = load_leaderboard(work, quick=True)
    full = load_leaderboard(a.results)
    text, rows = table(full, quick)
    doc = {"rows": rows, "wall_s": time.perf_counter() - start, "files": len(paths),
           "provenance": provenance()}  # fmt: skip
    atomic_write(a.out / "quick_vs_full.json", lambda t: t.write_text(json.dumps(doc, indent=1)))
    atomic_write(a.out / "quick_vs_full.md", lambda t: t.write_text(text + "\n"))
    print(text)


if __name__ == "__main__":
    main()
