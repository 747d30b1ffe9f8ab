"""Demonstration directories decoded from their Arrow files, with ``json`` for the infos.

A demonstration set is the directory ``imitation.data.serialize.save`` (and
``baselines.experts.demos.save_demos``) writes: a HuggingFace dataset of one row per episode with
columns ``obs``, ``acts``, ``infos``, ``terminal``, ``rews``. It is read with pyarrow alone (no
``datasets``, no imitation), every column's type and every row's lengths checked; an info is plain
JSON and one holding a jsonpickle tag is refused, so no code runs from the data.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from metail_envs.manifest import DataError

COLUMNS = {
    "obs": "list<list<float>>",
    "acts": "list<list<float>>",
    "rews": "list<float>",
    "infos": "list<string>",
    "terminal": "bool",
}
"""The columns of a demonstration set and their Arrow types."""


def read_demo_dir(path: Path) -> tuple:
    """The rows of a demonstration directory as ``(obs, acts, infos, terminal, rews)`` tuples
    (numpy arrays, a tuple of info dicts, a bool); a malformed one is a :class:`DataError`."""

    def bad(problem: str) -> DataError:
        return DataError(f"demonstrations {path}: {problem}")

    table = _read_table(path, bad)
    return tuple(_row(table, i, bad) for i in range(table.num_rows))


def _read_table(path: Path, bad: Any) -> Any:
    """The directory's Arrow files (as its ``state.json`` lists them) as one checked table."""
    import pyarrow as pa

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
    for name, kind in COLUMNS.items():
        if name not in table.column_names or _arrow_kind(table.schema.field(name).type) != kind:
            got = table.schema.field(name).type if name in table.column_names else "missing"
            raise bad(f"column {name!r} must be {kind}, got {got}")
    return table


def _row(table: Any, i: int, bad: Any) -> tuple:
    """Row ``i`` of a checked table, its lengths consistent."""
    import numpy as np

    where = f"demonstration {i}"
    obs, acts = (_matrix(table.column(c)[i], f"{where} {c}", bad) for c in ("obs", "acts"))
    rews = _flat(table.column("rews")[i], f"{where} rews", bad)
    texts = table.column("infos")[i].values
    if texts is None or texts.null_count:
        raise bad(f"{where}: infos hold nulls")
    infos = tuple(_parse_info(x, f"{where} step {j}", bad) for j, x in enumerate(texts.to_pylist()))
    terminal = table.column("terminal")[i].as_py()
    if terminal is None or not (len(obs) == len(acts) + 1 == len(rews) + 1 == len(infos) + 1):
        raise bad(f"{where}: inconsistent lengths (obs {len(obs)}, acts {len(acts)}, "
                  f"rews {len(rews)}, infos {len(infos)})")  # fmt: skip
    return obs, acts, infos, bool(terminal), np.asarray(rews)


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
