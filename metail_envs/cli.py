"""`metail ...`: the command line. Thin: it parses arguments and calls the library's functions.

Each subcommand is a :class:`Command` ``(name, help, add_arguments, run)``: the built-in ones in
:data:`COMMANDS`, others from installed packages through the ``metail.commands`` entry point group
(that is how ``baselines`` adds ``train-expert`` without the library importing it). ``run`` imports
what it needs, so ``metail --help`` stays instant and one command never pays for another.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from metail_envs.benchmark import cli_commands as _bench  # argparse only, work imported late
from metail_envs.extras import missing_extra_hint
from metail_envs.tasks import DEFAULT_SUITE


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


# --- metail demo -----------------------------------------------------------------------------


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--suite", default=DEFAULT_SUITE, help="suite to draw variants from (default %(default)s)"
    )
    p.add_argument(
        "--n",
        type=int,
        default=4,
        help="test-split variants shown besides nominal (default %(default)s)",
    )
    p.add_argument("--steps", type=int, default=200, help="steps per variant (default %(default)s)")
    p.add_argument(
        "--seed", type=int, default=0, help="reset seed and action seed (default %(default)s)"
    )


def _demo(a: argparse.Namespace) -> None:
    from metail_envs.demo import describe_variants

    print(describe_variants(a.suite, n=a.n, steps=a.steps, seed=a.seed))


# --- metail params ---------------------------------------------------------------------------


def _params_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the registry as JSON")


def _params(a: argparse.Namespace) -> None:
    from dataclasses import asdict

    from metail_envs.params import PARAMS, markdown_table

    print(json.dumps([asdict(p) for p in PARAMS], indent=1) if a.json else markdown_table())


# --- metail suite ----------------------------------------------------------------------------


def _suite_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="suite name (default: list the suites)")
    p.add_argument("--split", choices=("train", "test", "ood"), help="print one split's tasks")
    p.add_argument(
        "--freeze",
        metavar="DEFINITION_JSON",
        help="draw and write a new suite from a definition file (refuses to edit a frozen suite)",
    )


def _suite(a: argparse.Namespace) -> None:
    from pathlib import Path

    from metail_envs.tasks import available_suites, freeze_suite, load_suite

    if a.freeze:
        print(freeze_suite(json.loads(Path(a.freeze).read_text())))
        return
    if not a.name:
        print("\n".join(available_suites()))
        return
    suite = load_suite(a.name)
    if a.split:
        for task in suite.split(a.split):
            print(json.dumps(task.to_json()))
        return
    print(f"{suite.name}  sha256 {suite.sha256[:16]}")
    print(suite.definition["description"])
    for split in ("train", "test", "ood"):
        print(f"  {split:5s} {len(suite.split(split)):3d} tasks")


COMMANDS: list[Command] = [
    Command("demo", "make a few Hopper variants, step them, print what changed", _demo_args, _demo),
    Command(
        "params",
        "print the dynamics parameters: name, unit, default, bounds",
        _params_args,
        _params,
    ),
    Command("suite", "list suites, show their splits, or freeze a new one", _suite_args, _suite),
    Command("evaluate", _bench.EVALUATE_HELP, _bench.evaluate_arguments, _bench.run_evaluate),
    Command(
        "leaderboard", _bench.LEADERBOARD_HELP, _bench.leaderboard_arguments, _bench.run_leaderboard
    ),
]


def all_commands() -> list[Command]:
    """The built-in commands, then those that installed packages register under
    ``[project.entry-points."metail.commands"]`` (an entry point names a :class:`Command`)."""
    from importlib.metadata import entry_points

    plugins = [ep.load() for ep in entry_points(group="metail.commands")]
    builtin = {c.name for c in COMMANDS}
    return COMMANDS + sorted((c for c in plugins if c.name not in builtin), key=lambda c: c.name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metail",
        description="metail: a benchmark for few-shot imitation learning on MuJoCo Hopper variants.",
        epilog="Run `metail COMMAND --help` for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for c in all_commands():
        command = sub.add_parser(c.name, help=c.help, description=c.help)
        c.add_arguments(command)
        command.set_defaults(run=c.run)
    return parser


def _format_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    """A warning as one line, ``metail: warning: ...``, without the source line that raised it."""
    return f"metail: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    fmt, warnings.formatwarning = warnings.formatwarning, _format_warning
    try:
        return int(args.run(args) or 0)
    except (ValueError, TypeError, KeyError, FileExistsError, FileNotFoundError) as e:
        print(f"metail {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        print(f"metail {args.command}: error: {e}{missing_extra_hint(e)}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = fmt


if __name__ == "__main__":
    sys.exit(main())
