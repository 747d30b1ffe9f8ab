"""``metail evaluate`` and ``metail leaderboard``: argument parsing only.

Everything they do is :func:`metail_envs.benchmark.evaluate` and
:func:`metail_envs.benchmark.render_leaderboard`; this module imports nothing heavy at import
time so that ``metail --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from metail_envs.executors import SHARE, add_executor_arguments, add_memory_argument

from .protocol import (
    EPISODES,
    EVAL_SPLITS,
    K_VALUES,
    MAX_STEPS,
    MIN_SEEDS,
    PROTOCOL_NAME,
    QUICK_EPISODES,
    QUICK_SEEDS,
    QUICK_TASKS,
    SHORT_K_VALUES,
    TRACKS,
)
from .verify import VERIFY_JOBS_PER_FILE

EVALUATE_HELP = f"evaluate agents under the benchmark protocol ({PROTOCOL_NAME})"
LEADERBOARD_HELP = "validate result files and render the leaderboard (Markdown, HTML, PNG)"


def evaluate_arguments(p: argparse.ArgumentParser) -> None:
    """Every option of ``metail evaluate``, in the order its help lists them."""
    _agent_arguments(p)
    _run_arguments(p)
    add_executor_arguments(p, "parallel workers (default: all cores, or all CPUs of the cluster)")
    add_memory_argument(p)
    _checkpoint_arguments(p)
    _smoke_arguments(p)


def _agent_arguments(p: argparse.ArgumentParser) -> None:
    """Which agents, constructed and loaded how, under which name, with how many seeds."""
    p.add_argument(
        "--agent",
        action="append",
        required=True,
        metavar="AGENT",
        help="'path/to/my_agent.py:MyAgent' (a file, from any directory), "
        "'package.module:Class' (importable by the workers: installed or on PYTHONPATH) or a "
        "short name (random, expert, or a 'metail.agents' entry point); repeat to evaluate "
        "several agents",
    )
    p.add_argument(
        "--agent-kwargs", metavar="JSON", help="constructor kwargs (JSON object; one agent only)"
    )
    p.add_argument(
        "--adapt-kwargs",
        metavar="JSON",
        help="kwargs of the agent's load before each adaptation, e.g. a test-time mode "
        '(\'{"adaptation": "finetune"}\'; JSON object; one agent only): entries that differ only '
        "in these share one meta-training per seed in --out",
    )
    p.add_argument("--name", help="leaderboard name of the agent (one agent only)")
    p.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help=f"meta-training seeds 0..N-1 (default {MIN_SEEDS}; {QUICK_SEEDS} with --quick)",
    )


def _run_arguments(p: argparse.ArgumentParser) -> None:
    """What the run evaluates, where its files go, and what it shows."""
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"a quick estimate: the protocol on {len(QUICK_TASKS)} fixed scored tasks with "
        f"{QUICK_EPISODES} episodes each and {QUICK_SEEDS} seeds (full horizon, every track and "
        "K); prints its table with intervals; its files are not leaderboard entries",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the result files")
    p.add_argument("--resume", action="store_true", help="finish the result files in --out")
    p.add_argument(
        "--splits",
        nargs="+",
        choices=EVAL_SPLITS,
        help="splits to evaluate (default: all, or those of --tasks)",
    )
    p.add_argument("--tasks", nargs="+", metavar="TASK_ID", help="evaluate only these tasks")
    p.add_argument("--data-dir", help="expert data directory (default: METAIL_DATA_DIR or repo)")
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars: one line per finished stage instead (the default when stderr "
        "is not a terminal)",
    )
    p.add_argument(
        "--leaderboard", action="store_true", help="render and print the leaderboard of --out"
    )


def _checkpoint_arguments(p: argparse.ArgumentParser) -> None:
    """Which checkpoints in --out may be loaded, and whether the run stops after making them."""
    p.add_argument(
        "--trust-checkpoints",
        action="store_true",
        help="load checkpoints in --out that this machine's metail did not record: only if you "
        "trust that directory (a checkpoint is its agent's code)",
    )
    p.add_argument(
        "--meta-train-only",
        action="store_true",
        help="meta-train the missing checkpoints under --out and stop (no result files); a "
        "later run with the same agents, seeds and training data reuses them",
    )


def _smoke_arguments(p: argparse.ArgumentParser) -> None:
    """The protocol settings a smoke run may shrink (flagged on the leaderboard)."""
    smoke = p.add_argument_group("non-standard settings (smoke runs; flagged on the leaderboard)")
    smoke.add_argument(
        "--k-values", type=int, nargs="+", metavar="K",
        help=f"whole demonstrations per adaptation, full track (default {list(K_VALUES)})",
    )  # fmt: skip
    smoke.add_argument(
        "--tracks", nargs="+", choices=TRACKS,
        help=f"tracks to evaluate (default {list(TRACKS)})",
    )  # fmt: skip
    smoke.add_argument(
        "--short-k-values", type=int, nargs="+", metavar="K",
        help=f"demonstration windows per adaptation, short track (default {list(SHORT_K_VALUES)})",
    )  # fmt: skip
    smoke.add_argument(
        "--episodes", type=int, help=f"evaluation episodes per job (default {EPISODES})"
    )
    smoke.add_argument(
        "--max-steps", type=int,
        help=f"episode step limit (default {MAX_STEPS}); a shorter one is normalised by "
        "references measured in the run at that limit",
    )  # fmt: skip
    smoke.add_argument(
        "--train-tasks", nargs="+", metavar="TASK_ID",
        help="meta-train on these training tasks only (default: all)",
    )  # fmt: skip


def _agents(a: argparse.Namespace) -> list:
    from .agent import AgentSpec

    if (a.agent_kwargs or a.adapt_kwargs or a.name) and len(a.agent) != 1:
        raise ValueError("--agent-kwargs, --adapt-kwargs and --name need exactly one --agent")
    kwargs = _json_object("--agent-kwargs", a.agent_kwargs)
    adapt_kwargs = _json_object("--adapt-kwargs", a.adapt_kwargs)
    return [AgentSpec(spec, kwargs, a.name, adapt_kwargs) for spec in a.agent]


def _json_object(flag: str, text: str | None) -> dict[str, Any]:
    """The JSON object an option gives (none: empty), or a ValueError naming the option."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{flag} is not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object, got {text!r}")
    return value


def run_evaluate(a: argparse.Namespace) -> int:
    """Check the arguments (the agents' constructor kwargs in a worker), run the evaluation,
    and exit 1 if every job of an agent failed, with the first error of each kind."""
    from metail_envs.executors import make_executor
    from metail_envs.extras import require_extra

    from .preflight import check_out_dir
    from .run_report import StageLog
    from .runner import evaluate

    require_extra("benchmark")
    agents = _agents(a)
    check_out_dir(a.out)
    splits = a.splits or [
        s for s in EVAL_SPLITS if any(f"/{s}/" in t for t in a.tasks or [f"/{s}/"])
    ]
    config = _config(a, splits)
    seeds = a.seeds if a.seeds is not None else (QUICK_SEEDS if a.quick else MIN_SEEDS)
    bars = not a.no_progress and sys.stderr.isatty()
    memory = SHARE if a.max_memory_gb is None else a.max_memory_gb
    with make_executor(a.executor, a.workers, a.ray_address, a.retries, memory) as pool:
        paths = evaluate(
            agents,
            out=a.out,
            seeds=seeds,
            config=config,
            resume=a.resume,
            trust_checkpoints=a.trust_checkpoints,
            data_dir=a.data_dir,
            progress=bars,
            executor=pool if bars else StageLog(pool),
            meta_train_only=a.meta_train_only,
        )
    if a.meta_train_only:
        print(f"{len(paths)} meta-trained checkpoints under {a.out}/checkpoints", file=sys.stderr)
        return 0
    print(f"{len(paths)} result files under {a.out}", file=sys.stderr)
    code = 0
    if a.leaderboard or a.quick:
        board = argparse.Namespace(dir=a.out, out=None, data_dir=a.data_dir, quick=a.quick)
        code = run_leaderboard(board)
    return max(code, report_failures(paths))


SMOKE_OPTIONS = ("splits", "tasks", "k_values", "tracks", "short_k_values", "episodes",
                 "max_steps", "train_tasks")  # fmt: skip


def _config(a: argparse.Namespace, splits: list[str]) -> Any:
    """The protocol configuration the options ask for: the official one, the quick estimate
    (``--quick``, which takes none of the smoke options), or a smoke run."""
    from .protocol import ProtocolConfig

    if a.quick:
        given = [f"--{o.replace('_', '-')}" for o in SMOKE_OPTIONS if getattr(a, o) is not None]
        if given:
            raise ValueError(f"--quick is a fixed subset of the protocol; it takes no {given}")
        return ProtocolConfig.quick_estimate()
    official = ProtocolConfig()

    def pick(name: str) -> Any:
        value = getattr(a, name)
        return getattr(official, name) if value is None else tuple(value)

    return ProtocolConfig(
        splits=tuple(splits),
        k_values=pick("k_values"),
        tracks=pick("tracks"),
        short_k_values=pick("short_k_values"),
        episodes=a.episodes if a.episodes is not None else official.episodes,
        max_steps=a.max_steps if a.max_steps is not None else official.max_steps,
        tasks=tuple(a.tasks) if a.tasks else None,
        train_tasks=tuple(a.train_tasks) if a.train_tasks else None,
    )


def report_failures(paths: list) -> int:
    """Print the failed jobs of each agent (the first error of each kind); 1 if every job of
    some agent failed, else 0."""
    from .run_report import agent_failures

    code = 0
    for f in agent_failures(paths).values():
        if not f.failed:
            continue
        if f.all_failed:
            code = 1
            head = f"error: every job of agent {f.agent!r} failed ({f.failed} of {f.jobs})"
        else:
            head = f"warning: {f.failed} of {f.jobs} jobs of agent {f.agent!r} failed"
        lines = [f"metail evaluate: {head}; the first error of each kind:", *f.lines()]
        print("\n".join(lines), file=sys.stderr)
    return code


def leaderboard_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="directory of result files (metail evaluate --out)")
    p.add_argument("--out", metavar="DIR", help="where to write it (default: DIR/leaderboard)")
    p.add_argument("--data-dir", help="expert data directory (default: METAIL_DATA_DIR or repo)")
    p.add_argument(
        "--verify",
        type=int,
        nargs="?",
        const=VERIFY_JOBS_PER_FILE,
        default=0,
        metavar="N",
        help="re-run N jobs of every result file from its checkpoint (N=%(const)s if not given), "
        "judge each entry (bit-identical on the files' own versions, else a statistical test: "
        "docs/protocol.md) and leave out the files of an entry that differs; runs the agents' "
        "code: verify only agents you would evaluate (default %(default)s: no verification, every "
        "entry marked not verified)",
    )
    p.add_argument(
        "--verify-seed", type=int, default=0, help="seed of --verify's draw (default %(default)s)"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="show the quick estimates in DIR (metail evaluate --quick), which a leaderboard "
        "otherwise leaves out",
    )
    p.add_argument("--workers", type=int, help="worker processes for --verify (default: cores)")


def run_leaderboard(a: argparse.Namespace) -> int:
    from metail_envs.extras import require_extra

    require_extra("benchmark")
    from .leaderboard import markdown, render_leaderboard

    verify = {k: getattr(a, k, None) for k in ("verify", "verify_seed", "workers", "quick")}
    board = render_leaderboard(
        a.dir, a.out, data_dir=a.data_dir, **{k: v for k, v in verify.items() if v is not None}
    )
    print(markdown(board))
    for kind, path in board.outputs.items():
        print(f"{kind}: {path}", file=sys.stderr)
    return 0
