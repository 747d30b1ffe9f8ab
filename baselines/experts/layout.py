"""Where the expert pipeline keeps each task's files, and the order it trains the tasks in.

One place for the layout of ``expert_data/`` as the pipeline writes it (the benchmark reads it
through :mod:`metail_envs.data`): the training, retry, data and plot stages all ask here.
"""

from __future__ import annotations

from pathlib import Path

from metail_envs.data import REPO_DATA_DIR, task_key
from metail_envs.tasks import Suite, Task


def training_order(suite: Suite) -> list[Task]:
    """Nominal (the base) first, then test and ood (they score every agent), then train."""
    return [suite.nominal, *suite.test, *suite.ood, *suite.train]


def expert_path(data_dir: Path, task_id: str) -> Path:
    """A task's trained expert, the training stage's SB3 zip: ``training/<task key>/expert.zip``
    (our own output, read by the pipeline only; the benchmark loads :func:`plain_expert_path`)."""
    return training_dir(data_dir, task_id) / "expert.zip"


def plain_expert_path(data_dir: Path, task_id: str) -> Path:
    """A task's shipped expert: ``experts/<task key>.pt`` (tensors only)."""
    return Path(data_dir) / "experts" / f"{task_key(task_id)}.pt"


def training_dir(data_dir: Path, task_id: str) -> Path:
    """A task's training run (state, learning curve, checkpoints, retry attempts, the trained
    expert): ``training/<task key>/``."""
    return Path(data_dir) / "training" / task_key(task_id)


DEMONSTRATOR_DIR = "demonstrator"
"""The frozen demonstrator inside a data directory: ``demonstrator/`` (its best checkpoint,
tensors only, and ``state.json``); every shipped demonstration is its."""


def demonstrator_dir(data_dir: Path) -> Path:
    """The frozen demonstrator of a data directory: its own ``demonstrator/``, else the
    repository's (a fresh data directory's demonstrations are the shipped demonstrator's; the
    manifest records which by sha256)."""
    own = Path(data_dir) / DEMONSTRATOR_DIR
    return own if own.is_dir() else REPO_DATA_DIR / DEMONSTRATOR_DIR
