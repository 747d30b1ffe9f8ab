"""The expert pipeline's checkpoints load no code: equal to SB3's own (pickle) loads (tiny real
PPO runs, pickles made here in tmp_path), planted payloads refused or never decoded, and no module
of the pipeline calling an unpickling loader."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from envtools import TINY_PPO
from payloads import Payload, assert_each_runs_the_payload

from metail_envs import load_suite

EXPERTS_DIR = Path(__file__).parents[1] / "baselines" / "experts"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """A tiny PPO trained 512 steps in VecNormalize, saved both ways: ``last.zip`` +
    ``last.json`` (the pipeline's format) and ``last_vecnormalize.pkl`` (SB3's own),
    and as a folded expert ``expert.zip``; returns (directory, config, live model, vecnorm)."""
    from stable_baselines3.common.vec_env import VecNormalize

    from baselines.experts.checkpoints import export_expert, new_model
    from baselines.experts.ppo_files import write_state
    from baselines.experts.train_config import TrainConfig

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("run")
    config = TrainConfig(**TINY_PPO)
    vecnorm = VecNormalize(_venv(), gamma=0.99, **config.normalize)
    model = new_model(vecnorm, config)
    model.learn(512, progress_bar=False)
    model.save(d / "last.zip")
    vecnorm.save(str(d / "last_vecnormalize.pkl"))
    write_state(d / "last.json", model, vecnorm, d / "last.zip")
    export_expert(model, vecnorm, d / "expert.zip")
    return d, config, model, vecnorm


def _venv():
    from baselines.experts.wrappers import make_vec_env

    return make_vec_env([load_suite().nominal], 1, 0)


def _old_load(d: Path):
    """The checkpoint as SB3 loads it (unpickles; our own tmp files only)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    vecnorm = VecNormalize.load(str(d / "last_vecnormalize.pkl"), _venv())
    vecnorm.training = True
    return PPO.load(d / "last.zip", env=vecnorm, device="cpu"), vecnorm


def _observations(n: int = 500) -> np.ndarray:
    import gymnasium as gym

    from metail_envs import ENV_ID

    env = gym.make(ENV_ID)
    rng = np.random.default_rng(0)
    obs = [env.reset(seed=0)[0]]
    for a in rng.uniform(-1, 1, (n // 2, 3)):
        o, _, term, trunc, _ = env.step(a)
        obs.append(env.reset(seed=len(obs))[0] if term or trunc else o)
    return np.concatenate([obs, rng.normal(0, 2, (n - len(obs), 11))])


def compare(a, b, obs: np.ndarray) -> dict:
    """What differs between two loaded (PPO, VecNormalize) pairs: tensors, optimizer state,
    normalisation statistics, counters; and how many of ``obs`` get the same deterministic
    action."""
    (ma, va), (mb, vb) = a, b
    sa, sb = ma.policy.state_dict(), mb.policy.state_dict()
    differs = [k for k in sa if k not in sb or not torch.equal(sa[k], sb[k])]
    oa, ob = ma.policy.optimizer.state_dict(), mb.policy.optimizer.state_dict()
    for i, st in oa["state"].items():
        if any(not torch.equal(v, ob["state"][i][n]) for n, v in st.items() if torch.is_tensor(v)):
            differs.append(f"optimizer.{i}")
    for name in ("mean", "var"):
        for rms in ("obs_rms", "ret_rms"):
            if not np.array_equal(getattr(getattr(va, rms), name), getattr(getattr(vb, rms), name)):
                differs.append(f"{rms}.{name}")
    if ma.num_timesteps != mb.num_timesteps:
        differs.append("num_timesteps")
    acts_a = ma.predict(va.normalize_obs(obs), deterministic=True)[0]
    acts_b = mb.predict(vb.normalize_obs(obs), deterministic=True)[0]
    same = int(np.all(acts_a == acts_b, axis=1).sum())
    return {"differs": differs, "identical_actions": same, "n_obs": len(obs)}


def _params(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.policy.state_dict().items()}


def _learn(model, seed: int) -> None:
    model.set_random_seed(seed)  # as train() does after loading
    model.learn(512, reset_num_timesteps=False, progress_bar=False)


def test_checkpoint_loads_as_sb3_does_and_resumes_identically(trained) -> None:
    """Weights-only load == SB3's load (PPO.load + VecNormalize.load) == the live objects: tensors,
    optimizer, statistics, counters, deterministic actions; 512 more steps from each: the same
    parameters and statistics, bit for bit."""
    from baselines.experts.checkpoints import load_checkpoint

    d, config, live_model, live_vecnorm = trained
    new = load_checkpoint(d, "last", _venv(), config)
    old = _old_load(d)
    obs = _observations()
    for other in (old, (live_model, live_vecnorm)):
        report = compare(other, new, obs)
        assert report == {"differs": [], "identical_actions": len(obs), "n_obs": len(obs)}
    assert new[0].num_timesteps == 512 and len(new[0].ep_info_buffer) > 0
    for model, _ in (old, new):
        _learn(model, config.seed + model.num_timesteps)
    p_old, p_new = _params(old[0]), _params(new[0])
    assert p_old.keys() == p_new.keys()
    assert all(torch.equal(p_old[k], p_new[k]) for k in p_old)
    assert not torch.equal(p_new["action_net.weight"], live_model.policy.action_net.weight)
    np.testing.assert_array_equal(old[1].obs_rms.mean, new[1].obs_rms.mean)
    np.testing.assert_array_equal(old[1].ret_rms.var, new[1].ret_rms.var)
    assert [e["r"] for e in old[0].ep_info_buffer] == [e["r"] for e in new[0].ep_info_buffer]


def test_fine_tune_from_an_expert_zip_as_before(trained) -> None:
    """``load_expert_zip`` (weights only) trains exactly as ``PPO.load(expert.zip, custom_objects)``
    did; ``load_policy`` acts exactly as ``PPO.load``."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    from baselines.experts.checkpoints import load_expert_zip, reset_log_std
    from baselines.experts.ppo_files import load_policy

    d, config, _, _ = trained
    config = type(config)(**{**TINY_PPO, "init_log_std": -0.5})
    obs = _observations()
    np.testing.assert_array_equal(
        load_policy(d / "expert.zip").predict(obs, deterministic=True)[0],
        PPO.load(d / "expert.zip", device="cpu").predict(obs, deterministic=True)[0],
    )
    new, _ = load_expert_zip(d / "expert.zip", _venv(), config)
    old = PPO.load(
        d / "expert.zip",
        env=VecNormalize(_venv(), gamma=0.99, norm_obs=False),
        device="cpu",
        custom_objects={
            k: config.ppo[k] for k in ("learning_rate", "gamma", "n_epochs") if k in config.ppo
        },
    )  # what load_expert_zip did before
    old.num_timesteps, old._episode_num = 0, 0
    reset_log_std(old, config.init_log_std)
    for model in (old, new):
        _learn(model, config.seed)
    p_old, p_new = _params(old), _params(new)
    assert all(torch.equal(p_old[k], p_new[k]) for k in p_old)
    assert float(p_new["log_std"][0]) != -0.5  # it trained


def _run_dir(trained, tmp_path: Path, with_json: bool) -> Path:
    """A run directory to resume (state.json, last.zip) with or without its JSON state."""
    from baselines.experts.train import train

    d, config, _, _ = trained
    run = tmp_path / "run"
    train(
        load_suite().nominal,
        config.__class__(**{**TINY_PPO, "total_steps": 256}),
        run,
        progress=False,
        log=lambda _: None,
    )
    state = json.loads((run / "state.json").read_text())
    state["done"] = False
    (run / "state.json").write_text(json.dumps(state))
    if not with_json:
        (run / "last.json").unlink()
    return run


def test_a_pickle_is_refused_and_never_loaded(trained, tmp_path) -> None:
    from baselines.experts.ppo_files import CheckpointError
    from baselines.experts.train import train
    from baselines.experts.train_config import TrainConfig

    marker = tmp_path / "ran"
    run = _run_dir(trained, tmp_path, with_json=False)
    assert not list(run.glob("*.pkl"))  # the pipeline writes no pickle
    (run / "last_vecnormalize.pkl").write_bytes(pickle.dumps(Payload(marker)))
    config = TrainConfig(**{**TINY_PPO, "total_steps": 512})
    # a pickle given where a run directory or an expert zip is expected
    with pytest.raises(CheckpointError, match=r"last_vecnormalize\.pkl is a pickle: .*never"):
        train(
            load_suite().nominal,
            config,
            tmp_path / "new",
            init_from=run / "last_vecnormalize.pkl",
            progress=False,
            log=print,
        )
    # a pickle written where the JSON state belongs
    (run / "last.json").write_bytes((run / "last_vecnormalize.pkl").read_bytes())
    with pytest.raises(CheckpointError, match=r"last\.json is not JSON"):
        train(load_suite().nominal, config, run, resume=True, progress=False, log=print)
    assert not marker.exists()
    pickle.loads((run / "last_vecnormalize.pkl").read_bytes())  # the payload is live
    assert marker.exists()


def test_resume_refuses_a_state_written_for_another_zip(trained, tmp_path) -> None:
    from baselines.experts.ppo_files import CheckpointError
    from baselines.experts.train import train
    from baselines.experts.train_config import TrainConfig

    run = _run_dir(trained, tmp_path, with_json=True)
    d = trained[0]
    (run / "last.json").write_bytes((d / "last.json").read_bytes())
    with pytest.raises(CheckpointError, match=r"last\.json was written with another last\.zip"):
        train(
            load_suite().nominal,
            TrainConfig(**{**TINY_PPO, "total_steps": 512}),
            run,
            resume=True,
            progress=False,
            log=print,
        )


def _rewrite_zip(src: Path, dst: Path, member: str, raw: bytes) -> Path:
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for item in a.infolist():
            b.writestr(item, raw if item.filename == member else a.read(item.filename))
    return dst


def test_planted_payloads_in_zips_run_nothing(trained, tmp_path) -> None:
    """A cloudpickle payload in ``data`` is never decoded (the zip loads, the payload does not
    run); a pickle as ``policy.pth`` is refused by torch's weights-only reader."""
    import io

    from stable_baselines3 import PPO

    from baselines.experts.checkpoints import load_expert_zip
    from baselines.experts.ppo_files import CheckpointError, load_policy

    d, config, _, _ = trained
    marker = tmp_path / "ran"
    doc = json.loads(zipfile.ZipFile(d / "expert.zip").read("data"))
    doc["policy_class"][":serialized:"] = base64.b64encode(pickle.dumps(Payload(marker))).decode()
    in_data = _rewrite_zip(
        d / "expert.zip", tmp_path / "data.zip", "data", json.dumps(doc).encode()
    )
    buf = io.BytesIO()
    torch.save({"action_net.weight": Payload(marker)}, buf)
    in_pth = _rewrite_zip(d / "expert.zip", tmp_path / "pth.zip", "policy.pth", buf.getvalue())

    obs = _observations(50)
    want = load_policy(d / "expert.zip").predict(obs, deterministic=True)[0]
    np.testing.assert_array_equal(load_policy(in_data).predict(obs, deterministic=True)[0], want)
    load_expert_zip(in_data, _venv(), config)
    for load in (lambda: load_policy(in_pth), lambda: load_expert_zip(in_pth, _venv(), config)):
        with pytest.raises(CheckpointError, match=r"pth\.zip: member policy\.pth is not a weights"):
            load()
    assert not marker.exists()
    pth = zipfile.ZipFile(in_pth).read("policy.pth")
    assert_each_runs_the_payload(
        (
            lambda: PPO.load(in_data, device="cpu"),  # the payloads are live: unpickling runs them
            lambda: torch.load(io.BytesIO(pth), weights_only=False),
        ),
        marker,
    )


def test_a_config_with_another_policy_is_refused(trained) -> None:
    from baselines.experts.checkpoints import load_checkpoint, load_expert_zip
    from baselines.experts.ppo_files import CheckpointError
    from baselines.experts.train_config import TrainConfig

    d, _, _, _ = trained
    relu = TrainConfig(**{**TINY_PPO, "ppo": {**TINY_PPO["ppo"], "activation": "relu"}})
    with pytest.raises(CheckpointError, match=r"'activation': 'tanh'.*the config builds.*relu"):
        load_checkpoint(d, "last", _venv(), relu)
    wide = TrainConfig(**{**TINY_PPO, "ppo": {**TINY_PPO["ppo"], "net_arch": [64, 64]}})
    with pytest.raises(CheckpointError, match=r"expert\.zip holds the policy .*\[32, 32\]"):
        load_expert_zip(d / "expert.zip", _venv(), wide)


def test_the_shipped_expert_zip_converts_to_the_shipped_file(tmp_path) -> None:
    """The data stage's conversion, weights-only, reproduces the committed ``.pt`` exactly."""
    from baselines.experts.convert import write_plain
    from baselines.experts.layout import expert_path
    from metail_envs import data as D

    task = "hopper-v1/nominal"
    entry = D.load_manifest(D.REPO_DATA_DIR)["tasks"][task]["expert"]
    arch = write_plain(expert_path(D.REPO_DATA_DIR, task), tmp_path / "x.pt")
    assert arch == entry["arch"]
    assert hashlib.sha256((tmp_path / "x.pt").read_bytes()).hexdigest() == entry["sha256"]


UNPICKLING = {
    ("PPO", "load"),
    ("VecNormalize", "load"),
    ("BaseAlgorithm", "load"),
    ("pickle", "load"),
    ("pickle", "loads"),
    ("cloudpickle", "load"),
    ("cloudpickle", "loads"),
    ("jsonpickle", "decode"),
}
"""(object, attribute) calls that unpickle."""
UNPICKLING_NAMES = {"load_from_zip_file", "json_to_data", "set_parameters", "Unpickler"}


def _unpickling_calls(source: str) -> list[str]:
    """Every call or import in ``source`` that could unpickle a file: the loaders above, any
    import of pickle/cloudpickle/jsonpickle, ``torch.load`` without ``weights_only=True`` and
    ``np.load`` without ``allow_pickle=False``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            found += [
                f"import {n}"
                for n in names
                if n.split(".")[0] in {"pickle", "cloudpickle", "jsonpickle", "dill"}
            ]
            found += [f"import {n}" for n in names if n in UNPICKLING_NAMES]
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        owner = (
            getattr(f.value, "id", getattr(f.value, "attr", ""))
            if isinstance(f, ast.Attribute)
            else ""
        )
        kw = {k.arg: getattr(k.value, "value", None) for k in node.keywords}
        if (owner, name) in UNPICKLING or name in UNPICKLING_NAMES:
            found.append(f"{owner}.{name}")
        elif (owner, name) in {("torch", "load"), ("th", "load")} and kw.get(
            "weights_only"
        ) is not True:
            found.append("torch.load without weights_only=True")
        elif (owner, name) == ("np", "load") and kw.get("allow_pickle") is not False:
            found.append("np.load without allow_pickle=False")
    return found


def test_no_module_of_the_pipeline_unpickles() -> None:
    """No module under baselines/experts/ calls an unpickling loader; the scan itself catches
    each kind of call."""
    offenders = {}
    for path in sorted(EXPERTS_DIR.rglob("*.py")):
        source = path.read_text()
        if found := _unpickling_calls(source):
            offenders[path.name] = found
    assert not offenders, offenders
    for bad in (
        "PPO.load(p)",
        "from stable_baselines3 import PPO\nm = PPO.load(p, env=e)",
        "VecNormalize.load(p, v)",
        "import pickle",
        "from cloudpickle import loads",
        "torch.load(f)",
        "torch.load(f, weights_only=False)",
        "np.load(f)",
        "model.set_parameters(p)",
        "from stable_baselines3.common.save_util import load_from_zip_file",
    ):
        assert _unpickling_calls(bad), bad
    assert not _unpickling_calls("torch.load(f, map_location='cpu', weights_only=True)")
