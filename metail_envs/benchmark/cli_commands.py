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
    SHORT_K_VALUES,
    TRACKS,
)

EVALUATE_HELP = f"evaluate agents under the benchmark protocol ({PROTOCOL_NAME})"
LEADERBOARD_HELP = "validate result files and render the leaderboard (Markdown, HTML, PNG)"


def evaluate_arguments(p: argparse.ArgumentParser) -> None:
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
        "--seeds", type=int, default=MIN_SEEDS, help=f"meta-training seeds 0..N-1 ({MIN_SEEDS})"
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
    add_executor_arguments(p, "parallel workers (default: all cores, or all CPUs of the cluster)")
    add_memory_argument(p)
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
    _smoke_arguments(p)


def _smoke_arguments(p: argparse.ArgumentParser) -> None:
    """The protocol settings a smoke run may shrink (flagged on the leaderboard)."""
    smoke = p.add_argument_group("non-standard settings (smoke runs; flagged on the leaderboard)")
    smoke.add_argument("--k-values", type=int, nargs="+", default=list(K_VALUES), metavar="K")
    smoke.add_argument("--tracks", nargs="+", choices=TRACKS, default=list(TRACKS))
    smoke.add_argument(
        "--short-k-values", type=int, nargs="+", default=list(SHORT_K_VALUES), metavar="K"
    )
    smoke.add_argument("--episodes", type=int, default=EPISODES)
    smoke.add_argument("--max-steps", type=int, default=MAX_STEPS)
    smoke.add_argument("--train-tasks", nargs="+", metavar="TASK_ID")


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

    from .preflight import check_out_dir, probe_agents
    from .protocol import ProtocolConfig
    from .run_report import StageLog
    from .runner import evaluate

    require_extra("benchmark")
    agents = _agents(a)
    check_out_dir(a.out)
    splits = a.splits or [
        s for s in EVAL_SPLITS if any(f"/{s}/" in t for t in a.tasks or [f"/{s}/"])
    ]
    config = ProtocolConfig(
        splits=tuple(splits),
        k_values=tuple(a.k_values),
        tracks=tuple(a.tracks),
        short_k_values=tuple(a.short_k_values),
        episodes=a.episodes,
        max_steps=a.max_steps,
        tasks=tuple(a.tasks) if a.tasks else None,
        train_tasks=tuple(a.train_tasks) if a.train_tasks else None,
    )
    bars = not a.no_progress and sys.stderr.isatty()
    memory = SHARE if a.max_memory_gb is None else a.max_memory_gb
    with make_executor(a.executor, a.workers, a.ray_address, a.retries, memory) as pool:
        probe_agents(pool, agents)
        paths = evaluate(
            agents,
            out=a.out,
            seeds=a.seeds,
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
    if a.leaderboard:
        code = run_leaderboard(argparse.Namespace(dir=a.out, out=None, data_dir=a.data_dir))
    return max(code, report_failures(paths))


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
        default=0,
        metavar="N",
        help="re-run N jobs drawn at random from DIR's checkpoints and leave out a file whose "
        "returns differ (runs the agents' code: verify only agents you would evaluate)",
    )
    p.add_argument("--verify-seed", type=int, default=0, help="seed of the draw (0)")
    p.add_argument("--workers", type=int, help="worker processes for --verify (default: cores)")


def run_leaderboard(a: argparse.Namespace) -> int:
    from metail_envs.extras import require_extra

    require_extra("benchmark")
    from .leaderboard import render_leaderboard

    verify = {k: getattr(a, k, None) for k in ("verify", "verify_seed", "workers")}
    board = render_leaderboard(
        a.dir, a.out, data_dir=a.data_dir, **{k: v for k, v in verify.items() if v is not None}
    )
    print(board.markdown())
    for kind, path in board.outputs.items():
        print(f"{kind}: {path}", file=sys.stderr)
    return 0
