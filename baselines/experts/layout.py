"""Where the expert pipeline keeps each task's files, and the order it trains the tasks in.

One place for the layout of ``expert_data/`` as the pipeline writes it (the benchmark reads it
through :mod:`metail_envs.data`): the training, retry, data and plot stages all ask here.
"""

from __future__ import annotations

import os
from pathlib import Path

from metail_envs.data import task_key
from metail_envs.tasks import Suite, Task


def training_order(suite: Suite) -> list[Task]:
    """Nominal (the base) first, then test and ood (they score every agent), then train."""
    return [suite.nominal, *suite.test, *suite.ood, *suite.train]


def expert_path(data_dir: Path, task_id: str) -> Path:
    """A task's trained expert, the training stage's SB3 zip: ``training/<task key>/expert.zip``
    (our own output, read by the pipeline only; the benchmark loads :func:`plain_expert_path`).

    A directory still in data format 1's layout (the zip at ``experts/<key>.zip`` and none under
    ``training/``) gives that older path, so a run started on such a copy goes on where it is;
    the data stage then moves the zip (:func:`adopt_legacy_expert`).
    """
    path = training_dir(data_dir, task_id) / "expert.zip"
    legacy = legacy_expert_path(data_dir, task_id)
    return legacy if legacy.exists() and not path.exists() else path


def plain_expert_path(data_dir: Path, task_id: str) -> Path:
    """A task's shipped expert: ``experts/<task key>.pt`` (tensors only)."""
    return Path(data_dir) / "experts" / f"{task_key(task_id)}.pt"


def legacy_expert_path(data_dir: Path, task_id: str) -> Path:
    """Where data format 1 (and a training run started before format 2) put the SB3 zip."""
    return Path(data_dir) / "experts" / f"{task_key(task_id)}.zip"


def adopt_legacy_expert(data_dir: Path, task_id: str) -> bool:
    """Move a zip at :func:`legacy_expert_path` to :func:`expert_path` (it is the newer one:
    nothing writes there any more but a run started with the old layout). True if moved."""
    legacy = legacy_expert_path(data_dir, task_id)
    if not legacy.exists():
        return False
    dest = training_dir(data_dir, task_id) / "expert.zip"
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(legacy, dest)
    return True


def training_dir(data_dir: Path, task_id: str) -> Path:
    """A task's training run (state, learning curve, checkpoints, retry attempts, the trained
    expert): ``training/<task key>/``."""
    return Path(data_dir) / "training" / task_key(task_id)
