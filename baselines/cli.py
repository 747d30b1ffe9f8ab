"""`metail validate | calibrate-short-track`, and :func:`module_command`, which turns a module
with ``add_arguments(parser)`` and ``run(args)`` into a ``metail`` command.

The module's own ``python -m`` form builds its parser with the same ``add_arguments`` and calls
the same ``run``, so each command's options are defined once. The ``metail`` CLI finds these
commands through the ``metail.commands`` entry point group (see ``pyproject.toml``).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence

from metail_envs.cli import Command
from metail_envs.extras import require_extra

VALIDATE_HELP = (
    "score an agent on held-out training tasks or the nominal Hopper, the tasks `metail "
    "evaluate` does not score (to choose hyperparameters)"
)
CALIBRATE_HELP = "calibrate the short track: which window length and start make priors matter"
TUNING_TABLE_HELP = "the Markdown table of some `metail validate` runs (the tuning table)"
EXPERT_TABLE_HELP = "the scored experts before and after a change of the data (two manifests)"


def module_parser(
    module: str, description: str | None, add_arguments: Callable[[argparse.ArgumentParser], None]
) -> argparse.ArgumentParser:
    """The parser of ``python -m MODULE``: the options of its ``metail`` command."""
    p = argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=description,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    add_arguments(p)
    return p


def python_m(
    module: str,
) -> tuple[Callable[[], argparse.ArgumentParser], Callable[[Sequence[str] | None], int]]:
    """``(build_parser, main)`` of ``python -m MODULE``: the options of its ``metail`` command
    (the module's ``add_arguments``), its docstring as description, its ``run``."""

    def build_parser() -> argparse.ArgumentParser:
        mod = importlib.import_module(module)
        return module_parser(module, mod.__doc__, mod.add_arguments)

    def main(argv: Sequence[str] | None = None) -> int:
        """``python -m MODULE``, the same as its ``metail`` command."""
        return int(importlib.import_module(module).run(build_parser().parse_args(argv)) or 0)

    return build_parser, main


def module_command(
    name: str,
    help: str,
    module: str,
    *,
    arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    extra: str | None = "benchmark",
) -> Command:
    """The ``metail NAME`` command of ``module``: its ``add_arguments`` (or ``arguments``, for a
    module too heavy to import just to list its options) and its ``run``, which is imported only
    when the command runs, after checking that ``extra`` (if any) is installed."""

    def add_arguments(p: argparse.ArgumentParser) -> None:
        (arguments or importlib.import_module(module).add_arguments)(p)

    def run(a: argparse.Namespace) -> int | None:
        if extra is not None:
            require_extra(extra)
        return importlib.import_module(module).run(a)

    return Command(name, help, add_arguments, run)


VALIDATE = module_command("validate", VALIDATE_HELP, "baselines.validate")
CALIBRATE = module_command(
    "calibrate-short-track", CALIBRATE_HELP, "baselines.calibrate_short_track"
)
EXPERT_TABLE = module_command(
    "expert-table", EXPERT_TABLE_HELP, "baselines.experts.expert_table", extra=None
)
TUNING_TABLE = module_command(
    "tuning-table", TUNING_TABLE_HELP, "baselines.tuning_table", extra=None
)
