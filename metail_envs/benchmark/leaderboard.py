"""The leaderboard: validate every result file, aggregate the valid ones, render them.

Nothing unvalidated is scored, and no file can stop the others from being shown. A file of
another protocol version, split file, demonstration set or evaluation setting, a malformed,
edited or unfinished one, or one whose agent is not what it says (:mod:`.plausibility`), is
listed with its reason and left out; with ``verify=N`` (``--verify N``) N jobs are re-run from
the files' checkpoints (:mod:`.verify`) and a file whose numbers differ is left out too. The
rest are aggregated per agent and per (split, K) with :mod:`.stats`, implausible results are
flagged, and all is rendered as a Markdown table, an HTML page and PNG plots.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from . import plausibility, plots, stats
from .protocol import (
    BASELINE_AGENT,
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    FAILED_SCORE,
    HEADLINE,
    MAX_STEPS,
    MIN_SEEDS,
    QUICK_EPISODES,
    QUICK_TASKS,
    SECOND_BASELINE_AGENT,
    ProtocolConfig,
    condition_label,
)
from .results import ResultError, job_key, protocol_tasks, read_result, validate_result
from .verify import DIFFERS, FAILED, IDENTICAL, UNVERIFIABLE, Check
from .verify import verify as verify_jobs  # `verify` is load_leaderboard's argument

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations only (not evaluated at run time)
    from typing_extensions import Unpack

Cell = tuple[str, str, int]
"""A (split, track, K) column of the leaderboard."""


@dataclass
class Excluded:
    """A result file left out, and why."""

    path: str
    reasons: list[str]


@dataclass
class Entry:
    """One agent's aggregated results."""

    name: str
    spec: str
    privileged: bool
    seeds: list[int]
    files: list[str]
    scores: dict[Cell, np.ndarray] = field(default_factory=dict)
    """(seeds, tasks) normalised scores, failed jobs counted as ``FAILED_SCORE``."""
    failures: dict[Cell, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    meta_train_s: float | None = None
    adapt_s: tuple[float, float] | None = None
    adapt_steps: float | None = None
    """Mean gradient steps (or forward passes) per adaptation, as the agent reported them."""
    summary: dict[Cell, dict[str, Any]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    """Why its results are implausible (:mod:`.plausibility`, :mod:`.verify`); shown, not hidden."""


@dataclass
class Leaderboard:
    """Validated, aggregated results and the files that were left out."""

    entries: list[Entry]
    excluded: list[Excluded]
    settings: dict[str, Any] | None
    official: bool
    tasks: dict[str, list[str]]
    cells: list[Cell]
    baseline: str
    resamples: int
    outputs: dict[str, Path] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    """The jobs re-run by ``verify``, and how each compared."""

    @property
    def baselines(self) -> list[str]:
        """The agents every entry's probability of improvement is computed against."""
        return [b for b in (self.baseline, SECOND_BASELINE_AGENT) if b]

    def markdown(self) -> str:
        """The leaderboard as Markdown."""
        return _markdown(self)


def _result_files(root: Path) -> list[Path]:
    base = root / "results" if (root / "results").is_dir() else root
    return sorted(p for p in base.rglob("*.json") if p.is_file())


def _current_expectations(data_dir: Any) -> tuple[str, str, dict[str, dict]]:
    import metail_envs
    from metail_envs.data import data_hash, load_references

    suite = metail_envs.load_suite(ProtocolConfig().suite)
    return (
        suite.sha256,
        data_hash(suite, data_dir=data_dir),
        load_references(suite, data_dir=data_dir),
    )


def _settings_key(doc: dict[str, Any]) -> str:
    return json.dumps(ProtocolConfig.from_json(doc["config"]).settings(), sort_keys=True)


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
    jobs to re-run from the files' checkpoints (drawn with ``verify_seed``, on ``workers``
    worker processes); a file whose re-run differs is left out.
    """
    _check_verify(verify, verify_seed, workers)
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"results_dir={str(root)!r} is not a directory")
    suite_sha, dhash, refs = _current_expectations(data_dir)
    expect = dict(suite_sha256=suite_sha, data_hash=dhash, references=refs)
    valid, excluded = _read_files(root, expect)
    valid = _quick_or_not(valid, excluded, quick)
    official_key = json.dumps(ProtocolConfig().settings(), sort_keys=True)
    key = _board_settings(valid, official_key)
    settings = json.loads(key)
    chosen = _choose_files(valid, key, excluded)
    config = ProtocolConfig.from_json({k: v for k, v in settings.items()})
    tasks = protocol_tasks(config) if chosen else {}  # the protocol's, never a file's own
    checks = (
        _verify_files(chosen, excluded, verify, verify_seed, data_dir, workers) if verify else []
    )
    conditions = sorted(config.conditions(), key=_headline_order)
    cells = [(s, track, k) for s in config.splits for track, k in conditions]
    entries = _entries(chosen, tasks, cells)
    board = Leaderboard(
        entries, excluded, settings, key == official_key, tasks, cells, baseline, resamples,
        checks=checks,
    )  # fmt: skip
    _summarise(board, resamples, seed)
    _flag(board, list(chosen.values()), refs)
    if cells:
        top = cells[0]  # the headline: the first split's short track at the largest K
        board.entries.sort(key=lambda e: (-e.summary[top]["iqm"], e.name))
    return board


_Files = list[tuple[Path, dict[str, Any]]]


def _read_files(root: Path, expect: dict[str, Any]) -> tuple[_Files, list[Excluded]]:
    """Every result file under ``root``: the valid ones, and the others with their reasons."""
    excluded: list[Excluded] = []
    valid: _Files = []
    for path in _result_files(root):
        doc, problems = _file_problems(path, expect)
        if problems or doc is None:
            excluded.append(Excluded(str(path), problems))
        else:
            valid.append((path, doc))
    return valid, excluded


def _quick_or_not(valid: _Files, excluded: list[Excluded], quick: bool) -> _Files:
    """The files that are quick estimates if ``quick``, else those that are not; the others
    are added to ``excluded`` with the reason."""
    keep: _Files = []
    for path, doc in valid:
        if bool(doc["config"].get("quick", False)) == quick:
            keep.append((path, doc))
        elif quick:
            excluded.append(Excluded(str(path), ["not a quick estimate (this board shows those)"]))
        else:
            why = "a quick estimate (metail evaluate --quick), not a leaderboard entry"
            excluded.append(Excluded(str(path), [f"{why}; see it with metail leaderboard --quick"]))
    return keep


def _board_settings(valid: _Files, official_key: str) -> str:
    """The official settings if any valid file has them, else the most common ones."""
    counts = Counter(_settings_key(doc) for _, doc in valid)
    if official_key in counts or not counts:
        return official_key
    return min(counts, key=lambda k: (-counts[k], k))


def _choose_files(
    valid: _Files, key: str, excluded: list[Excluded]
) -> dict[tuple[str, int], tuple[Path, dict[str, Any]]]:
    """One file per (agent, seed) under the settings ``key``; the others are added to
    ``excluded`` (other settings, conflicting copies, duplicates)."""
    groups: dict[tuple[str, int], _Files] = {}
    for path, doc in valid:
        if _settings_key(doc) != key:
            excluded.append(
                Excluded(str(path), [f"evaluation settings differ from this leaderboard's: {key}"])
            )
            continue
        groups.setdefault((doc["agent"]["name"], doc["seed"]), []).append((path, doc))
    chosen: dict[tuple[str, int], tuple[Path, dict[str, Any]]] = {}
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


def _verify_files(
    chosen: dict[tuple[str, int], tuple[Path, dict[str, Any]]],
    excluded: list[Excluded],
    verify: int,
    verify_seed: int,
    data_dir: Any,
    workers: int | None,
) -> list[Check]:
    """Re-run ``verify`` jobs of the chosen files; a file whose re-run differs moves from
    ``chosen`` to ``excluded``."""
    checks = verify_jobs(
        list(chosen.values()), verify, seed=verify_seed, data_dir=data_dir, workers=workers
    )
    for c in checks:
        item = next((k for k, (p, _) in chosen.items() if p == c.path), None)
        if c.outcome == DIFFERS and item is not None:
            excluded.append(Excluded(str(c.path), [f"--verify: job {c.key} {c.detail}"]))
            del chosen[item]
    return checks


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


def _headline_order(condition: tuple[str, int]) -> tuple[int, str, int]:
    rank = HEADLINE.index(condition) if condition in HEADLINE else len(HEADLINE)
    return (rank, *condition)


def _entries(
    chosen: dict[tuple[str, int], tuple[Path, dict[str, Any]]],
    tasks: dict[str, list[str]],
    cells: list[Cell],
) -> list[Entry]:
    by_agent: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for (name, _), item in sorted(chosen.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        by_agent.setdefault(name, []).append(item)
    entries = []
    for name, items in by_agent.items():
        first = items[0][1]["agent"]
        entry = Entry(
            name=name,
            spec=first["spec"],
            privileged=bool(first.get("privileged", False)),
            seeds=[d["seed"] for _, d in items],
            files=[str(p) for p, _ in items],
        )
        adapt_times: list[float] = []
        adapt_steps: list[float | None] = []
        meta_times = []
        for cell in cells:
            split, track, k = cell
            mat = np.full((len(items), len(tasks[split])), FAILED_SCORE)
            fails = 0
            for row, (_, doc) in enumerate(items):
                jobs = {job_key(j)[1:]: j for j in doc["jobs"] if j["split"] == split}
                for col, task in enumerate(tasks[split]):
                    job = jobs[(task, track, k)]
                    if job["status"] == "ok":
                        mat[row, col] = job["score"]
                    else:
                        fails += 1
                        first_line = job["error"].splitlines()[0]
                        if first_line not in entry.errors:
                            entry.errors.append(first_line)
            entry.scores[cell] = mat
            entry.failures[cell] = fails
        for _, doc in items:
            if doc["meta_train"]["time_s"] is not None:
                meta_times.append(doc["meta_train"]["time_s"])
            adapt_times += [j["adapt_time_s"] for j in doc["jobs"] if j["status"] == "ok"]
            adapt_steps += [_steps(j) for j in doc["jobs"] if j["status"] == "ok" and j["k"]]
        adapt_steps = [n for n in adapt_steps if n is not None]
        entry.adapt_steps = float(np.mean(adapt_steps)) if adapt_steps else None
        entry.meta_train_s = float(np.mean(meta_times)) if meta_times else None
        entry.adapt_s = (
            (float(np.mean(adapt_times)), float(np.max(adapt_times))) if adapt_times else None
        )
        entries.append(entry)
    return entries


def _steps(job: dict[str, Any]) -> float | None:
    """Gradient steps of an adaptation, else its forward passes, as the agent reported them."""
    reported = job.get("adapt_stats") or {}
    return reported.get("gradient_steps", reported.get("forward_passes"))


def _summarise(board: Leaderboard, resamples: int, seed: int) -> None:
    by_name = {e.name: e for e in board.entries}
    for entry in board.entries:
        for cell in board.cells:
            s = stats.summarise(
                entry.scores[cell], resamples=resamples, confidence=CONFIDENCE, seed=seed
            )
            s["poi"] = {}
            for name in board.baselines:
                base = by_name.get(name)
                if base is None or base is entry:
                    continue
                x, y = entry.scores[cell], base.scores[cell]
                ci = stats.probability_of_improvement_ci(
                    x, y, resamples=resamples, confidence=CONFIDENCE, seed=seed
                )
                s["poi"][name] = (float(stats.probability_of_improvement(x, y)), *map(float, ci))
            entry.summary[cell] = s


# --- rendering ---------------------------------------------------------------------------------


def _label(entry: Entry) -> str:
    label = f"{entry.name} (reference)" if plots.is_reference(entry) else entry.name
    return f"{label} (FLAGGED)" if entry.flags else label


def _verification_lines(board: Leaderboard) -> list[str]:
    """One line per outcome of ``verify`` (counts, then every job that did not match)."""
    if not board.checks:
        return []
    counts = Counter(c.outcome for c in board.checks)
    order = (IDENTICAL, DIFFERS, FAILED, UNVERIFIABLE)
    head = ", ".join(f"{counts[o]} {o}" for o in order if counts[o])
    lines = [f"{len(board.checks)} jobs re-run from the files' checkpoints: {head}."]
    lines += [
        f"{c.outcome}: {c.path} job {c.key}: {c.detail}"
        for c in board.checks
        if c.outcome != IDENTICAL
    ]
    return lines


def _f(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _settings_text(board: Leaderboard) -> str:
    if board.official:
        return "official protocol settings"
    s = board.settings or {}
    if s.get("quick"):
        return (
            f"QUICK ESTIMATE ({len(QUICK_TASKS)} scored tasks, {QUICK_EPISODES} episodes each; "
            "metail evaluate --quick): not a leaderboard entry, an estimate of one with "
            "intervals as wide as its few runs warrant"
        )
    parts = [f"{k}={v}" for k, v in s.items() if v != ProtocolConfig().settings().get(k)]
    text = "NON-STANDARD settings (" + ", ".join(parts) + "): not comparable with official results"
    if s.get("max_steps", MAX_STEPS) != MAX_STEPS:
        text += f"; scores normalised by references measured in the run at {s['max_steps']} steps"
    return text


def _main_rows(board: Leaderboard, split: str) -> tuple[list[str], list[list[str]]]:
    conds = [(track, k) for s, track, k in board.cells if s == split]
    pct = f"{CONFIDENCE:.0%}"
    header = ["agent", "seeds"]
    header += [f"{condition_label(*c)} IQM [{pct} CI]" for c in conds]
    if board.cells:
        header.append(f"P(> {board.baseline}), {condition_label(*conds[0])}")
    header += ["failures", "meta-train s/seed", "adapt s mean / max", "adapt steps"]
    rows = []
    for e in board.entries:
        seeds = f"{len(e.seeds)}" + (f" (< {MIN_SEEDS})" if len(e.seeds) < MIN_SEEDS else "")
        row = [_label(e), seeds]
        fails = total = 0
        for track, k in conds:
            s = e.summary[(split, track, k)]
            lo, hi = s["iqm_ci"]
            row.append(f"{s['iqm']:.1f} [{lo:.1f}, {hi:.1f}]")
            fails += e.failures[(split, track, k)]
            total += e.scores[(split, track, k)].size
        if board.cells:
            row.append(_poi_text(e.summary[(split, *conds[0])], board.baseline))
        adapt = "–" if e.adapt_s is None else f"{e.adapt_s[0]:.2f} / {e.adapt_s[1]:.2f}"
        row += [f"{fails}/{total}", _f(e.meta_train_s), adapt, _f(e.adapt_steps, 0)]
        rows.append(row)
    return header, rows


def _poi_text(summary: dict[str, Any], baseline: str) -> str:
    poi = summary["poi"].get(baseline)
    return "–" if poi is None else f"{poi[0]:.2f} [{poi[1]:.2f}, {poi[2]:.2f}]"


def _extra_rows(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    pct = f"{CONFIDENCE:.0%}"
    header = ["agent", "split", "condition", "mean", "median", "optimality gap"]
    header += [f"P(> {b}) [{pct} CI]" for b in board.baselines]
    rows = []
    for e in board.entries:
        for split, track, k in board.cells:
            s = e.summary[(split, track, k)]
            row = [_label(e), split, condition_label(track, k), f"{s['mean']:.1f}"]
            row += [f"{s['median']:.1f}", f"{s['optimality_gap']:.1f}"]
            rows.append(row + [_poi_text(s, b) for b in board.baselines])
    return header, rows


def _adaptation_rows(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """Per agent and adapted condition: on how many tasks (all splits) adapting to the K
    demonstrations scores below the agent's own K=0, on the seeds' mean and with confidence."""
    pct = f"{CONFIDENCE:.0%}"
    header = ["agent", "condition", "tasks below its K=0 (seed mean)"]
    header += [f"below with {pct} confidence (paired t)", "largest drop: task, points"]
    rows = []
    conditions = sorted({(t, k) for _, t, k in board.cells if k > 0}, key=_headline_order)
    for e in board.entries:
        for track, k in conditions:
            below = sure = total = 0
            drop: tuple[float, str] = (0.0, "–")
            for split, ids in board.tasks.items():
                cell, zero = (split, track, k), (split, "full", 0)
                if cell not in e.scores or zero not in e.scores:
                    continue
                lower, confident = stats.tasks_worse(e.scores[cell], e.scores[zero])
                below, sure, total = (
                    below + int(lower.sum()),
                    sure + int(confident.sum()),
                    total + len(ids),
                )
                diff = (e.scores[cell] - e.scores[zero]).mean(axis=0)
                if diff.min() < drop[0]:
                    drop = (float(diff.min()), ids[int(diff.argmin())])
            if total:
                text = "–" if drop[1] == "–" else f"{drop[1]}, {drop[0]:.1f}"
                rows.append(
                    [
                        _label(e),
                        condition_label(track, k),
                        f"{below}/{total}",
                        f"{sure}/{total}",
                        text,
                    ]
                )
    return header, rows


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _intro(board: Leaderboard) -> list[str]:
    return [
        f"Protocol: {ProtocolConfig().name}; {_settings_text(board)}.",
        "Score per task: 100 × (R − R_random) / (R_expert − R_random). IQM over (seed × task) "
        f"scores with a {CONFIDENCE:.0%} stratified-bootstrap interval ({board.resamples} "
        "resamples, seeded). Failed jobs count as score 0. Reference agents prove the "
        "normalisation (random ≈ 0, expert ≈ 100).",
    ]


def _markdown(board: Leaderboard) -> str:
    title = (
        "# metail quick estimate" if (board.settings or {}).get("quick") else "# metail leaderboard"
    )
    out = [title, "", *_intro(board), ""]
    if not board.entries:
        out += ["No valid result files.", ""]
    for split in board.tasks:
        n = len(board.tasks[split])
        out += [f"## split `{split}` ({n} tasks)", "", _md_table(*_main_rows(board, split)), ""]
    if board.entries:
        out += ["## Other aggregates", "", _md_table(*_extra_rows(board)), ""]
        header, rows = _adaptation_rows(board)
        if rows:
            out += ["## Adaptation against K=0, per task", "", _md_table(header, rows), ""]
    flagged = [e for e in board.entries if e.flags]
    if flagged:
        out += ["## Flags (implausible results: shown, not trusted)", ""]
        out += [f"- **{e.name}**: " + "; ".join(e.flags) for e in flagged]
        out.append("")
    verification = _verification_lines(board)
    if verification:
        out += ["## Verification", "", *[f"- {line}" for line in verification], ""]
    failing = [e for e in board.entries if e.errors]
    if failing:
        out += ["## Failures", ""]
        for e in failing:
            out += [f"- **{e.name}**: " + "; ".join(f"`{m}`" for m in e.errors[:5])]
        out.append("")
    if board.excluded:
        out += ["## Files left out", ""]
        out += [f"- `{x.path}`: " + "; ".join(x.reasons) for x in board.excluded]
        out.append("")
    return "\n".join(out)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(board: Leaderboard, images: dict[str, Path]) -> str:
    parts = ["<h1>metail leaderboard</h1>"] + [f"<p>{html.escape(p)}</p>" for p in _intro(board)]
    for split in board.tasks:
        parts.append(f"<h2>split <code>{html.escape(split)}</code></h2>")
        parts.append(_html_table(*_main_rows(board, split)))
    if board.entries:
        parts += ["<h2>Other aggregates</h2>", _html_table(*_extra_rows(board))]
        header, rows = _adaptation_rows(board)
        if rows:
            parts += ["<h2>Adaptation against K=0, per task</h2>", _html_table(header, rows)]
    for title, path in images.items():
        parts.append(f"<h2>{html.escape(title)}</h2><img src='{html.escape(path.name)}' alt=''>")
    e = html.escape
    sections = [
        ("Flags (implausible results: shown, not trusted)",
         [f"<b>{e(x.name)}</b>: {e('; '.join(x.flags))}" for x in board.entries if x.flags]),
        ("Verification", [e(line) for line in _verification_lines(board)]),
        ("Failures",
         [f"<b>{e(x.name)}</b>: {e('; '.join(x.errors[:5]))}" for x in board.entries if x.errors]),
        ("Files left out",
         [f"<code>{e(x.path)}</code>: {e('; '.join(x.reasons))}" for x in board.excluded]),
    ]  # fmt: skip
    for title, items in sections:
        if items:
            listed = "".join(f"<li>{item}</li>" for item in items)
            parts.append(f"<h2>{e(title)}</h2><ul>{listed}</ul>")
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}"
        "img{max-width:100%}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>metail leaderboard</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )


class LoadOptions(TypedDict, total=False):
    """The keyword options of :func:`load_leaderboard`, which :func:`render_leaderboard` passes on."""

    data_dir: str | Path | None
    baseline: str
    resamples: int
    seed: int
    verify: int
    verify_seed: int
    workers: int | None
    quick: bool


def render_leaderboard(
    results_dir: str | Path, out_dir: str | Path | None = None, **options: Unpack[LoadOptions]
) -> Leaderboard:
    """Validate and aggregate ``results_dir`` (``options`` and the ``verify`` re-runs as in
    :func:`load_leaderboard`); write ``leaderboard.md``, ``leaderboard.html`` and the PNG plots
    to ``out_dir`` (default ``<results_dir>/leaderboard``)."""
    board = load_leaderboard(results_dir, **options)
    out = Path(out_dir) if out_dir is not None else Path(results_dir) / "leaderboard"
    out.mkdir(parents=True, exist_ok=True)
    images = plots.write_figures(board, out, options.get("seed", BOOTSTRAP_SEED), _label)
    md = out / "leaderboard.md"
    md.write_text(board.markdown())
    page = out / "leaderboard.html"
    page.write_text(_html(board, images))
    board.outputs = {"markdown": md, "html": page, **{p.stem: p for p in images.values()}}
    return board
