"""The files of a PPO run: its checkpoints saved, loaded and exported, its progress table.

One run lives in one directory::

    state.json              config, task(s), steps done, best evaluation, wall time, done flag
    progress.csv            one row per checkpoint: steps, wall time, evaluation, training return
    last.zip, last.json     the latest checkpoint: PPO tensors (policy, optimizer) + the rest
    best_ckpt.zip, best_ckpt.json          the best evaluated checkpoint, resumable / fine-tunable
    best.zip                the best evaluated policy with VecNormalize folded in: the expert

A checkpoint is an ordinary SB3 zip, of which only the tensors are read (weights-only), and a JSON
file with VecNormalize's statistics and the step counters (:mod:`baselines.experts.ppo_files`):
loading one runs no code from it. The model is rebuilt from the run's config.

The expert (``best.zip``) is the policy with VecNormalize's normalisation folded into its first
layers (:func:`folded_state_dict`), acting on raw observations.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baselines.experts.train_config import TrainConfig
from baselines.experts.wrappers import make_vec_env
from metail_envs.fileio import atomic_write, write_json_atomic
from metail_envs.tasks import Task

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


class Folded:
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
    with Folded(model, vecnorm):
        atomic_write(path, _sb3_save(model))
    return path


# --- checkpoint files ----------------------------------------------------------------------


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


def load_checkpoint(run_dir: Path, which: str, venv, config: TrainConfig):
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
    model = new_model(vecnorm, config)
    load_tensors(model, contents)
    restore_counters(model, state)
    return model, vecnorm


def folded_checkpoint(run_dir: str | Path, which: str, config: TrainConfig, task: Task):
    """A run's checkpoint as a PPO acting on raw observations (normalisation folded in):
    what :func:`export_expert` would ship, for scoring a run while it trains."""
    observe_context = json.loads((Path(run_dir) / "state.json").read_text())["observe_context"]
    venv = make_vec_env([task], 1, config.seed, observe_context)
    model, vecnorm = load_checkpoint(Path(run_dir), which, venv, config)
    model.policy.load_state_dict(folded_state_dict(model, vecnorm))
    return model


def new_model(vecnorm, config: TrainConfig):
    """A PPO as the config describes it, on ``vecnorm`` (fresh weights)."""
    from stable_baselines3 import PPO

    return PPO("MlpPolicy", vecnorm, seed=config.seed, device="cpu", **config.ppo_kwargs())


def load_expert_zip(path: Path, venv, config: TrainConfig):
    """An expert file (an SB3 zip, normalisation folded in) as a PPO on raw observations: built
    from ``config``, with the zip's policy and optimizer tensors (read weights-only). Rewards
    are still normalised (fresh statistics), as its critic was trained on normalised returns."""
    from stable_baselines3.common.vec_env import VecNormalize

    from baselines.experts.ppo_files import check_policy, load_tensors, read_zip

    contents = read_zip(path, optimizer=True)
    check_policy(contents, config.ppo_kwargs()["policy_kwargs"])
    vecnorm = VecNormalize(venv, gamma=config.ppo.get("gamma", 0.99), norm_obs=False)
    model = new_model(vecnorm, config)
    load_tensors(model, contents)
    fresh_start(model, config)
    return model, vecnorm


def fresh_start(model, config: TrainConfig) -> None:
    """A fine-tune starts at step 0, its exploration reset, logging its own episodes only."""
    from collections import deque

    model.num_timesteps, model._episode_num = 0, 0
    model.ep_info_buffer = deque(maxlen=model._stats_window_size)
    model.ep_success_buffer = deque(maxlen=model._stats_window_size)
    reset_log_std(model, config.init_log_std)


def reset_log_std(model, init_log_std: float | None) -> None:
    """Fine-tuning: let a converged policy explore again (its deterministic actions unchanged)."""
    import torch

    if init_log_std is not None:
        with torch.no_grad():
            model.policy.log_std.fill_(init_log_std)


def check_run_dir(path: Path) -> None:
    """``init_from`` that is not an expert zip must be a run directory."""
    from baselines.experts.ppo_files import refuse_pickle

    refuse_pickle(path)
    if not path.is_dir():
        raise ValueError(
            f"init_from must be a run directory (its best checkpoint starts the run) or an "
            f"expert .zip, got {path}"
        )


def save_checkpoint(out_dir: Path, which: str, model, vecnorm) -> None:
    """The zip (tensors; an ordinary SB3 zip), then its JSON state, which names the zip's sha256."""
    from baselines.experts.ppo_files import write_state

    zip_path, state_path = checkpoint_paths(out_dir, which)
    atomic_write(zip_path, _sb3_save(model))
    write_state(state_path, model, vecnorm, zip_path)


def write_checkpoint(out_dir: Path, model, vecnorm, state: dict[str, Any], rows: list) -> None:
    """SB3's ``CheckpointCallback`` step: progress.csv, the last checkpoint, then state.json
    (written last, so a state never names a checkpoint that is not on disk)."""
    write_progress(out_dir / "progress.csv", rows)
    save_checkpoint(out_dir, "last", model, vecnorm)
    write_json_atomic(out_dir / "state.json", state)


def read_progress(path: Path) -> list[dict[str, str]]:
    """The rows of a run's progress.csv (none before its first checkpoint)."""
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def write_progress(path: Path, rows: list[dict[str, Any]]) -> None:
    """A run's progress.csv, one row per checkpoint (:data:`CSV_FIELDS`), written atomically."""

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, CSV_FIELDS)
            w.writeheader()
            w.writerows(rows)

    atomic_write(path, write)


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
