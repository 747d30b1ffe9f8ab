"""``metail leaderboard --verify``: re-run jobs of every result file and judge each file.

:data:`VERIFY_JOBS_PER_FILE` jobs (or more) of *every* file are drawn (seeded, stratified over
the file's (track, K) conditions) and run again through the one evaluation job
(:func:`.jobs.evaluate_job`, in a worker process, as ``metail evaluate`` runs it) on the file's
own checkpoint (``OUT/checkpoints/<agent>/seed_NNN`` beside ``OUT/results``). Each leaderboard
entry (an agent's seed files) is then judged by what can be expected of it:

- **identical**: every re-run job gave its file's returns, lengths and demonstration windows bit
  for bit. Where the files' recorded environment (:data:`COMPARED` and the CPU) matches this
  machine's, nothing less passes.
- **consistent**: the environment differs and the re-runs agree with the files within
  tolerance. Hopper episodes are chaotic: the last bits that a patch release changes decide
  whether an episode falls, and a fine-tune that selects on rollouts may pick another policy,
  so one job can move by tens of points either way. Each job's *shift* is the median over its
  episodes (paired by reset seed) of (file - re-run) in normalised points: zero where most
  episodes stayed as they were, exactly +c where a file's returns were raised by c. The entry's
  shift is the median of its jobs' shifts, and its 95% bootstrap interval (jobs resampled,
  :data:`RESAMPLES`, seeded) must reach within :data:`TOLERANCE` points of zero. A version change
  moves a few jobs both ways; a forged file moves all of its jobs one way.
- **differs**: beyond that tolerance. The entry's files whose own jobs moved its way beyond
  tolerance are left off the leaderboard, which says by how much.

The rates of both mistakes, measured on the shipped files under other versions, are in
docs/protocol.md (``python -m baselines.verification_rates``).

Re-running a job runs the agent's code on its checkpoint (a checkpoint is its agent's code):
verify directories whose agents you would evaluate yourself.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .agent import AgentSpec
from .protocol import ProtocolConfig

IDENTICAL, CONSISTENT, DIFFERS = "identical", "consistent", "differs"
FAILED, UNVERIFIABLE = "failed", "unverifiable"
VERIFY_JOBS_PER_FILE = 2
"""Jobs of each file ``metail leaderboard --verify`` re-runs when given no number."""
TOLERANCE = 1.0
"""Points of normalised score: a median episode difference nearer zero than this is consistent."""
RESAMPLES = 2000
"""Bootstrap resamples of the median episode difference."""
RETURNS_DIFFER = "other returns"
COMPARED = ("mujoco", "numpy", "torch", "gymnasium", "python")
"""The recorded versions that must match this machine's for a re-run to be bit-identical."""


@dataclass
class Check:
    """One re-run job: its file, its key, how it compared, and both sets of returns."""

    path: Path
    agent: str
    key: tuple[str, str, str, int]
    outcome: str
    detail: str = ""
    recorded: list[float] = field(default_factory=list)
    rerun: list[float] = field(default_factory=list)
    scale: tuple[float, float] = (0.0, 1.0)
    """The task's (random, expert) reference returns, to put differences in points."""


@dataclass
class EntryVerdict:
    """How the re-run jobs of one leaderboard entry (an agent's files) compare with them."""

    agent: str
    verdict: str
    shift: float = 0.0
    """Median over the re-run jobs of each job's median (file - re-run) episode difference, in
    normalised points: what the files claim beyond what their checkpoints give here."""
    interval: tuple[float, float] = (0.0, 0.0)
    jobs: int = 0
    detail: str = ""
    left_out: list[Path] = field(default_factory=list)
    """The entry's files that differ: those whose own jobs shifted the entry's way beyond
    tolerance, when the entry differs (or any file of a run that should have been identical)."""


def checkpoint_of(path: Path) -> Path:
    """Where the runner kept the checkpoint of ``OUT/results/<agent>/seed_NNN.json``."""
    path = Path(path)
    return path.parents[2] / "checkpoints" / path.parent.name / path.stem


def draw(files: Sequence[tuple[Path, dict[str, Any]]], per_file: int, seed: int) -> list[tuple]:
    """``per_file`` successful jobs ``(path, doc, job)`` of every file, seeded: the file's (track,
    K) conditions are visited in a random order, one job (a random task) from each in turn."""
    from .results import job_key

    if per_file <= 0:
        return []
    rng = np.random.default_rng(seed)
    drawn = []
    for path, doc in sorted(files, key=lambda item: str(item[0])):
        by_condition: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for job in sorted(doc["jobs"], key=job_key):
            if job["status"] == "ok":
                by_condition[(job["track"], job["k"])].append(job)
        pools = [by_condition[c] for c in sorted(by_condition)]
        order = [pools[i] for i in rng.permutation(len(pools))]
        for turn in range(min(per_file, sum(len(p) for p in pools))):
            pool = next(p for p in order[turn % len(order) :] + order if p)
            drawn.append((path, doc, pool.pop(int(rng.integers(len(pool))))))
    return drawn


def same_environment(doc: dict[str, Any]) -> bool:
    """Whether ``doc`` was made with this machine's versions of :data:`COMPARED` and CPU."""
    from .results import environment_info

    here, theirs = environment_info(), doc.get("environment") or {}

    def describe(env: dict[str, Any]) -> tuple:
        versions, machine = env.get("versions") or {}, env.get("machine") or {}
        return (*(versions.get(k) for k in COMPARED), machine.get("processor"))

    return describe(here) == describe(theirs)


def _compare(job: dict[str, Any], payload: dict[str, Any]) -> str:
    """Empty if the re-run gave the file's numbers bit for bit, else what differs."""
    recorded, rerun = job.get("agent_config"), payload.get("agent_config")
    if recorded and rerun and recorded != rerun:
        return f"another agent config: file {recorded}, re-run {rerun}"
    if len(payload["returns"]) != len(job["returns"]):
        return f"{len(payload['returns'])} episodes re-run, {len(job['returns'])} in the file"
    if job.get("demos") is not None and payload["demos"] != job["demos"]:
        return f"other demonstration windows: file {job['demos']}, re-run {payload['demos']}"
    if payload["returns"] == job["returns"] and payload["lengths"] == job["lengths"]:
        return ""
    pairs = list(zip(job["returns"], payload["returns"], strict=True))
    first = next(i for i, (a, b) in enumerate(pairs) if a != b) if pairs else 0
    return (
        f"{RETURNS_DIFFER} (episode {first}: file {pairs[first][0]!r}, re-run {pairs[first][1]!r})"
    )


def _job(path: Path, doc: dict[str, Any], job: dict[str, Any], data: str | None, tag: Any) -> Any:
    """The executor job that re-runs ``job`` of ``doc`` on its checkpoint."""
    from .jobs import evaluation_job
    from .results import job_key

    agent, config = AgentSpec.from_json(doc["agent"]), ProtocolConfig.from_json(doc["config"])
    return evaluation_job(agent, doc["seed"], checkpoint_of(path), config, job_key(job), data, tag)


def rerun(
    files: Sequence[tuple[Path, dict[str, Any]]],
    per_file: int = 1,
    *,
    seed: int = 0,
    data_dir: str | Path | None = None,
    workers: int | None = None,
) -> list[Check]:
    """Re-run ``per_file`` jobs of every file of ``files`` (validated ``(path, doc)`` pairs of
    the current protocol and data) and compare each with its file, bit for bit."""
    from metail_envs.executors import SHARE, make_executor

    from .results import job_key

    checks, jobs = [], []
    data = str(Path(data_dir).resolve()) if data_dir is not None else None
    for path, doc, job in draw(files, per_file, seed):
        ref = doc["references"][job["task"]]
        check = Check(Path(path), doc["agent"]["name"], job_key(job), UNVERIFIABLE)
        check.recorded, check.scale = list(job["returns"]), (ref["random_mean"], ref["expert_mean"])
        checks.append(check)
        if not checkpoint_of(path).is_dir():
            check.detail = f"no checkpoint at {checkpoint_of(path)}"
            continue
        jobs.append(_job(Path(path), doc, job, data, tag=(check, job)))
    if not jobs:
        return checks
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    with make_executor("local", workers, memory_gb=SHARE) as pool:
        for job in jobs:
            pool.submit(job)
        for job, payload in pool.as_completed():
            check, entry = job.tag
            if not payload["ok"]:
                check.outcome = FAILED
                check.detail = "the re-run failed: " + payload["error"].splitlines()[0]
                continue
            check.rerun = list(payload["returns"])
            check.detail = _compare(entry, payload)
            check.outcome = DIFFERS if check.detail else IDENTICAL
    return checks


def episode_differences(check: Check) -> np.ndarray:
    """Per episode of one re-run job, file minus re-run, in normalised points."""
    random, expert = check.scale
    return 100.0 * (np.asarray(check.recorded) - np.asarray(check.rerun)) / (expert - random)


def job_shift(check: Check) -> float:
    """The median episode difference of one job: near zero where a version change left most
    episodes as they were, exactly +c where a file's returns were raised by c points."""
    return float(np.median(episode_differences(check)))


def median_interval(shifts: np.ndarray, seed: int = 0) -> tuple[float, tuple[float, float]]:
    """The median of ``shifts`` and its 95% percentile-bootstrap interval (seeded)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(shifts), size=(RESAMPLES, len(shifts)))
    medians = np.median(shifts[picks], axis=1)
    lo, hi = np.percentile(medians, [2.5, 97.5])
    return float(np.median(shifts)), (float(lo), float(hi))


def _structural(checks: Sequence[Check]) -> list[Check]:
    return [c for c in checks if c.outcome == DIFFERS and not c.detail.startswith(RETURNS_DIFFER)]


def judge_entry(agent: str, checks: Sequence[Check], same: bool) -> EntryVerdict:
    """The verdict on one entry from its re-run jobs (see the module docstring); ``same``:
    whether they ran in the files' own environment, where only bit-identical passes."""
    verdict = EntryVerdict(agent, UNVERIFIABLE)
    compared = [c for c in checks if c.outcome in (IDENTICAL, DIFFERS)]
    verdict.jobs = len(compared)
    if not compared:
        verdict.detail = "; ".join(sorted({c.detail for c in checks})) or "no job re-run"
        return verdict
    if all(c.outcome == IDENTICAL for c in compared):
        verdict.verdict = IDENTICAL
        return verdict
    structural = _structural(compared)
    broken = structural or ([c for c in compared if c.outcome == DIFFERS] if same else [])
    if broken:
        verdict.verdict, verdict.left_out = DIFFERS, sorted({Path(c.path) for c in broken})
        why = "" if structural else " (made with this machine's versions and CPU)"
        verdict.detail = f"job {broken[0].key} of {broken[0].path}: {broken[0].detail}{why}"
        return verdict
    shifts = np.array([job_shift(c) for c in compared])
    verdict.shift, verdict.interval = median_interval(shifts)
    lo, hi = verdict.interval
    verdict.verdict = DIFFERS if lo > TOLERANCE or hi < -TOLERANCE else CONSISTENT
    if verdict.verdict == DIFFERS:
        sign = 1.0 if lo > TOLERANCE else -1.0
        verdict.left_out = sorted(
            {Path(c.path) for c, x in zip(compared, shifts, strict=True) if sign * x > TOLERANCE}
        )
    verdict.detail = (
        f"files claim {verdict.shift:+.1f} points over their re-runs (median over {len(shifts)} "
        f"jobs, 95% interval [{lo:+.1f}, {hi:+.1f}]; tolerance +-{TOLERANCE:g})"
    )
    return verdict


def judge(
    files: Sequence[tuple[Path, dict[str, Any]]], checks: Sequence[Check]
) -> dict[str, EntryVerdict]:
    """A verdict on every entry (agent name) of ``files`` from the ``checks`` of :func:`rerun`."""
    by_agent: dict[str, list[Check]] = defaultdict(list)
    same: dict[str, bool] = {}
    for _, doc in files:
        name = doc["agent"]["name"]
        same[name] = same.get(name, True) and same_environment(doc)
    for c in checks:
        by_agent[c.agent].append(c)
    return {name: judge_entry(name, by_agent.get(name, []), same[name]) for name in same}


def verify_files(
    files: Sequence[tuple[Path, dict[str, Any]]],
    per_file: int = 1,
    *,
    seed: int = 0,
    data_dir: str | Path | None = None,
    workers: int | None = None,
) -> tuple[list[Check], dict[str, EntryVerdict]]:
    """Re-run ``per_file`` jobs of every file and judge each entry: ``(checks, verdicts)``."""
    checks = rerun(files, per_file, seed=seed, data_dir=data_dir, workers=workers)
    return checks, judge(files, checks)
