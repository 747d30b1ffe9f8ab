"""What a checksum cannot catch: result files that are well formed but say something implausible.

The checksum of a result file is a plain sha256 that anyone can recompute, and its returns are
self-reported. Two kinds of checks read what the files say against what is known:

- *refusals* (:func:`identity_problems`): a file that names a reference agent (``random``,
  ``expert``) but runs other code, or that runs a reference agent but misstates whether it is
  privileged, is left out of the leaderboard;
- *flags* (:func:`flags`): kept on the leaderboard but marked, with the reason: a non-reference
  agent above the expert by more than the expert's own spread, and files whose every return is
  another file's (a seed copied as another seed, an agent renamed).

``metail leaderboard --verify N`` (:mod:`.verify`) goes further and re-runs jobs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .agent import BUILTIN_AGENTS

REFERENCE_PRIVILEGED = {"random": False, "expert": True}
"""Whether each reference agent is privileged (told the task), as its class says."""


def _reference_of(agent: Mapping[str, Any]) -> str | None:
    """The reference agent whose code a file's agent runs (by short name or target), if any."""
    for name, target in BUILTIN_AGENTS.items():
        if agent.get("spec") in (name, target) or agent.get("target") == target:
            return name
    return None


def identity_problems(doc: Mapping[str, Any]) -> list[str]:
    """Reasons to refuse a (validated) file for what it says its agent is."""
    agent = doc["agent"]
    name, ref = agent["name"], _reference_of(agent)
    problems = []
    if ref is not None and agent.get("privileged") is not REFERENCE_PRIVILEGED[ref]:
        problems.append(
            f"agent {name!r} runs the {ref!r} reference agent ({agent['spec']}), which is "
            f"{'privileged' if REFERENCE_PRIVILEGED[ref] else 'not privileged'}, but the file "
            f"says privileged: {json.dumps(agent.get('privileged'))}"
        )
    if name in REFERENCE_PRIVILEGED and ref != name:
        problems.append(
            f"agent name {name!r} is the {name!r} reference agent's, but the file runs "
            f"{agent['spec']!r}"
        )
    return problems


def _fingerprint(doc: Mapping[str, Any]) -> str | None:
    """A digest of every successful job's returns, keyed by (split, task, track, K)."""
    from .results import job_key

    rows = sorted(
        (list(job_key(j)), j["returns"]) for j in doc["jobs"] if j["status"] == "ok"
    )  # fmt: skip
    if not rows:
        return None
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def duplicate_flags(files: Sequence[tuple[Path, Mapping[str, Any]]]) -> dict[str, list[str]]:
    """Per agent name, a flag for each of its files whose every return is another file's.

    A privileged reference (the expert, the demonstrator: told the task, deterministic) is the
    same under every seed by design; its seeds repeating each other is never flagged (nor the
    built-in expert when another file copies it), but an agent that copies it is, and so is a
    privileged agent that repeats another agent.
    """
    groups: dict[str, list[tuple[Path, Mapping[str, Any]]]] = {}
    for path, doc in files:
        fp = _fingerprint(doc)
        if fp is not None:
            groups.setdefault(fp, []).append((path, doc))
    out: dict[str, list[str]] = {}
    for items in groups.values():
        if len(items) < 2:
            continue
        for path, doc in items:
            agent = doc["agent"]
            same = all(
                (d["agent"]["name"], d["agent"].get("target"))
                == (agent["name"], agent.get("target"))
                for _, d in items
            )
            if agent.get("privileged") and (same or _reference_of(agent) is not None):
                continue
            others = [
                f"{d['agent']['name']!r} seed {d['seed']} ({p.name})" for p, d in items if p != path
            ]
            out.setdefault(agent["name"], []).append(
                f"seed {doc['seed']} has the very returns of {', '.join(others)} in every job "
                "(a copied file, or results that ignore the seed and the demonstrations)"
            )
    return out


def expert_spread(references: Mapping[str, Mapping[str, float]], task_ids: Sequence[str]) -> float:
    """The expert's own spread on these tasks, in normalised points: the mean over tasks of
    its episode returns' standard deviation over the expert-random gap, times 100."""
    spreads = [
        100.0 * references[t]["expert_std"] / (references[t]["expert_mean"] - references[t]["random_mean"])
        for t in task_ids
    ]  # fmt: skip
    return sum(spreads) / len(spreads) if spreads else 0.0


def above_expert_flags(
    board: Any, references: Mapping[str, Mapping[str, float]] | None
) -> dict[str, list[str]]:
    """Per agent name, one flag naming the columns where a non-privileged agent's IQM is above
    the expert's (the expert entry's IQM, else 100) by more than the expert's own spread."""
    from .protocol import condition_label

    if not references or not board.entries:
        return {}
    expert = next((e for e in board.entries if _reference_of({"spec": e.spec}) == "expert"), None)
    found: dict[str, list[str]] = {}
    for cell in board.cells:
        split, track, k = cell
        ids = board.tasks[split]
        if not all("expert_std" in references.get(t, {}) for t in ids):
            continue
        spread = expert_spread(references, ids)
        level = expert.summary[cell]["iqm"] if expert is not None else 100.0
        for e in board.entries:
            iqm = e.summary[cell]["iqm"]
            if not e.privileged and iqm > level + spread:
                found.setdefault(e.name, []).append(
                    f"{split} {condition_label(track, k)} IQM {iqm:.1f} > {level:.1f} + {spread:.1f}"
                )
    return {
        name: [
            "above the expert by more than the expert's own spread ("
            + "; ".join(cols)
            + "): implausible for an agent that learns from the expert's demonstrations; "
            "re-run it (--verify)"
        ]
        for name, cols in found.items()
    }
