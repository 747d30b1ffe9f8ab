"""Export a task's shipped demonstrations to a Minari dataset, for offline-RL tooling.

Needs ``pip install "metail[experts]"`` (minari; checked with minari 0.5.4 and gymnasium
0.29.1; the arrow storage format, so neither h5py nor jax is needed). Per-step termination and
truncation come from ``infos[-1]`` of each demonstration (imitation marks every trajectory
terminal).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from metail_envs.data import load_demos, load_references, resolve_task
from metail_envs.tasks import Task


def default_dataset_id(task_id: str) -> str:
    """``hopper-v1/test/03`` -> ``metail/hopper-v1-test-03/expert-v0``."""
    return f"metail/{task_id.replace('/', '-')}/expert-v0"


def export_minari(
    task: str,
    dataset_id: str | None = None,
    data_dir: str | Path | None = None,
    minari_root: str | Path | None = None,
):
    """Write the task's fixed demonstrations as a Minari dataset; returns the MinariDataset.

    ``minari_root`` sets ``MINARI_DATASETS_PATH`` (default: Minari's own, ``~/.minari``).
    """
    minari, episode_buffer = _import_minari()
    import gymnasium as gym

    from metail_envs import ENV_ID

    suite, t = resolve_task(task)
    if minari_root is not None:
        os.environ["MINARI_DATASETS_PATH"] = str(minari_root)
    demos = load_demos(t, data_dir=data_dir)
    buffers = [_episode(episode_buffer, i, d) for i, d in enumerate(demos)]
    ref = load_references_for(t.id, suite.name, data_dir)
    env = gym.make(ENV_ID, **t.params)  # plain keywords: Minari can recover the env from its spec
    return minari.create_dataset_from_buffers(
        dataset_id=dataset_id or default_dataset_id(t.id),
        buffer=buffers,
        env=env.spec,
        eval_env=env.spec,
        ref_min_score=ref["random_mean"] if ref else None,
        ref_max_score=ref["expert_mean"] if ref else None,
        **_provenance(t),
    )


def _provenance(task: Task) -> dict[str, Any]:
    """What a dataset says about itself: the task, the experts that acted, the code, the storage
    format (a fresh dict, so nothing one export passes to Minari is shared with the next)."""
    return {
        "algorithm_name": "SB3 PPO expert (metail baselines/experts), deterministic actions",
        "code_permalink": "https://github.com/metail/metail/tree/main/baselines/experts",
        "author": "metail",
        "author_email": "metail@example.org",
        "description": f"Expert demonstrations of metail task {task.id}: {task.params}",
        "data_format": "arrow",
        "requirements": ["metail"],
    }


def _import_minari() -> tuple[Any, type]:
    """``minari`` and its ``EpisodeBuffer``, or an ImportError naming the extra to install."""
    try:
        import minari
        from minari.data_collector import EpisodeBuffer
    except ImportError as e:
        raise ImportError(
            f'the Minari export needs minari (>=0.5): pip install "metail[experts]" ({e})'
        ) from e
    return minari, EpisodeBuffer


def _episode(episode_buffer: type, index: int, demo: Any) -> Any:
    """One demonstration as a Minari ``EpisodeBuffer``: the episode ends (terminated or
    truncated, from ``infos[-1]``) at its last step only."""
    end = demo.infos[-1]
    n = len(demo.acts)
    term = np.zeros(n, dtype=bool)
    trunc = np.zeros(n, dtype=bool)
    term[-1], trunc[-1] = bool(end["terminated"]), bool(end["truncated"])
    return episode_buffer(
        id=index,
        seed=int(end["seed"]),
        observations=np.asarray(demo.obs, dtype=np.float64),
        actions=np.asarray(demo.acts, dtype=np.float32),
        rewards=list(map(float, demo.rews)),
        terminations=term.tolist(),
        truncations=trunc.tolist(),
        infos={},
    )


def load_references_for(task_id: str, suite: str, data_dir: str | Path | None) -> dict | None:
    """The task's references from the manifest (``None`` when the suite is incomplete)."""
    from metail_envs.data import DataError, load_manifest

    try:
        return load_references(suite, data_dir)[task_id]
    except DataError:
        entry = load_manifest(data_dir).get("tasks", {}).get(task_id)
        if entry is None:
            return None
        return {
            "expert_mean": entry["expert"]["mean_return"],
            "random_mean": entry["random"]["mean_return"],
        }
