"""The result file: one JSON document per (agent, meta-training seed), versioned and checked.

The runner rewrites the file atomically after every finished job, so a killed run leaves a valid
file holding the jobs done so far. The leaderboard reads nothing it has not validated: schema,
checksum, protocol version, split and demonstration hashes, and the internal consistency of every
number (scores are recomputed from the episode returns and the references).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import os
import platform
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .protocol import PROTOCOL_VERSIONS, ProtocolConfig

SCHEMA = "metail.result"
SCHEMA_VERSION = 2
SCHEMA_VERSIONS = (1, 2)
"""Schema 1 is protocol v1's (no tracks); it is read for the archived leaderboard only."""
JOB_STATUSES = ("ok", "failed")
META_TRAIN_STATUSES = ("pending", "ok", "failed")


class ResultError(ValueError):
    """A result file that cannot be read or fails validation; the message says why."""


META_TRAIN_RECORD = "metail_meta_train.json"
"""Written into every checkpoint the runner saves: agent spec and kwargs, seed, suite and
meta-training time, so that a shipped checkpoint is re-scored without meta-training again."""


def canonical_json(obj: Any) -> bytes:
    """The bytes that hashes are taken over: sorted keys, no whitespace, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def checksum(doc: Mapping[str, Any]) -> str:
    """``sha256:`` of the canonical document without its ``checksum`` field."""
    body = {k: v for k, v in doc.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_info() -> dict[str, Any]:
    """Package versions and machine description recorded with every result."""
    metail = _version("metail")
    if metail is None:
        import metail_envs

        metail = getattr(metail_envs, "__version__", None)
    versions = {
        "metail": metail,
        "mujoco": _version("mujoco"),
        "gymnasium": _version("gymnasium"),
        "torch": _version("torch"),
        "numpy": _version("numpy"),
        "python": platform.python_version(),
    }
    machine = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    return {"versions": versions, "machine": machine}


def new_result(
    *,
    agent: Mapping[str, Any],
    seed: int,
    config: ProtocolConfig,
    suite: Mapping[str, Any],
    data_hash: str,
    tasks: Mapping[str, list[str]],
    references: Mapping[str, Mapping[str, float]],
    started: str,
) -> dict[str, Any]:
    """A result document with no job done yet."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "protocol": {
            "name": config.name,
            "version": config.version,
            "suite": suite["name"],
            "suite_sha256": suite["sha256"],
            "data_hash": data_hash,
        },
        "config": config.to_json(),
        "tasks": {k: list(v) for k, v in tasks.items()},
        "agent": dict(agent),
        "seed": seed,
        "references": {k: dict(v) for k, v in references.items()},
        "meta_train": {"status": "pending", "error": None, "time_s": None},
        "jobs": [],
        "complete": False,
        "environment": environment_info(),
        "timing": {"started": started, "updated": started, "wall_s": 0.0},
    }


def write_result(path: Path, doc: dict[str, Any]) -> None:
    """Seal ``doc`` with its checksum and write it atomically (temporary file, then rename)."""
    doc["jobs"] = sorted(doc["jobs"], key=job_key)
    doc["checksum"] = checksum(doc)
    write_json_atomic(path, doc)


def write_json_atomic(path: Path, doc: Any) -> None:
    """Write ``doc`` as JSON so that a crash leaves the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_result(path: Path) -> dict[str, Any]:
    """Parse a result file; raises :class:`ResultError` if it is not a JSON object."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ResultError(f"not readable as JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ResultError(f"not a JSON object but {type(doc).__name__}")
    return doc


_TOP = {
    "schema": str,
    "schema_version": int,
    "protocol": dict,
    "config": dict,
    "tasks": dict,
    "agent": dict,
    "seed": int,
    "references": dict,
    "meta_train": dict,
    "jobs": list,
    "complete": bool,
    "environment": dict,
    "timing": dict,
    "checksum": str,
}


def job_key(job: Mapping[str, Any]) -> tuple[str, str, str, int]:
    """(split, task, track, K) of a job entry (v1 entries have no track: they are ``full``)."""
    return (job.get("split"), job.get("task"), job.get("track", "full"), job.get("k"))


def _is_num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _check_job(job: Any, config: ProtocolConfig, refs: Mapping[str, Any]) -> str | None:
    if not isinstance(job, dict):
        return "a job entry is not an object"
    where = f"job ({job.get('task')!r}, K={job.get('k')!r})"
    status = job.get("status")
    if status not in JOB_STATUSES:
        return f"{where}: status {status!r} not in {JOB_STATUSES}"
    if status == "failed":
        if not isinstance(job.get("error"), str) or not job["error"]:
            return f"{where}: failed without an error message"
        if job.get("score") is not None:
            return f"{where}: a failed job carries a score"
        return None
    returns, lengths = job.get("returns"), job.get("lengths")
    if not isinstance(returns, list) or not isinstance(lengths, list):
        return f"{where}: returns and lengths must be lists"
    if len(returns) != config.episodes or len(lengths) != config.episodes:
        return (
            f"{where}: {len(returns)} returns, {len(lengths)} lengths, expected {config.episodes}"
        )
    if not all(_is_num(r) for r in returns):
        return f"{where}: non-finite or non-numeric return"
    if not all(isinstance(n, int) and 1 <= n <= config.max_steps for n in lengths):
        return f"{where}: episode length outside [1, {config.max_steps}]"
    mean_return = sum(returns) / len(returns)
    if not _is_num(job.get("mean_return")) or not math.isclose(
        job["mean_return"], mean_return, rel_tol=1e-9, abs_tol=1e-9
    ):
        return f"{where}: mean_return does not match its episode returns"
    ref = refs.get(job.get("task"))
    if not isinstance(ref, dict) or not _is_num(ref.get("expert_mean")):
        return f"{where}: no reference for the task"
    span = ref["expert_mean"] - ref["random_mean"]
    score = 100.0 * (mean_return - ref["random_mean"]) / span
    if not _is_num(job.get("score")) or not math.isclose(
        job["score"], score, rel_tol=1e-9, abs_tol=1e-9
    ):
        return f"{where}: score does not match its returns and the references"
    return None


def validate_result(
    doc: Any,
    *,
    suite_sha256: str | None = None,
    data_hash: str | None = None,
    references: Mapping[str, Mapping[str, float]] | None = None,
    require_complete: bool = True,
) -> list[str]:
    """Every reason ``doc`` may not be scored (empty if it may).

    The optional arguments are what the current checkout holds; a file made against other
    splits, demonstrations or references is refused rather than mixed in.
    """
    if not isinstance(doc, dict):
        return [f"not a JSON object but {type(doc).__name__}"]
    if doc.get("schema") != SCHEMA:
        return [f"schema {doc.get('schema')!r} is not {SCHEMA!r}"]
    if doc.get("schema_version") not in SCHEMA_VERSIONS:
        return [
            f"schema version {doc.get('schema_version')!r}; this metail reads {SCHEMA_VERSIONS}"
        ]
    for key, typ in _TOP.items():
        if not isinstance(doc.get(key), typ) or isinstance(doc.get(key), bool) != (typ is bool):
            return [f"field {key!r} missing or not of type {typ.__name__}"]
    if doc["checksum"] != checksum(doc):
        return ["checksum mismatch: the file was edited after it was written"]
    proto = doc["protocol"]
    if proto.get("version") not in PROTOCOL_VERSIONS:
        return [f"protocol version {proto.get('version')!r}; this metail reads {PROTOCOL_VERSIONS}"]
    problems = []
    if suite_sha256 is not None and proto.get("suite_sha256") != suite_sha256:
        problems.append(
            f"split-file hash {proto.get('suite_sha256')!r} differs from this checkout's "
            f"{suite_sha256!r}"
        )
    if data_hash is not None and proto.get("data_hash") != data_hash:
        problems.append(
            f"demonstration hash {proto.get('data_hash')!r} differs from this checkout's "
            f"{data_hash!r}"
        )
    try:
        config = ProtocolConfig.from_json(doc["config"])
    except (TypeError, ValueError) as e:
        return [*problems, f"config invalid: {e}"]
    if (config.version, config.name) != (proto.get("version"), proto.get("name")):
        return [*problems, f"protocol {proto.get('name')!r} does not match its config"]
    refs = doc["references"]
    if references is not None:
        for task_id, ref in refs.items():
            cur = references.get(task_id)
            if cur is None or any(
                not math.isclose(ref.get(k, math.nan), cur[k], rel_tol=1e-12)
                for k in ("expert_mean", "random_mean")
            ):
                problems.append(f"reference of {task_id!r} differs from this checkout's")
                break
    meta = doc["meta_train"]
    if meta.get("status") not in META_TRAIN_STATUSES:
        problems.append(f"meta_train status {meta.get('status')!r} not in {META_TRAIN_STATUSES}")
    tasks = doc["tasks"]
    expected = {
        (split, t, track, k)
        for split in config.splits
        for t in tasks.get(split, [])
        for track, k in config.conditions()
    }
    if set(tasks) != set(config.splits):
        problems.append(f"tasks cover splits {sorted(tasks)}, config says {list(config.splits)}")
    seen = set()
    for job in doc["jobs"]:
        problem = _check_job(job, config, refs)
        if problem:
            problems.append(problem)
            continue
        key = job_key(job)
        if key not in expected or key in seen:
            problems.append(f"job {key!r} is unexpected or duplicated")
        seen.add(key)
    if doc["complete"] != (seen == expected and meta.get("status") != "pending"):
        problems.append("'complete' flag disagrees with the jobs present")
    if require_complete and not doc["complete"]:
        problems.append(
            f"incomplete: {len(seen)} of {len(expected)} jobs done (finish it with --resume)"
        )
    return problems
