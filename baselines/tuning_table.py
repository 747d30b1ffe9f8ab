"""``metail tuning-table``: the Markdown table of some ``metail validate`` runs (the tuning
table of docs/baselines.md), read from their committed JSON files.

Per run: the agent, the kwargs it was given, the IQM (and mean) over its tasks and seeds of every
protocol condition, how many (task, seed) scores at K>0 fell below the same task's K=0 (adaptation that
hurt), and its meta-training and mean adaptation times::

    metail tuning-table results/validation/*.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baselines.cli import python_m
from metail_envs.benchmark.protocol import HEADLINE, ProtocolConfig, condition_label


def table(paths: Sequence[str | Path]) -> str:
    """The Markdown table of the validation runs in ``paths`` (in the order given)."""
    runs = [(Path(p), json.loads(Path(p).read_text())) for p in paths]
    if not runs:
        raise ValueError("paths must name at least one validation result file")
    conditions = ProtocolConfig.from_json(runs[0][1]["protocol"]).conditions()
    ordered = [c for c in HEADLINE if c in conditions] + [
        c for c in conditions if c not in HEADLINE
    ]
    labels = [condition_label(track, k) for track, k in ordered]
    header = ["file", "agent", "kwargs", *labels, "below K=0", "meta-train s", "adapt s (mean)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for path, doc in runs:
        summary = doc["summary"]
        cells = [_cell(summary.get(label)) for label in labels]
        rows = doc["rows"]
        lines.append(
            "| " + " | ".join([
                path.stem, doc["agent"], f"`{json.dumps(doc['kwargs'])}`", *cells,
                _below_k0(rows), f"{np.mean([r['meta_train_s'] for r in rows]):.0f}",
                f"{np.mean([r['adapt_s'] for r in rows if r['k'] > 0]):.2f}",
            ]) + " |"
        )  # fmt: skip
    return "\n".join(lines)


def _cell(summary: dict[str, float] | None) -> str:
    """``IQM (mean)`` of one condition, or empty if the run did not score it."""
    return "" if summary is None else f"{summary['iqm']:.1f} ({summary['mean']:.1f})"


def _below_k0(rows: Sequence[dict[str, Any]]) -> str:
    """``n/m``: (task, seed, condition) scores at K>0 below the same task and seed's K=0."""
    k0 = {(r["task"], r["seed"]): r["score"] for r in rows if r["k"] == 0}
    adapted = [r for r in rows if r["k"] > 0 and (r["task"], r["seed"]) in k0]
    below = sum(r["score"] < k0[(r["task"], r["seed"])] for r in adapted)
    return f"{below}/{len(adapted)}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``metail tuning-table`` and ``python -m baselines.tuning_table``."""
    p.add_argument("files", nargs="+", help="result files of `metail validate --out`")


def run(a: argparse.Namespace) -> int:
    print(table(a.files))
    return 0


build_parser, main = python_m("baselines.tuning_table")

if __name__ == "__main__":
    raise SystemExit(main())
