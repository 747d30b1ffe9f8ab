"""Demonstrations by the v3 demonstrator: one context-conditioned policy for any task.

:class:`DemonstratorPolicy` is the benchmark's ``Policy`` for one task: it appends the task's
true normalised parameters to each raw observation (as ``observe_context=True`` would) and acts
deterministically, so it runs in the benchmark's own evaluation on plain environments.
:func:`record_demos` rolls it on many tasks at once (one episode per (task, seed), all stepped
together) and returns the episodes as demonstrations on raw observations, falls included: what
the demonstrator does is what it demonstrates.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from baselines.experts.checkpoints import folded_checkpoint
from baselines.experts.layout import demonstrator_dir
from baselines.experts.train_config import TrainConfig
from metail_envs import ENV_ID
from metail_envs.benchmark.protocol import MAX_STEPS
from metail_envs.manifest import REPO_DATA_DIR
from metail_envs.params import context_of
from metail_envs.tasks import Task
from metail_envs.trajectory import make_trajectory

DEMONSTRATOR = demonstrator_dir(REPO_DATA_DIR)
"""The frozen v3 demonstrator: a run directory's best checkpoint (tensors only, read
weights-only) with its state.json."""


def demonstrator_info(run_dir: str | Path = DEMONSTRATOR) -> dict[str, Any]:
    """What identifies the demonstrator a result was measured with: its checkpoint's sha256
    and training steps (for result files' provenance)."""
    from metail_envs.manifest import sha256_path

    run_dir = Path(run_dir)
    steps = json.loads((run_dir / "best_ckpt.json").read_text())["num_timesteps"]
    return {"sha256": sha256_path(run_dir / "best_ckpt.zip"), "steps": steps}


def load_demonstrator(run_dir: str | Path, which: str = "best", config: str = "demonstrator-e"):
    """The demonstrator run's ``which`` checkpoint as an SB3 PPO on (raw observation, context),
    normalisation folded in (tensors read weights-only)."""
    import warnings

    with warnings.catch_warnings():  # SB3 warns of its batch size against the one-env shell
        warnings.filterwarnings("ignore", message="You have specified a mini-batch size")
        return folded_checkpoint(run_dir, which, TrainConfig.load(config), Task(id="nominal"))


@functools.lru_cache(maxsize=4)
def data_demonstrator(data_dir: str | Path) -> Any:
    """The frozen demonstrator of a data directory (:func:`demonstrator_dir`), loaded once per
    process and directory: what the data stage records with and the reference agent plays."""
    return load_demonstrator(demonstrator_dir(Path(data_dir)))


class DemonstratorPolicy:
    """Deterministic actions of the demonstrator on ``task`` (its context appended)."""

    def __init__(self, model: Any, task: Task) -> None:
        self.model = model
        self.context = context_of(task.params)

    def act(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32)
        x = np.concatenate([obs, np.broadcast_to(self.context, (len(obs), len(self.context)))], 1)
        with torch.inference_mode():
            actions, _ = self.model.policy.predict(x, deterministic=True)
        return np.asarray(actions, dtype=np.float64)


def record_demos(
    model: Any,
    tasks: Sequence[Task],
    seeds: Sequence[int],
    batch: int = 64,
    progress: bool = True,
) -> list[Any]:
    """One demonstration per ``(tasks[i], seeds[i])``: obs, actions, rewards as float32;
    ``infos[-1]`` holds ``task_id``, ``seed``, ``terminated`` and ``truncated``."""
    if len(tasks) != len(seeds):
        raise ValueError(f"got {len(tasks)} tasks but {len(seeds)} seeds")
    out: list[Any] = []
    with tqdm(total=len(tasks), desc="demonstrations", disable=not progress) as bar:
        for lo in range(0, len(tasks), batch):
            out += _record_batch(model, tasks[lo : lo + batch], seeds[lo : lo + batch])
            bar.update(min(batch, len(tasks) - lo))
    return out


def _record_batch(model: Any, tasks: Sequence[Task], seeds: Sequence[int]) -> list[Any]:
    envs = [gym.make(ENV_ID, task=t, max_episode_steps=MAX_STEPS) for t in tasks]
    contexts = np.stack([context_of(t.params) for t in tasks])
    obs = [[env.reset(seed=int(s))[0]] for env, s in zip(envs, seeds, strict=True)]
    acts: list[list] = [[] for _ in envs]
    rews: list[list] = [[] for _ in envs]
    ends: list[dict[str, Any]] = [{} for _ in envs]
    active = list(range(len(envs)))
    while active:
        x = np.concatenate([np.stack([obs[i][-1] for i in active]), contexts[active]], 1)
        with torch.inference_mode():
            actions, _ = model.policy.predict(x.astype(np.float32), deterministic=True)
        still = []
        for a, i in zip(actions, active, strict=True):
            o, r, terminated, truncated, _ = envs[i].step(a)
            obs[i].append(o)
            acts[i].append(a)
            rews[i].append(r)
            if terminated or truncated:
                ends[i] = {"terminated": bool(terminated), "truncated": bool(truncated)}
            else:
                still.append(i)
        active = still
    for env in envs:
        env.close()
    return [
        make_trajectory(
            np.asarray(obs[i], dtype=np.float32),
            np.asarray(acts[i], dtype=np.float32),
            _infos(len(acts[i]), {"task_id": tasks[i].id, "seed": int(seeds[i]), **ends[i]}),
            True,
            np.asarray(rews[i], dtype=np.float32),
        )
        for i in range(len(envs))
    ]


def _infos(n: int, last: dict[str, Any]) -> np.ndarray:
    """Per-transition infos as the shipped demonstrations carry them: empty, the last one
    saying which task and reset seed the episode is, and how it ended."""
    infos = np.empty(n, dtype=object)
    infos[:] = [{} for _ in range(n)]
    infos[-1] = last
    return infos
