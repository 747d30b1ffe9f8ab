"""Every baseline end to end through the public evaluation API (``metail evaluate``'s Python
side): meta-training and adaptation in the runner's worker processes, with the tiny configs
(in_context and history_bc: their own test files)."""

from __future__ import annotations

import json
import warnings

from metail_envs.benchmark import AgentSpec, ProtocolConfig, evaluate
from metail_envs.benchmark.results import META_TRAIN_RECORD

SPECS = {
    "bc": "baselines.bc:BCAgent",
    "maml_bc": "baselines.maml_bc:MAMLBCAgent",
    "joint": "baselines.joint:JointAgent",
    "conditioned": "baselines.conditioned:ConditionedAgent",
    "single_task_bc": "baselines.single_task_bc:SingleTaskBCAgent",
}
FINETUNE = {"adaptation": "finetune"}


def test_every_baseline_through_evaluate(tiny_data_dir, suite, tmp_path):
    config = ProtocolConfig(
        splits=("test",), k_values=(0, 2), tracks=("full",), episodes=2, max_steps=30,
        tasks=(suite.test[0].id,), train_tasks=tuple(t.id for t in suite.train[:2]),
        adapt_cap_s=30.0, act_cap_s=5.0, meta_train_cap_s=60.0,
    )  # fmt: skip
    agents = [AgentSpec(spec, {"config": "small"}, name) for name, spec in SPECS.items()]
    meta_learners = ("maml_bc", "joint")
    modes = [  # the meta-learners' second adaptation mode, as `--adapt-kwargs` gives it
        AgentSpec(SPECS[name], {"config": "small"}, f"{name}+finetune", FINETUNE)
        for name in meta_learners
    ]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "1 seeds is below")
        run = dict(out=tmp_path, seeds=[0], config=config, workers=1, data_dir=tiny_data_dir)
        paths = evaluate(agents, progress=False, **run)
        mode_paths = evaluate(modes, progress=False, **run)  # later: borrows the checkpoints
    for name, path in zip(meta_learners, mode_paths):
        base = json.loads((tmp_path / "results" / name / "seed_000.json").read_text())
        doc = json.loads(path.read_text())
        assert doc["meta_train"]["time_s"] == base["meta_train"]["time_s"]  # not meta-trained
        assert doc["agent"]["adapt_kwargs"] == FINETUNE
    for name, path in zip(meta_learners, mode_paths):  # the config adapted with, per job
        base = json.loads((tmp_path / "results" / name / "seed_000.json").read_text())
        digests = {j["agent_config"] for j in json.loads(path.read_text())["jobs"]}
        base_digests = {j["agent_config"] for j in base["jobs"]}
        assert len(digests) == len(base_digests) == 1 and digests != base_digests
        assert next(iter(digests)).startswith("sha256:")
    paths += mode_paths
    assert len(paths) == len(agents) + len(modes)
    for path in paths:
        doc = json.loads(path.read_text())
        assert doc["meta_train"]["status"] == "ok", doc["meta_train"]["error"]
        assert doc["complete"]
        assert sorted((j["k"], j["status"]) for j in doc["jobs"]) == [(0, "ok"), (2, "ok")], [
            j["error"] for j in doc["jobs"]
        ]
        checkpoint = tmp_path / "checkpoints" / path.parent.name / "seed_000"
        assert {p.name for p in checkpoint.iterdir()} == {
            "agent.json",
            "model.pt",
            META_TRAIN_RECORD,
        }
