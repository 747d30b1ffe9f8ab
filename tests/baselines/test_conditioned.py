"""The demonstration-conditioned policy: its actions depend on the demos, through the encoder."""

from __future__ import annotations

import numpy as np
import torch

from baselines.conditioned import ConditionedAgent


def test_actions_depend_on_the_demos(train_demos, test_demos):
    agent = ConditionedAgent(config="small")
    agent.meta_train(train_demos, seed=0)
    obs = np.concatenate([t.obs for t in test_demos]).astype(np.float64)
    a_test = agent.adapt(test_demos[:2]).act(obs)
    a_train = agent.adapt(next(iter(train_demos.values()))[:2]).act(obs)
    a_none = agent.adapt([]).act(obs)
    assert not np.allclose(a_test, a_train)
    assert not np.allclose(a_test, a_none)
    # the embedding is a mean over pairs: the order of the demos does not matter
    z = agent.embedding(test_demos[:2])
    torch.testing.assert_close(agent.embedding(test_demos[:2][::-1]), z)
    assert z.shape == (agent.config.embed_dim,)


def test_no_context_embedding_is_learned(train_demos):
    agent = ConditionedAgent(config="small", p_no_context=1.0, iterations=20)
    agent.meta_train(train_demos, seed=0)
    assert agent.net.no_context.abs().sum() > 0
