"""Checkpoints are code: the default ``Agent.save``/``load`` never pickles, and ``evaluate``
loads a checkpoint only if this machine's metail recorded it or the user trusts it."""

from __future__ import annotations

import json
import math
import pathlib
import pickle
import shutil

import numpy as np
import pytest
from tinybench import load, numbers, tiny_config

import metail_envs
from metail_envs import data as api
from metail_envs.benchmark import AgentSpec, evaluate
from metail_envs.benchmark import checkpoints as C
from metail_envs.benchmark.agent_state import ARRAYS_FILE, STATE_FILE, AgentStateError
from metail_envs.benchmark.results import META_TRAIN_RECORD

pytestmark = pytest.mark.filterwarnings("ignore:.*below the protocol's minimum")
MEAN = AgentSpec("metail_test_agents:MeanActionAgent", {"scale": 0.5}, name="mean")


class Payload:
    """A pickle that creates ``marker`` when it is loaded: the harmless stand-in for any code."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def plant_pickle(checkpoint: pathlib.Path, marker: pathlib.Path) -> None:
    checkpoint.mkdir(parents=True, exist_ok=True)
    (checkpoint / "agent.pkl").write_bytes(pickle.dumps(Payload(marker)))


@pytest.fixture
def own_key(tmp_path, monkeypatch):
    """This machine's checkpoint key, in a file of the test's own."""
    path = tmp_path / "keys" / "this-machine.key"
    monkeypatch.setenv(C.KEY_ENV, str(path))
    return path


def one_task(**kw):
    test0 = metail_envs.load_suite("hopper-v1").test[0].id
    return tiny_config(**{"splits": ("test",), "k_values": (0,), "tasks": (test0,), **kw})


def test_default_save_load_round_trips_plain_state_without_pickle(tmp_path):
    from metail_test_agents import StatefulAgent

    agent = StatefulAgent(scale=2.0)
    agent.meta_train({"t": [type("T", (), {"acts": np.ones((4, 3))})()]}, seed=3)
    agent.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {STATE_FILE, ARRAYS_FILE}
    loaded = StatefulAgent.load(tmp_path)
    t, u = agent.table, loaded.table
    assert loaded.scale == 2.0 and np.array_equal(loaded.mean, agent.mean)
    assert u["weights"].dtype == np.float32 and np.array_equal(u["weights"], t["weights"])
    assert u["by_task"] == {0: (1, 2.5), "x": [None, True, "s"]}
    assert math.isnan(u["odd"][0]) and u["odd"][1:] == [math.inf, -math.inf]
    assert isinstance(u["count"], np.int64) and u["count"] == 7
    assert u["__tuple__"] == "a key that looks like a tag"
    with np.load(tmp_path / ARRAYS_FILE, allow_pickle=False):
        pass  # the arrays need no pickle


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (np.random.default_rng(0), "Generator"),
        (np.array([object()]), "dtype object"),
        ([1, {"k": object()}], "MeanActionAgent.extra[1]['k'] is a builtins.object"),
    ],
)
def test_default_save_refuses_what_is_not_plain_data(tmp_path, value, where):
    from metail_test_agents import MeanActionAgent

    agent = MeanActionAgent()
    agent.extra = value
    with pytest.raises(TypeError, match="Override save/load") as e:
        agent.save(tmp_path)
    assert where in str(e.value)


def test_a_pickled_checkpoint_is_refused_and_runs_nothing(tmp_path):
    from metail_test_agents import MeanActionAgent

    marker = tmp_path / "payload-ran"
    plant_pickle(tmp_path / "ckpt", marker)
    with pytest.raises(AgentStateError, match="agent.pkl, a pickled agent: pickles are never"):
        MeanActionAgent.load(tmp_path / "ckpt")
    assert not marker.exists()


def test_a_copied_pickle_and_record_run_nothing_through_evaluate(tmp_path, tiny_data, own_key):
    marker = tmp_path / "payload-ran"
    out = tmp_path / "out"
    ckpt = out / "checkpoints" / "mean" / "seed_000"
    plant_pickle(ckpt, marker)
    record = {
        "agent": {"spec": MEAN.spec, "kwargs": dict(MEAN.kwargs)},
        "seed": 0,
        "training_data_hash": api.data_hash(
            "hopper-v1", data_dir=tiny_data, task_ids=one_task().train_tasks
        ),
        "time_s": 1.0,
    }
    record["files"] = C.file_digests(ckpt)  # a forger can compute the digests...
    record["mac"] = "hmac-sha256:" + "0" * 64  # ...but not this machine's HMAC
    (ckpt / META_TRAIN_RECORD).write_text(json.dumps(record))
    kw = dict(out=out, seeds=1, config=one_task(), workers=1, data_dir=tiny_data, progress=False)
    with pytest.raises(ValueError, match="not recorded by metail on this machine.*trust"):
        evaluate(MEAN, **kw)
    assert not (out / "results").exists() and not marker.exists()

    # trusted on the user's word: loaded by the agent's own load, which refuses pickles
    [path] = evaluate(MEAN, trust_checkpoints=True, **kw)
    doc = load(path)
    assert doc["meta_train"]["status"] == "ok"  # reused, not retrained
    assert all("pickles are never loaded" in j["error"] for j in doc["jobs"])
    assert not marker.exists()


def test_own_checkpoints_are_reused_foreign_or_changed_ones_need_trust(
    tmp_path, tiny_data, own_key, monkeypatch
):
    kw = dict(out=tmp_path, seeds=1, config=one_task(), workers=1, progress=False)
    [path] = evaluate(MEAN, data_dir=tiny_data, **kw)
    first = load(path)
    ckpt = tmp_path / "checkpoints" / "mean" / "seed_000"
    record = json.loads((ckpt / META_TRAIN_RECORD).read_text())
    assert record["files"] == C.file_digests(ckpt) and record["mac"].startswith("hmac-sha256:")
    assert oct(own_key.stat().st_mode & 0o777) == "0o600"

    path.unlink()  # this machine recorded it: reused
    assert numbers(load(evaluate(MEAN, data_dir=tiny_data, **kw)[0])) == numbers(first)

    path.unlink()  # another machine's key: refused, then reused when trusted
    monkeypatch.setenv(C.KEY_ENV, str(tmp_path / "keys" / "other-machine.key"))
    with pytest.raises(ValueError, match=f"checkpoint {ckpt} was not recorded by metail on"):
        evaluate(MEAN, data_dir=tiny_data, **kw)
    stamp = (ckpt / STATE_FILE).stat().st_mtime_ns
    second = load(evaluate(MEAN, data_dir=tiny_data, trust_checkpoints=True, **kw)[0])
    assert numbers(second) == numbers(first) and second["meta_train"] == first["meta_train"]
    assert (ckpt / STATE_FILE).stat().st_mtime_ns == stamp

    path.unlink()  # this machine's key, but a file changed after it was recorded
    monkeypatch.setenv(C.KEY_ENV, str(own_key))
    state = json.loads((ckpt / STATE_FILE).read_text())
    state["state"]["scale"] = 5.0
    (ckpt / STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(ValueError, match="files that changed since"):
        evaluate(MEAN, data_dir=tiny_data, **kw)


def test_resume_loads_only_a_recorded_checkpoint(tmp_path, tiny_data, own_key):
    config = one_task(k_values=(0, 1))
    kw = dict(seeds=1, workers=1, data_dir=tiny_data, progress=False)
    [path] = evaluate(MEAN, out=tmp_path / "a", config=config, **kw)
    doc = load(path)
    out = tmp_path / "b"  # a copy of the run, minus one job, with a foreign record
    shutil.copytree(tmp_path / "a", out)
    half = out / path.relative_to(tmp_path / "a")
    from metail_envs.benchmark import results as R

    doc["jobs"], doc["complete"] = doc["jobs"][:1], False
    R.write_result(half, doc)
    record = out / "checkpoints" / "mean" / "seed_000" / META_TRAIN_RECORD
    rec = json.loads(record.read_text())
    rec["mac"] = "hmac-sha256:" + "f" * 64
    record.write_text(json.dumps(rec))
    with pytest.raises(ValueError, match=f"cannot resume {half}: checkpoint .* not recorded"):
        evaluate(MEAN, out=out, config=config, resume=True, **kw)
    evaluate(MEAN, out=out, config=config, resume=True, trust_checkpoints=True, **kw)
    assert numbers(load(half)) == numbers(load(path))


@pytest.mark.filterwarnings("ignore:1 seeds is below")
def test_meta_train_only_checkpoints_survive_a_new_scored_expert_not_new_training_data(
    tmp_path, tiny_data, own_key
):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    out = tmp_path / "out"
    kw = dict(out=out, seeds=1, config=one_task(), workers=1, data_dir=data, progress=False)
    [ckpt] = evaluate(MEAN, meta_train_only=True, **kw)
    assert (ckpt / META_TRAIN_RECORD).is_file() and not (out / "results").exists()
    trained = json.loads((ckpt / META_TRAIN_RECORD).read_text())

    def edit_manifest(task_id: str) -> None:
        path = data / "manifest.json"
        doc = json.loads(path.read_text())
        doc["tasks"][task_id]["random"]["mean_return"] += 1.0
        path.write_text(json.dumps(doc))

    edit_manifest(one_task().tasks[0])  # the scored task's data changes: the prior stands
    [path] = evaluate(MEAN, **kw)
    doc = load(path)
    assert doc["meta_train"] == {"status": "ok", "error": None, "time_s": trained["time_s"]}
    assert doc["complete"] and json.loads((ckpt / META_TRAIN_RECORD).read_text()) == trained

    edit_manifest(one_task().train_tasks[0])  # the training data changes
    [ckpt] = evaluate(MEAN, meta_train_only=True, **kw)
    retrained = json.loads((ckpt / META_TRAIN_RECORD).read_text())
    assert retrained["training_data_hash"] != trained["training_data_hash"]
