"""Agent resolution: ``module:Class``, built-in names, and ``metail.agents`` entry points."""

from __future__ import annotations

import sys

import pytest
from tinybench import make_entry_point_dist

from metail_envs.benchmark import Agent, resolve_agent
from metail_envs.benchmark.agent import AgentResolutionError, AgentSpec, available_agents
from metail_envs.benchmark.reference_agents import ExpertAgent, RandomAgent


@pytest.fixture
def entry_point_dist(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(make_entry_point_dist(tmp_path)))
    yield
    sys.modules.pop("metail_ep_broken", None)


def test_module_class_and_builtin_names_resolve():
    from metail_test_agents import MeanActionAgent

    assert resolve_agent("metail_test_agents:MeanActionAgent") is MeanActionAgent
    assert resolve_agent("random") is RandomAgent
    assert resolve_agent("expert") is ExpertAgent
    assert ExpertAgent.privileged and not RandomAgent.privileged


def test_entry_point_resolves_and_imports_only_the_named_agent(entry_point_dist):
    from metail_test_agents import MeanActionAgent

    assert {"mean-ep", "broken-ep", "random", "expert"} <= set(available_agents())
    assert "metail_ep_broken" not in sys.modules  # listing loads nothing
    assert resolve_agent("mean-ep") is MeanActionAgent
    assert "metail_ep_broken" not in sys.modules  # nor does loading another entry point
    with pytest.raises(AgentResolutionError, match="broken-ep.*must never be imported"):
        resolve_agent("broken-ep")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-such-agent", "unknown agent 'no-such-agent'.*random"),
        ("no_such_module_xyz:Agent", "cannot import module 'no_such_module_xyz'"),
        ("metail_test_agents:Nope", "has no attribute 'Nope'"),
        ("metail_test_agents:MeanActionPolicy", "lacks meta_train, adapt, save, load"),
        ("metail_test_agents:os", "not a class"),
        ("metail_test_agents:", "must be 'package.module:Class'"),
    ],
)
def test_bad_agent_specs_get_clear_errors(spec, message):
    with pytest.raises(AgentResolutionError, match=message):
        resolve_agent(spec)


def test_default_save_load_round_trips(tmp_path):
    from metail_test_agents import MeanActionAgent

    agent = MeanActionAgent(scale=2.0)
    agent.mean = [1.0, 2.0, 3.0]
    agent.save(tmp_path)
    loaded = MeanActionAgent.load(tmp_path)
    assert isinstance(loaded, Agent) and loaded.mean == [1.0, 2.0, 3.0] and loaded.scale == 2.0
    with pytest.raises(TypeError, match="not a RandomAgent"):
        RandomAgent.load(tmp_path)


def test_agent_spec_names_and_slugs():
    spec = AgentSpec("pkg.mod:My Agent", {"a": 1})
    assert spec.name == "pkg.mod:My Agent" and spec.slug == "pkg.mod_My_Agent"
    with pytest.raises(ValueError, match="kwargs must be a JSON object"):
        AgentSpec("random", [1, 2])
