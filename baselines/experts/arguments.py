"""The options of the pipeline commands whose modules are heavy to import (``expert-data``,
``retry-experts``): argparse only, so that ``metail --help`` lists them without torch, and both
the ``metail`` command and the module's ``python -m`` form parse with these functions."""

from __future__ import annotations

import argparse
from pathlib import Path

from metail_envs.executors import add_executor_arguments
from metail_envs.tasks import DEFAULT_SUITE


def _suite_data_tasks(p: argparse.ArgumentParser, task_help: str) -> None:
    """``--suite``, ``--data-dir`` and the repeatable ``--task ID`` of the pipeline commands."""
    p.add_argument("--suite", default=DEFAULT_SUITE, help="task suite (default %(default)s)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="expert data directory (default: METAIL_DATA_DIR or the repository's expert_data/)",
    )
    p.add_argument("--task", action="append", dest="tasks", metavar="ID", help=task_help)


def expert_data_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``metail expert-data`` and ``python -m baselines.experts.make_expert_data``
    (here: that module imports torch, and ``metail --help`` must not)."""
    _suite_data_tasks(
        p, "only these task ids (repeatable); the nominal base is always trained first"
    )
    p.add_argument(
        "--stage",
        choices=("train", "retry", "data", "all"),
        default="all",
        help="one stage, or all three in order (default %(default)s)",
    )
    p.add_argument(
        "--base-config",
        default="ppo_default",
        help="the nominal base's config (default %(default)s)",
    )
    p.add_argument(
        "--finetune-config",
        default="finetune",
        help="every other task's config (default %(default)s)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue where the last run stopped "
        "(the training state is always kept; this flag documents the intent)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars (for log files)")
    add_executor_arguments(
        p, "parallel trainings (default 1 locally, all CPUs on Ray); the nominal base runs first"
    )


def retry_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``metail retry-experts`` and ``python -m baselines.experts.retry``
    (here: that module imports torch, and ``metail --help`` must not)."""
    _suite_data_tasks(p, "only these task ids (repeatable), whatever the plan's rule says")
    p.add_argument(
        "--plan",
        default="default",
        help="the retry plan: a file under configs/retry/ (default %(default)s)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars (for log files)")
    add_executor_arguments(p, "parallel attempts (default: all cores)")
