"""The scored experts before and after a change of the expert data, as a Markdown table.

Reads two manifests (``expert_data/manifest.json`` of two checkouts) and prints, per scored
task (nominal, test, ood), each expert's reference mean, standard deviation and completion
rate (the fraction of its reference episodes that reach the time limit) before and after::

    git show 8d15cae:expert_data/manifest.json > /tmp/before.json
    metail expert-table /tmp/before.json expert_data/manifest.json --training expert_data/training

``--training`` adds the compute of the retry stage, per plan, from its records (JSON only).
The manifest is read as plain JSON: nothing in it is executed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from baselines.cli import python_m
from baselines.experts.rules import MIN_COMPLETION, SCORED


def _row(entry: Mapping[str, Any] | None) -> tuple[str, float | None]:
    if entry is None:
        return "(absent)", None
    e = entry["expert"]
    rate = e.get("completion_rate")
    text = f"{e['mean_return']:.0f} ± {e['std_return']:.0f}"
    return text, (None if rate is None else float(rate))


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.0f}%"


def expert_table(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """Markdown: one row per scored task of ``after``, before -> after (mean ± std, completion),
    and a last line counting the experts at or above the scored tasks' completion bar."""
    bar = MIN_COMPLETION["scored"]
    lines = [
        "| task | before: return | before: completes | after: return | after: completes |",
        "|---|---:|---:|---:|---:|",
    ]
    reached = {"before": 0, "after": 0}
    ids = [t for t in after["tasks"] if t.split("/")[1] in SCORED]
    for task in ids:
        b_text, b_rate = _row(before["tasks"].get(task))
        a_text, a_rate = _row(after["tasks"][task])
        reached["before"] += b_rate is not None and b_rate >= bar
        reached["after"] += a_rate is not None and a_rate >= bar
        flag = "" if a_rate is not None and a_rate >= bar else " ✗"
        lines.append(f"| {task} | {b_text} | {_pct(b_rate)} | {a_text} | {_pct(a_rate)}{flag} |")
    lines.append("")
    lines.append(
        f"Experts completing at least {100 * bar:.0f}% of their reference episodes: "
        f"{reached['before']} of {len(ids)} before, {reached['after']} of {len(ids)} after "
        "(✗: below)."
    )
    return "\n".join(lines)


def retry_compute(training: Path) -> str:
    """Markdown: per retry plan, its chosen tasks, attempts, PPO steps and attempt wall time, from
    each ``<task>/retry-<plan>.json`` record and its attempts' ``state.json``."""
    rows: dict[str, list[float]] = {}
    for record_path in sorted(training.glob("*/retry*.json")):
        record = json.loads(record_path.read_text())
        totals = rows.setdefault(record.get("plan", "default"), [0, 0, 0, 0.0])
        totals[0] += 1
        for name in record["scores"]:
            state_path = record_path.parent / name / "state.json"
            if name != "current" and state_path.is_file():
                state = json.loads(state_path.read_text())
                totals[1] += 1
                totals[2] += int(state["steps"])
                totals[3] += float(state["wall_s"])
    lines = ["| retry plan | tasks | attempts | PPO steps | attempt wall time (min) |"]
    lines.append("|---|---:|---:|---:|---:|")
    lines += [
        f"| {p} | {t} | {a} | {s} | {w / 60:.1f} |" for p, (t, a, s, w) in sorted(rows.items())
    ]
    t = [sum(v[i] for v in rows.values()) for i in range(4)]
    lines.append(f"| all | {t[0]} | {t[1]} | {t[2]} | {t[3] / 60:.1f} |")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``metail expert-table`` and ``python -m baselines.experts.expert_table``."""
    p.add_argument("before", type=Path, help="the manifest before the change")
    p.add_argument("after", type=Path, help="the manifest after the change")
    p.add_argument(
        "--training", type=Path, help="also the retry stage's compute, from this training/ dir"
    )


def run(a: argparse.Namespace) -> int:
    """Print the table of two manifests."""
    docs = []
    for path in (a.before, a.after):
        try:
            docs.append(json.loads(path.read_text()))
        except (OSError, ValueError) as e:
            print(f"error: cannot read manifest {path}: {e}", file=sys.stderr)
            return 2
    print(expert_table(*docs))
    if a.training is not None:
        print("\n" + retry_compute(a.training))
    return 0


build_parser, main = python_m("baselines.experts.expert_table")

if __name__ == "__main__":
    raise SystemExit(main())
