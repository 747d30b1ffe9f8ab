"""Hopper's MjModel for a parameter set: geometry compiled through MjSpec, dynamics edited in place.

Geometry (limb lengths) changes the kinematic tree, so it is compiled from ``assets/hopper.xml``
(Gymnasium's Hopper-v4/v5 model) through :class:`mujoco.MjSpec`, and cached per geometry. Every
other parameter is an in-place edit of a compiled model, starting from that geometry's nominal
values, followed by ``mj_setConst`` where derived constants depend on it: a task switch then
costs microseconds instead of a recompilation.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping
from pathlib import Path

import mujoco
import numpy as np

from metail_envs.params import DEFAULTS, GEOMETRY_PARAMS, JOINTS

ASSET = Path(__file__).parent / "assets" / "hopper.xml"
BODIES = ("torso", "thigh", "leg", "foot")
JOINT_OF = {"hip": "thigh_joint", "knee": "leg_joint", "ankle": "foot_joint"}
NOMINAL_TORSO_Z = 1.25
"""Height of the torso's frame when Hopper-v4 stands; the healthy-height rule scales from it."""

Geometry = tuple[float, ...]


def geometry_of(values: Mapping[str, float]) -> Geometry:
    """The geometry key (limb-length multipliers) of a full parameter set."""
    return tuple(values[name] for name in GEOMETRY_PARAMS)


def _reshape(spec: mujoco.MjSpec, thigh: float, leg: float, foot: float) -> None:
    """Scale limb lengths in the spec, moving child bodies so the chain stays connected."""
    thigh_geom, leg_geom, foot_geom = (spec.geom(f"{b}_geom") for b in ("thigh", "leg", "foot"))
    thigh_half, leg_half = thigh_geom.size[1], leg_geom.size[1]
    new_thigh_half, new_leg_half = thigh_half * thigh, leg_half * leg

    thigh_geom.size[1] = new_thigh_half
    thigh_geom.pos[2] = -new_thigh_half
    leg_body = spec.body("leg")
    leg_body.pos[2] = -2 * new_thigh_half - new_leg_half  # knee at the thigh's lower end
    leg_geom.size[1] = new_leg_half
    spec.joint("leg_joint").pos[2] = new_leg_half
    foot_body = spec.body("foot")
    foot_body.pos[2] += leg_half - new_leg_half  # ankle at the leg's lower end

    ankle_x = spec.joint("foot_joint").pos[0]
    foot_geom.pos[0] = ankle_x + (foot_geom.pos[0] - ankle_x) * foot
    foot_geom.size[1] *= foot

    drop = 2 * (thigh_half - new_thigh_half) + 2 * (leg_half - new_leg_half)
    spec.body("torso").pos[2] -= drop  # start standing on the floor, not above or inside it
    spec.joint("rootz").ref -= drop


@functools.lru_cache(maxsize=16)
def compiled(geometry: Geometry) -> mujoco.MjModel:
    """The nominal-dynamics model of one geometry (cached: treat it as read-only, copy it)."""
    spec = mujoco.MjSpec.from_file(str(ASSET))
    if any(g != 1.0 for g in geometry):
        _reshape(spec, *geometry)
    return spec.compile()


def total_mass(values: Mapping[str, float]) -> float:
    """Total mass in kg of the Hopper a full parameter set describes."""
    model = compiled(geometry_of(values))
    masses = model.body_mass[1:] * values["mass"]
    return float(sum(m * values[f"{b}_mass"] for m, b in zip(masses, BODIES)))


def torque_to_weight(values: Mapping[str, float]) -> float:
    """Actuator strength over total mass, both relative to the nominal Hopper (1.0 = nominal)."""
    nominal = total_mass(DEFAULTS)
    return values["actuator_strength"] / (total_mass(values) / nominal)


_FULLM_TAKES_DATA: bool | None = None
"""Whether ``mujoco.mj_fullM`` takes ``(m, d, dst)`` (MuJoCo 3.10 on), not ``(m, dst, M)``."""


def full_inertia(model: mujoco.MjModel, data: mujoco.MjData, dst: np.ndarray) -> None:
    """Write the dense joint-space inertia matrix of ``data`` into ``dst`` (``nv`` x ``nv``).

    ``mujoco.mj_fullM`` changed signature in MuJoCo 3.10, from ``(m, dst, M)`` with
    ``M = d.qM`` to ``(m, d, dst)`` (and ``MjData.qM`` later went away): the first call tries
    the new one and remembers which one the installed MuJoCo takes.
    """
    global _FULLM_TAKES_DATA
    if _FULLM_TAKES_DATA is None:
        try:
            mujoco.mj_fullM(model, data, dst)
        except TypeError:  # pybind11 refuses the arguments before running anything
            _FULLM_TAKES_DATA = False
        else:
            _FULLM_TAKES_DATA = True
            return
    if _FULLM_TAKES_DATA:
        mujoco.mj_fullM(model, data, dst)
    else:
        mujoco.mj_fullM(model, dst, data.qM)


_FRAME_EPS = 1e-6
"""MuJoCo's ``kFrameEps``: an inertial frame this close to its body's frame is the body's."""
_UNIT_QUAT = (1.0, 0.0, 0.0, 0.0)


def _is_null(x: list[float], null: tuple[float, ...]) -> bool:
    """Whether ``x`` is within ``_FRAME_EPS`` of ``null`` (or of ``-null``: a quaternion's sign)."""
    return all(abs(a - b) < _FRAME_EPS for a, b in zip(x, null)) or all(
        abs(a + b) < _FRAME_EPS for a, b in zip(x, null)
    )


_MASS_KEYS = frozenset({"mass", "com_offset", "com_offset_z"} | {f"{b}_mass" for b in BODIES})
_JOINT_KEYS = {j: frozenset({f"{j}_range_scale", f"{j}_low_deg", f"{j}_high_deg"}) for j in JOINTS}


class HopperModel:
    """One environment's own MjModel, with the nominal values its in-place edits start from."""

    def __init__(self, values: Mapping[str, float]) -> None:
        self.geometry = geometry_of(values)
        self.model = m = copy.copy(compiled(self.geometry))
        ids = [m.body(b).id for b in BODIES]
        assert ids == list(range(ids[0], ids[0] + len(ids))), "bodies are contiguous"
        self._bodies = slice(ids[0], ids[-1] + 1)
        self._torso = ids[0]
        self._joint_ids = [m.joint(JOINT_OF[j]).id for j in JOINTS]
        # Views into the model, held once: attribute access on MjModel costs more than the edit.
        self._body_mass, self._body_inertia, self._body_ipos = (
            m.body_mass,
            m.body_inertia,
            m.body_ipos,
        )
        self._jnt_range, self._friction = m.jnt_range, m.geom_friction[:, 0]
        self._damping, self._gravity, self._gear = (
            m.dof_damping,
            m.opt.gravity,
            m.actuator_gear[:, 0],
        )
        self._mass0 = m.body_mass[self._bodies].copy()
        self._inertia0 = m.body_inertia[self._bodies].copy()
        self._ipos0 = m.body_ipos[self._torso].copy()
        self._sameframe = m.body_sameframe
        self._torso_iquat_null = _is_null(m.body_iquat[self._torso].tolist(), _UNIT_QUAT)
        self._friction0 = self._friction.copy()
        self._damping0 = self._damping.copy()
        self._gravity0 = self._gravity.copy()
        self._gear0 = self._gear.copy()
        self._full_m = np.zeros((m.nv, m.nv))
        self.healthy_z_scale = m.qpos0[1] / NOMINAL_TORSO_Z
        self._values: Mapping[str, float] = DEFAULTS | {
            k: v for k, v in values.items() if k in GEOMETRY_PARAMS
        }

    def _torso_sameframe(self, ipos: list[float]) -> int:
        """The torso's ``body_sameframe`` for its inertial position ``ipos``, as MuJoCo sets it.

        Kinematics places an inertial frame by this flag, not by ``body_ipos`` alone: where the
        flag says "the body's frame", ``body_ipos`` is ignored. ``mj_setConst`` recomputes it from
        MuJoCo 3.11 on; up to 3.10 it stays stale, and a moved centre of mass had no effect.
        Hence it is set here, before ``mj_setConst`` (which uses it), as MuJoCo sets it.
        """
        if not self._torso_iquat_null:
            return int(mujoco.mjtSameFrame.mjSAMEFRAME_NONE)
        if _is_null(ipos, (0.0, 0.0, 0.0)):
            return int(mujoco.mjtSameFrame.mjSAMEFRAME_BODY)
        return int(mujoco.mjtSameFrame.mjSAMEFRAME_BODYROT)

    def apply(self, values: Mapping[str, float], data: mujoco.MjData) -> None:
        """Edit the model in place to a full parameter set of this geometry.

        Only the groups whose values changed are rewritten; ``mj_setConst`` refreshes the derived
        constants (subtree masses, inverse weights...) after any mass or centre-of-mass edit, and
        the solver's mean inertia is recomputed as the compiler does: without both, a variant
        edited in place drifts from the same variant compiled from scratch.
        """
        if geometry_of(values) != self.geometry:
            raise ValueError("HopperModel.apply cannot change geometry; build a new HopperModel")
        old, self._values = self._values, values
        changed = {k for k, v in values.items() if old[k] != v}
        if not changed:
            return
        m = self.model
        if not changed.isdisjoint(_MASS_KEYS):
            factor = values["mass"] * np.array([values[f"{b}_mass"] for b in BODIES])
            self._body_mass[self._bodies] = self._mass0 * factor
            self._body_inertia[self._bodies] = self._inertia0 * factor[:, None]
            ipos = self._body_ipos[self._torso]
            ipos[0] = self._ipos0[0] + values["com_offset"]
            ipos[2] = self._ipos0[2] + values["com_offset_z"]
            self._sameframe[self._torso] = self._torso_sameframe(ipos.tolist())
            mujoco.mj_setConst(m, data)
            # The compiler's solver-scaling statistics, which mj_setConst leaves stale.
            full_inertia(m, data, self._full_m)
            m.stat.meaninertia = self._full_m.trace() / m.nv
            m.stat.meanmass = sum(self._body_mass.tolist()[1:]) / (m.nbody - 1)
        for joint, jid in zip(JOINTS, self._joint_ids):
            if changed.isdisjoint(_JOINT_KEYS[joint]):
                continue
            scale = values[f"{joint}_range_scale"]
            self._jnt_range[jid, 0] = math.radians(values[f"{joint}_low_deg"]) * scale
            self._jnt_range[jid, 1] = math.radians(values[f"{joint}_high_deg"]) * scale
        if "friction" in changed:
            self._friction[:] = self._friction0 * values["friction"]
        if "damping" in changed:
            self._damping[:] = self._damping0 * values["damping"]
        if "gravity" in changed:
            self._gravity[:] = self._gravity0 * values["gravity"]
        if "actuator_strength" in changed:
            self._gear[:] = self._gear0 * values["actuator_strength"]
