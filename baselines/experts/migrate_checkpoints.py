"""One-time migration: a training run's pickled checkpoints to the format that loads no code.

Before, a resumable checkpoint of the expert pipeline was ``last.zip`` + ``last_vecnormalize.pkl``
(and ``best_ckpt.zip`` + ``best_vecnormalize.pkl``), loaded with ``PPO.load`` and
``VecNormalize.load``, which unpickle. The pipeline now reads only the zip's tensors
(weights-only) and a JSON file beside it (:mod:`baselines.experts.ppo_files`), and refuses the
pickles. This command converts the runs under the given directories::

    python -m baselines.experts.migrate_checkpoints --trust-pickles expert_data/training

For every pickle it loads the checkpoint the old way (``VecNormalize.load`` + ``PPO.load``:
this one read of our own pickles *is* the migration, and the only place the project unpickles a
checkpoint; run it on runs you made yourself, never on a directory you were handed: without
``--trust-pickles`` it only lists what it would load, and loads nothing), writes the
JSON, loads the checkpoint the new way (:func:`baselines.experts.train._load`, what resuming and
fine-tuning do) and checks that both are the same -- tensors, optimizer state, normalisation
statistics, counters, and the deterministic actions on a batch of observations, bit for bit --
then deletes the pickle. A check that fails leaves the pickle and removes the JSON. The zips are
left as they are. No other module imports this one.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from baselines.experts.ppo_files import write_state
from baselines.experts.train import (
    LEGACY_PICKLES,
    TrainConfig,
    _load,
    checkpoint_paths,
    make_vec_env,
)
from metail_envs import ENV_ID
from metail_envs.tasks import Task

N_OBS = 2000
"""Observations the old and the new checkpoint act on: half from random-action rollouts on the
run's task, half drawn around the normalisation's mean."""


def pickles(roots: Sequence[Path]) -> list[tuple[Path, str]]:
    """(run directory, ``"last"`` / ``"best"``) of every legacy pickle under ``roots``."""
    found = []
    for root in roots:
        for which, name in LEGACY_PICKLES.items():
            found += [(p.parent, which) for p in Path(root).rglob(name)]
    return sorted(found)


def _run(run_dir: Path) -> tuple[list[Task], TrainConfig, bool]:
    path = run_dir / "state.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the run's config and tasks are needed")
    state = json.loads(path.read_text())
    return (
        [Task.from_json(t) for t in state["tasks"]],
        TrainConfig(**state["config"]),
        state["observe_context"],
    )


def _old_load(run_dir: Path, which: str, venv: Any) -> tuple[Any, Any]:
    """The checkpoint as the pipeline loaded it before (it unpickles: our own files only)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    vecnorm = VecNormalize.load(str(run_dir / LEGACY_PICKLES[which]), venv)
    vecnorm.training = True
    model = PPO.load(checkpoint_paths(run_dir, which)[0], env=vecnorm, device="cpu")
    return model, vecnorm


def _observations(tasks: list[Task], observe_context: bool, vecnorm: Any) -> np.ndarray:
    env = gym.make(ENV_ID, task=tasks[0], observe_context=observe_context)
    rng = np.random.default_rng(0)
    obs = [env.reset(seed=0)[0]]
    for i, a in enumerate(rng.uniform(-1, 1, (N_OBS // 2 - 1, env.action_space.shape[0]))):
        o, _, terminated, truncated, _ = env.step(a)
        obs.append(env.reset(seed=i + 1)[0] if terminated or truncated else o)
    obs = np.array(obs)
    if vecnorm.norm_obs:
        mean, std = vecnorm.obs_rms.mean, np.sqrt(vecnorm.obs_rms.var)
    else:
        mean, std = obs.mean(axis=0), obs.std(axis=0) + 1e-3
    return np.concatenate([obs, rng.normal(mean, 2 * std, (N_OBS - len(obs), len(mean)))])


def compare(old: tuple[Any, Any], new: tuple[Any, Any], obs: np.ndarray) -> dict[str, Any]:
    """What differs between two loaded (PPO, VecNormalize) pairs, and how many of the
    deterministic actions on ``obs`` are bit-identical."""
    import torch

    (m0, v0), (m1, v1) = old, new
    sd0, sd1 = m0.policy.state_dict(), m1.policy.state_dict()
    differs = [k for k in sd0 if k not in sd1 or not torch.equal(sd0[k], sd1[k])]
    opt0 = m0.policy.optimizer.state_dict()
    opt1 = m1.policy.optimizer.state_dict()
    if opt0["param_groups"] != opt1["param_groups"] or any(
        not torch.equal(opt0["state"][i][k], opt1["state"][i][k])
        for i in opt0["state"]
        for k in opt0["state"][i]
    ):
        differs.append("optimizer")
    for name in ("obs_rms", "ret_rms"):
        r0, r1 = getattr(v0, name, None), getattr(v1, name, None)
        if (
            (r0 is None) != (r1 is None)
            or r0 is not None
            and not (
                np.array_equal(r0.mean, r1.mean)
                and np.array_equal(r0.var, r1.var)
                and r0.count == r1.count
            )
        ):
            differs.append(name)
    settings = (
        "norm_obs",
        "norm_reward",
        "clip_obs",
        "clip_reward",
        "gamma",
        "epsilon",
        "training",
    )
    differs += [s for s in settings if getattr(v0, s) != getattr(v1, s)]
    counters = ("num_timesteps", "_episode_num", "_n_updates")
    differs += [c for c in counters if getattr(m0, c) != getattr(m1, c)]
    if list(m0.ep_info_buffer) != list(m1.ep_info_buffer):
        differs.append("ep_info_buffer")
    a0 = m0.predict(v0.normalize_obs(obs), deterministic=True)[0]
    a1 = m1.predict(v1.normalize_obs(obs), deterministic=True)[0]
    same = int((a0 == a1).all(axis=1).sum())
    return {"differs": differs, "identical_actions": same, "n_obs": len(obs)}


def migrate(run_dir: Path, which: str, keep: bool = False) -> dict[str, Any]:
    """Convert one checkpoint's pickle to JSON, check the new load against the old, delete the
    pickle (unless ``keep``). Raises if anything differs."""
    tasks, config, observe_context = _run(run_dir)
    zip_path, state_path = checkpoint_paths(run_dir, which)
    pickle_path = run_dir / LEGACY_PICKLES[which]

    def venv() -> Any:
        return make_vec_env(tasks, config.n_envs, config.seed, observe_context, config.fall_penalty)

    old = _old_load(run_dir, which, venv())
    write_state(state_path, *old, zip_path)
    try:
        new = _load(run_dir, which, venv(), config)
        report = compare(old, new, _observations(tasks, observe_context, old[1]))
        if report["differs"] or report["identical_actions"] != report["n_obs"]:
            raise RuntimeError(f"{pickle_path}: the new load differs from the old: {report}")
    except BaseException:
        state_path.unlink(missing_ok=True)
        raise
    if not keep:
        pickle_path.unlink()
    return {"pickle": str(pickle_path), "json": str(state_path), **report}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m baselines.experts.migrate_checkpoints DIR [DIR ...]``."""
    p = argparse.ArgumentParser(
        prog="python -m baselines.experts.migrate_checkpoints",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dirs", nargs="+", type=Path, help="training directories (searched recursively)")
    p.add_argument("--keep", action="store_true", help="keep the pickles after converting them")
    p.add_argument(
        "--trust-pickles",
        action="store_true",
        help="load (unpickle) them: only runs you made yourself (a pickle runs the code it holds)",
    )
    a = p.parse_args(argv)
    found = pickles(a.dirs)
    if not found:
        print("no pickled checkpoint found")
    elif not a.trust_pickles:
        for run_dir, which in found:
            print(run_dir / LEGACY_PICKLES[which])
        print(
            "loading these unpickles them (a pickle runs whatever code it holds): pass "
            "--trust-pickles only if you made these runs yourself; nothing was loaded",
            file=sys.stderr,
        )
        return 2
    for run_dir, which in found:
        r = migrate(run_dir, which, a.keep)
        print(
            f"{r['pickle']} -> {r['json']}: tensors, optimizer, statistics and counters "
            f"identical; {r['identical_actions']}/{r['n_obs']} deterministic actions bit-identical"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
