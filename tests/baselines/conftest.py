"""Tiny real data for the baseline tests: scripted demonstrations on real Hopper variants.

Demonstrations come from a fixed linear controller on 2 training tasks and 1 test task of
``hopper-v1`` (50-step episodes), written in imitation's format by the pipeline's
``save_demos`` and read back with ``metail_envs.data.read_demos`` (imitation not needed). ``tiny_data_dir`` lays them out as ``metail_envs.data`` reads them, for
the end-to-end test through ``metail_envs.benchmark.evaluate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import metail_envs

torch.set_num_threads(1)
MAX_STEPS = 50
N_DEMOS = 3
N_TRAIN = 2
GAIN = np.array([[0.0] * 8 + [-0.3, 0.0, 0.0], [0.0] * 9 + [-0.3, 0.0], [0.0] * 10 + [-0.3]])
"""The scripted demonstrator: damp the three joint velocities (keeps the hopper up a while)."""


def scripted(obs: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, 0.05, 3)
    return np.clip(GAIN @ obs + noise, -1.0, 1.0).astype(np.float32)


def rollout(task, seed: int):
    from metail_envs.trajectory import make_trajectory

    env = gym.make(metail_envs.ENV_ID, task=task, max_episode_steps=MAX_STEPS)
    obs, _ = env.reset(seed=seed)
    all_obs, acts, rews, done, t = [obs], [], [], False, 0
    while not done:
        a = scripted(obs, seed * 1000 + t)
        obs, r, terminated, truncated, _ = env.step(a)
        all_obs.append(obs), acts.append(a), rews.append(r)
        done, t = terminated or truncated, t + 1
    env.close()
    return make_trajectory(
        obs=np.array(all_obs, dtype=np.float32), acts=np.array(acts), infos=None,
        terminal=True, rews=np.array(rews, dtype=np.float64),
    )  # fmt: skip


def save_load(trajs, path: Path) -> list:
    from baselines.experts.demos import save_demos
    from metail_envs.data import read_demos

    save_demos(path, trajs)
    return read_demos(path)


@pytest.fixture(scope="session")
def suite():
    return metail_envs.load_suite("hopper-v1")


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory, suite) -> Path:
    """Every demonstration set the tests use, saved in imitation's format."""
    root = tmp_path_factory.mktemp("demos")
    for task in [*suite.train[:N_TRAIN], suite.test[0], suite.nominal]:
        save_load([rollout(task, s) for s in range(N_DEMOS)], root / task.id.replace("/", "__"))
    return root


def _read(demo_dir: Path, task) -> list:
    from metail_envs.data import read_demos

    return read_demos(demo_dir / task.id.replace("/", "__"))


@pytest.fixture(scope="session")
def train_demos(demo_dir, suite) -> dict[str, list]:
    """``{train task id: demonstrations}`` as ``meta_train`` receives them."""
    return {t.id: _read(demo_dir, t) for t in suite.train[:N_TRAIN]}


@pytest.fixture(scope="session")
def test_demos(demo_dir, suite) -> list:
    """Demonstrations of an unseen (test-split) task, for ``adapt``."""
    return _read(demo_dir, suite.test[0])


@pytest.fixture(scope="session")
def tiny_data_dir(demo_dir, suite, tmp_path_factory) -> Path:
    """The demonstrations in the expert-data layout (manifest + sha256) that
    ``metail_envs.data`` checks; references are placeholders (expert 100, random 0)."""
    import shutil

    from metail_envs import data
    from metail_envs.data import sha256_path, task_key

    root = tmp_path_factory.mktemp("expert_data")
    used = {t.id for t in [*suite.train[:N_TRAIN], suite.test[0]]}
    manifest = {"suite": suite.name, "suite_sha256": suite.sha256, "tasks": {}}
    if hasattr(data, "DATA_FORMAT"):  # manifests carry their data format (2 and later)
        manifest["format"] = data.DATA_FORMAT
    for task in suite.tasks:
        source = task if task.id in used else suite.nominal
        rel = f"demos/{task_key(source.id)}"
        if not (root / rel).exists():
            shutil.copytree(demo_dir / source.id.replace("/", "__"), root / rel)
        manifest["tasks"][task.id] = {
            "demos": {"file": rel, "sha256": sha256_path(root / rel), "n": N_DEMOS},
            "expert": {"mean_return": 100.0, "std_return": 0.0},
            "random": {"mean_return": 0.0, "std_return": 0.0},
        }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root
