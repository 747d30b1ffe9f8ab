"""metail_envs.data on small real expert_data/ directories built by the real pipeline: experts
converted to the tensor-only format, complete demonstrations drawn (falls recorded, not
shipped), loaded without pickle or jsonpickle, checksummed; malformed manifests, planted
payloads, per-task reruns, the data hash, the user cache."""

from __future__ import annotations

import base64
import csv
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from envtools import TINY_PPO
from payloads import Payload, assert_each_runs_the_payload

from baselines.experts import rules as R
from metail_envs import ENV_ID, load_suite
from metail_envs import data as D
from metail_envs.trajectory import trajectory_class

TASK = "hopper-v1/test/00"
NOMINAL = "hopper-v1/nominal"
TINY = {**TINY_PPO, "total_steps": 512}
RULES = {
    "scored": R.DataRule(reference_episodes=3, demos=2, random_episodes=5),
    "train": R.DataRule(reference_episodes=2, demos=1, random_episodes=5),
}
"""A small data rule: the pipeline's code, seconds of rollouts."""


def _shipped_nominal() -> Path:
    """The repository's trained nominal expert (an SB3 zip): an expert that completes episodes."""
    from baselines.experts.layout import expert_path

    path = expert_path(D.REPO_DATA_DIR, NOMINAL)
    assert path.exists(), f"{path} missing: the repository's expert data is incomplete"
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny PPO experts for the nominal and one test task (they fall within steps), their
    references, the repository's demonstrator's demonstrations by :data:`RULES`, and the
    manifest."""
    from baselines.experts.demos import build_data
    from baselines.experts.layout import DEMONSTRATOR_DIR, demonstrator_dir
    from baselines.experts.make_expert_data import train_experts
    from baselines.experts.train_config import TrainConfig

    d = tmp_path_factory.mktemp("expert_data")
    shutil.copytree(demonstrator_dir(D.REPO_DATA_DIR), d / DEMONSTRATOR_DIR)
    config = TrainConfig(**TINY)
    train_experts("hopper-v1", d, config, config, [TASK], progress=False, log=lambda _: None)
    build_data("hopper-v1", d, command="tiny test run", log=lambda _: None, rules=RULES)
    return d


@pytest.fixture(scope="module")
def real_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``data_dir`` with the repository's nominal expert as the nominal task's trained expert
    (as a retrain would put it), its data rebuilt: complete demonstrations to load."""
    from baselines.experts.demos import build_data
    from baselines.experts.layout import expert_path

    d = tmp_path_factory.mktemp("real") / "expert_data"
    shutil.copytree(data_dir, d)
    shutil.copyfile(_shipped_nominal(), expert_path(d, NOMINAL))
    build_data("hopper-v1", d, [NOMINAL], log=lambda _: None, rules=RULES)
    return d


@pytest.fixture
def copy(real_dir: Path, tmp_path: Path) -> Path:
    """A private copy to corrupt."""
    shutil.copytree(real_dir, tmp_path / "d")
    return tmp_path / "d"


def _manifest(d: Path) -> dict:
    return json.loads((d / "manifest.json").read_text())


def _write_manifest(d: Path, m: object) -> None:
    (d / "manifest.json").write_text(json.dumps(m))


def test_manifest_layout(data_dir: Path) -> None:
    m = D.load_manifest(data_dir)
    suite = load_suite("hopper-v1")
    assert m["format"] == D.DATA_FORMAT == 2
    assert m["suite"] == "hopper-v1" and m["suite_sha256"] == suite.sha256
    assert m["command"] == "tiny test run"
    assert {"metail", "mujoco", "gymnasium", "sb3", "imitation", "torch", "machine"} <= set(
        m["versions"]
    )
    assert m["rule"]["scored"]["demos"] == 2 and m["rule"]["time_limit"] == 1000
    assert set(m["tasks"]) == {TASK, NOMINAL}
    e = m["tasks"][TASK]
    assert e["expert"]["file"] == "experts/hopper-v1__test__00.pt"
    assert e["expert"]["source"]["file"] == "training/hopper-v1__test__00/expert.zip"
    assert e["expert"]["arch"]["pi"] == [32, 32] and e["expert"]["arch"]["activation"] == "tanh"
    assert e["expert"]["n_episodes"] == 3 and len(e["expert"]["returns"]) == 3
    assert e["expert"]["seed"] == R.EVAL_SEED and e["random"]["n_episodes"] == 5
    # a 512-step PPO falls within steps (its reference), the demonstrator demonstrates
    from baselines.experts.dense_demos import demonstrator_info
    from baselines.experts.layout import demonstrator_dir

    demos = e["demos"]
    assert demos["n"] == 2 and demos["seeds"] == [R.DEMO_SEED, R.DEMO_SEED + 1]
    assert demos["file"] == "demos/hopper-v1__test__00" and "shortfalls" not in m
    assert demos["demonstrator"] == demonstrator_info(demonstrator_dir(data_dir))
    assert e["expert"]["completion_rate"] == 0.0
    assert not list(data_dir.glob("experts/*.zip"))
    assert not (data_dir / "training" / "hopper-v1__test__00" / "last.zip").exists()
    assert (data_dir / "training" / "hopper-v1__nominal" / "best_ckpt.zip").exists()


def test_every_demonstrator_episode_is_shipped(real_dir: Path) -> None:
    """The demonstrator's episodes from the rule's seeds, falls included, as the manifest says."""
    e = D.load_manifest(real_dir)["tasks"][NOMINAL]
    d = e["demos"]
    assert d["n"] == 2 and d["seeds"] == [R.DEMO_SEED, R.DEMO_SEED + 1]
    assert e["expert"]["completion_rate"] == np.mean(np.array(e["expert"]["lengths"]) == 1000)
    demos = D.load_demos(NOMINAL, data_dir=real_dir)
    assert len(demos) == 2 and all(type(t) is trajectory_class() for t in demos)
    assert [len(t.acts) for t in demos] == d["lengths"]
    np.testing.assert_allclose([t.rews.sum() for t in demos], d["returns"], atol=1e-2)
    first = demos[0]
    assert first.obs.dtype == np.float32 and first.acts.dtype == np.float32
    fell = d["lengths"][0] < 1000
    assert first.infos[-1] == {
        "task_id": NOMINAL,
        "seed": d["seeds"][0],
        "terminated": fell,
        "truncated": not fell,
    }
    assert d["falls"] == [s for s, n in zip(d["seeds"], d["lengths"], strict=True) if n < 1000]
    env = gym.make(ENV_ID, task=load_suite().task(NOMINAL))  # raw observations
    np.testing.assert_allclose(first.obs[0], env.reset(seed=d["seeds"][0])[0].astype(np.float32))


@pytest.mark.imitation
def test_imitation_reads_the_written_demos_identically(real_dir: Path) -> None:
    """The format stays imitation's: its own loader reads the pipeline's files as we do."""
    from imitation.data import serialize

    d = D.load_manifest(real_dir)["tasks"][NOMINAL]["demos"]
    demos = D.load_demos(NOMINAL, data_dir=real_dir)
    theirs = serialize.load(real_dir / d["file"])
    assert theirs[0].infos[-1] == demos[0].infos[-1]
    np.testing.assert_array_equal(theirs[1].obs, demos[1].obs)
    np.testing.assert_array_equal(theirs[1].rews, demos[1].rews)


def test_load_demos_counts(real_dir: Path) -> None:
    assert len(D.load_demos(load_suite().task(NOMINAL), n=1, data_dir=real_dir)) == 1
    with pytest.raises(ValueError, match="generate-demos"):
        D.load_demos(NOMINAL, n=3, data_dir=real_dir)
    assert len(D.load_demos(TASK, data_dir=real_dir)) == 2  # the demonstrator's, expert or not
    with pytest.raises(ValueError, match="n must be a non-negative int"):
        D.load_demos(NOMINAL, n=-1, data_dir=real_dir)


def test_corrupted_and_missing_files_are_named(copy: Path) -> None:
    arrow = next((copy / "demos" / "hopper-v1__nominal").glob("*.arrow"))
    raw = bytearray(arrow.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    arrow.write_bytes(bytes(raw))
    with pytest.raises(D.DataError, match=r"hopper-v1__nominal.*corrupted.*--task hopper-v1/nom"):
        D.load_demos(NOMINAL, data_dir=copy)
    (copy / "experts" / "hopper-v1__test__00.pt").unlink()
    with pytest.raises(D.DataError, match=r"hopper-v1__test__00\.pt.*missing.*--stage data"):
        D.load_expert(TASK, data_dir=copy)
    with pytest.raises(D.DataError, match="no data for task 'hopper-v1/test/01'"):
        D.load_demos("hopper-v1/test/01", data_dir=copy)
    with pytest.raises(D.DataError, match="lacks references for 59 task"):
        D.load_references("hopper-v1", data_dir=copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(D.DataError, match="manifest.json not found"):
        D.load_demos(NOMINAL, data_dir=copy)
    with pytest.raises(KeyError, match="hopper-v1/test/99"):
        D.load_demos("hopper-v1/test/99", data_dir=copy)


def test_expert_in_a_fresh_process_reaches_the_manifest_return(real_dir: Path) -> None:
    """Loaded through load_expert on raw observations, in a new process (light import first)."""
    code = (
        "import sys, metail_envs, metail_envs.data as D\n"
        "assert not {'torch', 'stable_baselines3', 'imitation', 'pyarrow'} & set(sys.modules)\n"
        "from baselines.experts.evaluate import evaluate_policy\n"
        f"e = D.load_manifest()['tasks'][{NOMINAL!r}]['expert']\n"
        f"r, _ = evaluate_policy(D.load_expert({NOMINAL!r}), "
        f"metail_envs.load_suite().task({NOMINAL!r}), e['n_episodes'], e['seed'])\n"
        "print(r.mean(), e['mean_return'], 'stable_baselines3' in sys.modules)\n"
    )
    env = {**os.environ, "METAIL_DATA_DIR": str(real_dir)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    got, want, sb3 = out.stdout.split()
    assert float(got) == pytest.approx(float(want), rel=1e-9) and float(want) > 2500
    assert sb3 == "False"  # the shipped expert needs torch only


def test_shipped_expert_acts_like_its_sb3_zip_and_exports_back(
    real_dir: Path, tmp_path: Path
) -> None:
    from stable_baselines3 import PPO

    from baselines.experts.convert import main
    from baselines.experts.layout import expert_path

    rng = np.random.default_rng(0)
    obs = rng.normal(0.0, 2.0, (256, 11))
    for task in (NOMINAL, TASK):
        sb3 = PPO.load(expert_path(real_dir, task), device="cpu")
        ours = D.load_expert(task, data_dir=real_dir)
        want = sb3.predict(obs, deterministic=True)[0]
        np.testing.assert_array_equal(ours.predict(obs, deterministic=True)[0], want)
        for o in obs[:8]:  # one observation at a time, as in an episode
            np.testing.assert_array_equal(ours.predict(o)[0], sb3.predict(o, deterministic=True)[0])
        np.testing.assert_array_equal(ours.act(obs), ours.predict(obs)[0])
        out = tmp_path / f"{task.replace('/', '_')}.zip"
        assert main(["--task", task, "--out", str(out), "--data-dir", str(real_dir)]) == 0
        back = PPO.load(out, device="cpu")
        np.testing.assert_array_equal(back.predict(obs, deterministic=True)[0], want)
        for key, value in sb3.policy.state_dict().items():  # critic and log_std too
            np.testing.assert_array_equal(back.policy.state_dict()[key].numpy(), value.numpy())
    with pytest.raises(ValueError, match="deterministic must be True"):
        ours.predict(obs, deterministic=False)
    with pytest.raises(ValueError, match=r"obs must have shape \(11,\)"):
        ours.act(np.zeros((2, 5)))


def test_generate_demos_into_the_user_cache(
    real_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metail_envs.cli import main

    monkeypatch.setenv("METAIL_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("METAIL_DATA_DIR", str(real_dir))
    with pytest.raises(D.DataError, match="metail generate-demos"):
        D.load_cached_demos(NOMINAL, 2)
    assert main(["generate-demos", "--task", NOMINAL, "--n", "2"]) == 0
    demos = D.load_cached_demos(NOMINAL, 2)
    assert [t.infos[-1]["seed"] for t in demos] == [D.CACHE_SEED, D.CACHE_SEED + 1]
    shipped = D.load_demos(NOMINAL, n=1)
    assert demos[0].obs.shape[1] == shipped[0].obs.shape[1]


def test_rebuild_skips_intact_tasks(real_dir: Path) -> None:
    from baselines.experts.demos import build_data

    before = _manifest(real_dir)
    lines: list[str] = []
    after = build_data("hopper-v1", real_dir, log=lines.append, rules=RULES)
    assert after["tasks"] == before["tasks"]
    assert lines == []


def test_a_new_demonstrator_rerecords_the_demos_and_keeps_the_references(copy: Path) -> None:
    """The demonstrations depend on the demonstrator, the references on the experts: a changed
    demonstrator file re-records every task's demonstrations and measures no reference again."""
    from baselines.experts.demos import build_data
    from baselines.experts.layout import demonstrator_dir

    before = _manifest(copy)
    meta = demonstrator_dir(copy) / "best_ckpt.json"
    doc = json.loads(meta.read_text())
    doc["num_timesteps"] += 1  # another demonstrator, as its provenance says
    meta.write_text(json.dumps(doc))
    after = build_data("hopper-v1", copy, log=lambda _: None, rules=RULES)
    for tid, old in before["tasks"].items():
        new = after["tasks"][tid]
        assert new["expert"] == old["expert"] and new["random"] == old["random"]
        assert new["demos"]["demonstrator"]["steps"] == old["demos"]["demonstrator"]["steps"] + 1


def test_a_rerun_of_one_task_rewrites_it_and_the_data_hash(copy: Path) -> None:
    """What the lead does after a retrain: the new SB3 zip in place, then
    ``--stage data --task ID``."""
    from baselines.experts.demos import build_data
    from baselines.experts.layout import expert_path
    from baselines.experts.make_expert_data import main

    before, hash_before = _manifest(copy), D.data_hash("hopper-v1", data_dir=_full(copy))
    tiny = expert_path(copy, TASK)
    retrained = expert_path(copy, NOMINAL)
    retrained.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tiny, retrained)  # "retrained": the nominal gets the tiny test/00 expert
    lines: list[str] = []
    build_data("hopper-v1", copy, [NOMINAL], log=lines.append, rules=RULES)
    assert any(x.startswith(NOMINAL) for x in lines)
    after = _manifest(copy)
    assert after["tasks"][TASK] == before["tasks"][TASK]  # the other task untouched
    new = after["tasks"][NOMINAL]
    assert new["expert"]["source"]["sha256"] == D.sha256_path(tiny)
    assert new["demos"] == before["tasks"][NOMINAL]["demos"]  # the demonstrator's, kept
    hash_after = D.data_hash("hopper-v1", data_dir=_full(copy))
    assert hash_after != hash_before
    lines.clear()  # an intact task is skipped
    build_data("hopper-v1", copy, [NOMINAL], log=lines.append, rules=RULES)
    assert not any(x.startswith("hopper-v1/") for x in lines)
    assert D.data_hash("hopper-v1", data_dir=copy) == hash_after
    # the CLI, by the shipped rule: that task only is rewritten
    args = ["--suite", "hopper-v1", "--stage", "data", "--task", TASK, "--data-dir", str(copy)]
    assert main(args) == 0
    final = _manifest(copy)
    assert final["tasks"][NOMINAL] == new
    assert final["tasks"][TASK]["expert"]["n_episodes"] == R.DATA_RULES["scored"].reference_episodes
    assert final["tasks"][TASK]["demos"]["n"] == R.DATA_RULES["scored"].demos


def _full(d: Path) -> Path:
    """A manifest covering the whole suite (every task sharing the two real tasks' entries),
    so suite-wide functions can run on ``d``; returns ``d``."""
    m = _manifest(d)
    for t in load_suite("hopper-v1").tasks:
        if t.id not in (TASK, NOMINAL):
            m["tasks"][t.id] = m["tasks"][TASK if t.id.split("/")[1] == "test" else NOMINAL]
    _write_manifest(d, m)
    return d


def test_export_minari(real_dir: Path, tmp_path: Path) -> None:
    minari = pytest.importorskip("minari")
    from metail_envs.cli import main

    args = ["export-minari", "--task", NOMINAL, "--data-dir", str(real_dir)]
    assert main([*args, "--minari-root", str(tmp_path)]) == 0
    ds = minari.load_dataset("metail/hopper-v1-nominal/expert-v0")
    demos = D.load_demos(NOMINAL, data_dir=real_dir)
    assert ds.total_episodes == len(demos)
    ep = next(ds.iterate_episodes())
    np.testing.assert_allclose(ep.observations, demos[0].obs, atol=1e-6)
    assert ep.terminations[-1] == demos[0].infos[-1]["terminated"]
    assert ds.recover_environment().unwrapped.get_task().params == load_suite().task(NOMINAL).params


def test_references_and_data_hash_over_the_whole_suite(copy: Path) -> None:
    """References cover the suite; the data hash follows every score-changing field of the
    manifest (references, completion, the expert's architecture), not only the files."""
    _full(copy)
    m = _manifest(copy)
    refs = D.load_references("hopper-v1", data_dir=copy)
    entry = m["tasks"][NOMINAL]
    assert len(refs) == 61 and refs[NOMINAL] == {
        "expert_mean": entry["expert"]["mean_return"],
        "expert_std": entry["expert"]["std_return"],
        "random_mean": entry["random"]["mean_return"],
        "random_std": entry["random"]["std_return"],
        "horizon": m["rule"]["time_limit"],  # the step limit the references were measured at
    }
    h = D.data_hash("hopper-v1", data_dir=copy)
    assert h == D.data_hash(load_suite("hopper-v1"), data_dir=copy) and len(h) == 64

    def edited(path: tuple, value: object) -> str:
        doc = json.loads(json.dumps(m))
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        _write_manifest(copy, doc)
        return D.data_hash("hopper-v1", data_dir=copy)

    t3 = "hopper-v1/test/03"
    assert edited(("tasks", t3, "expert", "mean_return"), 600.0) != h
    assert edited(("tasks", t3, "random", "std_return"), 1.0) != h
    assert edited(("tasks", t3, "expert", "completion_rate"), 0.5) != h
    assert edited(("tasks", t3, "expert", "arch", "activation"), "relu") != h
    assert edited(("rule", "scored", "demos"), 7) != h
    assert edited(("command",), "another command") == h  # not score-changing
    assert edited(("versions", "python"), "0.0") == h
    _write_manifest(copy, m)
    arrow = next((copy / entry["demos"]["file"]).glob("*.arrow"))
    arrow.write_bytes(arrow.read_bytes() + b"\0")
    with pytest.raises(D.DataError, match="corrupted"):
        D.data_hash("hopper-v1", data_dir=copy)


def _set(doc: dict, path: str, value: object) -> dict:
    *head, last = path.split(".")
    node = doc
    for key in head:
        node = node[key]
    if value is _DEL:
        del node[last]
    else:
        node[last] = value
    return doc


_DEL = object()
N = "tasks.hopper-v1/nominal"
MALFORMED = {
    "not JSON": (None, "{not json", "not valid JSON"),
    "a list": (None, "[]", "must be a JSON object, got list"),
    "no format": ("format", _DEL, "'format' is missing"),
    "format 1": ("format", 1, "'format' is 1"),
    "format 3": ("format", 3, "'format' is 3"),
    "no suite_sha256": ("suite_sha256", _DEL, "'suite_sha256' is missing"),
    "tasks a list": ("tasks", [], "'tasks' must be a dict"),
    "entry a list": (N, [], "must be a JSON object"),
    "no expert": (f"{N}.expert", _DEL, r"\.expert is missing"),
    "expert sha256 missing": (f"{N}.expert.sha256", _DEL, r"\.expert\.sha256 is missing"),
    "expert sha256 not hex": (f"{N}.expert.sha256", "zz", r"\.expert\.sha256 must be a sha256"),
    "demos sha256 missing": (f"{N}.demos.sha256", _DEL, r"\.demos\.sha256 is missing"),
    "demos n negative": (f"{N}.demos.n", -1, r"\.demos\.n must be a non-negative int"),
    "demos n a bool": (f"{N}.demos.n", True, r"\.demos\.n must be a non-negative int"),
    "mean NaN": (f"{N}.expert.mean_return", float("nan"), r"mean_return must be a finite"),
    "mean a string": (f"{N}.random.mean_return", "1", r"random\.mean_return must be a finite"),
    "std missing": (f"{N}.expert.std_return", _DEL, r"expert\.std_return must be a finite"),
    "arch missing": (f"{N}.expert.arch", _DEL, r"\.expert\.arch is missing"),
    "arch type": (f"{N}.expert.arch.type", "pickle", r"\.expert\.arch is malformed"),
    "arch sizes": (f"{N}.expert.arch.pi", [64, "x"], r"\.expert\.arch is malformed"),
    "file outside": (f"{N}.expert.file", "../../etc/passwd", r"expert\.file must be a relative"),
    "file absolute": (f"{N}.demos.file", "/etc", r"demos\.file must be a relative"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_every_malformed_manifest_is_a_data_error_naming_file_field_and_command(
    copy: Path, case: str
) -> None:
    path, value, message = MALFORMED[case]
    _full(copy)
    if path is None:
        (copy / "manifest.json").write_text(value)
    else:
        _write_manifest(copy, _set(_manifest(copy), path, value))
    calls = [
        lambda: D.load_references("hopper-v1", data_dir=copy),  # never "lacks references"
        lambda: D.data_hash("hopper-v1", data_dir=copy),
        lambda: D.load_expert(NOMINAL, data_dir=copy),
        lambda: D.load_demos(NOMINAL, data_dir=copy),
    ]
    for call in calls:
        with pytest.raises(D.DataError) as e:
            call()
        text = str(e.value)
        assert str(copy / "manifest.json") in text and "metail expert-data" in text, text
        assert "lacks references" not in text
        assert re.search(message, text), text


def test_a_missing_file_is_named_with_its_command(copy: Path) -> None:
    shutil.rmtree(copy / "demos" / "hopper-v1__nominal")
    with pytest.raises(
        D.DataError, match=r"demonstrations file .*hopper-v1__nominal of task .* is missing"
    ):
        D.load_demos(NOMINAL, data_dir=copy)
    with pytest.raises(
        D.DataError, match=r"hopper-v1__nominal of task .* is missing.*--stage data --task"
    ):
        D.data_hash("hopper-v1", data_dir=_full(copy))


@pytest.mark.imitation  # the jsonpickle payload is shown live with imitation's reader
def test_planted_payloads_run_nothing(copy: Path, tmp_path: Path) -> None:
    """jsonpickle in a demonstration's infos, cloudpickle in an SB3 zip and pickle in a .pt,
    each with a manifest rewritten to vouch for it: each is refused, and its marker never
    appears (each payload is live: imitation's reader, PPO.load, torch.load run it)."""
    import datasets
    import torch
    from imitation.data import serialize
    from stable_baselines3 import PPO

    from baselines.experts.layout import expert_path

    marker = tmp_path / "ran"
    m = _manifest(copy)
    # 1. jsonpickle in the infos of a demonstration
    code = f"open({str(marker)!r}, 'w').write('ran')"
    exec_json = json.dumps({"py/reduce": [{"py/function": "builtins.exec"}, {"py/tuple": [code]}]})
    demo_dir = copy / m["tasks"][NOMINAL]["demos"]["file"]
    rows = datasets.load_from_disk(str(demo_dir)).to_dict()
    rows["infos"][0][-1] = exec_json
    shutil.rmtree(demo_dir)
    datasets.Dataset.from_dict(rows).save_to_disk(str(demo_dir))
    m["tasks"][NOMINAL]["demos"]["sha256"] = D.sha256_path(demo_dir)
    # 2. cloudpickle in an SB3 zip's serialized entries, put where the expert was
    evil_zip = copy / "experts" / "evil.zip"
    with zipfile.ZipFile(expert_path(copy, TASK)) as src, zipfile.ZipFile(evil_zip, "w") as dst:
        for item in src.infolist():
            raw = src.read(item.filename)
            if item.filename == "data":
                doc = json.loads(raw)
                payload = base64.b64encode(pickle.dumps(Payload(marker))).decode()
                doc["policy_class"][":serialized:"] = payload
                raw = json.dumps(doc).encode()
            dst.writestr(item, raw)
    m["tasks"][TASK]["expert"].update(file="experts/evil.zip", sha256=D.sha256_path(evil_zip))
    # 3. a pickle (not a state dict) as the .pt of the nominal expert
    evil_pt = copy / "experts" / "hopper-v1__nominal.pt"
    torch.save({"mlp_extractor.policy_net.0.weight": Payload(marker)}, evil_pt)
    m["tasks"][NOMINAL]["expert"]["sha256"] = D.sha256_path(evil_pt)
    _write_manifest(copy, m)

    with pytest.raises(D.DataError, match=r"jsonpickle tag 'py/reduce'.*refused"):
        D.load_demos(NOMINAL, data_dir=copy)
    with pytest.raises(D.DataError, match=r"evil\.zip is not a weights-only tensor file"):
        D.load_expert(TASK, data_dir=copy)
    with pytest.raises(D.DataError, match=r"nominal\.pt is not a weights-only tensor file"):
        D.load_expert(NOMINAL, data_dir=copy)
    assert not marker.exists()
    # the three payloads are real: the readers that unpickle run them
    assert_each_runs_the_payload(
        (
            lambda: serialize.load(demo_dir)[0].infos[-1],
            lambda: PPO.load(evil_zip, device="cpu"),
            lambda: torch.load(evil_pt, weights_only=False),
        ),
        marker,
    )


def _trained(d: Path, task: str) -> tuple:
    """What two runs of the pipeline must agree on for a task: its learning curve (less the
    clock), its references and its demonstrations' returns."""
    with (d / "training" / task.replace("/", "__") / "progress.csv").open() as f:
        curve = [{k: v for k, v in row.items() if k != "wall_s"} for row in csv.DictReader(f)]
    e = D.load_manifest(d)["tasks"][task]
    return curve, e["expert"]["mean_return"], e["random"]["mean_return"], e["demos"]["returns"]


def test_parallel_workers_train_the_experts_of_one_worker(data_dir: Path, tmp_path: Path) -> None:
    from baselines.experts.make_expert_data import train_experts
    from baselines.experts.train_config import TrainConfig
    from metail_envs.executors import LocalExecutor

    other, config, lines = "hopper-v1/test/01", TrainConfig(**TINY), []
    with LocalExecutor(2) as pool:
        train_experts(
            "hopper-v1", tmp_path, config, config, [TASK, other], progress=False,
            log=lines.append, executor=pool, command="two workers", rules=RULES,
        )  # fmt: skip
    manifest = D.load_manifest(tmp_path)
    assert set(manifest["tasks"]) == {NOMINAL, TASK, other}
    assert manifest["command"] == "two workers" and not list(tmp_path.glob(".tmp-*"))
    for task in (NOMINAL, TASK):  # seeded by its place in the order, not its worker
        assert _trained(tmp_path, task) == _trained(data_dir, task)
    assert any(x.startswith("hopper-v1__test__01: step 512") for x in lines)  # workers' logs


def test_the_pipeline_on_a_ray_cluster_trains_the_same_expert(
    ray_cluster, data_dir: Path, tmp_path: Path
) -> None:
    from baselines.experts.make_expert_data import train_experts
    from baselines.experts.train_config import TrainConfig
    from metail_envs.executors import make_executor

    config, lines = TrainConfig(**TINY), []
    with make_executor("ray", address=ray_cluster.address) as pool:
        train_experts(
            "hopper-v1", tmp_path, config, config, [TASK], progress=False, log=lines.append,
            executor=pool, command="ray", rules=RULES,
        )  # fmt: skip
    for task in (NOMINAL, TASK):
        assert _trained(tmp_path, task) == _trained(data_dir, task)
    assert any(x.startswith("hopper-v1__test__00: step 512") for x in lines)  # from the actors


def test_a_task_below_the_bar_is_retrained_with_a_new_config(copy: Path) -> None:
    from baselines.experts.make_expert_data import train_experts
    from baselines.experts.train_config import TrainConfig

    run = copy / "training" / "hopper-v1__test__00"
    old = json.loads((run / "state.json").read_text())
    assert old["best_mean"] < 1500  # a tiny expert: below the bar
    lines: list[str] = []
    base, new = TrainConfig(**TINY), TrainConfig(**{**TINY, "init_log_std": 0.0})
    train_experts("hopper-v1", copy, base, base, [TASK], progress=False, log=lines.append)
    assert not any("restarting" in x for x in lines)  # same config: kept
    assert (copy / "experts" / "hopper-v1__test__00.pt").exists()
    train_experts("hopper-v1", copy, base, new, [TASK], progress=False, log=lines.append)
    assert any("restarting" in x for x in lines)
    assert json.loads((run / "state-attempt1.json").read_text()) == old
    assert (run / "progress-attempt1.csv").exists()
    assert json.loads((run / "state.json").read_text())["config"]["init_log_std"] == 0.0
    assert TASK not in D.load_manifest(copy)["tasks"]  # its data is rewritten by the data stage
    assert not (copy / "experts" / "hopper-v1__test__00.pt").exists()


def test_a_task_below_the_bar_gets_fresh_attempts_and_keeps_the_best(
    copy: Path, tmp_path: Path
) -> None:
    from baselines.experts.demos import build_data
    from baselines.experts.layout import expert_path
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
    expert = expert_path(copy, TASK)
    before = D.sha256_path(expert)
    records = retry_experts("hopper-v1", copy, [TASK], plan, log=lines.append)
    record = records[TASK]
    assert set(record["scores"]) == {"current", "ft", "scratch"}
    best = max(record["scores"], key=lambda n: record["scores"][n]["mean"])
    assert record["kept"] == best
    run = copy / "training" / "hopper-v1__test__00"
    assert (D.sha256_path(expert) == before) == (best == "current")
    for name in ("ft", "scratch"):  # on record; the kept expert lives in expert.zip only
        assert (run / name / "state.json").exists() and (run / name / "choice.json").exists()
        assert not (run / name / "last.zip").exists() and not (run / name / "best.zip").exists()
    assert json.loads((run / "retry.json").read_text()) == record
    # a recorded task is not retried again, and the data stage rewrites its entry
    assert retry_experts("hopper-v1", copy, [TASK], plan, log=lines.append) == {}
    build_data("hopper-v1", copy, log=lambda _: None, rules=RULES)
    entry = D.load_manifest(copy)["tasks"][TASK]
    assert entry["expert"]["source"]["sha256"] == D.sha256_path(expert)
    assert entry["expert"]["sha256"] == D.sha256_path(copy / "experts/hopper-v1__test__00.pt")


def test_repeated_loads_are_cached_but_independent(copy: Path) -> None:
    """A worker reads a task's demos once per process; a caller editing them changes nothing
    for the next caller, and a corrupted file is still detected after a cached read."""
    first = D.load_demos(NOMINAL, n=2, data_dir=copy)
    first[0].obs[:] = 0.0
    first[0].infos[-1]["seed"] = -5
    again = D.load_demos(NOMINAL, n=2, data_dir=copy)
    assert np.abs(again[0].obs).sum() > 0 and again[0].infos[-1]["seed"] != -5
    arrow = next((copy / "demos" / "hopper-v1__nominal").glob("*.arrow"))
    arrow.write_bytes(arrow.read_bytes()[:-8])
    with pytest.raises(D.DataError, match="corrupted"):
        D.load_demos(NOMINAL, n=2, data_dir=copy)


def test_sha256_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"1")
    (tmp_path / "b").write_bytes(b"2")
    h = D.sha256_path(tmp_path)
    assert h == D.sha256_path(tmp_path) and len(h) == 64
    (tmp_path / "b").rename(tmp_path / "c")
    assert D.sha256_path(tmp_path) != h


def test_the_data_rule_lives_in_one_place() -> None:
    suite = load_suite("hopper-v1")
    assert R.data_rule(suite.test[0]) == R.data_rule(suite.nominal) == R.DATA_RULES["scored"]
    assert R.data_rule(suite.train[0].id) == R.DATA_RULES["train"]
    assert R.DATA_RULES["scored"].reference_episodes == 50 and R.DATA_RULES["scored"].demos == 20
    assert R.DATA_RULES["train"].reference_episodes == 20 and R.DATA_RULES["train"].demos == 10
    with pytest.raises(ValueError, match="task must be a suite task id"):
        R.data_rule("hopper-v1/valid/00")
