"""Each dynamics parameter has the physical effect its registry entry promises."""

from __future__ import annotations

import math
from pathlib import Path

import mujoco
import numpy as np
import pytest
from envtools import make, rollout

from metail_envs.hopper_model import ASSET, BODIES, compiled
from metail_envs.params import DEFAULTS, PARAMS, markdown_table

NOMINAL = compiled((1.0, 1.0, 1.0))


def model_of(**params):
    env = make(**params)
    env.reset(seed=0)
    return env.unwrapped.model, env.unwrapped.data


def test_the_docs_parameter_table_is_generated_from_the_registry():
    doc = (Path(__file__).parents[1] / "docs" / "environments.md").read_text()
    assert markdown_table() in doc, (
        "run `metail params` and paste the table into docs/environments.md"
    )


def test_defaults_reproduce_the_nominal_model():
    m, _ = model_of()
    for field in ("body_mass", "body_inertia", "body_ipos", "jnt_range", "geom_friction"):
        np.testing.assert_array_equal(getattr(m, field), getattr(NOMINAL, field))
    assert DEFAULTS == {p.name: p.default for p in PARAMS}


def test_mass_scales_every_body_and_its_inertia():
    m, _ = model_of(mass=1.2)
    assert m.body_mass.sum() / NOMINAL.body_mass.sum() == pytest.approx(1.2)
    np.testing.assert_allclose(m.body_inertia, NOMINAL.body_inertia * 1.2)
    assert m.body_subtreemass[1] == pytest.approx(1.2 * NOMINAL.body_subtreemass[1])


@pytest.mark.parametrize("body", BODIES)
def test_per_body_mass(body):
    m, _ = model_of(mass=0.5, **{f"{body}_mass": 3.0})
    i = m.body(body).id
    assert m.body_mass[i] == pytest.approx(1.5 * NOMINAL.body_mass[i])
    np.testing.assert_allclose(m.body_inertia[i], 1.5 * NOMINAL.body_inertia[i])
    others = [m.body(b).id for b in BODIES if b != body]
    np.testing.assert_allclose(m.body_mass[others], 0.5 * NOMINAL.body_mass[others])


def test_com_offset_moves_the_torso_and_subtree_centre_of_mass():
    m, d = model_of(com_offset=0.05, com_offset_z=-0.03)
    _, d0 = model_of()
    torso = m.body("torso").id
    share = m.body_mass[torso] / m.body_subtreemass[torso]
    np.testing.assert_allclose(
        d.subtree_com[torso] - d0.subtree_com[torso], [0.05 * share, 0, -0.03 * share], atol=2e-3
    )  # noqa: E501
    np.testing.assert_allclose(m.body_ipos[torso] - NOMINAL.body_ipos[torso], [0.05, 0, -0.03])


def joint_angles_under_full_torque(sign: float, **params) -> np.ndarray:
    """The three hinge angles (deg) over 150 steps of full torque, the body held still."""
    env = make(terminate_when_unhealthy=False, **params).unwrapped
    env.reset(seed=0)
    env.model.opt.gravity[:] = 0  # isolate the joints: no falling, only the motors
    angles = []
    for _ in range(150):
        env.step(np.full(3, sign, dtype=np.float32))
        angles.append(np.degrees(env.data.qpos[3:6]))
    return np.array(angles)


@pytest.mark.parametrize(
    "params, limits",
    [
        (
            {"hip_range_scale": 0.5, "knee_range_scale": 0.6, "ankle_range_scale": 0.4},
            [(-75, 0), (-90, 0), (-18, 18)],
        ),  # noqa: E501
        (
            {"hip_low_deg": -60, "knee_low_deg": -100, "ankle_low_deg": -20, "ankle_high_deg": 30},
            [(-60, 0), (-100, 0), (-20, 30)],
        ),  # noqa: E501
    ],
)
def test_joint_limits_stop_the_joint_under_full_torque(params, limits):
    m, _ = model_of(**params)
    np.testing.assert_allclose(np.degrees(m.jnt_range[3:6]), limits)
    # MuJoCo's limits are soft: a joint swung at full torque overshoots briefly, then rests.
    overshoot, rest = 10.0, 0.5
    for sign in (-1.0, 1.0):
        angles = joint_angles_under_full_torque(sign, **params)
        for j, (low, high) in enumerate(limits):
            assert angles[:, j].min() >= low - overshoot and angles[:, j].max() <= high + overshoot
            final = angles[-1, j]
            assert min(abs(final - low), abs(final - high)) < rest, "the limit holds the joint"


def test_friction_damping_gravity_strength():
    m, d = model_of(friction=0.5, damping=2.0, gravity=1.5, actuator_strength=0.8)
    np.testing.assert_allclose(m.geom_friction[:, 0], 0.5 * NOMINAL.geom_friction[:, 0])
    np.testing.assert_allclose(m.geom_friction[:, 1:], NOMINAL.geom_friction[:, 1:])
    np.testing.assert_allclose(m.dof_damping, 2.0 * NOMINAL.dof_damping)
    np.testing.assert_allclose(m.actuator_gear[:, 0], 160.0)
    # Free fall: lift the Hopper off the floor; its vertical acceleration is the new gravity.
    d.qpos[1] += 3.0
    d.qpos[3:6] = [-0.5, -0.5, 0.0]  # away from the joint limits, whose forces are internal
    d.qvel[:] = 0
    mujoco.mj_forward(m, d)
    assert d.qacc[1] == pytest.approx(-9.81 * 1.5)
    d.ctrl[:] = [1.0, 0, 0]
    mujoco.mj_forward(m, d)
    assert d.qfrc_actuator[3] == pytest.approx(160.0)  # torque = gear x control


def anchors(**params) -> tuple[np.ndarray, float, float]:
    env = make(**params).unwrapped
    env.reset(seed=0)
    m, d = env.model, env.data
    foot = m.geom("foot_geom").id
    lowest = d.geom_xpos[foot][2] - m.geom_size[foot][0]
    return d.xanchor[3:6].copy(), 2 * m.geom_size[foot][1], lowest


@pytest.mark.parametrize("thigh, leg, foot", [(0.7, 1.0, 1.0), (1.0, 1.3, 0.8), (0.5, 0.5, 1.5)])
def test_limb_lengths_rebuild_a_connected_leg_standing_on_the_floor(thigh, leg, foot):
    (hip0, knee0, ankle0), foot_len0, lowest0 = anchors()
    (hip, knee, ankle), foot_len, lowest = anchors(
        thigh_length=thigh, leg_length=leg, foot_length=foot
    )  # noqa: E501
    assert np.linalg.norm(hip - knee) == pytest.approx(
        thigh * np.linalg.norm(hip0 - knee0), abs=1e-6
    )
    assert np.linalg.norm(knee - ankle) == pytest.approx(
        leg * np.linalg.norm(knee0 - ankle0), abs=1e-6
    )
    assert foot_len == pytest.approx(foot * foot_len0)
    assert lowest == pytest.approx(lowest0, abs=0.02)  # starts on the floor like Hopper-v4


def test_short_hopper_standing_still_is_healthy():
    env = make(thigh_length=0.5, leg_length=0.5)
    env.reset(seed=0)
    z0 = env.unwrapped.data.qpos[1]
    assert z0 < 0.8  # Hopper-v4's 0.7 rule would be almost at the threshold already
    for _ in range(30):
        _, _, terminated, _, _ = env.step(np.zeros(3, dtype=np.float32))
        assert not terminated
    assert env.unwrapped._healthy_z_min == pytest.approx(0.7 * z0 / 1.25, abs=0.01)


def scratch_model(**params) -> mujoco.MjModel:
    """The same variant compiled from an edited MjSpec with explicit inertials, no in-place edit."""
    spec = mujoco.MjSpec.from_file(str(ASSET))
    spec.compiler.inertiafromgeom = mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_FALSE
    for body in BODIES:
        i, b = NOMINAL.body(body).id, spec.body(body)
        k = params.get("mass", 1.0) * params.get(f"{body}_mass", 1.0)
        b.mass, b.inertia = NOMINAL.body_mass[i] * k, NOMINAL.body_inertia[i] * k
        b.ipos, b.iquat, b.explicitinertial = (
            NOMINAL.body_ipos[i].copy(),
            NOMINAL.body_iquat[i],
            True,
        )
        if body == "torso":
            b.ipos = b.ipos + [params.get("com_offset", 0.0), 0, params.get("com_offset_z", 0.0)]
    for g in spec.geoms:
        g.friction[0] *= params.get("friction", 1.0)
    for j in spec.joints:
        j.damping *= params.get("damping", 1.0)
    spec.option.gravity[2] *= params.get("gravity", 1.0)
    return spec.compile()


def test_in_place_variant_equals_the_variant_compiled_from_scratch(actions):
    params = dict(
        mass=1.6,
        torso_mass=0.7,
        foot_mass=1.3,
        com_offset=0.04,
        com_offset_z=-0.03,
        friction=0.7,
        damping=1.4,
        gravity=1.1,
    )  # noqa: E501
    in_place = make(**params)
    scratch = make(**params)
    scratch.unwrapped.model = scratch.unwrapped._hopper.model = scratch_model(**params)
    scratch.unwrapped.data = mujoco.MjData(scratch.unwrapped.model)
    u = scratch.unwrapped
    u._qpos, u._qvel, u._ctrl = u.data.qpos, u.data.qvel, u.data.ctrl
    u._warnings = [u.data.warning[int(w)] for w in (0, 1, 2)]
    assert in_place.unwrapped.model.stat.meaninertia == pytest.approx(u.model.stat.meaninertia)
    a = rollout(in_place, actions, seed=1)
    b = rollout(scratch, actions, seed=1)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x[0], y[0], rtol=0, atol=1e-9)


def test_normalised_context_is_zero_at_defaults_and_bounded():
    for p in PARAMS:
        assert p.normalise(p.default) == 0.0
        assert max(abs(p.normalise(p.low)), abs(p.normalise(p.high))) == pytest.approx(1.0)
        assert math.isfinite(p.normalise(p.low))
