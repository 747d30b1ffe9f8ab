"""MAML-BC's functional core against hand computations on small networks; the agent's bounded
Meta-SGD rates, its test-time inner loop and fine-tune modes; the joint objective."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch.func import grad

from baselines.joint import JointAgent
from baselines.maml_bc import MAML, MAMLBCAgent
from baselines.nets import GaussianPolicy, gaussian_nll

T, S, OBS, ACT = 3, 7, 4, 2


def _setup(hidden=(5,), seed=0):
    torch.manual_seed(seed)
    policy = GaussianPolicy(OBS, ACT, hidden)
    with torch.no_grad():  # make the output layer non-trivial and the normaliser non-identity
        policy.body[-1].weight.normal_()
        policy.norm.mean.normal_()
        policy.norm.std.uniform_(0.5, 2.0)
    params = {k: p.detach().clone() for k, p in policy.named_parameters()}
    g = torch.Generator().manual_seed(seed + 1)
    batch = {
        "s_obs": torch.randn(T, S, OBS, generator=g),
        "s_acts": torch.randn(T, S, ACT, generator=g),
        "q_obs": torch.randn(T, S, OBS, generator=g),
        "q_acts": torch.randn(T, S, ACT, generator=g),
    }
    return policy, params, batch


def _lrs(params, lr):
    return {k: torch.tensor(lr) for k in params}


def test_inner_step_equals_hand_computed_gradient_step_of_a_linear_policy():
    """Linear Gaussian policy: the NLL gradients written out by hand."""
    policy, params, batch = _setup(hidden=())
    obs, acts = batch["s_obs"][0], batch["s_acts"][0]
    lr = 0.1
    adapted = MAML(policy, "nll", 1, first_order=False).adapt(params, _lrs(params, lr), obs, acts)

    x = (obs - policy.norm.mean) / policy.norm.std
    W, b, log_std = params["body.0.weight"], params["body.0.bias"], params["log_std"]
    var = torch.exp(2 * log_std)
    r = acts - (x @ W.T + b)  # residuals (S, ACT)
    # L = mean_i sum_j [ r_ij^2 / (2 var_j) + log_std_j ] + const
    g_W = -(r / var).T @ x / S
    g_b = -(r / var).mean(0)
    g_log_std = 1 - (r**2 / var).mean(0)
    torch.testing.assert_close(adapted["body.0.weight"], W - lr * g_W)
    torch.testing.assert_close(adapted["body.0.bias"], b - lr * g_b)
    torch.testing.assert_close(adapted["log_std"], log_std - lr * g_log_std)
    loss = MAML(policy, "nll", 1, False).loss(params, obs, acts)
    expected = (r**2 / (2 * var) + log_std).sum(-1).mean() + ACT * 0.5 * math.log(2 * math.pi)
    torch.testing.assert_close(loss, expected)


def test_inner_steps_equal_autograd_steps_of_an_mlp():
    """Two inner steps on a tanh MLP equal two plain autograd steps on a module copy."""
    policy, params, batch = _setup(hidden=(6, 5))
    obs, acts = batch["s_obs"][1], batch["s_acts"][1]
    adapted = MAML(policy, "nll", 2, first_order=True).adapt(params, _lrs(params, 0.05), obs, acts)
    for _ in range(2):
        mean, log_std = policy(obs)
        gs = torch.autograd.grad(gaussian_nll(mean, log_std, acts), list(policy.parameters()))
        with torch.no_grad():
            for p, g in zip(policy.parameters(), gs):
                p -= 0.05 * g
    for k, p in policy.named_parameters():
        torch.testing.assert_close(adapted[k], p.detach())


def test_meta_sgd_uses_one_rate_per_parameter():
    policy, params, batch = _setup()
    obs, acts = batch["s_obs"][0], batch["s_acts"][0]
    lrs = {k: torch.rand_like(p) for k, p in params.items()}
    maml = MAML(policy, "mse", 1, first_order=False)
    g = grad(maml.loss)(params, obs, acts)
    adapted = maml.adapt(params, lrs, obs, acts)
    for k in params:
        torch.testing.assert_close(adapted[k], params[k] - lrs[k] * g[k])


def _meta_grad(maml, params, lrs, batch, vectorize=True):
    return grad(lambda p: maml.meta_loss(p, lrs, batch, vectorize))(params)


def _max_diff(a, b) -> float:
    """The largest difference between two parameter dicts, relative to the values' scale
    (gradients here reach tens; float32 sums in another order differ in the 6th digit)."""
    return max(((a[k] - b[k]).abs() / (1.0 + b[k].abs())).max().item() for k in a)


def test_vmap_over_tasks_equals_the_loop():
    policy, params, batch = _setup()
    for first_order in (False, True):
        maml = MAML(policy, "nll", 2, first_order)
        lrs = _lrs(params, 0.1)
        torch.testing.assert_close(
            maml.meta_loss(params, lrs, batch), maml.meta_loss(params, lrs, batch, False)
        )
        assert (
            _max_diff(
                _meta_grad(maml, params, lrs, batch), _meta_grad(maml, params, lrs, batch, False)
            )
            < 1e-5
        )


def test_first_order_meta_gradient_is_the_query_gradient_at_the_adapted_parameters():
    policy, params, batch = _setup()
    maml = MAML(policy, "nll", 2, first_order=True)
    lrs = _lrs(params, 0.1)
    expected = {k: torch.zeros_like(p) for k, p in params.items()}
    for i in range(T):
        adapted = maml.adapt(params, lrs, batch["s_obs"][i], batch["s_acts"][i])
        adapted = {k: p.detach() for k, p in adapted.items()}
        g = grad(maml.loss)(adapted, batch["q_obs"][i], batch["q_acts"][i])
        for k in expected:
            expected[k] += g[k] / T
    assert _max_diff(_meta_grad(maml, params, lrs, batch), expected) < 1e-6


def test_second_order_meta_gradient_matches_autograd_through_the_inner_step():
    """Second order = differentiate the query loss through the inner step (plain autograd)."""
    policy, params, batch = _setup()
    maml = MAML(policy, "nll", 1, first_order=False)
    names = list(params)
    leaves = [params[k].clone().requires_grad_(True) for k in names]
    total = 0.0
    for i in range(T):
        p = dict(zip(names, leaves))
        inner = torch.autograd.grad(
            maml.loss(p, batch["s_obs"][i], batch["s_acts"][i]), leaves, create_graph=True
        )
        adapted = {k: p[k] - 0.1 * g for k, g in zip(names, inner)}
        total = total + maml.loss(adapted, batch["q_obs"][i], batch["q_acts"][i]) / T
    expected = dict(zip(names, torch.autograd.grad(total, leaves)))
    assert _max_diff(_meta_grad(maml, params, _lrs(params, 0.1), batch), expected) < 1e-5


@pytest.mark.parametrize("steps", [1, 3])
def test_first_and_second_order_differ_when_they_should(steps):
    policy, params, batch = _setup()
    so = MAML(policy, "nll", steps, first_order=False)
    fo = MAML(policy, "nll", steps, first_order=True)
    lrs = _lrs(params, 0.1)
    assert _max_diff(_meta_grad(so, params, lrs, batch), _meta_grad(fo, params, lrs, batch)) > 1e-3
    # an inner rate of 0 or no inner steps: both are the gradient of the query loss at θ
    zero = _lrs(params, 0.0)
    g_so, g_fo = _meta_grad(so, params, zero, batch), _meta_grad(fo, params, zero, batch)
    assert _max_diff(g_so, g_fo) == 0.0
    so0, fo0 = MAML(policy, "nll", 0, False), MAML(policy, "nll", 0, True)
    assert _max_diff(_meta_grad(so0, params, lrs, batch), _meta_grad(fo0, params, lrs, batch)) == 0


@pytest.mark.parametrize("cls", [MAMLBCAgent, JointAgent], ids=["maml_bc", "joint"])
def test_agent_adapt_is_the_inner_steps_on_the_k_demos(cls, train_demos, test_demos):
    """K>0 evaluates the adapted parameters: the inner steps, by hand, from θ."""
    from torch.func import functional_call

    from baselines.batches import as_tensors

    agent = cls(config="small", inner_steps=2, inner_lr=0.05, learn_inner_lr=False)
    agent.meta_train(train_demos, seed=0)
    obs, acts = as_tensors(test_demos[:2])
    params = agent.params()
    for _ in range(2):  # the same steps by hand, with autograd on a copy
        leaves = {k: p.clone().requires_grad_(True) for k, p in params.items()}
        loss = agent.maml().loss(leaves, obs, acts)
        gs = torch.autograd.grad(
            loss, list(leaves.values()), allow_unused=True, materialize_grads=True
        )  # with the squared-error loss, log_std has no gradient
        params = {k: (p - 0.05 * g).detach() for (k, p), g in zip(leaves.items(), gs)}
    mean, _ = functional_call(agent.net.policy, params, (obs,))
    actions = agent.adapt(test_demos[:2]).act(obs.numpy())
    torch.testing.assert_close(torch.as_tensor(actions).float(), mean.clamp(-1, 1))


@pytest.mark.parametrize("steps", [1, 3])
def test_inner_steps_at_test_equal_the_declared_count(steps, train_demos, test_demos):
    """The policy network runs once per inner step while adapting, as in meta-training (and
    once more per step, plus once, with ``inner_guard``)."""
    agent = MAMLBCAgent(config="small", inner_steps=steps, inner_guard=False)
    agent.meta_train(train_demos, seed=0)
    calls = []
    handle = agent.net.policy.register_forward_hook(lambda *_: calls.append(1))
    try:
        policy = agent.adapt(test_demos[:2])
    finally:
        handle.remove()
    assert len(calls) == steps == agent.config.inner_steps == agent.maml().inner_steps
    assert policy.adapt_stats["gradient_steps"] == steps
    agent.config = dataclasses.replace(agent.config, inner_guard=True)
    calls.clear()
    handle = agent.net.policy.register_forward_hook(lambda *_: calls.append(1))
    try:
        guarded = agent.adapt(test_demos[:2])
    finally:
        handle.remove()
    passes = 2 * steps + 1  # the guard also measures the loss before and after each step
    assert len(calls) == guarded.adapt_stats["forward_passes"] == passes
    assert guarded.adapt_stats["gradient_steps"] == steps


def test_meta_sgd_rates_stay_positive_and_bounded_when_pushed_down(train_demos):
    """Outer steps that push every rate down (or up) cannot make one negative (gradient ascent)
    nor larger than max_inner_lr: rates are max_inner_lr * sigmoid(raw)."""
    agent = MAMLBCAgent(config="small", inner_lr=0.01, max_inner_lr=0.05)
    for sign in (1.0, -1.0):  # minimise the rates' sum (down hard), or maximise it
        agent.net = agent.build()
        start = torch.cat([r.flatten() for r in agent.inner_lrs().values()])
        optimiser = torch.optim.SGD(agent.net.parameters(), lr=1e4)
        for _ in range(20):
            pushed = sign * sum(r.sum() for r in agent.inner_lrs(detach=False).values())
            optimiser.zero_grad()
            pushed.backward()
            optimiser.step()
        rates = torch.cat([r.flatten() for r in agent.inner_lrs().values()])
        assert torch.isfinite(rates).all()
        assert (rates >= 0).all() and (rates <= 0.05).all()
        assert ((rates < start / 100) if sign > 0 else (rates > 0.049)).all()  # they did move
    # and through real meta-gradient steps, with a huge outer rate on the rates alone
    from baselines.batches import load_tasks

    agent.meta_train(train_demos, seed=0)
    start = torch.cat([r.flatten() for r in agent.inner_lrs().values()])
    optimiser = torch.optim.Adam(agent.net.raw_inner_lr.parameters(), lr=5.0)
    rng, tasks = np.random.default_rng(0), load_tasks(train_demos)
    for _ in range(10):
        agent.meta_step(optimiser, agent.sample_batch(rng, tasks))
    rates = torch.cat([r.flatten() for r in agent.inner_lrs().values()])
    assert (rates >= 0).all() and (rates <= agent.config.max_inner_lr).all()
    assert (rates - start).abs().max() > 0.01


def test_finetune_mode_is_bc_finetune_from_the_same_meta_training(train_demos, test_demos):
    from baselines.finetune import finetune

    inner = MAMLBCAgent(config="small", adaptation="inner_loop")
    tuned = MAMLBCAgent(config="small", adaptation="finetune", adapt_batches=7)
    inner.meta_train(train_demos, seed=0)
    tuned.meta_train(train_demos, seed=0)
    for k, v in inner.net.state_dict().items():  # meta-training ignores the adaptation mode
        torch.testing.assert_close(tuned.net.state_dict()[k], v, rtol=0, atol=0)
    assert inner.log == tuned.log

    obs = np.concatenate([t.obs for t in test_demos]).astype(np.float64)
    torch.manual_seed(3)
    policy = tuned.adapt(test_demos[:2])
    c = tuned.config
    n_pairs = sum(len(t.acts) for t in test_demos[:2])
    assert policy.adapt_stats == {
        "gradient_steps": 7, "forward_passes": 7, "examples": 7 * min(c.adapt_batch_size, n_pairs)
    }  # fmt: skip
    # the same fine-tune by hand: BC's trainer on a copy of the meta-learned policy
    import copy

    by_hand = copy.deepcopy(inner.net.policy)
    torch.manual_seed(3)
    finetune(by_hand, test_demos[:2], c, lambda x: by_hand(x)[0])
    with torch.no_grad():
        expected = by_hand(torch.as_tensor(obs, dtype=torch.float32))[0].clamp(-1, 1)
    torch.testing.assert_close(torch.as_tensor(policy.act(obs)).float(), expected)
    assert not np.allclose(policy.act(obs), inner.adapt(test_demos[:2]).act(obs))
    np.testing.assert_array_equal(tuned.adapt([]).act(obs), inner.adapt([]).act(obs))


def test_adapt_window_adapts_on_each_demonstrations_start(train_demos, test_demos, tmp_path):
    """``adapt_window=n``: the inner loop sees the first n transitions of each demonstration,
    exactly as if it had been handed those windows; a checkpoint loads with any window."""
    from metail_envs.benchmark.jobs import cut
    from metail_envs.benchmark.protocol import DemoWindow

    agent = MAMLBCAgent(config="small")
    agent.meta_train(train_demos, seed=0)
    agent.save(tmp_path)
    windowed = MAMLBCAgent.load(tmp_path, adapt_window=7)
    demos = test_demos[:2]
    heads = [cut(d, DemoWindow(0, 0, 7)) for d in demos]
    obs = np.concatenate([np.asarray(d.obs[:-1], dtype=np.float32) for d in demos])
    policy = windowed.adapt(demos)
    assert policy.adapt_stats["examples"] == (2 * agent.config.inner_steps + 1) * 2 * 7
    np.testing.assert_array_equal(policy.act(obs), agent.adapt(heads).act(obs))
    assert not np.array_equal(policy.act(obs), agent.adapt(demos).act(obs))
    with pytest.raises(ValueError, match="adapt_window=0 is invalid; accepted: None or >= 1"):
        MAMLBCAgent(config="small", adapt_window=0)


def test_a_checkpoint_loads_in_either_adaptation_mode(train_demos, test_demos, tmp_path):
    agent = JointAgent(config="small")
    agent.meta_train(train_demos, seed=0)
    agent.save(tmp_path)
    loaded = JointAgent.load(tmp_path, adaptation="finetune", adapt_batches=5)
    assert loaded.config == dataclasses.replace(
        agent.config, adaptation="finetune", adapt_batches=5
    )
    assert loaded.adapt(test_demos[:1]).adapt_stats["gradient_steps"] == 5
    with pytest.raises(ValueError, match=r"would change what was meta-trained.*adaptation"):
        JointAgent.load(tmp_path, inner_steps=5)


def test_meta_sgd_learns_its_rates(train_demos):
    agent = MAMLBCAgent(config="small", learn_inner_lr=True, inner_lr=0.01)
    agent.net = agent.build()
    initial = torch.cat([p.flatten() for p in agent.inner_lrs().values()])
    torch.testing.assert_close(initial, torch.full_like(initial, 0.01))
    agent.meta_train(train_demos, seed=0)
    rates = torch.cat([p.flatten() for p in agent.inner_lrs().values()])
    assert len(rates) == sum(p.numel() for p in agent.net.policy.parameters())
    assert (rates - 0.01).abs().max() > 1e-5  # 5 Adam steps of 1e-3 on raw: d rate ≈ 4e-5


def test_joint_objective_is_il_plus_weighted_ml(train_demos):
    from baselines.batches import load_tasks

    agent = JointAgent(config="small", ml_weight=0.5)
    agent.meta_train(train_demos, seed=0)
    assert {"loss", "loss_il", "loss_ml"} <= set(agent.log[-1])
    batch = agent.sample_batch(np.random.default_rng(0), load_tasks(train_demos))
    loss, logs = agent.objective(agent.params(), agent.inner_lrs(), batch)
    maml = agent.maml()
    il = maml.loss(agent.params(), batch["p_obs"], batch["p_acts"])
    ml = maml.meta_loss(agent.params(), agent.inner_lrs(), batch)
    torch.testing.assert_close(loss, il + 0.5 * ml)
    torch.testing.assert_close(logs["loss_il"], il)
    torch.testing.assert_close(logs["loss_ml"], ml)
    # with λ = 0 the meta-gradient is the pooled BC gradient alone, and the rates get none
    agent.config = dataclasses.replace(agent.config, ml_weight=0.0)
    g, g_rates, _ = agent.meta_gradient(batch)
    expected = grad(maml.loss)(agent.params(), batch["p_obs"], batch["p_acts"])
    assert _max_diff(g, expected) < 1e-6
    assert all((r == 0).all() for r in g_rates.values())


def test_joint_meta_loss_honours_vectorize(train_demos, monkeypatch):
    from baselines.batches import load_tasks
    from baselines.maml_bc import MAML

    agent = JointAgent(config="small")
    agent.meta_train(train_demos, seed=0)
    batch = agent.sample_batch(np.random.default_rng(0), load_tasks(train_demos))
    calls, original = [], MAML.meta_loss

    def spy(self, params, lrs, batch, vectorize=True):
        calls.append(vectorize)
        return original(self, params, lrs, batch, vectorize)

    monkeypatch.setattr(MAML, "meta_loss", spy)
    loss_v, _ = agent.objective(agent.params(), agent.inner_lrs(), batch)
    agent.config = dataclasses.replace(agent.config, vectorize=False)
    loss_l, _ = agent.objective(agent.params(), agent.inner_lrs(), batch)
    assert calls == [True, False]
    torch.testing.assert_close(loss_v, loss_l)


def test_agent_meta_gradient_equals_the_functional_one(train_demos):
    """The agent's outer gradient (autograd through the torch.func inner steps) is the
    functional ``grad`` of the meta-loss, in both modes; first order detaches the inner grads."""
    from baselines.batches import load_tasks

    tasks = load_tasks(train_demos)
    grads = {}
    for first_order in (False, True):
        agent = MAMLBCAgent(
            config="small", first_order=first_order, inner_steps=2, inner_lr=0.1, max_inner_lr=0.2
        )
        agent.meta_train(train_demos, seed=0)
        batch = agent.sample_batch(np.random.default_rng(0), tasks)
        g, _, _ = agent.meta_gradient(batch)
        expected = _meta_grad(agent.maml(), agent.params(), agent.inner_lrs(), batch)
        assert _max_diff(g, expected) < 1e-5
        grads[first_order] = g
    assert _max_diff(grads[False], grads[True]) > 1e-4


def test_mse_loss_trains_although_log_std_is_unused(train_demos):
    agent = MAMLBCAgent(config="small", loss="mse")
    agent.meta_train(train_demos, seed=0)
    agent_log_std = agent.net.policy.log_std.detach().clone()
    before = MAMLBCAgent(config="small", loss="mse").build().policy.log_std.detach()
    torch.testing.assert_close(agent_log_std, before)  # never moved: no gradient reaches it


def _long_demos(n_demos: int, length: int) -> list:
    """Demonstrations whose observations say where they come from: (demo, step, 0, ...)."""
    from metail_envs.trajectory import make_trajectory

    out = []
    for d in range(n_demos):
        obs = np.zeros((length + 1, 11), np.float32)
        obs[:, 0], obs[:, 1] = d, np.arange(length + 1)
        acts = np.zeros((length, 3), np.float32)
        out.append(make_trajectory(obs, acts, None, True, np.zeros(length, np.float32)))
    return out


def test_short_supports_are_the_protocols_windows_and_queries_whole_other_demos():
    """p_short=1: every support is K windows of the protocol's short track (the first
    SHORT_WINDOW steps of K distinct demos, K in its short K values); the query comes from the
    other demos, anywhere in them."""
    from metail_envs.benchmark import protocol as P

    demos = {f"t{i}": _long_demos(8, 3 * P.SHORT_WINDOW) for i in range(3)}
    agent = MAMLBCAgent(config="small", p_short=1.0, support_size=400, query_size=400)
    agent.net = agent.build()
    from baselines.batches import load_tasks

    tasks, rng = load_tasks(demos), np.random.default_rng(0)
    ks = set()
    for _ in range(10):
        batch = agent.sample_batch(rng, tasks)
        for s_obs, q_obs in zip(batch["s_obs"].numpy(), batch["q_obs"].numpy()):
            support_demos = set(s_obs[:, 0].astype(int))
            ks.add(len(support_demos))
            assert s_obs[:, 1].max() < P.SHORT_WINDOW  # only the windows' steps
            assert not support_demos & set(q_obs[:, 0].astype(int))
            assert q_obs[:, 1].max() >= P.SHORT_WINDOW  # whole demos
    assert ks == set(P.SHORT_K_VALUES)


def test_p_short_zero_draws_whole_demo_supports_as_before(train_demos):
    """p_short=0 draws nothing extra: the batches of a checkpoint meta-trained before p_short
    existed are drawn unchanged (the draw order before p_short existed, written out)."""
    from baselines.batches import load_tasks, stack_rows

    agent = MAMLBCAgent(config="small", p_short=0.0)
    c, tasks = agent.config, load_tasks(train_demos)
    batch = agent.sample_batch(np.random.default_rng(3), tasks)
    rng = np.random.default_rng(3)
    chosen = [tasks[i] for i in rng.choice(len(tasks), min(c.meta_batch, len(tasks)), False)]
    s_rows, q_rows = [], []
    for t in chosen:
        support, query = t.split(rng, c.max_support_demos)
        s_rows.append(t.sample(rng, support, c.support_size))
        q_rows.append(t.sample(rng, query, c.query_size))
    for (obs, acts), key in ((stack_rows(chosen, s_rows), "s"), (stack_rows(chosen, q_rows), "q")):
        assert torch.equal(batch[f"{key}_obs"], obs) and torch.equal(batch[f"{key}_acts"], acts)
    with pytest.raises(ValueError, match="p_short"):
        MAMLBCAgent(config="small", p_short=1.5)


def test_guarded_inner_loop_keeps_the_iterate_with_the_lowest_loss():
    """``inner_guard``: a step that raises the loss on the K demos is not taken (an overshooting
    rate keeps the meta-parameters), and where every step lowers it, all steps are taken, equal
    to the plain inner loop."""
    policy, params, batch = _setup(hidden=(6, 5))
    obs, acts = batch["s_obs"][0], batch["s_acts"][0]
    maml = MAML(policy, "mse", 3, first_order=True)
    overshoot = _lrs(params, 1e3)
    assert maml.loss(maml.adapt(params, overshoot, obs, acts), obs, acts) > maml.loss(
        params, obs, acts
    )
    kept, n = maml.adapt_guarded(params, overshoot, obs, acts, steps=3)
    assert n == 0
    for k in params:
        torch.testing.assert_close(kept[k], params[k])
    small = _lrs(params, 1e-3)
    kept, n = maml.adapt_guarded(params, small, obs, acts, steps=3)
    assert n == 3
    plain = maml.adapt(params, small, obs, acts)
    for k in params:
        torch.testing.assert_close(kept[k], plain[k])


@pytest.mark.parametrize("cls", [MAMLBCAgent, JointAgent], ids=["maml_bc", "joint"])
def test_agent_with_inner_guard_keeps_its_prior_when_every_step_overshoots(
    cls, train_demos, test_demos
):
    """Through ``adapt``: with rates so large that every step raises the loss on the demos, the
    guarded agent acts as its K=0 prior; the plain loop takes the steps and ends above it (or
    diverges: a NaN loss is never kept either)."""
    agent = cls(config="small", adapt_window=None, inner_guard=True)
    agent.meta_train(train_demos, seed=0)
    c = agent.config
    agent.config = dataclasses.replace(c, max_inner_lr=1e4)
    with torch.no_grad():
        for raw in agent.net.raw_inner_lr.values():
            raw.fill_(10.0)  # rates near 1e4
    demos = test_demos[:2]
    obs = torch.from_numpy(np.concatenate([t.obs[:-1] for t in demos]).astype(np.float32))
    acts = torch.from_numpy(np.concatenate([t.acts for t in demos]).astype(np.float32))
    maml = agent.maml()
    prior = float(maml.loss(agent.params(), obs, acts))
    guarded = agent.adapt(demos)
    np.testing.assert_array_equal(guarded.act(obs.numpy()), agent.adapt([]).act(obs.numpy()))
    agent.config = dataclasses.replace(agent.config, inner_guard=False)
    plain = agent.adapt(demos)
    assert plain.adapt_stats["gradient_steps"] == c.inner_steps
    plain_loss = float((plain.mean_fn(obs) - acts).pow(2).sum(-1).mean())
    assert not plain_loss <= prior  # above it, or diverged to NaN
