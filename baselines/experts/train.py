"""PPO experts: train on one task or a task distribution, checkpoint, resume, keep the best.

One run lives in one directory::

    state.json              config, task(s), steps done, best evaluation, wall time, done flag
    progress.csv            one row per checkpoint: steps, wall time, evaluation, training return
    last.zip, last.json     the latest checkpoint: PPO tensors (policy, optimizer) + the rest
    best_ckpt.zip, best_ckpt.json          the best evaluated checkpoint, resumable / fine-tunable
    best.zip                the best evaluated policy with VecNormalize folded in: the expert

A checkpoint is an ordinary SB3 zip, of which only the tensors are read (weights-only), and a JSON
file with VecNormalize's statistics and the step counters (:mod:`baselines.experts.ppo_files`):
loading one runs no code from it. The model is rebuilt from the run's config.

Every ``checkpoint_every`` steps the run evaluates the policy it would ship (normalisation folded
into the first layers, acting on raw observations, deterministic actions) and checkpoints, so an
interrupted run loses at most one interval, and ``resume=True`` continues from ``last.zip``.
PPO on Hopper collapses and recovers, so the expert is the best evaluated checkpoint, not the
last. The run stops at ``total_steps``, or, once ``min_steps`` are done, when the best
evaluation reaches ``target_return`` or has not improved for ``patience`` checkpoints.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from baselines.experts.evaluate import evaluate_policy
from baselines.experts.rules import SELECT_SEED
from metail_envs import ENV_ID
from metail_envs.fileio import atomic_write, write_json_atomic
from metail_envs.tasks import Task

CONFIG_DIR = Path(__file__).parent / "configs"
SELECTIONS = ("mean", "reliable")
MAX_STEPS = gym.spec(ENV_ID).max_episode_steps
"""An episode that reaches the registered time limit is complete; a shorter one fell."""
CSV_FIELDS = (
    "steps",
    "wall_s",
    "eval_mean",
    "eval_std",
    "eval_min",
    "eval_completion",
    "train_return",
    "best_mean",
    "best_steps",
)


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters and schedule of one PPO run (a JSON file under ``configs/``)."""

    ppo: dict[str, Any]
    normalize: dict[str, Any] = field(default_factory=dict)
    n_envs: int = 1
    seed: int = 0
    total_steps: int = 1_000_000
    min_steps: int = 0
    target_return: float | None = None
    checkpoint_every: int = 49_152
    eval_episodes: int = 10
    patience: int | None = None
    """Stop (after ``min_steps``) when the best evaluation has not improved for this many
    checkpoints."""
    init_log_std: float | None = None
    """Fine-tuning (``init_from``): reset the policy's log standard deviation to this value, so
    a converged expert explores again on the new task (the deterministic policy is unchanged)."""
    lr_decay: bool = False
    """Decay the learning rate linearly to 0 over ``total_steps`` (stepwise, per checkpoint)."""
    decay_steps: int | None = None
    """The steps the learning-rate decay spans, if not ``total_steps`` (a run trained in
    stretches, each with a ``total_steps`` of its own, decays over the whole run)."""
    fall_penalty: float = 0.0
    """Subtracted from the training reward when an episode terminates (the hopper falls), never
    from the evaluation: a fine-tune that trades speed for falls is pushed back to a gait that
    finishes the episode (the retry of experts that fall; 0 is plain Hopper reward)."""
    selection: str = "mean"
    """How checkpoints are compared: ``"mean"`` evaluation return, or ``"reliable"``: mean
    return times the mean fraction of the time limit the episodes last (:func:`reliable_return`),
    so a gait that falls in a few episodes loses to a slightly slower one that never falls
    (references must not fall), and of two that always fall the one that lasts longer wins."""
    description: str = ""

    @classmethod
    def load(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a config file (a bare name means ``configs/<name>.json``); ``None`` overrides
        are ignored, so CLI flags left unset keep the file's values."""
        p = Path(path)
        if not p.suffix and not p.exists():
            p = CONFIG_DIR / f"{p}.json"
        if not p.exists():
            raise FileNotFoundError(f"training config {p} not found; available: {available()}")
        data = json.loads(p.read_text())
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{p}: unknown config keys {sorted(unknown)}")
        cfg = cls(**data)
        return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise ValueError(
                f"config selection={self.selection!r} is invalid; accepted: {SELECTIONS}"
            )
        if not isinstance(self.fall_penalty, int | float) or not 0 <= self.fall_penalty < 1e6:
            raise ValueError(
                f"config fall_penalty must be a number in [0, 1e6), got {self.fall_penalty!r}"
            )
        if self.decay_steps is not None and (
            isinstance(self.decay_steps, bool)
            or not isinstance(self.decay_steps, int)
            or self.decay_steps < 1
        ):
            raise ValueError(
                f"config decay_steps must be None or a positive int, got {self.decay_steps!r}"
            )
        for name in ("n_envs", "total_steps", "checkpoint_every", "eval_episodes"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(
                    f"config {name} must be a positive int, got {getattr(self, name)!r}"
                )

    def ppo_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``stable_baselines3.PPO`` (net_arch / activation -> policy_kwargs)."""
        import torch

        kw = dict(self.ppo)
        arch = kw.pop("net_arch", [64, 64])
        act = kw.pop("activation", "tanh")
        acts = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
        if act not in acts:
            raise ValueError(f"config ppo.activation must be one of {list(acts)}, got {act!r}")
        if not arch:
            raise ValueError(
                "config ppo.net_arch must have at least one layer (normalisation is "
                "folded into the first one)"
            )
        kw["policy_kwargs"] = {"net_arch": list(arch), "activation_fn": acts[act]}
        return kw


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


def available() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


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


# --- environments ----------------------------------------------------------------------------


class TaskCycler(gym.Wrapper):
    """Switches the environment to a task drawn (seeded) from ``tasks`` at every reset."""

    def __init__(self, env: gym.Env, tasks: Sequence[Task], seed: int) -> None:
        super().__init__(env)
        self.tasks = list(tasks)
        self.rng = np.random.default_rng(seed)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        self.env.unwrapped.set_task(self.tasks[int(self.rng.integers(len(self.tasks)))])
        return self.env.reset(**kwargs)


class TaskIdInfo(gym.Wrapper):
    """Replaces ``info["task"]`` by its id: SB3 deep-copies infos at every step, and an id is
    cheaper to copy than a Task (and always picklable)."""

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return obs, _task_id(info)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, _task_id(info)


class FallPenalty(gym.Wrapper):
    """Subtracts ``penalty`` from the reward of the step that terminates an episode (a fall;
    the time limit truncates, it does not terminate)."""

    def __init__(self, env: gym.Env, penalty: float) -> None:
        super().__init__(env)
        self.penalty = float(penalty)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward - self.penalty * terminated, terminated, truncated, info


def _task_id(info: dict[str, Any]) -> dict[str, Any]:
    if "task" in info:
        info = {**info, "task": info["task"].id}
    return info


def make_vec_env(
    tasks: Sequence[Task],
    n_envs: int,
    seed: int,
    observe_context: bool = False,
    fall_penalty: float = 0.0,
):
    """``n_envs`` monitored HopperVariant envs in a DummyVecEnv (one process, one core); a
    positive ``fall_penalty`` is taken off the reward of every fall (:class:`FallPenalty`)."""
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    def factory(i: int) -> Callable[[], gym.Env]:
        def make() -> gym.Env:
            env = gym.make(ENV_ID, task=tasks[0], observe_context=observe_context)
            if len(tasks) > 1:
                env = TaskCycler(env, tasks, seed + 7919 * i)
            if fall_penalty:
                env = FallPenalty(env, fall_penalty)
            return Monitor(TaskIdInfo(env))

        return make

    return DummyVecEnv([factory(i) for i in range(n_envs)])


# --- normalisation folded into the policy -----------------------------------------------------

_FIRST_LAYERS = ("mlp_extractor.policy_net.0", "mlp_extractor.value_net.0")


def folded_state_dict(model, vecnorm) -> dict[str, Any]:
    """The policy's weights with VecNormalize's observation normalisation folded in.

    ``W (x - mu) / sigma + b == (W / sigma) x + (b - (W / sigma) mu)``: the first linear layer of
    the actor and of the critic absorb the affine normalisation, so the result is an ordinary
    ``MlpPolicy`` acting on raw observations. VecNormalize's clip at ``clip_obs`` standard
    deviations is dropped; the shipped policy is evaluated as folded, so that is what is measured.
    """
    import torch

    sd = {k: v.detach().clone() for k, v in model.policy.state_dict().items()}
    if vecnorm is None or not vecnorm.norm_obs:
        return sd
    mean = torch.as_tensor(vecnorm.obs_rms.mean, dtype=torch.float64)
    std = torch.sqrt(torch.as_tensor(vecnorm.obs_rms.var, dtype=torch.float64) + vecnorm.epsilon)
    for layer in _FIRST_LAYERS:
        w, b = sd[f"{layer}.weight"], sd[f"{layer}.bias"]
        w2 = w.double() / std
        sd[f"{layer}.weight"] = w2.to(w.dtype)
        sd[f"{layer}.bias"] = (b.double() - w2 @ mean).to(b.dtype)
    return sd


class _Folded:
    """Temporarily puts the folded weights into ``model.policy`` (restored on exit)."""

    def __init__(self, model, vecnorm) -> None:
        self.model, self.vecnorm = model, vecnorm

    def __enter__(self):
        self.saved = {k: v.detach().clone() for k, v in self.model.policy.state_dict().items()}
        self.model.policy.load_state_dict(folded_state_dict(self.model, self.vecnorm))
        return self.model

    def __exit__(self, *exc: object) -> None:
        self.model.policy.load_state_dict(self.saved)


def export_expert(model, vecnorm, path: str | Path) -> Path:
    """Save the policy with normalisation folded in as an ordinary SB3 zip (``PPO.load`` reads
    it and its ``predict`` acts on raw observations)."""
    path = Path(path)
    with _Folded(model, vecnorm):
        atomic_write(path, _sb3_save(model))
    return path


# --- files ------------------------------------------------------------------------------------


def _sb3_save(obj: Any) -> Callable[[Path], None]:
    """A writer for :func:`atomic_write` from SB3's ``save``, which appends ``.zip`` to a name
    without a suffix: the file it wrote is moved back to the name it was given."""

    def write(tmp: Path) -> None:
        obj.save(tmp)
        zipped = tmp.with_name(tmp.name + ".zip")
        if not tmp.exists() and zipped.exists():
            zipped.rename(tmp)

    return write


CHECKPOINTS = {"last": ("last.zip", "last.json"), "best": ("best_ckpt.zip", "best_ckpt.json")}


def checkpoint_paths(run_dir: str | Path, which: str = "last") -> tuple[Path, Path]:
    """The (SB3 zip, JSON state) of a run's ``"last"`` or ``"best"`` checkpoint."""
    if which not in CHECKPOINTS:
        raise ValueError(f"which must be 'last' or 'best', got {which!r}")
    return tuple(Path(run_dir) / name for name in CHECKPOINTS[which])


def _load(run_dir: Path, which: str, venv, config: TrainConfig):
    """A run's checkpoint as (PPO, VecNormalize): a PPO built from ``config`` with the zip's
    policy and optimizer tensors (read weights-only), VecNormalize and the counters from the
    JSON. No pickle is read."""
    from baselines.experts.ppo_files import (
        check_policy,
        load_tensors,
        make_vecnormalize,
        read_state,
        read_zip,
        restore_counters,
    )

    zip_path, state_path = checkpoint_paths(run_dir, which)
    contents = read_zip(zip_path, optimizer=True)
    state = read_state(state_path, zip_path)
    check_policy(contents, config.ppo_kwargs()["policy_kwargs"])
    vecnorm = make_vecnormalize(venv, state, state_path)
    model = _new_model(vecnorm, config)
    load_tensors(model, contents)
    restore_counters(model, state)
    return model, vecnorm


def folded_checkpoint(run_dir: str | Path, which: str, config: TrainConfig, task: Task):
    """A run's checkpoint as a PPO acting on raw observations (normalisation folded in):
    what :func:`export_expert` would ship, for scoring a run while it trains."""
    observe_context = json.loads((Path(run_dir) / "state.json").read_text())["observe_context"]
    venv = make_vec_env([task], 1, config.seed, observe_context)
    model, vecnorm = _load(Path(run_dir), which, venv, config)
    model.policy.load_state_dict(folded_state_dict(model, vecnorm))
    return model


def _new_model(vecnorm, config: TrainConfig):
    """A PPO as the config describes it, on ``vecnorm`` (fresh weights)."""
    from stable_baselines3 import PPO

    return PPO("MlpPolicy", vecnorm, seed=config.seed, device="cpu", **config.ppo_kwargs())


def reliable_return(returns: np.ndarray, lengths: np.ndarray) -> float:
    """Mean return times the mean fraction of the time limit the episodes last: the mean return
    when no episode falls, less the earlier and the more often they fall."""
    return float(np.mean(returns) * np.mean(np.minimum(lengths, MAX_STEPS) / MAX_STEPS))


def _load_expert(path: Path, venv, config: TrainConfig):
    """An expert file (an SB3 zip, normalisation folded in) as a PPO on raw observations: built
    from ``config``, with the zip's policy and optimizer tensors (read weights-only). Rewards
    are still normalised (fresh statistics), as its critic was trained on normalised returns."""
    from stable_baselines3.common.vec_env import VecNormalize

    from baselines.experts.ppo_files import check_policy, load_tensors, read_zip

    contents = read_zip(path, optimizer=True)
    check_policy(contents, config.ppo_kwargs()["policy_kwargs"])
    vecnorm = VecNormalize(venv, gamma=config.ppo.get("gamma", 0.99), norm_obs=False)
    model = _new_model(vecnorm, config)
    load_tensors(model, contents)
    _fresh_start(model, config)
    return model, vecnorm


def _fresh_start(model, config: TrainConfig) -> None:
    """A fine-tune starts at step 0, its exploration reset, logging its own episodes only."""
    from collections import deque

    model.num_timesteps, model._episode_num = 0, 0
    model.ep_info_buffer = deque(maxlen=model._stats_window_size)
    model.ep_success_buffer = deque(maxlen=model._stats_window_size)
    _reset_log_std(model, config.init_log_std)


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, CSV_FIELDS)
            w.writeheader()
            w.writerows(rows)

    atomic_write(path, write)


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
    if state and _finished(state, config):
        log(f"{out_dir}: already done (best {state['best_mean']:.0f} at {state['best_steps']})")
        return _result(out_dir, state)

    torch.set_num_threads(1)
    venv = make_vec_env(tasks, config.n_envs, config.seed, observe_context, config.fall_penalty)
    model, vecnorm = _load_or_init(out_dir, venv, config, init_from, bool(state), log)
    model.set_random_seed(config.seed + model.num_timesteps)
    state = state or _new_state(tasks, config, observe_context, init_from)
    steps = model.num_timesteps
    rows = [r for r in _read_csv(out_dir / "progress.csv") if int(r["steps"]) <= steps]
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
        _checkpoint(out_dir, model, vecnorm, state, rows)
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


def _reset_log_std(model, init_log_std: float | None) -> None:
    """Fine-tuning: let a converged policy explore again (its deterministic actions unchanged)."""
    import torch

    if init_log_std is not None:
        with torch.no_grad():
            model.policy.log_std.fill_(init_log_std)


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
        model, vecnorm = _load(out_dir, "last", venv, config)
        log(f"{out_dir}: resuming at step {model.num_timesteps}")
    elif init_from is not None and Path(init_from).suffix == ".zip":
        model, vecnorm = _load_expert(Path(init_from), venv, config)
        log(f"{out_dir}: starting from the expert {init_from}")
    elif init_from is not None:
        _check_run_dir(Path(init_from))
        model, vecnorm = _load(Path(init_from), "best", venv, config)
        _fresh_start(model, config)
        log(f"{out_dir}: starting from {init_from}")
    else:
        vecnorm = VecNormalize(venv, gamma=config.ppo.get("gamma", 0.99), **config.normalize)
        model = _new_model(vecnorm, config)
    return model, vecnorm


def _check_run_dir(path: Path) -> None:
    """``init_from`` that is not an expert zip must be a run directory."""
    from baselines.experts.ppo_files import refuse_pickle

    refuse_pickle(path)
    if not path.is_dir():
        raise ValueError(
            f"init_from must be a run directory (its best checkpoint starts the run) or an "
            f"expert .zip, got {path}"
        )


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
    with _Folded(model, vecnorm) as folded:
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
        _save_checkpoint(out_dir, "best", model, vecnorm)


def _save_checkpoint(out_dir: Path, which: str, model, vecnorm) -> None:
    """The zip (tensors; an ordinary SB3 zip), then its JSON state, which names the zip's sha256."""
    from baselines.experts.ppo_files import write_state

    zip_path, state_path = checkpoint_paths(out_dir, which)
    atomic_write(zip_path, _sb3_save(model))
    write_state(state_path, model, vecnorm, zip_path)


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


def _checkpoint(out_dir: Path, model, vecnorm, state: dict[str, Any], rows: list) -> None:
    """SB3's ``CheckpointCallback`` step: progress.csv, the last checkpoint, then state.json
    (written last, so a state never names a checkpoint that is not on disk)."""
    _write_csv(out_dir / "progress.csv", rows)
    _save_checkpoint(out_dir, "last", model, vecnorm)
    write_json_atomic(out_dir / "state.json", state)


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


def drop_checkpoints(run_dir: str | Path) -> None:
    """Delete a finished run's resumable checkpoints, keeping best.zip, state and progress."""
    for which in CHECKPOINTS:
        for p in checkpoint_paths(run_dir, which):
            Path(p).unlink(missing_ok=True)


def copy_expert(run_dir: str | Path, dest: str | Path) -> Path:
    """Copy a run's expert (best.zip) to ``dest``."""
    src = Path(run_dir) / "best.zip"
    if not src.exists():
        raise FileNotFoundError(f"{src} missing: the run in {run_dir} has not evaluated yet")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(dest, lambda tmp: shutil.copyfile(src, tmp))
    return dest
