"""The leaderboard's aggregation: validate every result file, choose the ones to show
(:mod:`.files`), re-run jobs of them with ``verify`` (:mod:`..verify`), build one entry per agent
with its statistics (:mod:`.entries`), flag the implausible (:mod:`..plausibility`) and give each
entry its verification verdict (:mod:`.verdicts`). Nothing here renders.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from .. import plausibility
from ..protocol import BASELINE_AGENT, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, ProtocolConfig
from ..results import protocol_tasks
from ..verify import CONSISTENT, DIFFERS, FAILED, IDENTICAL, UNVERIFIABLE, Check, EntryVerdict
from ..verify import verify_files as verify_jobs  # `verify` is load_leaderboard's argument
from .board import Entry, Excluded, Leaderboard, headline_order
from .entries import build_entries, summarise
from .files import (
    Chosen,
    board_settings,
    choose_files,
    current_expectations,
    official_key,
    quick_or_not,
    read_files,
)
from .verdicts import NOT_VERIFIED, VERIFIED_CONSISTENT, VERIFIED_DIFFERS, VERIFIED_IDENTICAL


def _check_verify(verify: Any, verify_seed: Any, workers: Any) -> None:
    from metail_envs.executors import check_workers

    check_workers(workers)
    for name, value in (("verify", verify), ("verify_seed", verify_seed)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}={value!r} is invalid; accepted: an integer >= 0")


def load_leaderboard(
    results_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    baseline: str = BASELINE_AGENT,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    verify: int = 0,
    verify_seed: int = 0,
    workers: int | None = None,
    quick: bool = False,
) -> Leaderboard:
    """Validate every result file under ``results_dir`` and aggregate the valid ones.

    Quick estimates (``metail evaluate --quick``) are not leaderboard entries: they are left
    out unless ``quick``, which shows them alone.

    The official settings are used when any valid file has them; otherwise the most common
    settings among valid files, and the leaderboard says it is not the official one. ``verify``:
    jobs to re-run per file from its checkpoint (drawn with ``verify_seed``, on ``workers``
    worker processes, judged per entry by :mod:`..verify`); a file whose entry differs beyond
    tolerance, and that itself moved that way, is left out. Without it every entry is marked
    not verified.
    """
    _check_verify(verify, verify_seed, workers)
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"results_dir={str(root)!r} is not a directory")
    expect = current_expectations(data_dir)
    valid, excluded = read_files(root, expect)
    valid = quick_or_not(valid, excluded, quick)
    official = official_key()
    key = board_settings(valid, official)
    settings = json.loads(key)
    chosen = choose_files(valid, key, excluded)
    config = ProtocolConfig.from_json({k: v for k, v in settings.items()})
    tasks = protocol_tasks(config) if chosen else {}  # the protocol's, never a file's own
    checks, verdicts = (
        _verify_files(chosen, excluded, verify, verify_seed, data_dir, workers)
        if verify
        else ([], {})
    )
    conditions = sorted(config.conditions(), key=headline_order)
    cells = [(s, track, k) for s in config.splits for track, k in conditions]
    entries = build_entries(chosen, tasks, cells)
    board = Leaderboard(
        entries, excluded, settings, key == official, tasks, cells, baseline, resamples,
        checks=checks, verdicts=verdicts,
    )  # fmt: skip
    summarise(board, resamples, seed)
    _flag(board, list(chosen.values()), expect["references"])
    set_verdicts(board.entries, verdicts)
    if cells:
        top = cells[0]  # the headline: the first split's short track at the largest K
        board.entries.sort(key=lambda e: (-e.summary[top]["iqm"], e.name))
    return board


def _verify_files(
    chosen: Chosen,
    excluded: list[Excluded],
    verify: int,
    verify_seed: int,
    data_dir: Any,
    workers: int | None,
) -> tuple[list[Check], dict[str, EntryVerdict]]:
    """Re-run ``verify`` jobs of each chosen file and judge each entry; the files a verdict
    leaves out move from ``chosen`` to ``excluded``, with the entry's shift."""
    checks, verdicts = verify_jobs(
        list(chosen.values()), verify, seed=verify_seed, data_dir=data_dir, workers=workers
    )
    for verdict in verdicts.values():
        for path in verdict.left_out:
            item = next(k for k, (p, _) in chosen.items() if Path(p) == path)
            excluded.append(Excluded(str(path), [f"--verify: {verdict.agent}: {verdict.detail}"]))
            del chosen[item]
    return checks, verdicts


def _flag(board: Leaderboard, files: list[tuple[Path, dict[str, Any]]], refs: Any) -> None:
    """Attach every plausibility flag and every job ``verify`` could not compare."""
    found: dict[str, list[str]] = {}
    for source in (
        plausibility.duplicate_flags(files),
        plausibility.above_expert_flags(board, refs),
    ):
        for name, flags in source.items():
            found.setdefault(name, []).extend(flags)
    unchecked = Counter(c.agent for c in board.checks if c.outcome in (FAILED, UNVERIFIABLE))
    for name, n in unchecked.items():
        found.setdefault(name, []).append(
            f"--verify could not re-run {n} of its jobs (see Verification)"
        )
    for entry in board.entries:
        entry.flags = found.get(entry.name, [])


VERDICT_OF = {
    IDENTICAL: VERIFIED_IDENTICAL,
    CONSISTENT: VERIFIED_CONSISTENT,
    DIFFERS: VERIFIED_DIFFERS,
    UNVERIFIABLE: NOT_VERIFIED,
}
"""The leaderboard's verdict (:mod:`.verdicts`) for each of :mod:`..verify`'s."""


def set_verdicts(entries: list[Entry], verdicts: dict[str, EntryVerdict]) -> None:
    """Each entry's verdict and what it rests on; an entry that was not judged stays not
    verified."""
    for entry in entries:
        found = verdicts.get(entry.name)
        if found is not None:
            entry.verdict, entry.verify_detail = VERDICT_OF[found.verdict], found.detail
