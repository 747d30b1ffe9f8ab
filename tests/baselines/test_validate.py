"""Tuning on held-out training tasks: the split is fixed and disjoint, and a run scores them."""

from __future__ import annotations

import pytest

from baselines.validate import explicit_split, validate, validation_split


def test_validation_split_is_fixed_and_disjoint(suite):
    train, val = validation_split(8)
    assert len(val) == 8 and len(train) == len(suite.train) - 8
    assert not {t.id for t in train} & {t.id for t in val}
    assert all("/train/" in t.id for t in val)
    assert [t.id for t in validation_split(8)[1]] == [t.id for t in val]


def test_validation_tasks_can_give_the_largest_k():
    """The split holds out only tasks whose pool can give every K of the run (the shipped
    data gives every training task 10 demonstrations: all 40 can, 39 at most held out)."""
    from metail_envs import data

    pools = data.load_manifest()["tasks"]
    assert {pools[t]["demos"]["n"] for t in pools if "/train/" in t} == {10}
    _, val = validation_split(8, min_demos=5)
    assert len(val) == 8 and all(pools[t.id]["demos"]["n"] >= 5 for t in val)
    with pytest.raises(ValueError, match="val_tasks=40 is invalid; accepted: 1..39"):
        validation_split(40, min_demos=5)
    with pytest.raises(ValueError, match=r"accepted: 1..0 \(training tasks with at least 11"):
        validation_split(1, min_demos=11)


def test_validate_scores_the_held_out_tasks(tiny_data_dir):
    result = validate(
        "baselines.maml_bc:MAMLBCAgent", {"config": "small"}, n_val=2, k_values=(0, 1),
        tracks=("full",), episodes=1, max_steps=10, data_dir=tiny_data_dir,
    )  # fmt: skip
    assert {(r["task"], r["k"]) for r in result["rows"]} == {
        (t, k) for t in result["val_tasks"] for k in (0, 1)
    }
    assert set(result["summary"]) == {"K=0", "full K=1"}


def test_tuning_table_reads_validate_runs(tiny_data_dir, tmp_path):
    """The tuning table shows each run's IQMs in the headline order and counts the (task, seed)
    scores that adaptation put below the same task's K=0."""
    import json

    from baselines.tuning_table import table

    result = validate(
        "baselines.maml_bc:MAMLBCAgent", {"config": "small"}, n_val=2, k_values=(0, 1),
        tracks=("full",), episodes=1, max_steps=10, data_dir=tiny_data_dir,
    )  # fmt: skip
    path = tmp_path / "maml-small.json"
    path.write_text(json.dumps(result))
    header, _, row = table([path]).splitlines()
    assert header.split(" | ")[3:5] == ["full K=1", "K=0"]
    cells = row.strip("| ").split(" | ")
    assert cells[:2] == ["maml-small", "baselines.maml_bc:MAMLBCAgent"]
    iqm, mean = cells[3].split()
    assert float(iqm) == pytest.approx(result["summary"]["full K=1"]["iqm"], abs=0.05)
    assert float(mean.strip("()")) == pytest.approx(result["summary"]["full K=1"]["mean"], abs=0.05)
    k0 = {r["task"]: r["score"] for r in result["rows"] if r["k"] == 0}
    below = sum(r["score"] < k0[r["task"]] for r in result["rows"] if r["k"] == 1)
    assert cells[5] == f"{below}/2"


def test_explicit_tasks_refuse_test_and_ood(suite):
    train, chosen = explicit_split([suite.nominal.id, suite.train[3].id])
    assert [t.id for t in chosen] == [suite.nominal.id, suite.train[3].id]
    assert len(train) == len(suite.train) - 1 and suite.train[3] not in train
    for bad in (suite.test[0].id, suite.ood[0].id):
        with pytest.raises(ValueError, match="only training and nominal"):
            explicit_split([bad])


def test_shipped_checkpoints_are_scored_on_the_nominal_hopper(tiny_data_dir, tmp_path, suite):
    """The nominal Hopper is scored with checkpoints `metail evaluate` wrote, not retrained."""
    import warnings

    from metail_envs.benchmark import AgentSpec, ProtocolConfig, evaluate

    config = ProtocolConfig(
        splits=("test",), k_values=(0,), tracks=("full",), episodes=1, max_steps=10,
        tasks=(suite.test[0].id,),
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "1 seeds is below")
        evaluate(
            [AgentSpec("baselines.bc:BCAgent", {"config": "small"}, "bc")], out=tmp_path,
            seeds=[0], config=config, workers=1, data_dir=tiny_data_dir, progress=False,
        )  # fmt: skip
    ckpts = tmp_path / "checkpoints" / "bc"
    result = validate(
        "baselines.bc:BCAgent", {}, k_values=(0, 1), tracks=("full",), episodes=1, max_steps=10,
        data_dir=tiny_data_dir, tasks=[suite.nominal.id], checkpoints=ckpts,
    )  # fmt: skip
    nominal = suite.nominal.id
    assert {(r["task"], r["k"]) for r in result["rows"]} == {(nominal, 0), (nominal, 1)}
    # metail evaluate with the same checkpoint, task, K and seed runs the same job: same numbers
    import json
    import shutil

    shutil.copytree(tmp_path / "checkpoints", tmp_path / "nominal" / "checkpoints")
    nominal_config = ProtocolConfig(
        splits=("nominal",), k_values=(0, 1), tracks=("full",), episodes=1, max_steps=10
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "1 seeds is below")
        [path] = evaluate(
            [AgentSpec("baselines.bc:BCAgent", {"config": "small"}, "bc")],
            out=tmp_path / "nominal", seeds=[0], config=nominal_config, workers=1,
            data_dir=tiny_data_dir, progress=False,
        )  # fmt: skip
    doc = json.loads(path.read_text())
    assert doc["meta_train"]["status"] == "ok"  # the checkpoint was reused, not retrained
    scored = {j["k"]: (j["returns"], j["score"]) for j in doc["jobs"]}
    assert scored == {r["k"]: (r["returns"], r["score"]) for r in result["rows"]}
    record = ckpts / "seed_000" / "metail_meta_train.json"
    record.write_text(record.read_text().replace(result_hash(record), "0" * 64))
    with pytest.raises(ValueError, match="meta-trained on other demonstrations"):
        validate(
            "baselines.bc:BCAgent", {}, k_values=(0,), data_dir=tiny_data_dir,
            tasks=[nominal], checkpoints=ckpts,
        )  # fmt: skip
    with pytest.raises(ValueError, match="outside the training split"):
        validate(
            "baselines.bc:BCAgent", {}, tasks=[suite.train[0].id], checkpoints=ckpts,
            data_dir=tiny_data_dir,
        )  # fmt: skip


def result_hash(record) -> str:
    import json

    return json.loads(record.read_text())["training_data_hash"]
