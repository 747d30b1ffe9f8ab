"""metail_envs.data on a tiny real expert_data/ built by the real pipeline: demos generated,
saved, loaded and checksummed; corrupted and missing files detected; the user cache."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from envtools import TINY_PPO

from metail_envs import ENV_ID, load_suite
from metail_envs import data as D

TASK = "hopper-v1/test/00"
TINY = {**TINY_PPO, "total_steps": 512}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Experts for the nominal and one test task, their references, demos and manifest."""
    from baselines.experts.demos import build_data
    from baselines.experts.make_expert_data import train_experts
    from baselines.experts.train import TrainConfig

    d = tmp_path_factory.mktemp("expert_data")
    config = TrainConfig(**TINY)
    train_experts("hopper-v1", d, config, config, [TASK], progress=False, log=lambda _: None)
    build_data("hopper-v1", d, command="tiny test run", log=lambda _: None)
    return d


@pytest.fixture
def copy(data_dir: Path, tmp_path: Path) -> Path:
    """A private copy to corrupt."""
    shutil.copytree(data_dir, tmp_path / "d")
    return tmp_path / "d"


def test_manifest_layout(data_dir: Path) -> None:
    m = D.load_manifest(data_dir)
    suite = load_suite("hopper-v1")
    assert m["suite"] == "hopper-v1" and m["suite_sha256"] == suite.sha256
    assert m["command"] == "tiny test run"
    assert {"metail", "mujoco", "gymnasium", "sb3", "imitation", "torch", "machine"} <= set(
        m["versions"]
    )
    assert set(m["tasks"]) == {TASK, "hopper-v1/nominal"}
    e = m["tasks"][TASK]
    assert e["demos"]["file"] == "demos/hopper-v1__test__00"
    assert e["expert"]["file"] == "experts/hopper-v1__test__00.zip"
    assert e["demos"]["n"] == 10 and e["demos"]["seeds"] == list(range(10))
    assert e["demos"]["sha256"] == D.sha256_path(data_dir / e["demos"]["file"])
    assert e["expert"]["n_episodes"] >= 20
    assert {"mean_return", "std_return"} <= set(e["random"])
    assert not (data_dir / "training" / "hopper-v1__test__00" / "last.zip").exists()
    assert (data_dir / "training" / "hopper-v1__nominal" / "best_ckpt.zip").exists()


def test_load_demos(data_dir: Path) -> None:
    from imitation.data.types import TrajectoryWithRew

    demos = D.load_demos(TASK, data_dir=data_dir)
    record = D.load_manifest(data_dir)["tasks"][TASK]["demos"]
    assert len(demos) == 10 and all(isinstance(t, TrajectoryWithRew) for t in demos)
    assert [len(t.acts) for t in demos] == record["lengths"]
    np.testing.assert_allclose([t.rews.sum() for t in demos], record["returns"], atol=1e-2)
    first = demos[0]
    assert first.infos[-1]["task_id"] == TASK and first.infos[-1]["seed"] == 0
    assert first.infos[-1]["terminated"] != first.infos[-1]["truncated"]
    # raw observations: the first is the environment's reset observation for seed 0
    env = gym.make(ENV_ID, task=load_suite().task(TASK))
    np.testing.assert_allclose(first.obs[0], env.reset(seed=0)[0].astype(np.float32))
    assert len(D.load_demos(load_suite().task(TASK), n=3, data_dir=data_dir)) == 3
    with pytest.raises(ValueError, match="generate-demos"):
        D.load_demos(TASK, n=11, data_dir=data_dir)


def test_corrupted_and_missing_files_are_named(copy: Path) -> None:
    arrow = next((copy / "demos" / "hopper-v1__test__00").glob("*.arrow"))
    raw = bytearray(arrow.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    arrow.write_bytes(bytes(raw))
    with pytest.raises(D.DataError, match=r"hopper-v1__test__00.*corrupted.*make_expert_data"):
        D.load_demos(TASK, data_dir=copy)
    (copy / "experts" / "hopper-v1__nominal.zip").unlink()
    with pytest.raises(D.DataError, match=r"hopper-v1__nominal\.zip.*missing"):
        D.load_expert("hopper-v1/nominal", data_dir=copy)
    with pytest.raises(D.DataError, match="no data for task 'hopper-v1/test/01'"):
        D.load_demos("hopper-v1/test/01", data_dir=copy)
    with pytest.raises(D.DataError, match="lacks references"):
        D.load_references("hopper-v1", data_dir=copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(D.DataError, match="manifest.json not found"):
        D.load_demos(TASK, data_dir=copy)
    with pytest.raises(KeyError, match="hopper-v1/test/99"):
        D.load_demos("hopper-v1/test/99", data_dir=copy)


def test_expert_in_a_fresh_process_reaches_the_manifest_return(data_dir: Path) -> None:
    """Loaded through load_expert on raw observations, in a new process (light import first)."""
    code = (
        "import sys, metail_envs, metail_envs.data as D\n"
        "assert not {'torch', 'stable_baselines3', 'imitation'} & set(sys.modules)\n"
        "from baselines.experts.evaluate import evaluate_policy\n"
        f"e = D.load_manifest()['tasks'][{TASK!r}]['expert']\n"
        f"r, _ = evaluate_policy(D.load_expert({TASK!r}), metail_envs.load_suite().task({TASK!r}),"
        " e['n_episodes'], e['seed'])\n"
        "print(r.mean(), e['mean_return'])\n"
    )
    env = {**os.environ, "METAIL_DATA_DIR": str(data_dir)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    got, want = map(float, out.stdout.split())
    assert got == pytest.approx(want, rel=1e-9)


def test_generate_demos_into_the_user_cache(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metail_envs.cli import main

    monkeypatch.setenv("METAIL_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("METAIL_DATA_DIR", str(data_dir))
    with pytest.raises(D.DataError, match="metail generate-demos"):
        D.load_cached_demos(TASK, 2)
    assert main(["generate-demos", "--task", TASK, "--n", "2"]) == 0
    demos = D.load_cached_demos(TASK, 2)
    assert [t.infos[-1]["seed"] for t in demos] == [D.CACHE_SEED, D.CACHE_SEED + 1]
    shipped = D.load_demos(TASK, n=1)
    assert demos[0].obs.shape[1] == shipped[0].obs.shape[1]


def test_rebuild_skips_intact_tasks(data_dir: Path) -> None:
    from baselines.experts.demos import build_data

    before = json.loads((data_dir / "manifest.json").read_text())
    lines: list[str] = []
    after = build_data("hopper-v1", data_dir, log=lines.append)
    assert lines == [] and after["tasks"] == before["tasks"]


def test_sha256_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"1")
    (tmp_path / "b").write_bytes(b"2")
    h = D.sha256_path(tmp_path)
    assert h == D.sha256_path(tmp_path) and len(h) == 64
    (tmp_path / "b").rename(tmp_path / "c")
    assert D.sha256_path(tmp_path) != h


def test_export_minari(data_dir: Path, tmp_path: Path) -> None:
    minari = pytest.importorskip("minari")
    from metail_envs.cli import main

    args = ["export-minari", "--task", TASK, "--data-dir", str(data_dir)]
    assert main([*args, "--minari-root", str(tmp_path)]) == 0
    ds = minari.load_dataset("metail/hopper-v1-test-00/expert-v0")
    demos = D.load_demos(TASK, data_dir=data_dir)
    assert ds.total_episodes == len(demos)
    ep = next(ds.iterate_episodes())
    np.testing.assert_allclose(ep.observations, demos[0].obs, atol=1e-6)
    assert ep.terminations[-1] == demos[0].infos[-1]["terminated"]
    assert ds.recover_environment().unwrapped.get_task().params == load_suite().task(TASK).params


def test_references_and_data_hash_over_the_whole_suite(copy: Path) -> None:
    """With every task present (here all sharing one task's files), references cover the suite
    and the data hash follows the demonstration files' checksums."""
    m = json.loads((copy / "manifest.json").read_text())
    entry = m["tasks"][TASK]
    m["tasks"] = {t.id: entry for t in load_suite("hopper-v1").tasks}
    (copy / "manifest.json").write_text(json.dumps(m))
    refs = D.load_references("hopper-v1", data_dir=copy)
    assert len(refs) == 61 and refs[TASK] == {
        "expert_mean": entry["expert"]["mean_return"],
        "expert_std": entry["expert"]["std_return"],
        "random_mean": entry["random"]["mean_return"],
        "random_std": entry["random"]["std_return"],
    }
    h = D.data_hash("hopper-v1", data_dir=copy)
    assert h == D.data_hash(load_suite("hopper-v1"), data_dir=copy) and len(h) == 64
    arrow = next((copy / entry["demos"]["file"]).glob("*.arrow"))
    arrow.write_bytes(arrow.read_bytes() + b"\0")
    with pytest.raises(D.DataError, match="corrupted"):
        D.data_hash("hopper-v1", data_dir=copy)


def _trained(d: Path, task: str) -> tuple:
    """What two runs of the pipeline must agree on for a task: its learning curve (less the
    clock), its references and its demonstrations' returns."""
    with (d / "training" / task.replace("/", "__") / "progress.csv").open() as f:
        curve = [{k: v for k, v in row.items() if k != "wall_s"} for row in csv.DictReader(f)]
    e = D.load_manifest(d)["tasks"][task]
    return curve, e["expert"]["mean_return"], e["random"]["mean_return"], e["demos"]["returns"]


def test_parallel_workers_train_the_experts_of_one_worker(data_dir: Path, tmp_path: Path) -> None:
    from baselines.experts.make_expert_data import train_experts
    from baselines.experts.train import TrainConfig
    from metail_envs.executors import LocalExecutor

    other, config, lines = "hopper-v1/test/01", TrainConfig(**TINY), []
    with LocalExecutor(2) as pool:
        train_experts(
            "hopper-v1", tmp_path, config, config, [TASK, other], progress=False,
            log=lines.append, executor=pool, command="two workers",
        )  # fmt: skip
    manifest = D.load_manifest(tmp_path)
    assert set(manifest["tasks"]) == {"hopper-v1/nominal", TASK, other}
    assert manifest["command"] == "two workers" and not list(tmp_path.glob(".tmp-*"))
    for task in ("hopper-v1/nominal", TASK):  # seeded by its place in the order, not its worker
        assert _trained(tmp_path, task) == _trained(data_dir, task)
    assert any(x.startswith("hopper-v1__test__01: step 512") for x in lines)  # workers' logs


def test_the_pipeline_on_a_ray_cluster_trains_the_same_expert(
    ray_cluster, data_dir: Path, tmp_path: Path
) -> None:
    from baselines.experts.make_expert_data import train_experts
    from baselines.experts.train import TrainConfig
    from metail_envs.executors import make_executor

    config, lines = TrainConfig(**TINY), []
    with make_executor("ray", address=ray_cluster.address) as pool:
        train_experts(
            "hopper-v1", tmp_path, config, config, [TASK], progress=False, log=lines.append,
            executor=pool, command="ray",
        )  # fmt: skip
    for task in ("hopper-v1/nominal", TASK):
        assert _trained(tmp_path, task) == _trained(data_dir, task)
    assert any(x.startswith("hopper-v1__test__00: step 512") for x in lines)  # from the actors


def test_a_task_below_the_bar_is_retrained_with_a_new_config(copy: Path) -> None:
    from baselines.experts.make_expert_data import train_experts
    from baselines.experts.train import TrainConfig

    run = copy / "training" / "hopper-v1__test__00"
    old = json.loads((run / "state.json").read_text())
    assert old["best_mean"] < 1500  # a tiny expert: below the bar
    lines: list[str] = []
    base, new = TrainConfig(**TINY), TrainConfig(**{**TINY, "init_log_std": 0.0})
    train_experts("hopper-v1", copy, base, base, [TASK], progress=False, log=lines.append)
    assert not any("restarting" in x for x in lines)  # same config: kept
    train_experts("hopper-v1", copy, base, new, [TASK], progress=False, log=lines.append)
    assert any("restarting" in x for x in lines)
    assert json.loads((run / "state-attempt1.json").read_text()) == old
    assert (run / "progress-attempt1.csv").exists()
    assert json.loads((run / "state.json").read_text())["config"]["init_log_std"] == 0.0
    assert TASK not in D.load_manifest(copy)["tasks"]  # its data is rewritten by the data stage


def test_a_task_below_the_bar_gets_fresh_attempts_and_keeps_the_best(
    copy: Path, tmp_path: Path
) -> None:
    from baselines.experts.demos import build_data
    from baselines.experts.retry import Attempt, RetryPlan, retry_experts

    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    plan = RetryPlan(
        (
            Attempt("ft", str(cfg), "base", 100, {}),
            Attempt("scratch", str(cfg), "scratch", 200, {"total_steps": 256}),
        ),
        choice_episodes=2,
    )
    lines: list[str] = []
    expert = copy / "experts" / "hopper-v1__test__00.zip"
    before = D.sha256_path(expert)
    records = retry_experts("hopper-v1", copy, [TASK], plan, log=lines.append)
    record = records[TASK]
    assert set(record["scores"]) == {"current", "ft", "scratch"}
    best = max(record["scores"], key=lambda n: record["scores"][n]["mean"])
    assert record["kept"] == best
    run = copy / "training" / "hopper-v1__test__00"
    assert (D.sha256_path(expert) == before) == (best == "current")
    for name in ("ft", "scratch"):  # on record; the kept expert lives in experts/ only
        assert (run / name / "state.json").exists() and (run / name / "choice.json").exists()
        assert not (run / name / "last.zip").exists() and not (run / name / "best.zip").exists()
    assert json.loads((run / "retry.json").read_text()) == record
    # a recorded task is not retried again, and the data stage rewrites its entry
    assert retry_experts("hopper-v1", copy, [TASK], plan, log=lines.append) == {}
    build_data("hopper-v1", copy, log=lambda _: None)
    entry = D.load_manifest(copy)["tasks"][TASK]
    assert entry["expert"]["sha256"] == D.sha256_path(expert)


def test_repeated_loads_are_cached_but_independent(copy: Path) -> None:
    """A worker reads a task's demos once per process; a caller editing them changes nothing
    for the next caller, and a corrupted file is still detected after a cached read."""
    first = D.load_demos(TASK, n=2, data_dir=copy)
    first[0].obs[:] = 0.0
    again = D.load_demos(TASK, n=2, data_dir=copy)
    assert np.abs(again[0].obs).sum() > 0
    arrow = next((copy / "demos" / "hopper-v1__test__00").glob("*.arrow"))
    arrow.write_bytes(arrow.read_bytes()[:-8])
    with pytest.raises(D.DataError, match="corrupted"):
        D.load_demos(TASK, n=2, data_dir=copy)
