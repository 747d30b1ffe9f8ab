"""Score agents on tasks ``metail evaluate`` does not score: validation and nominal Hopper.

``metail evaluate`` scores only the test and ood splits, and hyperparameters must be chosen
without them. This holds out ``--val-tasks`` training tasks (evenly spaced over those whose
demonstration pool can give the run's largest K; fixed for given data), meta-trains on the
others, and scores adaptation on the held-out ones exactly as the protocol does (fresh load of
the saved agent per adaptation, the protocol's K values, episodes and reset seeds, normalised by
the tasks' expert and random references)::

    python -m baselines.validate --agent maml_bc --kwargs '{"inner_lr": 0.02}' --seeds 0 1

``--tasks hopper-v1/nominal`` scores the nominal Hopper instead (with its own fixed
demonstrations), meta-training on all 40 training tasks; test and ood ids are refused. With
``--checkpoints DIR`` (``results/checkpoints/<agent>``, written by ``metail evaluate``) the
shipped meta-trained agents (one per seed, trained on all 40 training tasks) are scored instead
of meta-training again: only for tasks outside the training split, such as the nominal Hopper::

    python -m baselines.validate --agent bc --tasks hopper-v1/nominal \
        --checkpoints results/checkpoints/bc --out results/nominal/bc.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baselines.cli import python_m
from metail_envs.benchmark.protocol import ProtocolConfig, condition_label
from metail_envs.tasks import DEFAULT_SUITE, load_suite


def validation_split(
    n_val: int,
    suite_name: str = DEFAULT_SUITE,
    min_demos: int = 1,
    data_dir: str | Path | None = None,
) -> tuple[list, list]:
    """(meta-training tasks, validation tasks) of the suite's training split: ``n_val`` tasks
    evenly spaced over those whose demonstration pool holds at least ``min_demos`` (the run's
    largest K, so that every condition can be drawn); the others are meta-trained on."""
    import metail_envs
    from metail_envs import data

    train = list(metail_envs.load_suite(suite_name).train)
    pools = data.load_manifest(data_dir)["tasks"]
    scorable = [i for i, t in enumerate(train) if pools[t.id]["demos"]["n"] >= min_demos]
    if not 0 < n_val <= min(len(scorable), len(train) - 1):
        raise ValueError(
            f"val_tasks={n_val} is invalid; accepted: 1..{min(len(scorable), len(train) - 1)} "
            f"(training tasks with at least {min_demos} demonstrations: {len(scorable)})"
        )
    picks = np.linspace(0, len(scorable) - 1, n_val).round().astype(int)
    val_idx = {scorable[i] for i in picks.tolist()}
    return [t for i, t in enumerate(train) if i not in val_idx], [train[i] for i in sorted(val_idx)]


def explicit_split(task_ids: Sequence[str], suite_name: str = DEFAULT_SUITE) -> tuple[list, list]:
    """(meta-training tasks, the given tasks): training or nominal tasks only."""
    import metail_envs

    suite = metail_envs.load_suite(suite_name)
    allowed = {t.id: t for t in [*suite.train, suite.nominal]}
    refused = [t for t in task_ids if t not in allowed]
    if refused or not task_ids:
        raise ValueError(
            f"tasks {refused or list(task_ids)} are refused: only training and nominal tasks may "
            "be scored here (test and ood are scored by `metail evaluate` alone)"
        )
    chosen = [allowed[t] for t in task_ids]
    return [t for t in suite.train if t.id not in task_ids], chosen


@contextlib.contextmanager
def _meta_trained(
    cls: type,
    kwargs: dict[str, Any],
    demos: dict[str, Any],
    seed: int,
    checkpoints: str | Path | None,
    data_dir: str | Path | None,
) -> Iterator[tuple[Path, float]]:
    """A checkpoint of the agent for ``seed`` and its meta-training time: the shipped one in
    ``checkpoints`` (refused if meta-trained on other data), or one meta-trained now into a
    temporary directory."""
    from metail_envs import data
    from metail_envs.benchmark.jobs import seed_everything
    from metail_envs.benchmark.results import META_TRAIN_RECORD

    if checkpoints is not None:
        ckpt = Path(checkpoints) / f"seed_{seed:03d}"
        record = json.loads((ckpt / META_TRAIN_RECORD).read_text())
        train_ids = [t.id for t in load_suite(DEFAULT_SUITE).train]
        trained_on = data.data_hash(DEFAULT_SUITE, data_dir=data_dir, task_ids=train_ids)
        if record.get("training_data_hash") != trained_on:
            raise ValueError(
                f"checkpoint {ckpt} was meta-trained on other demonstrations than "
                f"{data_dir or data.default_data_dir()} holds: meta-train it again"
            )
        yield ckpt, record["time_s"]
        return
    with tempfile.TemporaryDirectory() as tmp:
        seed_everything(seed)
        start = time.perf_counter()
        learner = cls(**kwargs)
        learner.meta_train(demos, seed)
        elapsed = time.perf_counter() - start
        learner.save(Path(tmp))
        yield Path(tmp), elapsed


def validate(
    agent: str,
    kwargs: dict[str, Any],
    *,
    seeds: Sequence[int] = (0,),
    n_val: int = 8,
    k_values: Sequence[int] | None = None,
    tracks: Sequence[str] | None = None,
    episodes: int | None = None,
    max_steps: int | None = None,
    data_dir: str | Path | None = None,
    tasks: Sequence[str] | None = None,
    checkpoints: str | Path | None = None,
) -> dict[str, Any]:
    """Scores of ``agent(**kwargs)`` per seed, task, track and K on the validation tasks, or on
    ``tasks`` (training or nominal task ids; training ones are then left out of meta-training),
    each from the benchmark's one evaluation job (:func:`metail_envs.benchmark.jobs.evaluate_job`:
    the same demonstration draw, infos stripped, seeds and caps as ``metail evaluate``).

    ``checkpoints``: a directory of ``seed_NNN`` checkpoints meta-trained on every training task;
    they are scored on ``tasks`` (which must then lie outside the training split) for ``seeds``.
    """
    from metail_envs import data
    from metail_envs.benchmark import resolve_agent
    from metail_envs.benchmark.jobs import JobSpec, evaluate_job, meta_training_demos
    from metail_envs.benchmark.stats import normalised_score

    cls = resolve_agent(agent)
    overrides = {
        "k_values": k_values, "episodes": episodes, "max_steps": max_steps, "tracks": tracks,
    }  # fmt: skip
    largest_k = max(k for _, k in ProtocolConfig(**_given(overrides)).conditions())
    train, val = _tasks(n_val, tasks, checkpoints, largest_k, data_dir)
    splits = {task.id: "nominal" if task.id.endswith("/nominal") else "train" for task in val}
    protocol = _protocol(splits, train, overrides)
    refs = data.load_references(DEFAULT_SUITE, data_dir=data_dir)
    demos = {} if checkpoints else meta_training_demos([t.id for t in train], data_dir)
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        with _meta_trained(cls, kwargs, demos, seed, checkpoints, data_dir) as (ckpt, meta_train_s):
            for task in val:
                for track, k in protocol.conditions():
                    spec = JobSpec(task, splits[task.id], track, k, seed, protocol, data_dir)
                    payload = evaluate_job(cls.load(ckpt), spec)  # the one evaluation job
                    ref = refs[task.id]
                    score = normalised_score(
                        float(np.mean(payload["returns"])), ref["random_mean"], ref["expert_mean"]
                    )
                    rows.append({"seed": seed, "task": task.id, "track": track, "k": k,
                                 "score": float(score), "returns": payload["returns"],
                                 "demos": payload["demos"], "adapt_s": payload["adapt_time_s"],
                                 "adapt_stats": payload["adapt_stats"],
                                 "meta_train_s": meta_train_s})  # fmt: skip
    return {"agent": agent, "kwargs": kwargs, "val_tasks": [t.id for t in val],
            "protocol": protocol.to_json(), "summary": _summary(rows, protocol),
            "rows": rows}  # fmt: skip


def _tasks(
    n_val: int,
    tasks: Sequence[str] | None,
    checkpoints: str | Path | None,
    largest_k: int,
    data_dir: str | Path | None,
) -> tuple[list[Any], list[Any]]:
    """(meta-training tasks, scored tasks): the validation split, or the given ``tasks``."""
    if tasks is None:
        train, val = validation_split(n_val, min_demos=largest_k, data_dir=data_dir)
    else:
        train, val = explicit_split(tasks)
    if checkpoints is not None and len(train) != len(load_suite().train):
        raise ValueError(
            "checkpoints are meta-trained on every training task: score only "
            "tasks outside the training split with them (e.g. hopper-v1/nominal)"
        )
    return train, val


def _protocol(
    splits: dict[str, str], train: Sequence[Any], overrides: dict[str, Any]
) -> ProtocolConfig:
    """The protocol configuration of a validation run: the official one on these tasks (a
    non-official task set, flagged as such), with the given overrides."""
    return ProtocolConfig(
        splits=tuple(dict.fromkeys(splits.values())),
        tasks=tuple(splits),
        train_tasks=tuple(t.id for t in train),
        **_given(overrides),
    )


def _given(overrides: dict[str, Any]) -> dict[str, Any]:
    """The protocol settings a run overrides (lists as tuples; None: the protocol's own)."""
    return {
        k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items() if v is not None
    }


def _summary(rows: list[dict[str, Any]], protocol: ProtocolConfig) -> dict[str, dict[str, float]]:
    """IQM and mean score per condition (``short K=5``), over seeds and tasks."""
    from metail_envs.benchmark.stats import iqm

    summary = {}
    for track, k in protocol.conditions():
        scores = [r["score"] for r in rows if (r["track"], r["k"]) == (track, k)]
        summary[condition_label(track, k)] = {
            "iqm": float(iqm(np.array(scores))),
            "mean": float(np.mean(scores)),
        }
    return summary


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``metail validate`` and ``python -m baselines.validate``."""
    p.add_argument("--agent", required=True, help="the agent: a short name or 'module:Class'")
    p.add_argument(
        "--kwargs", default="{}", help="constructor kwargs as a JSON object (default %(default)s)"
    )
    p.add_argument(
        "--seeds", type=int, nargs="+", default=[0], help="agent seeds (default: %(default)s)"
    )
    p.add_argument(
        "--val-tasks",
        type=int,
        default=8,
        help="training tasks held out of meta-training and scored (default %(default)s)",
    )
    p.add_argument(
        "--tasks",
        nargs="+",
        metavar="TASK_ID",
        help="score these training or nominal tasks instead (e.g. hopper-v1/nominal)",
    )
    p.add_argument(
        "--checkpoints",
        help="score the meta-trained seed_NNN checkpoints in this directory (no meta-training)",
    )
    p.add_argument(
        "--k-values",
        type=int,
        nargs="+",
        help="K values of the full track (default: the protocol's)",
    )
    p.add_argument(
        "--tracks", nargs="+", help="tracks to score (default: every track of the protocol)"
    )
    p.add_argument("--episodes", type=int, help="episodes per adaptation (default: the protocol's)")
    p.add_argument("--max-steps", type=int, help="steps per episode (default: the protocol's)")
    p.add_argument(
        "--data-dir", help="expert data directory (default: METAIL_DATA_DIR or expert_data/)"
    )
    p.add_argument(
        "--out", help="write the full result as JSON here (default: only the summary is printed)"
    )


def run(a: argparse.Namespace) -> int:
    """Validate as the options say; print the summary line, write the full result to ``--out``."""
    import torch

    torch.set_num_threads(1)
    result = validate(
        a.agent, json.loads(a.kwargs), seeds=a.seeds, n_val=a.val_tasks, k_values=a.k_values, tracks=a.tracks,
        episodes=a.episodes, max_steps=a.max_steps, data_dir=a.data_dir, tasks=a.tasks,
        checkpoints=a.checkpoints,
    )  # fmt: skip
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(result, indent=1))
    print(json.dumps({"agent": a.agent, "kwargs": result["kwargs"], **result["summary"]}))
    return 0


build_parser, main = python_m("baselines.validate")

if __name__ == "__main__":
    raise SystemExit(main())
