"""The benchmark's typed worker jobs: one table of worker functions, plain data across the process
boundary, the data directory carried by the job."""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path

from metail_envs.benchmark import _worker, verify
from metail_envs.benchmark.agent import AgentSpec
from metail_envs.benchmark.jobs import (
    WORKER,
    EvaluateJob,
    ProbeJob,
    WorkerJob,
    evaluation_job,
    executor_job,
)
from metail_envs.benchmark.protocol import ProtocolConfig
from metail_envs.manifest import default_data_dir

PLAIN = (str, int, float, bool, type(None), tuple, list, dict)


def _plain(value: object) -> bool:
    if dataclasses.is_dataclass(value):
        return all(_plain(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    if isinstance(value, tuple | list):
        return all(_plain(v) for v in value)
    return isinstance(value, PLAIN)


def _job_types(cls: type = WorkerJob) -> list[type]:
    return [t for sub in cls.__subclasses__() for t in (sub, *_job_types(sub))]


def test_every_job_type_names_a_registered_worker_function() -> None:
    names = {cls.fn for cls in _job_types() if "fn" in vars(cls)}
    assert names == set(_worker.FUNCTIONS)
    assert all(callable(fn) for fn in _worker.FUNCTIONS.values())


def test_a_job_crosses_as_plain_data_and_the_runner_and_verify_build_the_same(
    tmp_path: Path,
) -> None:
    spec, config = AgentSpec("random", {"a": 1}, "r"), ProtocolConfig()
    path = tmp_path / "results" / spec.slug / "seed_003.json"
    doc = {"agent": spec.to_json(), "config": config.to_json(), "seed": 3}
    entry = {"split": "test", "task": "hopper-v1/test/00", "track": "full", "k": 5}
    checkpoint = tmp_path / "checkpoints" / spec.slug / "seed_003"
    key = ("test", "hopper-v1/test/00", "full", 5)
    ours = evaluation_job(spec, 3, checkpoint, config, key, "/data", tag="mine")
    theirs = verify._job(path, doc, entry, "/data", tag="theirs")
    assert ours.fn == theirs.fn == WORKER
    assert ours.args == theirs.args and isinstance(ours.args, EvaluateJob)
    assert (ours.caps, ours.phases) == (theirs.caps, theirs.phases)
    assert ours.caps["start"] > 0 and ours.caps["adapt"] == config.adapt_cap_s
    sent = ours.spec()
    assert "tag" not in sent and _plain(sent["args"])
    assert pickle.loads(pickle.dumps(sent)) == sent


def test_the_worker_reads_the_data_directory_from_the_job(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("METAIL_DATA_DIR", raising=False)
    before = default_data_dir()
    seen = {}

    def fake_probe(job: ProbeJob, send: object) -> dict:
        seen["dir"] = default_data_dir()
        return {}

    monkeypatch.setitem(_worker.FUNCTIONS, ProbeJob.fn, fake_probe)
    job = executor_job(ProbeJob(spec="random", data_dir=str(tmp_path)))
    assert _worker.run(job.spec()["args"], lambda message: None) == {}
    assert seen["dir"] == tmp_path
    assert default_data_dir() == before and "METAIL_DATA_DIR" not in os.environ
