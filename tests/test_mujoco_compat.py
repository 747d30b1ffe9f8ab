"""The in-place model edits work on every MuJoCo the project accepts (``mujoco>=3.3``).

``mj_fullM`` changed signature in MuJoCo 3.10, and ``mj_setConst`` recomputes ``body_sameframe``
only from 3.11 on: both are handled in ``metail_envs.hopper_model``, whichever is installed.
"""

from __future__ import annotations

import types

import mujoco
import numpy as np
import pytest

from metail_envs import hopper_model
from metail_envs.hopper_model import HopperModel, full_inertia
from metail_envs.params import DEFAULTS

SAME = mujoco.mjtSameFrame


def test_full_inertia_has_the_compilers_trace_at_the_nominal_model():
    model = hopper_model.compiled((1.0, 1.0, 1.0))
    data = mujoco.MjData(model)
    mujoco.mj_setConst(model, data)
    dense = np.zeros((model.nv, model.nv))
    full_inertia(model, data, dense)
    np.testing.assert_array_equal(dense, dense.T)
    assert dense.trace() / model.nv == pytest.approx(model.stat.meaninertia, rel=1e-12)


def test_full_inertia_falls_back_to_the_old_signature_once(monkeypatch):
    calls = []

    def old_mj_fullM(m, dst, M):  # MuJoCo < 3.10: (m, dst, M), refusing MjData as pybind11 does
        calls.append("call")
        if not isinstance(dst, np.ndarray):
            raise TypeError("mj_fullM(): incompatible function arguments")
        dst[:] = np.diag(M)

    monkeypatch.setattr(mujoco, "mj_fullM", old_mj_fullM)
    monkeypatch.setattr(hopper_model, "_FULLM_TAKES_DATA", None)
    data = types.SimpleNamespace(qM=np.array([1.0, 2.0]))
    dst = np.zeros((2, 2))
    full_inertia(None, data, dst)
    np.testing.assert_array_equal(dst, np.diag([1.0, 2.0]))
    assert hopper_model._FULLM_TAKES_DATA is False and len(calls) == 2
    full_inertia(None, data, dst)
    assert len(calls) == 3  # found once: no second try of the new signature


def test_moved_centre_of_mass_is_not_the_bodys_frame_any_more():
    hopper = HopperModel(DEFAULTS)
    data = mujoco.MjData(hopper.model)
    torso = hopper.model.body("torso").id
    assert hopper.model.body_sameframe[torso] == SAME.mjSAMEFRAME_BODY
    hopper.apply(DEFAULTS | {"com_offset": 0.05}, data)
    assert hopper.model.body_sameframe[torso] == SAME.mjSAMEFRAME_BODYROT
    mujoco.mj_forward(hopper.model, data)
    np.testing.assert_allclose(data.xipos[torso] - data.xpos[torso], [0.05, 0.0, 0.0], atol=1e-12)
    hopper.apply(DEFAULTS, data)
    assert hopper.model.body_sameframe[torso] == SAME.mjSAMEFRAME_BODY
