"""The evaluation run on a tiny configuration of the real code: real envs, real files, real
worker processes. Plugins, misbehaving agents, kill-and-resume."""

from __future__ import annotations

import sys
import time
import types

import numpy as np
import pytest
from tinybench import (
    EPISODES,
    SLOW,
    kill_after_first_job,
    load,
    make_entry_point_dist,
    numbers,
    start_slow_run,
    tiny_config,
)

import metail_envs
from metail_envs import data as api
from metail_envs.benchmark import AgentSpec, evaluate
from metail_envs.benchmark import results as R
from metail_envs.benchmark.reference_agents import ExpertAgent

pytestmark = pytest.mark.filterwarnings("ignore:.*below the protocol's minimum")


def test_module_class_agents_are_evaluated_and_written(tiny_run, tiny_data):
    out, paths = tiny_run
    assert len(paths) == 8 and all(p.exists() for p in paths)
    suite = metail_envs.load_suite("hopper-v1")
    expect = dict(
        suite_sha256=suite.sha256,
        data_hash=api.data_hash(suite, data_dir=tiny_data),
        references=api.load_references(suite, data_dir=tiny_data),
    )
    for p in paths:
        doc = load(p)
        assert R.validate_result(doc, **expect) == [], p
        assert doc["complete"] and len(doc["jobs"]) == 4
        assert doc["protocol"]["name"] == "hopper-v1, protocol v3"
        assert set(doc["environment"]["versions"]) >= {"metail", "mujoco", "gymnasium", "torch"}
    mean = load(out / "results" / "mean" / "seed_000.json")
    assert mean["agent"]["kwargs"] == {"scale": 0.5}
    assert mean["meta_train"]["status"] == "ok" and mean["meta_train"]["time_s"] >= 0
    for job in mean["jobs"]:
        assert job["status"] == "ok" and len(job["returns"]) == EPISODES
        assert all(1 <= n <= 40 for n in job["lengths"]) and job["adapt_time_s"] >= 0


def test_scores_are_normalised_by_the_references(tiny_run):
    out, _ = tiny_run
    # The tiny data measured its expert reference on the evaluation's reset seeds, so the
    # expert reference agent (privileged, loading the SB3 zip) must score 100 (up to float32
    # differences between batched and single-observation inference).
    for seed in (0, 1):
        doc = load(out / "results" / "expert" / f"seed_{seed:03d}.json")
        assert doc["agent"]["privileged"] is True
        assert [j["score"] for j in doc["jobs"]] == pytest.approx([100.0] * 4, abs=1e-4)
    # Random policies differ per seed (seeded from (seed, task, K)), references stay fixed.
    r0, r1 = (load(out / "results" / "random" / f"seed_00{s}.json") for s in (0, 1))
    assert [j["returns"] for j in r0["jobs"]] != [j["returns"] for j in r1["jobs"]]


def test_meta_trained_agent_is_loaded_afresh_for_every_adaptation(tiny_run):
    # MeanActionAgent wipes its meta-trained mean when adapting with K > 0; had that leaked into
    # a later K=0 adaptation, that job would have failed. Seeds differ at K=0, and at K=1 by their drawn demonstration.
    out, _ = tiny_run
    docs = [load(out / "results" / "mean" / f"seed_00{s}.json") for s in (0, 1)]
    for doc in docs:
        assert all(j["status"] == "ok" for j in doc["jobs"])
    k0 = [[j["returns"] for j in d["jobs"] if j["k"] == 0] for d in docs]
    assert k0[0] != k0[1]
    # At K=1 the policy depends only on the drawn demonstration: seeds that drew the same one
    # give the same returns, seeds that drew another one other returns.
    k1 = [{j["task"]: (j["demos"], j["returns"]) for j in d["jobs"] if j["k"] == 1} for d in docs]
    for task, (demos, returns) in k1[0].items():
        other_demos, other_returns = k1[1][task]
        assert (demos == other_demos) == (returns == other_returns)


def test_entry_point_agent_runs_in_workers(tmp_path, tiny_data, monkeypatch):
    monkeypatch.syspath_prepend(str(make_entry_point_dist(tmp_path / "site")))
    test0 = metail_envs.load_suite("hopper-v1").test[0].id
    config = tiny_config(splits=("test",), k_values=(0,), tasks=(test0,))
    [path] = evaluate(
        "mean-ep", out=tmp_path / "out", seeds=1, config=config, workers=1, data_dir=tiny_data,
        progress=False,
    )  # fmt: skip
    doc = load(path)
    assert doc["agent"]["target"] == "metail_test_agents:MeanActionAgent"
    assert [j["status"] for j in doc["jobs"]] == ["ok"]


def test_misbehaving_agents_fail_only_their_jobs(tmp_path, tiny_data):
    suite = metail_envs.load_suite("hopper-v1")
    config = tiny_config(
        splits=("test",), k_values=(1,), tasks=(suite.test[0].id,), adapt_cap_s=1.0, act_cap_s=1.0
    )
    names = [
        "RaisingAgent", "HangingAgent", "NaNAgent", "WrongShapeAgent", "HangingActAgent",
        "CrashingAgent", "FailingMetaTrainAgent", "MeanActionAgent",
    ]  # fmt: skip
    start = time.monotonic()
    paths = evaluate(
        [AgentSpec(f"metail_test_agents:{n}", name=n) for n in names], out=tmp_path, seeds=1,
        config=config, workers=2, data_dir=tiny_data, progress=False,
    )  # fmt: skip
    assert time.monotonic() - start < 120  # the hangs (3600 s) were cut at their caps
    errors = {}
    for name, path in zip(names, paths, strict=True):
        doc = load(path)
        assert doc["complete"], name
        [job] = doc["jobs"]
        errors[name] = job["error"]
    assert errors.pop("MeanActionAgent") is None
    expected = {
        "RaisingAgent": "RuntimeError: adapt exploded on purpose",
        "HangingAgent": "timed out: adapt ran past its 1 s cap",
        "NaNAgent": "non-finite actions",
        "WrongShapeAgent": f"shape ({EPISODES}, 2), expected ({EPISODES}, 3)",
        "HangingActAgent": "timed out: an act call ran past its 1 s cap",
        "CrashingAgent": "worker process died (exit code 3) during adapt",
        "FailingMetaTrainAgent": "meta-training failed: ValueError: meta-training exploded",
    }
    for name, fragment in expected.items():
        assert fragment in errors[name], (name, errors[name])


def test_kill_then_resume_gives_the_uninterrupted_numbers(tmp_path, tiny_data, slow_reference):
    out = tmp_path / "killed"
    done = kill_after_first_job(start_slow_run(out, tiny_data), out)
    assert 1 <= done < 8, "the kill must land mid-run"

    kwargs = dict(seeds=2, config=tiny_config(), workers=1, data_dir=tiny_data, progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        evaluate([SLOW], out=out, **kwargs)
    resumed = evaluate([SLOW], out=out, resume=True, **kwargs)
    for a, b in zip(slow_reference, resumed, strict=True):
        assert a.relative_to(a.parents[2]) == b.relative_to(out)
        doc_a, doc_b = load(a), load(b)
        assert doc_b["complete"] and numbers(doc_a) == numbers(doc_b)
    before = [p.read_bytes() for p in resumed]
    evaluate([SLOW], out=out, resume=True, **kwargs)  # nothing left to do: files untouched
    assert [p.read_bytes() for p in resumed] == before


def test_shipped_checkpoints_are_rescored_without_meta_training(tmp_path, tiny_data):
    test0 = metail_envs.load_suite("hopper-v1").test[0].id
    config = tiny_config(splits=("test",), k_values=(0,), tasks=(test0,))
    agent = AgentSpec("metail_test_agents:MeanActionAgent", {"scale": 0.5}, name="mean")
    kwargs = dict(out=tmp_path, seeds=1, config=config, workers=1, progress=False)
    [path] = evaluate(agent, data_dir=tiny_data, **kwargs)
    first = load(path)
    model = next(p for p in (tmp_path / "checkpoints" / "mean" / "seed_000").iterdir())
    stamp = model.stat().st_mtime_ns
    path.unlink()  # only the checkpoints are shipped
    second = load(evaluate(agent, data_dir=tiny_data, **kwargs)[0])
    assert model.stat().st_mtime_ns == stamp, "the checkpoint was meta-trained again"
    assert second["meta_train"] == first["meta_train"] and numbers(second) == numbers(first)

    other = AgentSpec("metail_test_agents:MeanActionAgent", {"scale": 0.25}, name="mean")
    path.unlink()  # other kwargs: the checkpoint is not this agent's, it is retrained
    evaluate(other, data_dir=tiny_data, **kwargs)
    assert model.stat().st_mtime_ns != stamp


def test_adaptation_modes_share_one_meta_training(tmp_path, tiny_data):
    """Entries that differ only in adapt_kwargs (a test-time mode given to load) are scored
    from one meta-training: the second borrows the first's checkpoint (same files, same
    recorded time), its jobs load it with its mode, and its result file records the mode."""
    test0 = metail_envs.load_suite("hopper-v1").test[0].id
    config = tiny_config(splits=("test",), k_values=(0, 1), tasks=(test0,))
    spec = "metail_test_agents:ShiftAgent"
    plain = AgentSpec(spec, {"scale": 0.5}, name="plain")
    shifted = AgentSpec(spec, {"scale": 0.5}, name="shifted", adapt_kwargs={"shift": 0.5})
    kwargs = dict(out=tmp_path, seeds=1, config=config, workers=1, progress=False)
    [a] = evaluate(plain, data_dir=tiny_data, **kwargs)
    [b] = evaluate(shifted, data_dir=tiny_data, **kwargs)
    doc_a, doc_b = load(a), load(b)
    assert doc_b["meta_train"] == doc_a["meta_train"]  # the recorded time is the original's
    ckpts = tmp_path / "checkpoints"
    files = [
        sorted(p.name for p in (ckpts / n / "seed_000").iterdir()) for n in ("plain", "shifted")
    ]
    assert files[0] == files[1]
    for name in files[0]:
        if name != "meta_train.json":
            assert (ckpts / "plain/seed_000" / name).read_bytes() == (
                ckpts / "shifted/seed_000" / name
            ).read_bytes()
    assert doc_b["agent"]["adapt_kwargs"] == {"shift": 0.5} and "adapt_kwargs" not in doc_a["agent"]
    assert numbers(doc_a) != numbers(doc_b)  # the mode reached every job
    other = AgentSpec(spec, {"scale": 0.5}, name="shifted", adapt_kwargs={"shift": 0.1})
    with pytest.raises(ValueError, match="cannot resume .*adapt_kwargs"):
        evaluate(other, data_dir=tiny_data, resume=True, **kwargs)
    retrained = AgentSpec(spec, {"scale": 0.25}, name="scaled", adapt_kwargs={"shift": 0.5})
    [c] = evaluate(retrained, data_dir=tiny_data, **kwargs)  # other kwargs: its own training
    assert load(c)["meta_train"]["time_s"] != doc_a["meta_train"]["time_s"]


def test_adapt_kwargs_the_agents_load_does_not_take_are_refused(tmp_path, tiny_data):
    from metail_test_agents import MeanActionAgent, ShiftAgent

    from metail_envs.benchmark.preflight import check_adapt_kwargs, constructor_params

    with pytest.raises(ValueError, match=r"load takes no adaptation kwargs \['shift'\]"):
        check_adapt_kwargs("m", {"shift": 1.0}, constructor_params(MeanActionAgent.load))
    check_adapt_kwargs("s", {"shift": 1.0}, constructor_params(ShiftAgent.load))


def test_resume_refuses_a_different_configuration(tiny_run, tiny_data):
    out, _ = tiny_run
    with pytest.raises(ValueError, match="cannot resume .*config"):
        evaluate(
            "random", out=out, seeds=2, config=tiny_config(episodes=2), resume=True,
            data_dir=tiny_data, progress=False,
        )  # fmt: skip


def test_bad_arguments_are_refused_before_anything_runs(tmp_path, tiny_data):
    kw = dict(out=tmp_path, config=tiny_config(), data_dir=tiny_data, progress=False)
    with pytest.raises(ValueError, match="unknown agent 'nope'"):
        evaluate("nope", seeds=1, **kw)
    with pytest.raises(ValueError, match="seeds=0 is invalid"):
        evaluate("random", seeds=0, **kw)
    with pytest.raises(ValueError, match="workers=0 is invalid"):
        evaluate("random", seeds=1, workers=0, **kw)
    with pytest.raises(ValueError, match=r"tasks \['hopper-v1/train/00'\] are not in splits"):
        evaluate("random", seeds=1, **{**kw, "config": tiny_config(tasks=("hopper-v1/train/00",))})
    one_split = tiny_config(tasks=(metail_envs.load_suite("hopper-v1").test[0].id,))
    with pytest.raises(ValueError, match=r"splits \['ood'\] have none of tasks"):
        evaluate("random", seeds=1, **{**kw, "config": one_split})
    with pytest.raises(ValueError, match="k_values"):
        tiny_config(k_values=(0, 0))
    assert not (tmp_path / "results").exists()


def test_expert_agent_uses_load_expert_and_says_when_it_is_missing(monkeypatch):
    task = metail_envs.load_suite("hopper-v1").test[0]

    class FakeSB3Model:
        def predict(self, obs, deterministic=False):
            assert deterministic
            return np.full((len(obs), 3), 0.25), None

    seen = []
    fake = types.ModuleType("metail_envs.data")
    fake.load_expert = lambda t: seen.append(t) or FakeSB3Model()
    monkeypatch.setitem(sys.modules, "metail_envs.data", fake)
    policy = ExpertAgent().adapt([], task=task)
    assert seen == [task]
    np.testing.assert_array_equal(policy.act(np.zeros((2, 11))), np.full((2, 3), 0.25))
    with pytest.raises(ValueError, match="needs task="):
        ExpertAgent().adapt([])


def test_task_only_agent_is_evaluated_once_per_task_with_the_same_numbers(
    tiny_run, tmp_path, tiny_data
):
    """The expert (task_only) plays each task's episodes once for every seed, track and K; its
    entries hold exactly what evaluating each one anew gives, with their own demonstration
    windows, and the shared entries of a task carry one job's timing."""
    out, _ = tiny_run
    config = tiny_config(tracks=("full", "short"))
    shared = evaluate(["expert"], out=tmp_path / "shared", seeds=2, config=config,
                      workers=2, data_dir=tiny_data, progress=False)  # fmt: skip
    anew = evaluate(["metail_test_agents:UnsharedExpertAgent"], out=tmp_path / "anew", seeds=2,
                    config=config, workers=2, data_dir=tiny_data, progress=False)  # fmt: skip
    for a, b in zip(shared, anew, strict=True):
        assert numbers(load(a)) == numbers(load(b))
        assert R.validate_result(load(a)) == []
    times = {}
    for path in shared:
        for job in load(path)["jobs"]:
            times.setdefault(job["task"], set()).add(job["eval_time_s"])
            assert len(job["demos"]) == job["k"]
    assert all(len(t) == 1 for t in times.values()), times
    unshared = {j["eval_time_s"] for p in anew for j in load(p)["jobs"]}
    assert len(unshared) == sum(len(load(p)["jobs"]) for p in anew)


def test_a_shorter_horizon_is_normalised_by_references_at_that_horizon(tmp_path, tiny_data):
    """A smoke run shorter than the references' horizon (40 steps in the tiny data) measures
    its references at its own horizon in the run: the expert scores 100 and random 0 there, not
    a fraction of a longer episode's return; the file says so and validates."""
    config = tiny_config(max_steps=25)
    paths = evaluate(["expert", "random"], out=tmp_path, seeds=1, config=config, workers=2,
                     data_dir=tiny_data, progress=False)  # fmt: skip
    shipped = api.load_references("hopper-v1", data_dir=tiny_data)
    for path in paths:
        doc = load(path)
        assert {r["horizon"] for r in doc["references"].values()} == {25}
        assert R.validate_result(doc, references=shipped) == []
        scores = [j["score"] for j in doc["jobs"] if j["k"] == 0]
        expect = 100.0 if doc["agent"]["name"] == "expert" else 0.0
        assert scores == pytest.approx([expect] * len(scores), abs=1e-9)
        for t, ref in doc["references"].items():
            assert ref["expert_mean"] < shipped[t]["expert_mean"]  # 25 of 40 steps' reward
    with pytest.raises(ValueError, match="max_steps=1: the expert's mean return"):
        evaluate(["random"], out=tmp_path / "one", seeds=1, config=tiny_config(max_steps=1),
                 workers=1, data_dir=tiny_data, progress=False)  # fmt: skip
