"""The manifest of the expert data: where ``expert_data/`` lies, its header and task entries
checked field by field, the files it names checked against their sha256.

Everything that reads the data asks here first, so anything missing, corrupted or malformed is a
:class:`DataError` naming the file, the field and the command that regenerates it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from metail_envs.tasks import DEFAULT_SUITE, Suite, Task, load_suite

MANIFEST = "manifest.json"
REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "expert_data"
DATA_FORMAT = 2
"""Version of the layout :mod:`metail_envs.data` describes (1: SB3 zips and every episode shipped; 2: tensor-only experts,
complete-episode demonstrations). A manifest of another format is refused."""
REGENERATE = "metail expert-data --suite {suite} --stage data --resume"
REGENERATE_TASK = "metail expert-data --suite {suite} --stage data --task {task}"


class DataError(ValueError):
    """A missing, corrupted or malformed file of the expert data (its message names the file,
    the field where one is at fault, and the command that regenerates it)."""


# --- paths and keys ---------------------------------------------------------------------------


_in_use: list[Path] = []
"""The data directories :func:`using_data_dir` put in force, innermost last."""


def default_data_dir() -> Path:
    """The directory :func:`using_data_dir` put in force, else ``$METAIL_DATA_DIR`` if set, else
    the repository's ``expert_data/``."""
    if _in_use:
        return _in_use[-1]
    env = os.environ.get("METAIL_DATA_DIR")
    return Path(env) if env else REPO_DATA_DIR


@contextmanager
def using_data_dir(data_dir: str | Path | None) -> Iterator[None]:
    """Make ``data_dir`` this process's default data directory while the block runs (None:
    leave the default as it is). A benchmark worker runs each job in its job's directory, so
    that agent code reading the data without naming a directory reads the run's."""
    if data_dir is None:
        yield
        return
    _in_use.append(Path(data_dir))
    try:
        yield
    finally:
        _in_use.pop()


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
    """The manifest of the expert data in ``data_dir``, its header checked (a JSON object of
    this :data:`DATA_FORMAT` with ``suite``, ``suite_sha256`` and ``tasks``)."""
    path = _dir(data_dir) / MANIFEST
    if not path.exists():
        raise DataError(
            f"{path} not found: the expert data is missing. Regenerate it with "
            f"`{REGENERATE.format(suite=DEFAULT_SUITE)}` or set METAIL_DATA_DIR"
        )
    try:
        doc = json.loads(path.read_text())
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError
        raise DataError(
            f"{path} is not valid JSON ({e}); regenerate it with "
            f"`{REGENERATE.format(suite=DEFAULT_SUITE)}`"
        ) from None
    return _check_header(doc, path)


def _bad(path: Path, field: str, problem: str, suite: str, task_id: str | None = None) -> DataError:
    fix = (REGENERATE_TASK if task_id else REGENERATE).format(suite=suite, task=task_id)
    return DataError(f"{path}: field {field} {problem}; regenerate with `{fix}`")


def _check_header(doc: Any, path: Path) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise DataError(
            f"{path} must be a JSON object, got {type(doc).__name__}; regenerate it with "
            f"`{REGENERATE.format(suite=DEFAULT_SUITE)}`"
        )
    suite = doc["suite"] if isinstance(doc.get("suite"), str) else DEFAULT_SUITE
    if "format" not in doc:
        raise _bad(path, "'format'", f"is missing (data format 1?); this metail reads format "
                   f"{DATA_FORMAT}", suite)  # fmt: skip
    if doc["format"] != DATA_FORMAT:
        raise _bad(path, "'format'", f"is {doc['format']!r}; this metail reads data format "
                   f"{DATA_FORMAT}", suite)  # fmt: skip
    for field, kind in (("suite", str), ("suite_sha256", str), ("tasks", dict)):
        if field not in doc:
            raise _bad(path, repr(field), "is missing", suite)
        if not isinstance(doc[field], kind):
            raise _bad(path, repr(field), f"must be a {kind.__name__}, got "
                       f"{type(doc[field]).__name__}", suite)  # fmt: skip
    return doc


def check_entry(entry: Any, path: Path, suite: str, task_id: str) -> dict[str, Any]:
    """A task's manifest entry (of the manifest at ``path``), every field a loader or a score
    uses checked."""

    def bad(field: str, problem: str) -> DataError:
        return _bad(path, f"tasks[{task_id!r}]{field}", problem, suite, task_id)

    if not isinstance(entry, dict):
        raise bad("", f"must be a JSON object, got {type(entry).__name__}")
    for part in ("demos", "expert", "random"):
        if not isinstance(entry.get(part), dict):
            raise bad(f".{part}", "is missing" if part not in entry else "must be a JSON object")
    demos, expert = entry["demos"], entry["expert"]
    n = demos.get("n")
    if not (isinstance(n, int) and not isinstance(n, bool) and n >= 0):
        raise bad(".demos.n", f"must be a non-negative int, got {n!r}")
    for field in ("file", "sha256"):
        if field not in demos:
            raise bad(f".demos.{field}", "is missing")
        if not (n == 0 and demos[field] is None):
            _check_file_field(demos[field], field, lambda p, f=field: bad(f".demos.{f}", p))
    for part in ("expert", "random"):
        for field in ("mean_return", "std_return"):
            value = entry[part].get(field)
            if not _finite(value):
                raise bad(f".{part}.{field}", f"must be a finite number, got {value!r}")
    files = [f for f in ("file", "sha256", "arch") if f in expert]
    if files:  # a demonstrations-only directory has no expert files; a half-described one fails
        for field in ("file", "sha256", "arch"):
            if field not in expert:
                raise bad(f".expert.{field}", "is missing")
        for field in ("file", "sha256"):
            _check_file_field(expert[field], field, lambda p, f=field: bad(f".expert.{f}", p))
        from metail_envs.expert_policy import ExpertFormatError, check_arch

        try:
            check_arch(expert["arch"])
        except ExpertFormatError as e:
            raise bad(".expert.arch", f"is malformed ({e})") from None
    return entry


def _check_file_field(value: Any, field: str, bad: Any) -> None:
    if field == "sha256":
        if not (isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value)):
            raise bad(f"must be a sha256 hex digest, got {value!r}")
        return
    rel = PurePosixPath(value) if isinstance(value, str) else None
    if rel is None or not value or rel.is_absolute() or ".." in rel.parts or "\\" in value:
        raise bad(f"must be a relative path inside the data directory, got {value!r}")


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def suite_manifest(
    suite: str | Suite, data_dir: str | Path | None
) -> tuple[Suite, dict[str, Any], Path]:
    """The suite, the checked manifest of ``data_dir`` and its path, the manifest being for
    that very suite (name and sha256)."""
    s = load_suite(suite.name if isinstance(suite, Suite) else suite)
    path = _dir(data_dir) / MANIFEST
    doc = load_manifest(data_dir)
    if doc["suite"] != s.name:
        raise DataError(f"{path} is for suite {doc['suite']!r}, not {s.name!r}")
    if doc["suite_sha256"] != s.sha256:
        raise DataError(
            f"{path} was generated for another version of suite {s.name!r} (suite sha256 "
            f"{doc['suite_sha256'][:12]} != {s.sha256[:12]}); regenerate with "
            f"`{REGENERATE.format(suite=s.name)}`"
        )
    return s, doc, path


def task_entry(
    task: Task | str, data_dir: str | Path | None
) -> tuple[Suite, Task, dict[str, Any], Path]:
    """A task's suite, Task, checked manifest entry and the manifest's path (an entry the
    manifest lacks is a :class:`DataError` naming the command that generates it)."""
    suite, t = resolve_task(task)
    suite, doc, path = suite_manifest(suite, data_dir)
    if t.id not in doc["tasks"]:
        raise DataError(
            f"{path} has no data for task {t.id!r} yet; generate it with "
            f"`{REGENERATE_TASK.format(suite=suite.name, task=t.id)}`"
        )
    return suite, t, check_entry(doc["tasks"][t.id], path, suite.name, t.id), path


def checked_file(
    task_id: str, suite: Suite, record: dict[str, Any], data_dir: str | Path | None, what: str
) -> Path:
    """The path of a manifest record's file after checking that it exists and its sha256."""
    path = _dir(data_dir) / record["file"]
    fix = REGENERATE_TASK.format(suite=suite.name, task=task_id)
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
