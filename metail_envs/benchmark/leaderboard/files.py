"""Which result files a leaderboard shows: every file validated, the quick estimates kept apart,
one settings chosen (the official ones when any file has them), one file per (agent, seed).

Every file not shown is listed as :class:`.board.Excluded` with its reasons; nothing here raises
for a bad file, so no file can stop the others from being shown.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from .. import plausibility
from ..protocol import ProtocolConfig
from ..results import ResultError, read_result, validate_result
from .board import Excluded

Files = list[tuple[Path, dict[str, Any]]]
"""Result files and their documents."""
Chosen = dict[tuple[str, int], tuple[Path, dict[str, Any]]]
"""The one file shown per (agent name, seed)."""


def result_files(root: Path) -> list[Path]:
    """Every ``*.json`` under ``root/results`` (or ``root`` when it has no ``results``)."""
    base = root / "results" if (root / "results").is_dir() else root
    return sorted(p for p in base.rglob("*.json") if p.is_file())


def current_expectations(data_dir: Any) -> dict[str, Any]:
    """What a valid file must match: this checkout's split file, data hash and references."""
    import metail_envs
    from metail_envs.data import data_hash, load_references

    suite = metail_envs.load_suite(ProtocolConfig().suite)
    return dict(
        suite_sha256=suite.sha256,
        data_hash=data_hash(suite, data_dir=data_dir),
        references=load_references(suite, data_dir=data_dir),
    )


def settings_key(doc: dict[str, Any]) -> str:
    """A file's evaluation settings as a canonical JSON string."""
    return json.dumps(ProtocolConfig.from_json(doc["config"]).settings(), sort_keys=True)


def official_key() -> str:
    """The official settings as :func:`settings_key` writes them."""
    return json.dumps(ProtocolConfig().settings(), sort_keys=True)


def _file_problems(path: Path, expect: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """A file's document and every reason to leave it out; never raises for a bad file."""
    try:
        doc = read_result(path)
        problems = validate_result(doc, **expect)
        return doc, problems or plausibility.identity_problems(doc)
    except ResultError as e:
        return None, [str(e)]
    except Exception as e:  # a file must never stop the leaderboard: say what went wrong
        return None, [f"could not be validated: {type(e).__name__}: {e}"]


def read_files(root: Path, expect: dict[str, Any]) -> tuple[Files, list[Excluded]]:
    """Every result file under ``root``: the valid ones, and the others with their reasons."""
    excluded: list[Excluded] = []
    valid: Files = []
    for path in result_files(root):
        doc, problems = _file_problems(path, expect)
        if problems or doc is None:
            excluded.append(Excluded(str(path), problems))
        else:
            valid.append((path, doc))
    return valid, excluded


def quick_or_not(valid: Files, excluded: list[Excluded], quick: bool) -> Files:
    """The files that are quick estimates if ``quick``, else those that are not; the others
    are added to ``excluded`` with the reason."""
    keep: Files = []
    for path, doc in valid:
        if bool(doc["config"].get("quick", False)) == quick:
            keep.append((path, doc))
        elif quick:
            excluded.append(Excluded(str(path), ["not a quick estimate (this board shows those)"]))
        else:
            why = "a quick estimate (metail evaluate --quick), not a leaderboard entry"
            excluded.append(Excluded(str(path), [f"{why}; see it with metail leaderboard --quick"]))
    return keep


def board_settings(valid: Files, official: str) -> str:
    """The official settings if any valid file has them, else the most common ones."""
    counts = Counter(settings_key(doc) for _, doc in valid)
    if official in counts or not counts:
        return official
    return min(counts, key=lambda k: (-counts[k], k))


def choose_files(valid: Files, key: str, excluded: list[Excluded]) -> Chosen:
    """One file per (agent, seed) under the settings ``key``; the others are added to
    ``excluded`` (other settings, conflicting copies, duplicates)."""
    groups: dict[tuple[str, int], Files] = {}
    for path, doc in valid:
        if settings_key(doc) != key:
            excluded.append(
                Excluded(str(path), [f"evaluation settings differ from this leaderboard's: {key}"])
            )
            continue
        groups.setdefault((doc["agent"]["name"], doc["seed"]), []).append((path, doc))
    chosen: Chosen = {}
    for (name, agent_seed), items in groups.items():
        if len({d["checksum"] for _, d in items}) > 1:
            files = ", ".join(str(p) for p, _ in items)
            for path, _ in items:
                excluded.append(
                    Excluded(
                        str(path), [f"conflicting results for {name!r} seed {agent_seed}: {files}"]
                    )
                )
            continue
        chosen[(name, agent_seed)] = items[0]
        excluded += [Excluded(str(p), [f"duplicate of {items[0][0]}"]) for p, _ in items[1:]]
    return chosen
