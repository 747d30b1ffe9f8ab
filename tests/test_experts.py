"""The expert training pipeline, on tiny real runs: PPO through the real CLI, checkpoints, resume
after an interruption, the best checkpoint kept, normalisation folded into the saved policy."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from envtools import TINY_PPO

from metail_envs import ENV_ID, load_suite
from metail_envs.cli import main

TINY = TINY_PPO


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "progress.csv").open() as f:
        return list(csv.DictReader(f))


def test_cli_trains_checkpoints_and_resumes(tiny_config: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [
        "train-expert",
        "--task",
        "hopper-v1/test/00",
        "--config",
        str(tiny_config),
        "--out",
        str(run),
        "--no-progress",
        "--steps",
        "1024",
        "--checkpoint-every",
        "512",
    ]
    assert main(args) == 0
    state = json.loads((run / "state.json").read_text())
    assert state["done"] and state["steps"] == 1024
    assert [int(r["steps"]) for r in _rows(run)] == [512, 1024]
    for name in ("best.zip", "best_ckpt.zip", "best_ckpt.json", "last.zip", "last.json"):
        assert (run / name).stat().st_size > 1000, name
    assert not list(run.glob("*.pkl"))  # no pickle: the checkpoints load no code
    # the same directory without --resume is refused rather than overwritten
    assert main(args) == 2
    # --resume with more steps continues from the last checkpoint, not from scratch
    assert main([*args, "--steps", "2048", "--resume"]) == 0  # the last --steps wins
    assert [int(r["steps"]) for r in _rows(run)] == [512, 1024, 1536, 2048]
    state = json.loads((run / "state.json").read_text())
    best = max(float(r["eval_mean"]) for r in _rows(run))
    assert state["best_mean"] == pytest.approx(best, abs=0.06)


def test_resume_after_interruption(tiny_config: Path, tmp_path: Path) -> None:
    from baselines.experts.train import train
    from baselines.experts.train_config import TrainConfig

    task = load_suite("hopper-v1").nominal
    config = TrainConfig.load(tiny_config)
    lines: list[str] = []

    def interrupt_after_two(line: str) -> None:
        lines.append(line)
        if len(lines) == 2:
            raise KeyboardInterrupt  # killed right after the second checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(task, config, tmp_path, progress=False, log=interrupt_after_two)
    assert json.loads((tmp_path / "state.json").read_text())["steps"] == 512
    result = train(task, config, tmp_path, resume=True, progress=False, log=lines.append)
    assert "resuming at step 512" in lines[2]
    assert result.steps == 1024 and result.done
    assert [int(r["steps"]) for r in _rows(tmp_path)] == [256, 512, 768, 1024]


def test_resume_refuses_a_changed_observe_context(tiny_config: Path, tmp_path: Path) -> None:
    """A run trained without the context cannot be resumed with it (its network's input differs)."""
    from baselines.experts.train import train
    from baselines.experts.train_config import TrainConfig

    task = load_suite("hopper-v1").nominal
    config = TrainConfig.load(tiny_config, total_steps=256)
    train(task, config, tmp_path, progress=False, log=lambda _: None)
    with pytest.raises(ValueError, match="observe_context=True: the run .* observe_context=False"):
        train(task, config, tmp_path, resume=True, observe_context=True, progress=False)


def test_folded_policy_acts_on_raw_observations(tiny_config: Path, tmp_path: Path) -> None:
    """The saved expert (normalisation folded in) acts like the VecNormalize-wrapped policy."""
    from stable_baselines3 import PPO

    from baselines.experts.checkpoints import load_checkpoint
    from baselines.experts.train import train
    from baselines.experts.train_config import TrainConfig
    from baselines.experts.wrappers import make_vec_env

    config = TrainConfig.load(tiny_config, total_steps=512)
    train(load_suite("hopper-v1").test[0], config, tmp_path, progress=False, log=lambda _: None)
    venv = make_vec_env([load_suite().nominal], 1, 0)
    model, vecnorm = load_checkpoint(tmp_path, "best", venv, config)
    vecnorm.training = False
    expert = PPO.load(tmp_path / "best.zip", device="cpu")
    env = gym.make(ENV_ID)
    obs = [env.reset(seed=0)[0]]
    for a in np.random.default_rng(0).uniform(-1, 1, (30, 3)):
        obs.append(env.step(a)[0])
    obs = np.array(obs)
    # the fold is exact where VecNormalize does not clip (|normalised obs| < clip_obs)
    obs = obs[(np.abs(vecnorm.normalize_obs(obs)) < vecnorm.clip_obs).all(axis=1)]
    assert len(obs) >= 5
    want, _ = model.predict(vecnorm.normalize_obs(obs), deterministic=True)
    got, _ = expert.predict(obs, deterministic=True)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_saved_expert_reaches_its_recorded_return_in_a_fresh_process(
    tiny_config: Path, tmp_path: Path
) -> None:
    from baselines.experts.train import train
    from baselines.experts.train_config import TrainConfig

    r = train(
        load_suite("hopper-v1").test[1],
        TrainConfig.load(tiny_config, total_steps=512),
        tmp_path,
        progress=False,
        log=lambda _: None,
    )
    code = (
        "import sys; from stable_baselines3 import PPO; from metail_envs import load_suite; "
        "from baselines.experts.evaluate import evaluate_policy; from baselines.experts.rules import SELECT_SEED; "
        f"m = PPO.load({str(r.expert_path)!r}, device='cpu'); "
        "print(evaluate_policy(m, load_suite().test[1], 2, SELECT_SEED)[0].mean())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout.split()[-1]) == pytest.approx(r.best_mean, rel=1e-6)


def test_config_errors_name_the_problem(tmp_path: Path) -> None:
    from baselines.experts.train_config import TrainConfig

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**TINY, "learning_rat": 1}))
    with pytest.raises(ValueError, match="learning_rat"):
        TrainConfig.load(bad)
    with pytest.raises(FileNotFoundError, match="nope"):
        TrainConfig.load(tmp_path / "nope.json")
    with pytest.raises(ValueError, match="total_steps"):
        TrainConfig(ppo={}, total_steps=0)


def test_shipped_configs_load() -> None:
    from baselines.experts.train_config import TrainConfig, available

    assert {"ppo_default", "finetune", "demonstrator", "demonstrator-b"} <= set(available())
    for name in available():
        config = TrainConfig.load(name)
        kw = config.ppo_kwargs()
        assert kw["n_steps"] * config.n_envs in (2048, 8192) and "policy_kwargs" in kw


def test_decay_steps_must_be_a_positive_int() -> None:
    from baselines.experts.train_config import TrainConfig

    assert TrainConfig(ppo={}, decay_steps=8).decay_steps == 8
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="decay_steps must be None or a positive int"):
            TrainConfig(ppo={}, decay_steps=bad)


def test_stopping_rules() -> None:
    from baselines.experts.train import _finished
    from baselines.experts.train_config import TrainConfig

    c = TrainConfig(
        ppo={},
        total_steps=1000,
        min_steps=200,
        target_return=3000.0,
        checkpoint_every=100,
        patience=3,
    )
    s = {"steps": 100, "best_mean": 3500.0, "best_steps": 100}
    assert not _finished(s, c)  # the target counts only after min_steps
    assert _finished({**s, "steps": 200}, c)
    assert not _finished({"steps": 400, "best_mean": 900.0, "best_steps": 200}, c)
    assert _finished({"steps": 500, "best_mean": 900.0, "best_steps": 200}, c)  # patience
    assert _finished({"steps": 1000, "best_mean": 0.0, "best_steps": 1000}, c)


def test_shipped_retry_plan_loads() -> None:
    from baselines.experts.retry import RetryPlan

    plan = RetryPlan.load()
    assert plan.choice_episodes >= 20 and len({a.name for a in plan.attempts}) == len(plan.attempts)
    for index in (0, 5):
        configs = [a.train_config(index) for a in plan.attempts]
        assert len({c.seed for c in configs}) == len(configs)  # every attempt its own seed


def test_shipped_format_round_trips_and_refuses_what_it_cannot_hold(tmp_path: Path) -> None:
    """SB3 policy -> tensor-only file + JSON architecture -> the same actions (a linear and a
    two-layer ReLU policy); byte-for-byte reproducible; anything unplain refused by name."""
    import torch
    from stable_baselines3 import PPO

    from baselines.experts.convert import plain_to_sb3, write_plain
    from metail_envs.expert_policy import ExpertFormatError, load_expert_file, read_state_dict

    env = gym.make(ENV_ID)
    obs = np.random.default_rng(1).normal(0, 3, (64, 11))
    for kwargs in ({"net_arch": {"pi": [], "vf": [4]}}, {"net_arch": [8, 8], "activation_fn": torch.nn.ReLU}):  # fmt: skip
        model = PPO("MlpPolicy", env, policy_kwargs=kwargs, seed=0, device="cpu")
        arch = write_plain(model, tmp_path / "a.pt")
        assert arch == write_plain(model, tmp_path / "b.pt")
        assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
        want = model.predict(obs, deterministic=True)[0]
        np.testing.assert_array_equal(load_expert_file(tmp_path / "a.pt", arch).act(obs), want)
        back = PPO.load(plain_to_sb3(tmp_path / "a.pt", arch, tmp_path / "back"), device="cpu")
        np.testing.assert_array_equal(back.predict(obs, deterministic=True)[0], want)
    with pytest.raises(ExpertFormatError, match="gSDE"):
        write_plain(PPO("MlpPolicy", env, use_sde=True, device="cpu"), tmp_path / "c.pt")
    with pytest.raises(ExpertFormatError, match=r"state-dict keys do not match arch"):
        read_state_dict(tmp_path / "a.pt", {**arch, "pi": [8]})
    with pytest.raises(ExpertFormatError, match=r"shape \(8, 11\).*implies \(9, 11\)"):
        read_state_dict(tmp_path / "a.pt", {**arch, "pi": [9, 8]})
    torch.save({"log_std": 3}, tmp_path / "d.pt")
    with pytest.raises(ExpertFormatError, match="must hold a dict of tensors"):
        read_state_dict(tmp_path / "d.pt", arch)
    with pytest.raises(ExpertFormatError, match=r"arch\.activation must be one of"):
        read_state_dict(tmp_path / "a.pt", {**arch, "activation": "gelu"})
