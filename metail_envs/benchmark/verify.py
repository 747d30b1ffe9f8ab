"""``metail leaderboard --verify N``: re-run jobs of the result files from their checkpoints.

N successful jobs are drawn at random (seeded) from the files a leaderboard would show; each is
run again through the one evaluation job (:func:`.jobs.evaluate_job`, in a worker process, as
``metail evaluate`` runs it) on the file's own checkpoint (``OUT/checkpoints/<agent>/seed_NNN``
beside ``OUT/results``), and its returns, episode lengths and demonstration windows are compared
with the file's, bit for bit. Runs are deterministic on one machine with the same package
versions; on another CPU or with other versions of MuJoCo, NumPy or torch, last-bit differences
can grow over an episode, so a difference there names both environments.

Re-running a job runs the agent's code on its checkpoint (a checkpoint is its agent's code):
verify directories whose agents you would evaluate yourself.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .agent import AgentSpec
from .protocol import ProtocolConfig

IDENTICAL, DIFFERS, FAILED, UNVERIFIABLE = "identical", "differs", "failed", "unverifiable"


@dataclass
class Check:
    """One re-run job: its file, its key, how it compared, and the details."""

    path: Path
    agent: str
    key: tuple[str, str, str, int]
    outcome: str
    detail: str = ""


def checkpoint_of(path: Path) -> Path:
    """Where the runner kept the checkpoint of ``OUT/results/<agent>/seed_NNN.json``."""
    path = Path(path)
    return path.parents[2] / "checkpoints" / path.parent.name / path.stem


def draw(files: Sequence[tuple[Path, dict[str, Any]]], n: int, seed: int) -> list[tuple]:
    """``n`` successful jobs ``(path, doc, job)`` drawn without replacement, seeded."""
    import numpy as np

    from .results import job_key

    pool = [
        (path, doc, job)
        for path, doc in sorted(files, key=lambda item: str(item[0]))
        for job in sorted(doc["jobs"], key=job_key)
        if job["status"] == "ok"
    ]
    if n <= 0 or not pool:
        return []
    picks = np.random.default_rng(seed).choice(len(pool), size=min(n, len(pool)), replace=False)
    return [pool[i] for i in sorted(int(i) for i in picks)]


def _environment_note(doc: dict[str, Any]) -> str:
    from .results import environment_info

    here = environment_info()
    theirs = doc.get("environment") if isinstance(doc.get("environment"), dict) else {}

    def describe(env: dict[str, Any]) -> str:
        v = env.get("versions") if isinstance(env.get("versions"), dict) else {}
        m = env.get("machine") if isinstance(env.get("machine"), dict) else {}
        names = ("mujoco", "numpy", "torch")
        return ", ".join(f"{k} {v.get(k)}" for k in names) + f" on {m.get('processor')}"

    if describe(theirs) == describe(here):
        return "same package versions and processor as this machine"
    return (
        f"the file was made with {describe(theirs)}, this machine has {describe(here)}: "
        "other versions or CPUs can change the last bits, which grow over an episode"
    )


def _compare(job: dict[str, Any], payload: dict[str, Any]) -> str:
    """Empty if the re-run gave the file's numbers bit for bit, else what differs."""
    recorded, rerun = job.get("agent_config"), payload.get("agent_config")
    if recorded and rerun and recorded != rerun:
        return f"another agent config: file {recorded}, re-run {rerun}"
    if payload["returns"] == job["returns"] and payload["lengths"] == job["lengths"]:
        if job.get("demos") is None or payload["demos"] == job["demos"]:
            return ""
        return f"other demonstration windows: file {job['demos']}, re-run {payload['demos']}"
    pairs = list(zip(job["returns"], payload["returns"], strict=False))
    first = next((i for i, (a, b) in enumerate(pairs) if a != b), None)
    rel = max((abs(a - b) / max(abs(a), 1e-12) for a, b in pairs), default=math.inf)
    where = "" if first is None else f"; episode {first}: file {pairs[first][0]!r}, re-run "
    where += "" if first is None else f"{pairs[first][1]!r}"
    return f"other returns (largest relative difference {rel:.1e}{where})"


def verify(
    files: Sequence[tuple[Path, dict[str, Any]]],
    n: int,
    *,
    seed: int = 0,
    data_dir: str | Path | None = None,
    workers: int | None = None,
) -> list[Check]:
    """Re-run ``n`` jobs drawn from ``files`` (validated ``(path, doc)`` pairs of the current
    protocol and data) and compare each with its file."""
    from metail_envs.executors import SHARE, Job, make_executor

    from .results import job_key
    from .runner import _JOBS, _PHASES, LOAD_CAP_S

    checks: list[Check] = []
    jobs = []
    data = str(Path(data_dir).resolve()) if data_dir is not None else None
    for path, doc, job in draw(files, n, seed):
        check = Check(Path(path), doc["agent"]["name"], job_key(job), UNVERIFIABLE)
        checks.append(check)
        ckpt = checkpoint_of(path)
        if not ckpt.is_dir():
            check.detail = f"no checkpoint at {ckpt}"
            continue
        config = ProtocolConfig.from_json(doc["config"])
        split, task, track, k = check.key
        args = {
            "agent": AgentSpec.from_json(doc["agent"]).to_json(),
            "seed": doc["seed"],
            "checkpoint": str(ckpt.absolute()),
            "suite": config.suite,
            "data_dir": data,
            "config": doc["config"],
            "split": split,
            "task": task,
            "track": track,
            "k": k,
        }
        caps = {"start": LOAD_CAP_S, "adapt": config.adapt_cap_s, "eval": config.act_cap_s}
        jobs.append(Job(_JOBS + "evaluate", args, caps, _PHASES, (check, doc, job)))
    if not jobs:
        return checks
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    with make_executor("local", workers, memory_gb=SHARE) as pool:
        for job in jobs:
            pool.submit(job)
        for job, payload in pool.as_completed():
            check, doc, entry = job.tag
            if not payload["ok"]:
                check.outcome = FAILED
                check.detail = "the re-run failed: " + payload["error"].splitlines()[0]
                continue
            difference = _compare(entry, payload)
            check.outcome = DIFFERS if difference else IDENTICAL
            if difference:
                check.detail = f"{difference}; {_environment_note(doc)}"
    return checks
