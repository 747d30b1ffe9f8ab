"""The README's main job, before and after sharing the expert's episodes, in the same run.

Run: ``python -m pytest tests/bench/test_main_job.py -m bench -s
--benchmark-json results/bench/main_job.json`` (the file docs/results.md reads: times, profiles,
machine and commit). The candidate is the main
job as the README runs it (``random`` and ``expert``, 5 seeds, the official protocol, then the
leaderboard); the reference is the same job with the expert evaluated anew for every seed,
track and K (:class:`UnsharedExpertAgent`, the expert without ``task_only``), which is what the
main job did before. Both must give identical numbers; the session summary prints the ratio,
and each prints its profile: where the wall time goes (meta-training, adaptation, episodes as
the jobs recorded them; the rest is process start-up, loading and writing) and the leaderboard.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from metail_envs.benchmark import AgentSpec, evaluate, render_leaderboard
from metail_envs.benchmark.results import read_result

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmark"))  # metail_test_agents
GROUP = "main job (random + expert, 5 seeds, official protocol, leaderboard)"
UNSHARED = AgentSpec("metail_test_agents:UnsharedExpertAgent", name="expert")
RUNS: dict[str, dict] = {}


def _numbers(paths: list[Path]) -> dict:
    out = {}
    for p in paths:
        doc = read_result(p)
        for j in doc["jobs"]:
            key = (doc["agent"]["name"], doc["seed"], j["split"], j["task"], j["track"], j["k"])
            out[key] = (j["returns"], j["lengths"], j["score"], j["job_seed"], j["demos"])
    return out


def _profile(paths: list[Path], wall: float, board_s: float) -> str:
    jobs = [j for p in paths for j in read_result(p)["jobs"]]
    meta = sum(read_result(p)["meta_train"]["time_s"] or 0.0 for p in paths)
    adapt = sum(j["adapt_time_s"] for j in jobs)
    eps = sum(j["eval_time_s"] for j in jobs)
    unique = len({(j["task"], j["eval_time_s"]) for j in jobs})
    return (
        f"wall {wall:.1f} s (evaluate {wall - board_s:.1f} s + leaderboard {board_s:.1f} s); "
        f"recorded CPU in jobs: meta-train {meta:.1f} s, adapt {adapt:.1f} s, episodes "
        f"{eps:.1f} s over {len(jobs)} entries ({unique} distinct evaluations)"
    )


@pytest.mark.parametrize("role", ["reference", "candidate"])
def test_main_job(benchmark, record, tmp_path, role):
    expert = "expert" if role == "candidate" else UNSHARED

    def run() -> None:
        start = time.perf_counter()
        paths = evaluate(["random", expert], out=tmp_path / "run", seeds=5, progress=False)
        t = time.perf_counter()
        render_leaderboard(tmp_path / "run")
        end = time.perf_counter()
        RUNS[role] = {"paths": paths, "profile": _profile(paths, end - start, end - t)}

    benchmark.pedantic(run, rounds=1, iterations=1)
    record(benchmark, GROUP, role)
    benchmark.extra_info["profile"] = RUNS[role]["profile"]
    print(f"\n{role}: {RUNS[role]['profile']}")
    if len(RUNS) == 2:
        assert _numbers(RUNS["candidate"]["paths"]) == _numbers(RUNS["reference"]["paths"])


def test_quick_estimate(benchmark, tmp_path):
    """``metail evaluate --agent random --agent expert --quick``: its whole time (the issue's
    aim: about 30 s on 2 cores), printed beside the main job's."""
    from metail_envs.benchmark import ProtocolConfig
    from metail_envs.benchmark.protocol import QUICK_SEEDS

    def run() -> None:
        evaluate(["random", "expert"], out=tmp_path / "quick", seeds=QUICK_SEEDS,
                 config=ProtocolConfig.quick_estimate(), progress=False)  # fmt: skip
        render_leaderboard(tmp_path / "quick", quick=True)

    benchmark.pedantic(run, rounds=1, iterations=1)
    print(f"\nquick estimate: {benchmark.stats.stats.median:.1f} s")
