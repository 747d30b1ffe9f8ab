"""Helpers of the benchmark tests: a tiny real expert-data directory and a tiny protocol.

The data directory has the experts' layout (``manifest.json``, tensor-only experts, demonstrations
in imitation's format, written by the pipeline's ``save_demos``), read by the real
``metail_envs.data``; its
references are measured rollouts, so normalised scores mean what they mean in the benchmark.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import metail_envs
from metail_envs.benchmark import AgentSpec, ProtocolConfig

HERE = Path(__file__).parent
if str(HERE) not in sys.path:  # makes metail_test_agents importable here and in worker processes
    sys.path.insert(0, str(HERE))
MAX_STEPS = 40
EPISODES = 3
N_DEMOS = 2
SLOW = "metail_test_agents:SlowAgent"
TINY_AGENTS = [
    AgentSpec("metail_test_agents:MeanActionAgent", {"scale": 0.5}, name="mean"),
    "expert",
    "metail_test_agents:RaisingAgent",
    "random",
]
"""The agents of the shared tiny run: honest, privileged, failing, random."""


def rollout(task, seed: int, policy, max_steps: int = MAX_STEPS):
    from metail_envs.trajectory import make_trajectory

    env = gym.make(metail_envs.ENV_ID, task=task, max_episode_steps=max_steps)
    obs, _ = env.reset(seed=seed)
    all_obs, acts, rews = [obs], [], []
    done = False
    while not done:
        a = np.asarray(policy(obs), dtype=np.float32)
        obs, r, term, trunc, _ = env.step(a)
        all_obs.append(obs)
        acts.append(a)
        rews.append(r)
        done = term or trunc
    env.close()
    return make_trajectory(
        obs=np.array(all_obs), acts=np.array(acts), infos=None, terminal=bool(term),
        rews=np.array(rews, dtype=np.float64),
    )  # fmt: skip


def _expert_returns(model, task, seeds) -> list[float]:
    def act(obs):
        return model.predict(obs[None], deterministic=True)[0][0]

    return [float(rollout(task, s, act).rews.sum()) for s in seeds]


def write_tiny_data(root: Path, n_demos: int = N_DEMOS) -> Path:
    """Write the experts' layout (as ``metail_envs.data`` reads it) for the whole suite.

    The 2 training and 2 evaluation tasks of :func:`tiny_config` get their own demonstrations
    (a scripted policy) and measured references: the "expert" is one small untrained SB3 PPO
    (deterministic), the random reference uniform actions, both on the evaluation reset seeds.
    Every other task shares one demonstration set and placeholder references.
    """
    from metail_test_agents import scripted_action
    from stable_baselines3 import PPO

    from baselines.experts.convert import write_plain
    from baselines.experts.demos import save_demos
    from metail_envs.data import DATA_FORMAT, sha256_path, task_key

    suite = metail_envs.load_suite("hopper-v1")
    config = tiny_config()
    seeds = config.reset_seeds()
    env = gym.make(metail_envs.ENV_ID, task=suite.nominal)
    model = PPO("MlpPolicy", env, policy_kwargs={"net_arch": [8]}, seed=0, device="cpu")
    arch = write_plain(model, root / "experts" / "tiny.pt")  # the shipped, tensor-only format
    expert = {
        "file": "experts/tiny.pt",
        "sha256": sha256_path(root / "experts/tiny.pt"),
        "arch": arch,
    }
    rng = np.random.default_rng(0)

    def demos(task, rel):
        trajs = [rollout(task, i, scripted_action) for i in range(n_demos)]
        save_demos(root / rel, trajs)
        return {"file": rel, "sha256": sha256_path(root / rel), "n": n_demos,
                "returns": [float(t.rews.sum()) for t in trajs],
                "lengths": [len(t.acts) for t in trajs], "seeds": list(range(n_demos))}  # fmt: skip

    shared = demos(suite.nominal, "demos/shared")
    used = set(config.tasks) | set(config.train_tasks)
    manifest = {
        "format": DATA_FORMAT,
        "suite": suite.name,
        "suite_sha256": suite.sha256,
        "rule": {"time_limit": MAX_STEPS},  # the horizon its references are measured at
        "tasks": {},
    }
    for task in suite.tasks:
        entry = {
            "demos": shared,
            "expert": {**expert, "mean_return": 1.0, "std_return": 0.0},
            "random": {"mean_return": 0.0, "std_return": 0.0},
        }
        if task.id in used:
            entry["demos"] = demos(task, f"demos/{task_key(task.id)}")
        if task.id in config.tasks:
            exp = _expert_returns(model, task, seeds)
            rand = [
                float(rollout(task, s, lambda o: rng.uniform(-1, 1, 3)).rews.sum()) for s in seeds
            ]
            entry["expert"].update(mean_return=float(np.mean(exp)), std_return=float(np.std(exp)))
            entry["random"] = {
                "mean_return": float(np.mean(rand)),
                "std_return": float(np.std(rand)),
            }
        manifest["tasks"][task.id] = entry
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return root


def tiny_config(**overrides) -> ProtocolConfig:
    """The tiny evaluation of these tests: the full track only unless ``tracks`` says more."""
    suite = metail_envs.load_suite("hopper-v1")
    kw = dict(
        k_values=(0, 1),
        tracks=("full",),
        short_k_values=(1,),
        short_window=10,
        episodes=EPISODES,
        max_steps=MAX_STEPS,
        tasks=(suite.test[0].id, suite.ood[0].id),
        train_tasks=(suite.train[0].id, suite.train[1].id),
        adapt_cap_s=20.0,
        act_cap_s=5.0,
        meta_train_cap_s=60.0,
    )
    kw.update(overrides)
    return ProtocolConfig(**kw)


def make_entry_point_dist(root: Path) -> Path:
    """An installed distribution (a dist-info on sys.path) registering two ``metail.agents``."""
    dist = root / "metail_ep_test-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: metail-ep-test\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[metail.agents]\n"
        "mean-ep = metail_test_agents:MeanActionAgent\n"
        "broken-ep = metail_ep_broken:Agent\n"
    )
    (root / "metail_ep_broken.py").write_text("raise ImportError('must never be imported')\n")
    return root


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def numbers(doc: dict) -> dict:
    """What must be identical between an interrupted-and-resumed run and an uninterrupted one,
    or between two executors."""
    return {
        (j["split"], j["task"], j["track"], j["k"]): (
            j["status"], j["returns"], j["lengths"], j["score"], j["job_seed"], j["demos"]
        )
        for j in doc["jobs"]
    }  # fmt: skip


def start_slow_run(out: Path, data_dir: Path, **kwargs) -> subprocess.Popen:
    """``evaluate`` of :data:`SLOW` (2 seeds, the tiny config, one worker unless ``kwargs``
    say otherwise) in a process group of its own, to be killed mid-run."""
    args = {"workers": 1, **kwargs}
    code = (
        "from tinybench import tiny_config; from metail_envs.benchmark import evaluate; "
        f"evaluate([{SLOW!r}], out={str(out)!r}, seeds=2, config=tiny_config(), "
        f"data_dir={str(data_dir)!r}, progress=False, **{args!r})"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]))
    return subprocess.Popen(
        [sys.executable, "-W", "ignore", "-c", code], env=env, start_new_session=True
    )


def kill_after_first_job(proc: subprocess.Popen, out: Path, timeout: float = 120) -> int:
    """SIGKILL the run's process group once a first job is written; the jobs written by then."""
    first = out / "results" / "metail_test_agents_SlowAgent" / "seed_000.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if first.exists() and load(first)["jobs"]:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its local workers, mid-run
    proc.wait()
    return sum(len(load(p)["jobs"]) for p in (out / "results").rglob("*.json"))
