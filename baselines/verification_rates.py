"""How often ``metail leaderboard --verify`` is wrong, measured on the shipped result files: the
rates docs/protocol.md states.

``--rerun``: re-run ``--per-file`` jobs (stratified over (track, K), seeded) of every shipped
file on its shipped checkpoint, in this Python environment, and keep both sets of returns in
``reruns-<label>.json`` under ``--out`` (written after each agent: an interrupted run keeps what
it had). Run it in environments whose versions differ from the files' (a MuJoCo patch release,
the oldest supported stack) to measure genuine version changes::

    python -m baselines.verification_rates --rerun --out results/verification

``--rates``: from every re-run file under ``--out``, the rate at which genuine files are judged
*differs* (false alarms) and forged ones (every recorded return raised by 5 or 30 points of
(expert - random), as a forger resealing a file would) are judged *consistent* (misses), for a
verification of 1 job per file (the default) and of all the re-run jobs of a file::

    python -m baselines.verification_rates --rates --out results/verification
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from baselines.quick_vs_full import ROOT, provenance
from metail_envs.benchmark import verify
from metail_envs.benchmark.results import environment_info, read_result
from metail_envs.fileio import write_json_atomic

PER_FILE = (1, 2, 3)
"""Verification sizes whose rates are measured (jobs re-run per file)."""
FORGERIES = (5.0, 30.0)
"""Points of normalised score added to every recorded return of a forged file."""


def shipped_files(results: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every committed result file of the board in ``results`` (``results/<agent>/seed_*``)."""
    return [(p, read_result(p)) for p in sorted((results / "results").glob("*/seed_*.json"))]


def _label() -> str:
    v = environment_info()["versions"]
    return f"py{v['python']}-mujoco{v['mujoco']}-numpy{v['numpy']}-torch{v['torch']}"


def rerun_all(results: Path, out: Path, per_file: int, seed: int) -> Path:
    """Re-run ``per_file`` jobs of every shipped file, agent by agent, into one JSON file."""
    path = out / f"reruns-{_label()}.json"
    doc = json.loads(path.read_text()) if path.exists() else {"checks": []}
    doc.update(environment=environment_info(), provenance=provenance(), per_file=per_file)
    done = {c["agent"] for c in doc["checks"]}
    files = shipped_files(results)
    for agent in sorted({d["agent"]["name"] for _, d in files} - done):
        start = time.perf_counter()
        mine = [(p, d) for p, d in files if d["agent"]["name"] == agent]
        checks = verify.rerun(mine, per_file, seed=seed)
        for c in checks:
            row = asdict(c)
            row.update(path=str(Path(c.path).relative_to(results)), key=list(c.key))
            doc["checks"].append(row)
        write_json_atomic(path, doc, sort_keys=True)
        print(f"{agent}: {len(checks)} jobs in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def _checks(rows: list[dict[str, Any]]) -> list[verify.Check]:
    out = []
    for r in rows:
        r = {**r, "key": tuple(r["key"]), "scale": tuple(r["scale"]), "path": Path(r["path"])}
        out.append(verify.Check(**r))
    return out


def forged(check: verify.Check, points: float) -> verify.Check:
    """``check`` as it would compare with a file whose returns were raised by ``points``."""
    lift = points / 100.0 * (check.scale[1] - check.scale[0])
    if not lift:
        return check
    detail = f"{verify.RETURNS_DIFFER} (forged)"
    return replace(
        check, recorded=[r + lift for r in check.recorded], outcome=verify.DIFFERS, detail=detail
    )


def _caught(checks: list[verify.Check], points: float) -> bool:
    """Whether an entry whose files were all raised by ``points`` is judged *differs*."""
    agent = checks[0].agent
    return verify.judge_entry(agent, [forged(c, points) for c in checks], same=False).verdict == (
        verify.DIFFERS
    )


def _draws(
    by_file: dict[Path, list[verify.Check]], per_file: int, n: int, seed: int
) -> list[list[verify.Check]]:
    """``n`` verifications of ``per_file`` jobs per file, each a random pick (without
    replacement) of that many of each file's re-run jobs."""
    rng = np.random.default_rng(seed)
    groups = list(by_file.values())
    return [
        [g[i] for g in groups for i in rng.choice(len(g), min(per_file, len(g)), replace=False)]
        for _ in range(n)
    ]


def rates(out: Path, draws: int = 200, seed: int = 0) -> list[dict[str, Any]]:
    """Per re-run environment and verification size, over the entries: how often a genuine
    entry is judged *differs* (false alarms) and a forged one is caught."""
    rows = []
    for path in sorted(out.glob("reruns-*.json")):
        doc = json.loads(path.read_text())
        entries: dict[str, dict[Path, list[verify.Check]]] = {}
        for c in _checks(doc["checks"]):
            if c.outcome != verify.FAILED:
                entries.setdefault(c.agent, {}).setdefault(c.path, []).append(c)
        for per_file in PER_FILE:
            size = f"{per_file} job{'s' if per_file > 1 else ''} per file"
            cases = [d for e in entries.values() for d in _draws(e, per_file, draws, seed)]
            row = {"environment": path.stem[len("reruns-") :], "verification": size}
            row["entries"], row["cases"] = len(entries), len(cases)
            for points in (0.0, *FORGERIES):
                row[f"differs_{points:g}"] = sum(_caught(c, points) for c in cases) / len(cases)
            rows.append(row)
    return rows


def rates_table(rows: list[dict[str, Any]]) -> str:
    """The rates as the Markdown table of docs/protocol.md."""
    head = ["re-run environment", "verification", "entries x draws", "false alarms"]
    head += [f"+{p:g}-point forgery caught" for p in FORGERIES]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r["environment"],
            r["verification"],
            f"{r['entries']} x {r['cases'] // r['entries']}",
        ]
        cells += [f"{r[f'differs_{p:g}']:.1%}" for p in (0.0, *FORGERIES)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _iqm_ci(scores: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """The IQM of ``scores`` (one per job) and its 95% percentile-bootstrap interval."""
    from metail_envs.benchmark import stats

    rng = np.random.default_rng(seed)
    picks = rng.integers(len(scores), size=(2000, len(scores)))
    boot = [stats.iqm(scores[p][None, :]) for p in picks]
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(stats.iqm(scores[None, :])), float(lo), float(hi)


def cross_version(out: Path) -> list[dict[str, Any]]:
    """Per agent, the IQM over its re-run jobs of the job's mean normalised score: as the files
    recorded it and as each re-run environment gave it, with 95% intervals over the jobs."""
    rows = []
    for path in sorted(out.glob("reruns-*.json")):
        doc = json.loads(path.read_text())
        by_agent: dict[str, list[verify.Check]] = {}
        for c in _checks(doc["checks"]):
            if c.outcome != verify.FAILED:
                by_agent.setdefault(c.agent, []).append(c)
        for agent, checks in sorted(by_agent.items()):

            def score(c: verify.Check, returns: list[float]) -> float:
                return 100.0 * (np.mean(returns) - c.scale[0]) / (c.scale[1] - c.scale[0])

            file = _iqm_ci(np.array([score(c, c.recorded) for c in checks]))
            here = _iqm_ci(np.array([score(c, c.rerun) for c in checks]))
            rows.append({"environment": path.stem[len("reruns-") :], "agent": agent,
                         "jobs": len(checks), "file": file, "rerun": here})  # fmt: skip
    return rows


def cross_version_table(rows: list[dict[str, Any]]) -> str:
    """The cross-version rows as Markdown: does each re-run IQM lie in the file's interval?"""
    lines = ["| re-run environment | agent | jobs | IQM as recorded [95% CI] | IQM re-run [95% CI] "
             "| re-run IQM inside the recorded interval |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        (f, flo, fhi), (h, hlo, hhi) = r["file"], r["rerun"]
        inside = "yes" if flo <= h <= fhi else "no"
        lines.append(f"| {r['environment']} | {r['agent']} | {r['jobs']} | {f:.1f} [{flo:.1f}, "
                     f"{fhi:.1f}] | {h:.1f} [{hlo:.1f}, {hhi:.1f}] | {inside} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=ROOT / "results", help="the committed board")
    p.add_argument("--out", type=Path, required=True, help="directory of the re-run files")
    p.add_argument("--rerun", action="store_true", help="re-run jobs here into --out")
    p.add_argument("--rates", action="store_true", help="compute the rates from --out")
    p.add_argument("--per-file", type=int, default=5, help="jobs re-run per file (%(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw (%(default)s)")
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    if a.rerun:
        print(rerun_all(a.results, a.out, a.per_file, a.seed))
    if a.rates:
        rows = rates(a.out)
        write_json_atomic(a.out / "rates.json", {"rows": rows, "provenance": provenance()})
        (a.out / "rates.md").write_text(rates_table(rows) + "\n")
        print(rates_table(rows))
        versions = cross_version(a.out)
        write_json_atomic(
            a.out / "cross_version.json", {"rows": versions, "provenance": provenance()}
        )
        (a.out / "cross_version.md").write_text(cross_version_table(versions) + "\n")
        print(cross_version_table(versions))


if __name__ == "__main__":
    main()
