"""The shipped expert data: experts, fixed demonstrations, normalisation references, checksums.

``expert_data/`` (or ``$METAIL_DATA_DIR``) holds, for every task of a suite::

    manifest.json              data format, suite, the data rule, generating command, versions,
                               and per task: files, sha256, the expert's architecture, returns,
                               lengths, seeds, falls, expert and random references
    experts/<key>.pt           the PPO expert's weights (tensors only, acting on raw observations)
    demos/<key>/               its complete-episode demonstrations (``imitation.data.serialize``
                               format: a HuggingFace dataset directory)
    training/<key>/            the training runs (the pipeline's own files, never read here)

where ``<key>`` is the task id with ``/`` replaced by ``__``. Every file is checked against the
manifest's sha256 before it is used, and the manifest itself field by field: anything missing,
corrupted or malformed is a :class:`DataError` naming the file, the field and the command that
regenerates it, never a silently wrong dataset. No code runs from the data: experts are read with
``torch.load(weights_only=True)`` (:mod:`metail_envs.expert_policy`), demonstrations straight
from their arrow columns with ``json`` for the infos (never jsonpickle). More demonstrations than
the fixed ones are generated on demand into a user cache (``$METAIL_CACHE_DIR`` or
``~/.cache/metail``) by ``metail generate-demos`` and read with :func:`load_cached_demos`.

This module stays light: torch, pyarrow and imitation are imported inside functions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from metail_envs.tasks import DEFAULT_SUITE, Suite, Task, load_suite

MANIFEST = "manifest.json"
REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "expert_data"
DATA_FORMAT = 2
"""Version of the layout above (1: SB3 zips and every episode shipped; 2: tensor-only experts,
complete-episode demonstrations). A manifest of another format is refused."""
REGENERATE = "metail expert-data --suite {suite} --stage data --resume"
REGENERATE_TASK = "metail expert-data --suite {suite} --stage data --task {task}"


SELECT_SEED = 10_000
"""Reset seeds ``SELECT_SEED + i``: evaluations that pick the best checkpoint during training."""
EVAL_SEED = 20_000
"""Reset seeds ``EVAL_SEED + i``: the expert and random references written to the manifest."""
DEMO_SEED = 0
"""Reset seeds ``DEMO_SEED + i``: the fixed, shipped demonstrations (complete episodes only)."""
CHOICE_SEED = 30_000
"""Reset seeds ``CHOICE_SEED + i``: choosing among the retried experts of a task below the bar."""
CACHE_SEED = 1_000_000
"""Reset seeds ``CACHE_SEED + i``: demonstrations generated on demand into the user cache."""


@dataclass(frozen=True)
class DataRule:
    """How a task's references and demonstrations are drawn (the one place these numbers live).

    The expert reference is the mean return of ``reference_episodes`` deterministic episodes
    from ``EVAL_SEED + i``; the random one of ``random_episodes`` uniform-random episodes from the
    same seeds. The demonstrations are the first ``demos`` *complete* expert episodes (reaching the
    time limit) from reset seeds ``DEMO_SEED + i``, trying at most ``max_tries`` seeds; an episode
    that ends early (a fall) is recorded in the manifest, never shipped.
    """

    reference_episodes: int
    demos: int
    max_tries: int
    random_episodes: int = 100


DATA_RULES = {
    "scored": DataRule(reference_episodes=50, demos=20, max_tries=200),
    "train": DataRule(reference_episodes=20, demos=10, max_tries=100),
}
"""The rule of the scored tasks (test, ood, nominal: every score is normalised by them) and of
the training tasks (meta-training data only)."""
SCORED = ("test", "ood", "nominal")
MIN_COMPLETION = {"scored": 0.9, "train": 0.5}
"""The fraction of its reference episodes an expert must complete (reach the time limit in):
the bar of the retry stage (a training task below it is retried after the scored tasks)."""


def task_split(task: Task | str) -> str:
    """``train``, ``test``, ``ood`` or ``nominal``: the second component of a task id."""
    task_id = task.id if isinstance(task, Task) else task
    parts = task_id.split("/")
    if len(parts) < 2 or parts[1] not in ("train", *SCORED):
        raise ValueError(f"task must be a suite task id like 'hopper-v1/test/03', got {task_id!r}")
    return parts[1]


def data_rule(task: Task | str, rules: dict[str, DataRule] | None = None) -> DataRule:
    """The rule of a task in ``rules`` (default :data:`DATA_RULES`): ``scored`` for test, ood
    and nominal, ``train`` for the training tasks."""
    rules = DATA_RULES if rules is None else rules
    return rules["scored" if task_split(task) in SCORED else "train"]


def rules_json(rules: dict[str, DataRule] | None = None) -> dict[str, Any]:
    """``rules`` (default :data:`DATA_RULES`) with the seeds, as the manifest records them."""
    rules = DATA_RULES if rules is None else rules
    return {
        "seeds": {"eval": EVAL_SEED, "demos": DEMO_SEED},
        **{name: asdict(rule) for name, rule in rules.items()},
    }


class DataError(ValueError):
    """A missing, corrupted or malformed file of the expert data (its message names the file,
    the field where one is at fault, and the command that regenerates it)."""


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


def _check_entry(entry: Any, path: Path, suite: str, task_id: str) -> dict[str, Any]:
    """A task's manifest entry, every field a loader or a score uses checked."""

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


def _suite_manifest(
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


def _entry(
    task: Task | str, data_dir: str | Path | None
) -> tuple[Suite, Task, dict[str, Any], Path]:
    suite, t = resolve_task(task)
    suite, doc, path = _suite_manifest(suite, data_dir)
    if t.id not in doc["tasks"]:
        raise DataError(
            f"{path} has no data for task {t.id!r} yet; generate it with "
            f"`{REGENERATE_TASK.format(suite=suite.name, task=t.id)}`"
        )
    return suite, t, _check_entry(doc["tasks"][t.id], path, suite.name, t.id), path


def _checked(
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


# --- demonstrations: arrow columns, JSON infos ------------------------------------------------


def _read_demo_dir(path: Path) -> tuple:
    """The rows of a demonstration directory (written by ``imitation.data.serialize.save``) as
    ``(obs, acts, infos, terminal, rews)``, read from its arrow files with pyarrow; the infos
    are parsed with ``json``, and one holding a jsonpickle tag (``"py/..."``) is refused."""
    import numpy as np
    import pyarrow as pa

    def bad(problem: str) -> DataError:
        return DataError(f"demonstrations {path}: {problem}")

    try:
        state = json.loads((path / "state.json").read_text())
        names = [f["filename"] for f in state["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise bad(f"state.json unreadable ({e!r})") from None
    tables = []
    for name in names:
        if not (isinstance(name, str) and re.fullmatch(r"[\w.-]+\.arrow", name)):
            raise bad(f"data file name {name!r} is not a plain .arrow file name")
        try:
            with pa.OSFile(str(path / name), "rb") as f:
                tables.append(pa.ipc.open_stream(f).read_all())
        except (pa.ArrowException, OSError) as e:
            raise bad(f"{name} is not an arrow stream ({e})") from None
    if not tables:
        raise bad("no data files")
    table = pa.concat_tables(tables)
    want = {
        "obs": "list<list<float>>",
        "acts": "list<list<float>>",
        "rews": "list<float>",
        "infos": "list<string>",
        "terminal": "bool",
    }
    for name, kind in want.items():
        if name not in table.column_names or _arrow_kind(table.schema.field(name).type) != kind:
            got = table.schema.field(name).type if name in table.column_names else "missing"
            raise bad(f"column {name!r} must be {kind}, got {got}")
    rows = []
    for i in range(table.num_rows):
        where = f"demonstration {i}"
        obs, acts = (_matrix(table.column(c)[i], f"{where} {c}", bad) for c in ("obs", "acts"))
        rews = _flat(table.column("rews")[i], f"{where} rews", bad)
        texts = table.column("infos")[i].values
        if texts is None or texts.null_count:
            raise bad(f"{where}: infos hold nulls")
        infos = tuple(
            _parse_info(x, f"{where} step {j}", bad) for j, x in enumerate(texts.to_pylist())
        )
        terminal = table.column("terminal")[i].as_py()
        if terminal is None or not (len(obs) == len(acts) + 1 == len(rews) + 1 == len(infos) + 1):
            raise bad(f"{where}: inconsistent lengths (obs {len(obs)}, acts {len(acts)}, "
                      f"rews {len(rews)}, infos {len(infos)})")  # fmt: skip
        rows.append((obs, acts, infos, bool(terminal), np.asarray(rews)))
    return tuple(rows)


def _arrow_kind(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"list<{_arrow_kind(t.value_type)}>"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    return "bool" if pa.types.is_boolean(t) else str(t)


def _flat(cell: Any, where: str, bad: Any) -> Any:
    values = cell.values
    if values is None or values.null_count:
        raise bad(f"{where} holds nulls")
    return values.to_numpy(zero_copy_only=False).copy()


def _matrix(cell: Any, where: str, bad: Any) -> Any:
    """A ``list<list<float>>`` cell as a 2-D array (every row the same width)."""
    import numpy as np

    steps = cell.values
    if steps is None or steps.null_count:
        raise bad(f"{where} holds nulls")
    widths = np.diff(np.asarray(steps.offsets))
    if len(steps) and (widths != widths[0]).any():
        raise bad(f"{where} rows have different widths")
    values = steps.flatten()
    if values.null_count:
        raise bad(f"{where} holds nulls")
    width = int(widths[0]) if len(steps) else 0
    return values.to_numpy(zero_copy_only=False).reshape(len(steps), width).copy()


def _parse_info(text: str, where: str, bad: Any) -> dict[str, Any]:
    if text == "{}":
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise bad(f"{where}: an info is not JSON") from None
    if not isinstance(value, dict):
        raise bad(f"{where}: an info must be a JSON object, got {type(value).__name__}")
    tag = _jsonpickle_tag(value)
    if tag is not None:
        raise bad(
            f"{where}: an info holds the jsonpickle tag {tag!r}; refused (the infos of "
            "demonstrations are plain JSON, never decoded into objects)"
        )
    return value


def _jsonpickle_tag(value: Any) -> str | None:
    """The first ``"py/..."`` key in a JSON value (how jsonpickle marks objects to rebuild)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            for k, x in v.items():
                if k.startswith("py/"):
                    return k
                stack.append(x)
        elif isinstance(v, list):
            stack.extend(v)
    return None


# --- the public API ---------------------------------------------------------------------------


def load_demos(task: Task | str, n: int | None = None, data_dir: str | Path | None = None) -> list:
    """The first ``n`` (default: all) fixed demonstrations of a suite task, checksummed.

    Returns ``imitation.data.types.TrajectoryWithRew`` with raw observations, each a complete
    episode (it reached the time limit); ``infos[-1]`` holds the task id, the episode's reset
    seed and ``terminated``/``truncated``.
    """
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        raise ValueError(f"n must be a non-negative int or None, got {n!r}")
    suite, t, entry, _ = _entry(task, data_dir)
    record = entry["demos"]
    if n is not None and n > record["n"]:
        short = record.get("shortfall")
        why = (
            f" (its expert completed only {record['n']} of {record.get('tries')} episodes)"
            if short
            else ""
        )
        raise ValueError(
            f"task {t.id!r} ships {record['n']} demonstrations{why}, asked for n={n}; generate "
            f"more with `metail generate-demos --task {t.id} --n {n}` and read them with "
            "metail_envs.data.load_cached_demos"
        )
    if record["n"] == 0:
        return []
    path = _checked(t.id, suite, record, data_dir, "demonstrations")
    trajs = _load_trajs(path, record["sha256"])
    if len(trajs) != record["n"]:
        raise DataError(f"{path} holds {len(trajs)} demonstrations, manifest says {record['n']}")
    return trajs[: record["n"] if n is None else n]


def _load_trajs(path: Path, sha256: str) -> list:
    """The trajectories of a checksummed demonstration directory, each with its own arrays and
    infos (so a caller that edits them cannot change the cache)."""
    import numpy as np
    from imitation.data.types import TrajectoryWithRew

    out = []
    for obs, acts, infos, terminal, rews in _decoded(str(path), sha256):
        own = np.empty(len(infos), dtype=object)
        own[:] = [dict(i) if i else {} for i in infos]
        out.append(
            TrajectoryWithRew(
                obs=obs.copy(), acts=acts.copy(), infos=own, terminal=terminal, rews=rews.copy()
            )
        )
    return out


@functools.lru_cache(maxsize=64)
def _decoded(path: str, sha256: str) -> tuple:
    """A demonstration directory's rows, read once per process and checksum (a benchmark
    worker reads the same task's demonstrations for every seed and K)."""
    return _read_demo_dir(Path(path))


def load_expert(task: Task | str, data_dir: str | Path | None = None):
    """The PPO expert of a suite task: ``predict(obs, deterministic=True)`` and ``act(obs)`` on
    raw observations (:class:`metail_envs.expert_policy.MlpExpert`; SB3's deterministic actions).

    Read from ``experts/<key>.pt`` with ``torch.load(weights_only=True)``, its architecture from
    the manifest; an SB3 zip of it: ``python -m baselines.experts.convert --task ID --out F``.
    """
    suite, t, entry, path = _entry(task, data_dir)
    record = entry["expert"]
    fix = REGENERATE_TASK.format(suite=suite.name, task=t.id)
    if "file" not in record:
        raise DataError(
            f"{path}: task {t.id!r} has no expert (field tasks[{t.id!r}].expert.file is "
            f"missing); generate it with `{fix}`"
        )
    file = _checked(t.id, suite, record, data_dir, "expert")
    arch = json.dumps(record["arch"], sort_keys=True)
    return _load_mlp(str(file), record["sha256"], arch, t.id, fix)


@functools.lru_cache(maxsize=16)
def _load_mlp(path: str, sha256: str, arch: str, task_id: str, fix: str):
    from metail_envs.expert_policy import ExpertFormatError, load_expert_file

    try:
        return load_expert_file(path, json.loads(arch))
    except ExpertFormatError as e:
        raise DataError(f"expert of task {task_id!r}: {e}; regenerate with `{fix}`") from None


def load_references(
    suite: str | Suite = DEFAULT_SUITE, data_dir: str | Path | None = None
) -> dict[str, dict[str, float]]:
    """Per task id: ``expert_mean, expert_std, random_mean, random_std`` (the normalisation
    references of every score) and ``horizon``, the episode step limit they were measured at
    (the manifest's ``rule.time_limit``, which the data pipeline writes; None for a hand-made
    manifest without one, whose references are taken at every horizon). A malformed manifest
    raises its own :class:`DataError`."""
    s, doc, path = _suite_manifest(suite, data_dir)
    horizon = doc.get("rule", {}).get("time_limit")
    if horizon is not None and (
        not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1
    ):
        raise DataError(f"{path}: rule.time_limit must be a positive int, got {horizon!r}")
    missing = [t.id for t in s.tasks if t.id not in doc["tasks"]]
    if missing:
        raise DataError(
            f"{path} lacks references for {len(missing)} task(s) of {s.name!r} (first: "
            f"{missing[0]}); generate them with `{REGENERATE.format(suite=s.name)}`"
        )
    out: dict[str, dict[str, float]] = {}
    for t in s.tasks:
        entry = _check_entry(doc["tasks"][t.id], path, s.name, t.id)
        out[t.id] = {
            "expert_mean": entry["expert"]["mean_return"],
            "expert_std": entry["expert"]["std_return"],
            "random_mean": entry["random"]["mean_return"],
            "random_std": entry["random"]["std_return"],
            "horizon": horizon,
        }
    return out


def data_hash(
    suite: str | Suite = DEFAULT_SUITE,
    data_dir: str | Path | None = None,
    task_ids: Collection[str] | None = None,
) -> str:
    """One hash identifying the data a result was produced with: over the manifest's format,
    suite, data rule and every task's whole entry (references, expert architecture, the sha256
    of its expert and demonstrations, ...), after checking each file against its sha256.

    ``task_ids``: only these tasks' entries -- the data one stage reads (meta-training reads the
    training tasks only, so a new expert on a test task does not make its checkpoints stale)."""
    s, doc, path = _suite_manifest(suite, data_dir)
    h = hashlib.sha256()
    head = {k: doc.get(k) for k in ("format", "suite", "suite_sha256", "rule")}
    h.update(json.dumps(head, sort_keys=True).encode() + b"\n")
    for t in s.tasks:
        if task_ids is not None and t.id not in task_ids:
            continue
        if t.id not in doc["tasks"]:
            raise DataError(
                f"{path} has no data for task {t.id!r}; generate it with "
                f"`{REGENERATE_TASK.format(suite=s.name, task=t.id)}`"
            )
        entry = _check_entry(doc["tasks"][t.id], path, s.name, t.id)
        if entry["demos"]["n"]:
            _checked(t.id, s, entry["demos"], data_dir, "demonstrations")
        if "file" in entry["expert"]:
            _checked(t.id, s, entry["expert"], data_dir, "expert")
        body = json.dumps(entry, sort_keys=True, separators=(",", ":"))
        h.update(f"{t.id}\0{body}\n".encode())
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
    try:
        meta = json.loads(meta_path.read_text())
        digest = meta["sha256"]
    except (ValueError, KeyError, TypeError):
        raise DataError(f"{meta_path} is malformed; regenerate with `{fix}`") from None
    if sha256_path(path) != digest:
        raise DataError(f"cached demonstrations {path} are corrupted; regenerate with `{fix}`")
    expert_sha = _entry(t, data_dir)[2]["expert"].get("sha256")
    if meta.get("expert_sha256") != expert_sha:
        raise DataError(
            f"cached demonstrations {path} come from another expert than the current one "
            f"of {t.id!r}; regenerate with `{fix}`"
        )
    return _load_trajs(path, digest)
