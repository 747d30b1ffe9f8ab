"""The parameter registry: every dynamics and geometry knob of HopperVariant, in one place.

Each :class:`Param` says what a keyword of ``gym.make("metail/HopperVariant-v0", ...)`` means,
its unit, its default (which reproduces Hopper-v4) and the bounds it is accepted in. Validation,
the observed context vector and the README's parameter table are all derived from this registry;
how each value edits the MuJoCo model lives in :mod:`metail_envs.hopper_model`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from metail_envs import checks

Group = Literal["mass", "inertial", "joint", "contact", "world", "actuator", "geometry"]


@dataclass(frozen=True)
class Param:
    """One dynamics parameter: its name, unit, default, accepted bounds and meaning."""

    name: str
    unit: str
    default: float
    low: float
    high: float
    meaning: str
    group: Group

    @property
    def multiplier(self) -> bool:
        """Multipliers (unit ``×``) are relative to the nominal model and live on a log scale."""
        return self.unit == "×"

    def normalise(self, value: float) -> float:
        """Map a value to [-1, 1] over the accepted bounds (log scale for multipliers), 0 = default."""
        if self.multiplier:
            half = max(math.log(self.high), -math.log(self.low))
            return math.log(value) / half
        half = max(self.high - self.default, self.default - self.low)
        return (value - self.default) / half


def _mult(name: str, meaning: str, group: Group, low: float = 0.1, high: float = 10.0) -> Param:
    return Param(name, "×", 1.0, low, high, meaning, group)


def _limit(joint: str, side: str, default: float) -> Param:
    meaning = f"{side} limit of the {joint} joint, before `{joint}_range_scale` is applied"
    return Param(f"{joint}_{side}_deg", "deg", default, -180.0, 180.0, meaning, "joint")


PARAMS: tuple[Param, ...] = (
    _mult("mass", "every body's mass, inertia scaled with it (denser material)", "mass"),
    _mult("torso_mass", "torso mass and inertia, on top of `mass`", "mass"),
    _mult("thigh_mass", "thigh mass and inertia, on top of `mass`", "mass"),
    _mult("leg_mass", "leg (shin) mass and inertia, on top of `mass`", "mass"),
    _mult("foot_mass", "foot mass and inertia, on top of `mass`", "mass"),
    Param(
        "com_offset", "m", 0.0, -0.2, 0.2, "shift of the torso's centre of mass along x", "inertial"
    ),
    Param(
        "com_offset_z",
        "m",
        0.0,
        -0.2,
        0.2,
        "shift of the torso's centre of mass along z",
        "inertial",
    ),
    _mult("hip_range_scale", "scales both hip (thigh joint) limits toward 0", "joint", 0.1, 1.2),
    _mult("knee_range_scale", "scales both knee (leg joint) limits toward 0", "joint", 0.1, 1.2),
    _mult("ankle_range_scale", "scales both ankle (foot joint) limits toward 0", "joint", 0.1, 1.2),
    _limit("hip", "low", -150.0),
    _limit("hip", "high", 0.0),
    _limit("knee", "low", -150.0),
    _limit("knee", "high", 0.0),
    _limit("ankle", "low", -45.0),
    _limit("ankle", "high", 45.0),
    _mult("friction", "sliding friction of every geom (floor included)", "contact", 0.05, 10.0),
    _mult("damping", "joint damping of the hip, knee and ankle", "joint", 0.05, 20.0),
    _mult("gravity", "gravitational acceleration", "world", 0.1, 3.0),
    _mult("actuator_strength", "motor gear of all three actuators", "actuator", 0.1, 5.0),
    _mult(
        "thigh_length",
        "thigh length; the body below moves so the leg stays whole",
        "geometry",
        0.5,
        1.5,
    ),
    _mult("leg_length", "leg (shin) length; the foot moves with it", "geometry", 0.5, 1.5),
    _mult("foot_length", "foot length, about the ankle", "geometry", 0.5, 1.5),
)
"""Every parameter, in the order of the observed context vector."""

BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}
DEFAULTS: dict[str, float] = {p.name: p.default for p in PARAMS}
GEOMETRY_PARAMS: tuple[str, ...] = tuple(p.name for p in PARAMS if p.group == "geometry")
JOINTS: tuple[str, ...] = ("hip", "knee", "ankle")


MIN_JOINT_RANGE_DEG = 1.0
"""The narrowest joint range accepted (before scaling): a joint is never locked or inverted."""


def _range_text(p: Param) -> str:
    return checks.range_text(p.low, p.high, p.unit)


def validate(params: Mapping[str, object]) -> dict[str, float]:
    """Check user-given parameters and return the full set (defaults filled in) as floats.

    Raises ``TypeError`` for a non-mapping, unknown names or non-numbers and ``ValueError`` for
    NaN, infinity, out-of-bounds values and inconsistent joint limits, always naming the parameter
    and its accepted range, so no bad value ever reaches MuJoCo. NumPy scalars are numbers.
    """
    if not isinstance(params, Mapping):
        raise TypeError(
            "HopperVariant parameters must be a mapping of name to value, e.g. {'mass': 1.2}, "
            f"got {type(params).__name__} {checks.show(params)}"
        )
    values = dict(DEFAULTS)
    for name, raw in params.items():
        if name not in BY_NAME:
            known = ", ".join(BY_NAME)
            raise TypeError(
                f"unknown HopperVariant parameter {checks.show(name)}; known parameters: {known}"
            )
        p = BY_NAME[name]
        values[name] = checks.real(name, raw, p.low, p.high, p.unit)
    for joint in JOINTS:
        low, high = values[f"{joint}_low_deg"], values[f"{joint}_high_deg"]
        if not high - low >= MIN_JOINT_RANGE_DEG:
            raise ValueError(
                f"{joint}_low_deg={low:g} must be at least {MIN_JOINT_RANGE_DEG:g} deg below "
                f"{joint}_high_deg={high:g} (both in [-180, 180] deg)"
            )
        scale = values[f"{joint}_range_scale"]
        if max(abs(low), abs(high)) * scale > 180.0:
            raise ValueError(
                f"{joint}_range_scale={scale:g} takes the {joint} limits [{low:g}, {high:g}] deg "
                "beyond ±180 deg; accepted: |limit| * scale <= 180"
            )
    return values


def non_default(values: Mapping[str, float]) -> dict[str, float]:
    """The entries of a full parameter set that differ from the defaults."""
    return {k: v for k, v in values.items() if v != DEFAULTS[k]}


def context_vector(values: Mapping[str, float]) -> np.ndarray:
    """The normalised parameters, in registry order, as appended when ``observe_context=True``."""
    return np.array([p.normalise(values[p.name]) for p in PARAMS], dtype=np.float64)


def context_of(params: Mapping[str, float]) -> np.ndarray:
    """A task's normalised parameters (its non-default ``params``, validated and completed with
    the defaults) as float32: what ``observe_context=True`` appends, for policies that append it
    themselves (the context oracle, the demonstrator)."""
    return context_vector(validate(params)).astype(np.float32)


def markdown_table() -> str:
    """The README's parameter table, generated so that docs and code cannot drift apart."""
    rows = ["| parameter | unit | default | accepted | meaning |", "|---|---|---|---|---|"]
    for p in PARAMS:
        rows.append(
            f"| `{p.name}` | {p.unit} | {p.default:g} | [{p.low:g}, {p.high:g}] | {p.meaning} |"
        )
    return "\n".join(rows)
