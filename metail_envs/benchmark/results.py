"""The result file: one JSON document per (agent, meta-training seed), versioned and checked.

The runner rewrites the file atomically after every finished job, so a killed run leaves a valid
file holding the jobs done so far. The leaderboard reads nothing it has not validated: schema,
checksum, protocol version, split and demonstration hashes, and the internal consistency of every
number (scores are recomputed from the episode returns and the references).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import math
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..fileio import write_json_atomic
from .protocol import PROTOCOL_VERSION, ProtocolConfig, job_seed
from .stats import normalised_score

SCHEMA = "metail.result"
SCHEMA_VERSION = 2
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
    write_json_atomic(path, doc, sort_keys=True, allow_nan=False)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def read_result(path: Path) -> dict[str, Any]:
    """Parse a result file; raises :class:`ResultError` if it is not a JSON object (a NaN or
    an Infinity anywhere is not JSON: refused here, before anything reads it)."""
    try:
        doc = json.loads(Path(path).read_text(), parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
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


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_time(x: Any, optional: bool = True) -> bool:
    return (optional and x is None) or (_is_num(x) and x >= 0)


@functools.lru_cache(maxsize=32)
def _protocol_tasks(suite_name: str, splits: tuple, tasks: tuple | None) -> dict[str, list[str]]:
    import metail_envs

    suite = metail_envs.load_suite(suite_name)
    out = {}
    for split in splits:
        ids = [suite.nominal.id] if split == "nominal" else [t.id for t in suite.split(split)]
        out[split] = ids if tasks is None else [t for t in ids if t in tasks]
    return out


def protocol_tasks(config: ProtocolConfig) -> dict[str, list[str]]:
    """The evaluation task ids per split that ``config`` selects from its suite: what a result
    file run under ``config`` must hold, whatever the file itself lists."""
    return {
        k: list(v) for k, v in _protocol_tasks(config.suite, config.splits, config.tasks).items()
    }


def _check_agent(agent: dict[str, Any]) -> str | None:
    for key in ("name", "spec"):
        if not isinstance(agent.get(key), str) or not agent[key]:
            return f"agent {key} must be a non-empty string, got {agent.get(key)!r}"
    if not isinstance(agent.get("kwargs"), dict):
        return f"agent kwargs must be an object, got {agent.get('kwargs')!r}"
    if "adapt_kwargs" in agent and not isinstance(agent["adapt_kwargs"], dict):
        return f"agent adapt_kwargs must be an object, got {agent['adapt_kwargs']!r}"
    if "privileged" in agent and not isinstance(agent["privileged"], bool):
        return f"agent privileged must be true or false, got {agent['privileged']!r}"
    if "target" in agent and not isinstance(agent["target"], str):
        return f"agent target must be a string, got {agent['target']!r}"
    return None


def _check_meta(meta: dict[str, Any]) -> str | None:
    if meta.get("status") not in META_TRAIN_STATUSES:
        return f"meta_train status {meta.get('status')!r} not in {META_TRAIN_STATUSES}"
    if not _is_time(meta.get("time_s")):
        return f"meta_train time_s must be a number >= 0 or null, got {meta.get('time_s')!r}"
    if (meta.get("error") is None) != (meta["status"] != "failed") or not isinstance(
        meta.get("error"), str | None
    ):
        return "meta_train error must be a message if it failed, else null"
    return None


def _check_references(refs: dict[str, Any], task_ids: list[str], max_steps: int) -> str | None:
    for task_id in task_ids:
        ref = refs.get(task_id)
        if not isinstance(ref, dict) or not all(
            _is_num(ref.get(k)) for k in ("expert_mean", "random_mean")
        ):
            return f"reference of {task_id!r} missing or not finite numbers"
        if ref.get("horizon") not in (None, max_steps):
            return (
                f"reference of {task_id!r} was measured at {ref['horizon']!r} steps, but the "
                f"episodes ran {max_steps}"
            )
        if not ref["expert_mean"] > ref["random_mean"]:
            return f"reference of {task_id!r}: expert mean must exceed random mean"
    return None


def _check_windows(job: dict[str, Any]) -> str | None:
    demos = job.get("demos")
    if demos is None:
        return None if job.get("status") == "failed" else "demos missing"
    if not isinstance(demos, list) or not all(
        isinstance(w, list) and len(w) == 3 and all(_is_int(x) and x >= 0 for x in w)
        and w[1] < w[2]
        for w in demos
    ):  # fmt: skip
        return "demos must be [index, start, stop] windows"
    if len(demos) != job.get("k") or len({w[0] for w in demos}) != len(demos):
        return f"{len(demos)} demonstration windows for K={job.get('k')!r}"
    return None


def _check_job(job: Any, config: ProtocolConfig, seed: int, refs: Mapping[str, Any]) -> str | None:
    if not isinstance(job, dict):
        return "a job entry is not an object"
    where = f"job ({job.get('task')!r}, {job.get('track', 'full')!r}, K={job.get('k')!r})"
    if not all(isinstance(job.get(k), str) for k in ("split", "task")) or not _is_int(job.get("k")):
        return f"{where}: split and task must be strings, k an integer"
    if not isinstance(job.get("track"), str):
        return f"{where}: track must be a string"
    status = job.get("status")
    if status not in JOB_STATUSES:
        return f"{where}: status {status!r} not in {JOB_STATUSES}"
    if job.get("job_seed") != job_seed(seed, job["task"], job["k"], job["track"]):
        return f"{where}: job_seed {job.get('job_seed')!r} is not seed {seed}'s (copied?)"
    problem = _check_windows(job)
    if problem:
        return f"{where}: {problem}"
    if job.get("agent_config") is not None and not isinstance(job["agent_config"], str):
        return f"{where}: agent_config must be a digest string, got {job['agent_config']!r}"
    if status == "failed":
        if not isinstance(job.get("error"), str) or not job["error"]:
            return f"{where}: failed without an error message"
        if job.get("score") is not None:
            return f"{where}: a failed job carries a score"
        return None
    if job.get("error") is not None:
        return f"{where}: a successful job carries an error"
    for key in ("adapt_time_s", "eval_time_s"):
        if not _is_time(job.get(key), optional=key == "eval_time_s"):
            return f"{where}: {key} must be a number >= 0, got {job.get(key)!r}"
    stats = job.get("adapt_stats")
    if stats is not None and (
        not isinstance(stats, dict) or not all(_is_num(v) for v in stats.values())
    ):
        return f"{where}: adapt_stats must map names to finite numbers"
    returns, lengths = job.get("returns"), job.get("lengths")
    if not isinstance(returns, list) or not isinstance(lengths, list):
        return f"{where}: returns and lengths must be lists"
    if len(returns) != config.episodes or len(lengths) != config.episodes:
        return (
            f"{where}: {len(returns)} returns, {len(lengths)} lengths, expected {config.episodes}"
        )
    if not all(_is_num(r) for r in returns):
        return f"{where}: non-finite or non-numeric return"
    if not all(_is_int(n) and 1 <= n <= config.max_steps for n in lengths):
        return f"{where}: episode length outside [1, {config.max_steps}]"
    mean_return = sum(returns) / len(returns)
    if not _is_num(job.get("mean_return")) or not math.isclose(
        job["mean_return"], mean_return, rel_tol=1e-9, abs_tol=1e-9
    ):
        return f"{where}: mean_return does not match its episode returns"
    ref = refs.get(job["task"])  # holds only the protocol's tasks, checked
    if ref is None:
        return f"{where}: not a task of its protocol config"
    score = float(normalised_score(mean_return, ref["random_mean"], ref["expert_mean"]))
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
    splits, demonstrations or references is refused rather than mixed in. The jobs a file must
    hold come from its protocol configuration and the suite (:func:`protocol_tasks`), never from
    the file's own task list.
    """
    problem = _check_envelope(doc)
    if problem:
        return [problem]
    proto = doc["protocol"]
    problems = _checkout_mismatches(proto, suite_sha256, data_hash)
    config, problem = _read_config(doc["config"], proto)
    if problem:
        return [*problems, problem]
    if doc["seed"] < 0:
        return [*problems, f"seed {doc['seed']} is negative"]
    problems += [p for p in (_check_agent(doc["agent"]), _check_meta(doc["meta_train"])) if p]
    try:
        tasks = protocol_tasks(config)
    except (KeyError, ValueError) as e:
        return [*problems, f"its config selects no tasks of suite {config.suite!r}: {e}"]
    if doc["tasks"] != tasks:
        problems.append(
            f"tasks {_count(doc['tasks'])} are not the {_count(tasks)} its protocol config selects"
        )
    task_ids = [t for ids in tasks.values() for t in ids]
    refs = doc["references"]
    problem = _check_references(refs, task_ids, config.max_steps)
    if problem:
        return [*problems, problem]
    problem = _references_differ(refs, references, task_ids, config.max_steps)
    if problem:
        problems.append(problem)
    refs = {t: refs[t] for t in task_ids}
    return problems + _check_jobs(doc, config, tasks, refs, require_complete)


def _check_envelope(doc: Any) -> str | None:
    """What makes ``doc`` unreadable: not a result file of a known schema and protocol
    version, a field of the wrong type, or a checksum that does not match."""
    if not isinstance(doc, dict):
        return f"not a JSON object but {type(doc).__name__}"
    if doc.get("schema") != SCHEMA:
        return f"schema {doc.get('schema')!r} is not {SCHEMA!r}"
    if doc.get("schema_version") != SCHEMA_VERSION:
        return f"schema version {doc.get('schema_version')!r}; this metail reads {SCHEMA_VERSION}"
    for key, typ in _TOP.items():
        if not isinstance(doc.get(key), typ) or isinstance(doc.get(key), bool) != (typ is bool):
            return f"field {key!r} missing or not of type {typ.__name__}"
    try:
        sealed = doc["checksum"] == checksum(doc)
    except (TypeError, ValueError) as e:  # a non-finite number, a non-string key
        return f"not canonical JSON: {e}"
    if not sealed:
        return "checksum mismatch: the file was edited after it was written"
    version = doc["protocol"].get("version")
    if version != PROTOCOL_VERSION:
        return (
            f"protocol version {version!r}; this metail reads {PROTOCOL_VERSION} (earlier "
            "protocols' leaderboards are archived in docs/history/)"
        )
    return None


def _checkout_mismatches(
    proto: Mapping[str, Any], suite_sha256: str | None, data_hash: str | None
) -> list[str]:
    """The split file or demonstrations the result was made against, if not this checkout's."""
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
    return problems


def _read_config(raw: Any, proto: Mapping[str, Any]) -> tuple[ProtocolConfig | None, str | None]:
    """The file's protocol configuration, or why it cannot be used."""
    try:
        config = ProtocolConfig.from_json(raw)
        _ = config.settings(), config.conditions(), config.reset_seeds()  # all it is read for
    except (TypeError, ValueError) as e:
        return None, f"config invalid: {e}"
    if (config.version, config.name, config.suite) != tuple(
        proto.get(k) for k in ("version", "name", "suite")
    ):
        return None, f"protocol {proto.get('name')!r} does not match its config"
    return config, None


def _references_differ(
    refs: Mapping[str, Any],
    references: Mapping[str, Mapping[str, float]] | None,
    task_ids: list[str],
    max_steps: int,
) -> str | None:
    """The first task whose recorded references differ from this checkout's ``references``.

    References of a run whose episodes are not as long as the checkout's references' horizon
    were measured in that run at its own horizon (a smoke run: never official), and are only
    checked to say so (:func:`_check_references`)."""
    if references is None:
        return None
    for task_id in task_ids:
        ref, cur = refs[task_id], references.get(task_id)
        if cur is not None and cur.get("horizon") not in (None, max_steps):
            if "horizon" not in ref:
                return f"reference of {task_id!r} is not at the run's horizon of {max_steps} steps"
            continue
        if cur is None or any(
            not math.isclose(ref[k], cur[k], rel_tol=1e-12) for k in ("expert_mean", "random_mean")
        ):
            return f"reference of {task_id!r} differs from this checkout's"
        if ref.get("horizon", cur.get("horizon")) != cur.get("horizon"):  # older files: none
            return f"reference of {task_id!r} records another horizon than this checkout's"
    return None


def _check_jobs(
    doc: dict[str, Any],
    config: ProtocolConfig,
    tasks: Mapping[str, list[str]],
    refs: Mapping[str, Any],
    require_complete: bool,
) -> list[str]:
    """Every job checked, none unexpected or twice, and the ``complete`` flag true to them."""
    expected = {
        (split, t, track, k) for split, ids in tasks.items() for t in ids
        for track, k in config.conditions()
    }  # fmt: skip
    problems = []
    seen = set()
    for job in doc["jobs"]:
        problem = _check_job(job, config, doc["seed"], refs)
        if problem:
            problems.append(problem)
            continue
        key = job_key(job)
        if key not in expected or key in seen:
            problems.append(f"job {key!r} is unexpected or duplicated")
        seen.add(key)
    configs = sorted({j.get("agent_config") for j in doc["jobs"] if isinstance(j, dict)} - {None})
    if len(configs) > 1:
        problems.append(
            f"its jobs ran under {len(configs)} agent configs ({', '.join(configs)}): a config "
            "default changed between a run and its --resume; run the entry again into a new file"
        )
    meta = doc["meta_train"]
    if doc["complete"] != (seen == expected and meta.get("status") != "pending"):
        problems.append("'complete' flag disagrees with the jobs present")
    if require_complete and not doc["complete"]:
        problems.append(
            f"incomplete: {len(seen)} of {len(expected)} jobs done (finish it with --resume)"
        )
    return problems


def _count(tasks: Any) -> str:
    if not isinstance(tasks, dict):
        return repr(tasks)
    parts = [f"{len(v) if isinstance(v, list) else '?'} {k}" for k, v in tasks.items()]
    return "(" + ", ".join(parts) + ")"
