"""PPO experts: train on one task or a task distribution, checkpoint, resume, keep the best.

A run lives in one directory, whose files are :mod:`baselines.experts.checkpoints`'s: its state,
its progress table, its last and best checkpoints and its expert (``best.zip``). A checkpoint is
read as tensors and JSON only: loading one runs no code from it; the model is rebuilt from the
run's config (:class:`~baselines.experts.train_config.TrainConfig`).

Every ``checkpoint_every`` steps the run evaluates the policy it would ship (normalisation folded
into the first layers, acting on raw observations, deterministic actions) and checkpoints, so an
interrupted run loses at most one interval, and ``resume=True`` continues from ``last.zip``.
PPO on Hopper collapses and recovers, so the expert is the best evaluated checkpoint, not the
last. The run stops at ``total_steps``, or, once ``min_steps`` are done, when the best
evaluation reaches ``target_return`` or has not improved for ``patience`` checkpoints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from baselines.experts.checkpoints import (
    Folded,
    check_run_dir,
    checkpoint_paths,
    export_expert,
    fresh_start,
    load_checkpoint,
    load_expert_zip,
    new_model,
    read_progress,
    save_checkpoint,
    write_checkpoint,
)
from baselines.experts.evaluate import evaluate_policy
from baselines.experts.rules import SELECT_SEED
from baselines.experts.train_config import TrainConfig
from baselines.experts.wrappers import make_vec_env
from metail_envs import ENV_ID
from metail_envs.tasks import Task

MAX_STEPS = gym.spec(ENV_ID).max_episode_steps
"""An episode that reaches the registered time limit is complete; a shorter one fell."""


def tasks_from_specs(specs: Sequence[str]) -> list[Task]:
    """Task ids (``hopper-v1/test/03``) or whole splits (``hopper-v1/train``) -> Tasks."""
    from metail_envs.data import resolve_task
    from metail_envs.tasks import SPLITS, load_suite

    tasks: list[Task] = []
    for spec in specs:
        parts = spec.split("/")
        if len(parts) == 2 and parts[1] in SPLITS:
            tasks.extend(load_suite(parts[0]).split(parts[1]))
        else:
            tasks.append(resolve_task(spec)[1])
    return tasks


@dataclass
class TrainResult:
    """What a finished (or resumed-and-finished) run reached."""

    out_dir: Path
    steps: int
    best_mean: float
    best_steps: int
    wall_s: float
    done: bool

    @property
    def expert_path(self) -> Path:
        return self.out_dir / "best.zip"


def reliable_return(returns: np.ndarray, lengths: np.ndarray) -> float:
    """Mean return times the mean fraction of the time limit the episodes last: the mean return
    when no episode falls, less the earlier and the more often they fall."""
    return float(np.mean(returns) * np.mean(np.minimum(lengths, MAX_STEPS) / MAX_STEPS))


# --- training -------------------------------------------------------------------------------


def _progress_bar(total: int, initial: int, name: str, progress: bool):
    """A tqdm bar over the run's steps and the SB3 callback that advances it."""
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total, initial=initial, disable=not progress, unit="step", desc=name, smoothing=0.05
    )

    class Progress(BaseCallback):
        def _on_step(self) -> bool:
            bar.update(self.training_env.num_envs)
            return True

    return bar, Progress()


def train(
    tasks: Task | Sequence[Task],
    config: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    init_from: str | Path | None = None,
    observe_context: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train (or continue) a PPO expert on ``tasks``: one task, or several drawn at each reset.

    ``init_from`` is a run directory whose best checkpoint (weights and normalisation statistics)
    starts this run: the per-task fine-tuning of a base expert; or an expert file (``.zip``,
    normalisation folded in), fine-tuned on raw observations: the retry of a task's own expert.
    ``resume`` continues a run in ``out_dir`` from its last checkpoint (or starts it, if there is
    none); without it an existing run in ``out_dir`` is an error rather than silently overwritten.
    """
    import torch

    tasks = _as_tasks(tasks)
    out_dir = Path(out_dir)
    state = _read_state(out_dir, resume)
    if state and state["observe_context"] != observe_context:
        raise ValueError(
            f"observe_context={observe_context}: the run in {out_dir} was trained with "
            f"observe_context={state['observe_context']}; resume it as it was trained"
        )
    if state and _finished(state, config):
        log(f"{out_dir}: already done (best {state['best_mean']:.0f} at {state['best_steps']})")
        return _result(out_dir, state)

    torch.set_num_threads(1)
    venv = make_vec_env(tasks, config.n_envs, config.seed, observe_context, config.fall_penalty)
    model, vecnorm = _load_or_init(out_dir, venv, config, init_from, bool(state), log)
    model.set_random_seed(config.seed + model.num_timesteps)
    state = state or _new_state(tasks, config, observe_context, init_from)
    steps = model.num_timesteps
    rows = [r for r in read_progress(out_dir / "progress.csv") if int(r["steps"]) <= steps]
    bar, callback = _progress_bar(config.total_steps, steps, out_dir.name, progress)
    done = False
    evaluate_start = init_from is not None and not rows  # what fine-tuning starts from
    while not done:
        t0 = time.perf_counter()
        chunk = 0 if evaluate_start else min(config.checkpoint_every, config.total_steps - steps)
        evaluate_start = False
        if chunk > 0:
            _learn(model, config, chunk, callback)
        steps = model.num_timesteps
        ev = _evaluate(model, vecnorm, tasks, config, state["observe_context"])
        _keep_best(out_dir, model, vecnorm, state, ev.value, steps)
        state["wall_s"] += time.perf_counter() - t0
        state["steps"] = steps
        state["done"] = done = _finished(state, config)
        rows.append(_progress_row(state, ev, model))
        write_checkpoint(out_dir, model, vecnorm, state, rows)
        _report(bar, log, out_dir, state, ev)
    bar.close()
    venv.close()
    return _result(out_dir, state)


def _as_tasks(tasks: Task | Sequence[Task]) -> list[Task]:
    tasks = [tasks] if isinstance(tasks, Task) else list(tasks)
    if not tasks or not all(isinstance(t, Task) for t in tasks):
        raise TypeError(f"tasks must be a Task or a non-empty sequence of Tasks, got {tasks!r}")
    return tasks


def _read_state(out_dir: Path, resume: bool) -> dict[str, Any]:
    """The run's state.json (empty if there is none); an existing run needs ``resume``."""
    state_path = out_dir / "state.json"
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.exists() else {}
    if state and not resume:
        raise FileExistsError(
            f"{out_dir} already holds a run (state.json); pass --resume to continue it, "
            "or choose another --out"
        )
    return state


def _new_state(
    tasks: Sequence[Task], config: TrainConfig, observe_context: bool, init_from: Any
) -> dict[str, Any]:
    return {
        "tasks": [t.to_json() for t in tasks],
        "config": asdict(config),
        "observe_context": observe_context,
        "init_from": None if init_from is None else str(init_from),
        "steps": 0,
        "best_mean": -np.inf,
        "best_steps": 0,
        "wall_s": 0.0,
        "done": False,
    }


def _load_or_init(
    out_dir: Path,
    venv,
    config: TrainConfig,
    init_from: str | Path | None,
    resume: bool,
    log: Callable[[str], None],
):
    """The (PPO, VecNormalize) a run starts from: its last checkpoint when resumed, else the
    expert file or run directory ``init_from``, else a fresh one."""
    from stable_baselines3.common.vec_env import VecNormalize

    last_zip, last_state = checkpoint_paths(out_dir, "last")
    if resume and (last_zip.exists() or last_state.exists()):
        model, vecnorm = load_checkpoint(out_dir, "last", venv, config)
        log(f"{out_dir}: resuming at step {model.num_timesteps}")
    elif init_from is not None and Path(init_from).suffix == ".zip":
        model, vecnorm = load_expert_zip(Path(init_from), venv, config)
        log(f"{out_dir}: starting from the expert {init_from}")
    elif init_from is not None:
        check_run_dir(Path(init_from))
        model, vecnorm = load_checkpoint(Path(init_from), "best", venv, config)
        fresh_start(model, config)
        log(f"{out_dir}: starting from {init_from}")
    else:
        vecnorm = VecNormalize(venv, gamma=config.ppo.get("gamma", 0.99), **config.normalize)
        model = new_model(vecnorm, config)
    return model, vecnorm


def _learn(model, config: TrainConfig, chunk: int, callback) -> None:
    """``chunk`` more PPO steps (the learning rate first decayed, if the config says so)."""
    if config.lr_decay:
        from stable_baselines3.common.utils import get_schedule_fn

        span = config.decay_steps or config.total_steps
        lr = config.ppo.get("learning_rate", 3e-4) * max(0.0, 1 - model.num_timesteps / span)
        model.lr_schedule = get_schedule_fn(lr)
    model.learn(chunk, reset_num_timesteps=False, callback=callback, progress_bar=False)


@dataclass(frozen=True)
class _Evaluation:
    returns: np.ndarray
    lengths: np.ndarray
    value: float
    """What checkpoints are compared by (the config's ``selection``)."""


def _evaluate(
    model, vecnorm, tasks: Sequence[Task], config: TrainConfig, observe_context: bool = False
) -> _Evaluation:
    """SB3's ``EvalCallback`` step, on the policy the run would ship (normalisation folded in,
    raw observations, deterministic actions), from the selection reset seeds."""
    eval_tasks = tasks[: config.eval_episodes]
    per_task = max(1, config.eval_episodes // len(eval_tasks))
    with Folded(model, vecnorm) as folded:
        evals = [
            evaluate_policy(folded, t, per_task, SELECT_SEED, observe_context) for t in eval_tasks
        ]
    rets = np.concatenate([r for r, _ in evals])
    lengths = np.concatenate([lens for _, lens in evals])
    value = reliable_return(rets, lengths) if config.selection == "reliable" else rets.mean()
    return _Evaluation(rets, lengths, float(value))


def _keep_best(out_dir: Path, model, vecnorm, state: dict[str, Any], value: float, steps: int):
    """``EvalCallback``'s best-model save: the expert and its resumable checkpoint, when
    ``value`` beats the best so far."""
    if value > state["best_mean"]:
        state["best_mean"], state["best_steps"] = value, steps
        export_expert(model, vecnorm, out_dir / "best.zip")
        save_checkpoint(out_dir, "best", model, vecnorm)


def _progress_row(state: dict[str, Any], ev: _Evaluation, model) -> dict[str, Any]:
    rets = ev.returns
    train_ret = [ep["r"] for ep in model.ep_info_buffer]
    return {
        "steps": state["steps"],
        "wall_s": round(state["wall_s"], 1),
        "eval_mean": round(float(rets.mean()), 1),
        "eval_std": round(float(rets.std()), 1),
        "eval_min": round(float(rets.min()), 1),
        "eval_completion": round(float(np.mean(ev.lengths >= MAX_STEPS)), 3),
        "train_return": round(float(np.mean(train_ret)), 1) if train_ret else "",
        "best_mean": round(state["best_mean"], 1),
        "best_steps": state["best_steps"],
    }


def _report(bar, log: Callable[[str], None], out_dir: Path, state: dict, ev: _Evaluation) -> None:
    rets = ev.returns
    bar.set_postfix(eval=f"{rets.mean():.0f}", best=f"{state['best_mean']:.0f}")
    log(
        f"{out_dir.name}: step {state['steps']} eval {rets.mean():.0f}±{rets.std():.0f} "
        f"best {state['best_mean']:.0f}@{state['best_steps']} ({state['wall_s']:.0f}s)"
    )


def train_from_job(args: dict[str, Any], log: Callable[[str], None]) -> TrainResult:
    """:func:`train` (resuming) as an executor job describes it: ``suite``, ``task``, ``config``
    (a :class:`TrainConfig` as a dict), ``run_dir``, ``init_from`` and ``progress``."""
    from metail_envs.tasks import load_suite

    return train(
        load_suite(args["suite"]).task(args["task"]),
        TrainConfig(**args["config"]),
        args["run_dir"],
        resume=True,
        init_from=args["init_from"],
        progress=args["progress"],
        log=log,
    )


def _finished(state: dict[str, Any], config: TrainConfig) -> bool:
    """Done: all steps taken; or, after ``min_steps``, the target reached or no new best for
    ``patience`` checkpoints (a resume with a larger budget continues a finished run)."""
    if state["steps"] >= config.total_steps:
        return True
    if state["steps"] < config.min_steps:
        return False
    if config.target_return is not None and state["best_mean"] >= config.target_return:
        return True
    stale = state["steps"] - state["best_steps"]
    return config.patience is not None and stale >= config.patience * config.checkpoint_every


def _result(out_dir: Path, state: dict[str, Any]) -> TrainResult:
    return TrainResult(
        out_dir,
        state["steps"],
        state["best_mean"],
        state["best_steps"],
        state["wall_s"],
        state["done"],
    )
