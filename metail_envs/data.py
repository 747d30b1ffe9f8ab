"""The shipped expert data: experts, fixed demonstrations, normalisation references, checksums.

``expert_data/`` (or ``$METAIL_DATA_DIR``) holds, for every task of a suite::

    manifest.json              suite, generating command, versions, and per task: files, sha256,
                               returns, lengths, seeds, expert and random references
    experts/<key>.zip          the PPO expert (an ordinary SB3 zip, acting on raw observations)
    demos/<key>/               its fixed demonstrations (``imitation.data.serialize`` format)

where ``<key>`` is the task id with ``/`` replaced by ``__``. Every file is checked against the
manifest's sha256 before it is used: a missing or corrupted file is an error naming the file and
the command that regenerates it, never a silently wrong dataset. More demonstrations than the
fixed ones are generated on demand into a user cache (``$METAIL_CACHE_DIR`` or
``~/.cache/metail``) by ``metail generate-demos`` and read with :func:`load_cached_demos`.

This module stays light: torch, stable-baselines3 and imitation are imported inside functions.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from metail_envs.tasks import DEFAULT_SUITE, Suite, Task, load_suite

MANIFEST = "manifest.json"
REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "expert_data"
REGENERATE = "python -m baselines.experts.make_expert_data --suite {suite} --resume"
REGENERATE_TASK = (
    "python -m baselines.experts.make_expert_data --suite {suite} --stage data --task {task}"
)


SELECT_SEED = 10_000
"""Reset seeds ``SELECT_SEED + i``: evaluations that pick the best checkpoint during training."""
EVAL_SEED = 20_000
"""Reset seeds ``EVAL_SEED + i``: the expert and random references written to the manifest."""
DEMO_SEED = 0
"""Reset seeds ``DEMO_SEED + i``: the fixed, shipped demonstrations."""
CHOICE_SEED = 30_000
"""Reset seeds ``CHOICE_SEED + i``: choosing among the retried experts of a task below the bar."""
CACHE_SEED = 1_000_000
"""Reset seeds ``CACHE_SEED + i``: demonstrations generated on demand into the user cache."""


class DataError(ValueError):
    """A missing, corrupted or inconsistent file of the expert data (its message names the file
    and the command that regenerates it)."""


# --- paths and keys ---------------------------------------------------------------------------


def default_data_dir() -> Path:
    """``$METAIL_DATA_DIR`` if set, else the repository's ``expert_data/``."""
    env = os.environ.get("METAIL_DATA_DIR")
    return Path(env) if env else REPO_DATA_DIR


def cache_dir() -> Path:
    """Where demonstrations generated on demand go: ``$METAIL_CACHE_DIR`` or ``~/.cache/metail``."""
    env = os.environ.get("METAIL_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "metail"


def task_key(task_id: str) -> str:
    """A task id as a file name: ``hopper-v1/test/03`` -> ``hopper-v1__test__03``."""
    return task_id.replace("/", "__")


def resolve_task(task: Task | str) -> tuple[Suite, Task]:
    """The suite and Task of a Task or a task id (the suite is the id's first component)."""
    task_id = task.id if isinstance(task, Task) else task
    if not isinstance(task_id, str) or "/" not in task_id:
        raise KeyError(
            f"task must be a suite Task or a task id like 'hopper-v1/test/03', got {task!r}"
        )
    suite = load_suite(task_id.split("/", 1)[0])
    found = suite.task(task_id)
    if isinstance(task, Task) and task.items != found.items:
        raise ValueError(f"task {task_id!r} has other parameters than the suite's task of that id")
    return suite, found


def _dir(data_dir: str | Path | None) -> Path:
    return Path(data_dir) if data_dir is not None else default_data_dir()


# --- checksums --------------------------------------------------------------------------------


def sha256_path(path: str | Path) -> str:
    """sha256 of a file, or of a directory: over its files' relative paths and contents, in
    sorted order (a demonstration set is a directory of HuggingFace dataset files)."""
    path = Path(path)
    h = hashlib.sha256()
    if path.is_file():
        h.update(path.read_bytes())
        return h.hexdigest()
    if not path.is_dir():
        raise FileNotFoundError(path)
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path).as_posix()
        h.update(rel.encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


# --- the manifest -----------------------------------------------------------------------------


def load_manifest(data_dir: str | Path | None = None) -> dict[str, Any]:
    """The manifest of the expert data in ``data_dir``."""
    path = _dir(data_dir) / MANIFEST
    if not path.exists():
        raise DataError(
            f"{path} not found: the expert data is missing. Regenerate it with "
            f"`{REGENERATE.format(suite=DEFAULT_SUITE)}` or set METAIL_DATA_DIR"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(
            f"{path} is not valid JSON ({e}); regenerate it with "
            f"`{REGENERATE.format(suite=DEFAULT_SUITE)}`"
        ) from e


def _entry(task: Task | str, data_dir: str | Path | None) -> tuple[Suite, Task, dict[str, Any]]:
    suite, t = resolve_task(task)
    manifest = load_manifest(data_dir)
    if manifest.get("suite") != suite.name:
        raise DataError(
            f"{_dir(data_dir) / MANIFEST} is for suite {manifest.get('suite')!r}, "
            f"not {suite.name!r}"
        )
    if manifest.get("suite_sha256") != suite.sha256:
        raise DataError(
            f"{_dir(data_dir) / MANIFEST} was generated for another version of suite "
            f"{suite.name!r} (suite sha256 {str(manifest.get('suite_sha256'))[:12]} != "
            f"{suite.sha256[:12]}); regenerate with `{REGENERATE.format(suite=suite.name)}`"
        )
    entry = manifest.get("tasks", {}).get(t.id)
    if entry is None:
        raise DataError(
            f"{_dir(data_dir) / MANIFEST} has no data for task {t.id!r} yet; generate it with "
            f"`{REGENERATE.format(suite=suite.name)}`"
        )
    return suite, t, entry


def _checked(
    task_id: str, suite: Suite, record: dict[str, Any], data_dir: str | Path | None, what: str
) -> Path:
    """The path of a manifest record's file after checking that it exists and its sha256."""
    path = _dir(data_dir) / record["file"]
    fix = REGENERATE_TASK.format(suite=suite.name, task=task_id)
    if what == "expert":
        fix = REGENERATE.format(suite=suite.name)
    if not path.exists():
        raise DataError(
            f"{what} file {path} of task {task_id!r} is missing; regenerate with `{fix}`"
        )
    digest = sha256_path(path)
    if digest != record["sha256"]:
        raise DataError(
            f"{what} file {path} of task {task_id!r} is corrupted or was changed (sha256 "
            f"{digest[:12]} != manifest {record['sha256'][:12]}); regenerate with `{fix}`"
        )
    return path


# --- the public API ---------------------------------------------------------------------------


def load_demos(task: Task | str, n: int | None = None, data_dir: str | Path | None = None) -> list:
    """The first ``n`` (default: all) fixed demonstrations of a suite task, checksummed.

    Returns ``imitation.data.types.TrajectoryWithRew`` with raw observations; ``infos[-1]`` holds
    the task id, the episode's reset seed and whether it ended by termination or time limit.
    """
    suite, t, entry = _entry(task, data_dir)
    record = entry["demos"]
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        raise ValueError(f"n must be a non-negative int or None, got {n!r}")
    if n is not None and n > record["n"]:
        raise ValueError(
            f"task {t.id!r} ships {record['n']} demonstrations, asked for n={n}; generate more "
            f"with `metail generate-demos --task {t.id} --n {n}` and read them with "
            "metail_envs.data.load_cached_demos"
        )
    path = _checked(t.id, suite, record, data_dir, "demonstrations")
    trajs = _load_trajs(path, record["sha256"])
    if len(trajs) != record["n"]:
        raise DataError(f"{path} holds {len(trajs)} demonstrations, manifest says {record['n']}")
    return trajs[: record["n"] if n is None else n]


def _load_trajs(path: Path, sha256: str) -> list:
    """The trajectories of a checksummed demonstration directory, each with its own arrays (so a
    caller that edits them cannot change the cache; ``infos`` is decoded afresh at every access)."""
    return [
        dataclasses.replace(t, obs=t.obs.copy(), acts=t.acts.copy(), rews=t.rews.copy())
        for t in _decoded(str(path), sha256)
    ]


@functools.lru_cache(maxsize=64)
def _decoded(path: str, sha256: str) -> tuple:
    """A demonstration directory's trajectories, decoded once per process and checksum: decoding
    through ``datasets`` costs about 0.1-0.3 s, and a benchmark worker reads the same task's
    demonstrations for every seed and K."""
    from imitation.data import serialize

    return tuple(serialize.load_with_rewards(path))


def load_expert(task: Task | str, data_dir: str | Path | None = None):
    """The PPO expert of a suite task: ``predict(obs, deterministic=True)`` on raw observations.

    An ordinary SB3 zip (VecNormalize's statistics are folded into its first layers).
    """
    suite, t, entry = _entry(task, data_dir)
    path = _checked(t.id, suite, entry["expert"], data_dir, "expert")
    return _load_ppo(str(path))


@functools.lru_cache(maxsize=8)
def _load_ppo(path: str):
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    return PPO.load(path, device="cpu")


def load_references(
    suite: str | Suite = DEFAULT_SUITE, data_dir: str | Path | None = None
) -> dict[str, dict[str, float]]:
    """Per task id: ``expert_mean, expert_std, random_mean, random_std`` (the normalisation
    references of every score)."""
    name = suite.name if isinstance(suite, Suite) else suite
    s = load_suite(name)
    out: dict[str, dict[str, float]] = {}
    missing = []
    for t in s.tasks:
        try:
            _, _, entry = _entry(t, data_dir)
        except DataError:
            missing.append(t.id)
            continue
        out[t.id] = {
            "expert_mean": entry["expert"]["mean_return"],
            "expert_std": entry["expert"]["std_return"],
            "random_mean": entry["random"]["mean_return"],
            "random_std": entry["random"]["std_return"],
        }
    if missing:
        raise DataError(
            f"{_dir(data_dir) / MANIFEST} lacks references for {len(missing)} task(s) of "
            f"{name!r} (first: {missing[0]}); generate them with `{REGENERATE.format(suite=name)}`"
        )
    return out


def data_hash(suite: str | Suite = DEFAULT_SUITE, data_dir: str | Path | None = None) -> str:
    """One hash over the sha256 of every demonstration set of the suite (as the manifest
    records them, after checking each file), identifying the data a result was produced with."""
    name = suite.name if isinstance(suite, Suite) else suite
    s = load_suite(name)
    h = hashlib.sha256()
    for t in s.tasks:
        _, _, entry = _entry(t, data_dir)
        _checked(t.id, s, entry["demos"], data_dir, "demonstrations")
        h.update(f"{t.id}:{entry['demos']['sha256']}\n".encode())
    return h.hexdigest()


# --- demonstrations generated on demand -------------------------------------------------------


def cached_demos_path(task: Task | str, seeds: Iterable[int]) -> Path:
    """The cache directory of a task's demonstrations from these reset seeds."""
    seeds = list(seeds)
    _, t = resolve_task(task)
    name = (
        f"seeds-{seeds[0]}-{len(seeds)}"
        if seeds == list(range(seeds[0], seeds[0] + len(seeds)))
        else "seeds-" + hashlib.sha256(json.dumps(seeds).encode()).hexdigest()[:12]
    )
    return cache_dir() / "demos" / task_key(t.id) / name


def load_cached_demos(
    task: Task | str, n: int, start_seed: int | None = None, data_dir: str | Path | None = None
) -> list:
    """``n`` demonstrations generated on demand by ``metail generate-demos`` (same format as the
    shipped ones), checked against the sha256 written beside them and against the current
    expert (demonstrations of a since-retrained expert are refused)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    start = CACHE_SEED if start_seed is None else start_seed
    path = cached_demos_path(task, range(start, start + n))
    _, t = resolve_task(task)
    fix = f"metail generate-demos --task {t.id} --n {n} --seed {start}"
    meta_path = path.with_suffix(".json")
    if not path.exists() or not meta_path.exists():
        raise DataError(f"no cached demonstrations {path} for task {t.id!r}; generate with `{fix}`")
    meta = json.loads(meta_path.read_text())
    if sha256_path(path) != meta["sha256"]:
        raise DataError(f"cached demonstrations {path} are corrupted; regenerate with `{fix}`")
    expert_sha = _entry(t, data_dir)[2]["expert"]["sha256"]
    if meta.get("expert_sha256") != expert_sha:
        raise DataError(
            f"cached demonstrations {path} come from another expert than the current one "
            f"of {t.id!r}; regenerate with `{fix}`"
        )
    return _load_trajs(path, meta["sha256"])
