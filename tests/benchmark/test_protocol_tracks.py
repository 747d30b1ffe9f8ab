"""The protocol's tracks (since v2): the short track's windows, demonstrations drawn per seed, stateful policies and
adaptation stats, through the real runner (worker processes, files on disk)."""

from __future__ import annotations

import pytest
from metail_test_agents import ClockPolicy
from tinybench import MAX_STEPS, load, tiny_config

import metail_envs
from metail_envs.benchmark import AgentSpec, ProtocolConfig, evaluate, evaluation
from metail_envs.benchmark.protocol import draw_demos

pytestmark = pytest.mark.filterwarnings("ignore:.*below the protocol's minimum")


def _alone(policy_factory, task, seeds) -> list[float]:
    """Each episode run alone, with a fresh policy: what a batch must reproduce."""
    out = []
    for seed in seeds:
        envs = evaluation.make_envs(task, 1, MAX_STEPS)
        returns, _ = evaluation.run_episodes(policy_factory(), envs, [seed])
        out.append(returns[0])
    return out


def test_stateful_policy_keeps_each_episodes_state_when_others_end():
    task = metail_envs.load_suite("hopper-v1").test[0]
    seeds = [1000 + i for i in range(4)]
    envs = evaluation.make_envs(task, len(seeds), MAX_STEPS)
    returns, lengths = evaluation.run_episodes(ClockPolicy(0.3), envs, seeds)
    assert len(set(lengths)) > 1  # episodes end at different steps, so rows shift
    assert returns == pytest.approx(_alone(lambda: ClockPolicy(0.3), task, seeds), abs=1e-12)
    # the same policy keeping its state by batch row gets other returns: the test can fail
    envs = evaluation.make_envs(task, len(seeds), MAX_STEPS)
    by_row, _ = evaluation.run_episodes(ClockPolicy(0.3, by_row=True), envs, seeds)
    assert by_row != pytest.approx(returns, abs=1e-6)


def test_stateful_agent_through_evaluate(tmp_path, tiny_data):
    config = tiny_config()
    [path] = evaluate(
        AgentSpec("metail_test_agents:ClockAgent", {"gain": 0.3}),
        out=tmp_path, seeds=[0], config=config, data_dir=tiny_data, workers=1, progress=False,
    )  # fmt: skip
    doc = load(path)
    assert doc["complete"] and all(j["status"] == "ok" for j in doc["jobs"])
    suite = metail_envs.load_suite("hopper-v1")
    for job in doc["jobs"]:
        alone = _alone(lambda: ClockPolicy(0.3), suite.task(job["task"]), config.reset_seeds())
        assert job["returns"] == pytest.approx(alone, abs=1e-12)
        assert job["adapt_stats"] == {"forward_passes": 0}


def test_short_track_gives_windows_drawn_per_seed(tmp_path, tiny_data):
    config = tiny_config(tracks=("full", "short"), k_values=(1,), short_k_values=(1,))
    paths = evaluate(
        AgentSpec("metail_test_agents:CountingAgent"),
        out=tmp_path, seeds=[0, 1, 2], config=config, data_dir=tiny_data, workers=2,
        progress=False,
    )  # fmt: skip
    docs = [load(p) for p in paths]
    windows = {}
    for doc in docs:
        assert doc["complete"] and len(doc["jobs"]) == 2 * len(config.tasks)
        for job in doc["jobs"]:
            [[index, start, stop]] = job["demos"]
            size = stop - start
            assert job["adapt_stats"]["examples"] == size
            assert size == (config.short_window if job["track"] == "short" else MAX_STEPS_DEMO)
            windows.setdefault((job["task"], job["track"]), set()).add((index, start))
    # across 3 seeds the short windows are not all the same one
    assert any(len(w) > 1 for (task, track), w in windows.items() if track == "short")


MAX_STEPS_DEMO = None  # set from the tiny data below


@pytest.fixture(autouse=True)
def _demo_length(tiny_data):
    global MAX_STEPS_DEMO
    from metail_envs import data

    task = metail_envs.load_suite("hopper-v1").test[0]
    MAX_STEPS_DEMO = len(data.load_demos(task, data_dir=tiny_data)[0].acts)


def test_draw_is_seeded_distinct_and_v1_takes_the_first():
    v2 = ProtocolConfig(short_window=50)
    lengths = [1000] * 20
    a = draw_demos(v2, 3, "hopper-v1/test/00", 5, "short", lengths)
    assert a == draw_demos(v2, 3, "hopper-v1/test/00", 5, "short", lengths)
    assert len({w.index for w in a}) == 5 and all(w.stop - w.start == 50 for w in a)
    others = {tuple(draw_demos(v2, s, "hopper-v1/test/00", 5, "short", lengths)) for s in range(8)}
    assert len(others) == 8
    start = ProtocolConfig(window_start="start")
    assert all(w.start == 0 for w in draw_demos(start, 3, "t/x/0", 5, "short", lengths))
    with pytest.raises(ValueError, match="K=21"):
        draw_demos(v2, 0, "t/x/0", 21, "full", lengths)
    with pytest.raises(ValueError, match="track"):
        draw_demos(ProtocolConfig(tracks=("full",)), 0, "t/x/0", 1, "short", lengths)


def test_only_the_current_protocol_is_read():
    """A config round-trips through JSON; one of another version (or none) is refused, naming
    the version this metail reads and where the earlier protocols are archived."""
    current = ProtocolConfig()
    assert ProtocolConfig.from_json(current.to_json()) == current
    assert current.is_official() and current.conditions()[-1] == ("short", 5)
    assert len(current.conditions()) == 5
    with pytest.raises(ValueError, match=r"version=2 is invalid; accepted: 3 .*docs/history"):
        ProtocolConfig.from_json({**current.to_json(), "version": 2})
    old = {k: v for k, v in current.to_json().items() if k != "version"}
    with pytest.raises(ValueError, match="lacks 'version'"):
        ProtocolConfig.from_json(old)


def test_adapt_never_sees_infos(tiny_data):
    """The one job (``metail evaluate`` and ``baselines.validate`` both run it) strips infos."""
    from metail_envs import data
    from metail_envs.benchmark.jobs import JobSpec, job_demos

    task = metail_envs.load_suite("hopper-v1").test[0]
    assert data.load_demos(task, data_dir=tiny_data)[0].infos is not None  # there is something
    config = tiny_config(tracks=("full", "short"))
    for track in config.tracks:
        spec = JobSpec(task, "test", track, 1, 0, config, str(tiny_data))
        demos, windows = job_demos(spec)
        assert len(demos) == 1 and demos[0].infos is None
        assert len(demos[0].obs) == len(demos[0].acts) + 1 == windows[0].stop - windows[0].start + 1


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"short_k_values": None}, "short_k_values"),
        ({"short_k_values": (0,)}, "short_k_values"),
        ({"tracks": ("long",)}, "tracks"),
        ({"tracks": ()}, "tracks"),
        ({"short_window": 0}, "short_window"),
        ({"short_window": True}, "short_window"),
        ({"window_start": "middle"}, "window_start"),
        ({"demo_draw": "random"}, "demo_draw"),
        ({"version": 4}, "version"),
        ({"splits": ("valid",)}, "splits"),
        ({"act_cap_s": True}, "act_cap_s"),
        ({"adapt_cap_s": float("nan")}, "adapt_cap_s"),
        ({"reset_seed_base": "x"}, "reset_seed_base"),
        ({"reset_seed_base": -1}, "reset_seed_base"),
    ],
)
def test_bad_protocol_configs_are_refused_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ProtocolConfig(**kwargs)
