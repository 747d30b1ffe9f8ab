"""Every bad input is refused with a TypeError or ValueError naming the argument (and its accepted
range where it has one), before it reaches MuJoCo or a file; every valid corner value is accepted.

Each case of ``BAD`` is run as a user would hit it (``gym.make``, ``Task``, ``TaskSampler``,
``load_suite``...). The exception's class must be exactly the one listed: another class (a
``KeyError``, ``AttributeError``, ``OverflowError``...) is a crash, no exception a silent acceptance.
"""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from metail_envs import ENV_ID, LogUniform, Ring, Task, TaskSampler, Uniform, load_suite
from metail_envs.hopper import HopperVariantEnv
from metail_envs.params import MIN_JOINT_RANGE_DEG, PARAMS
from metail_envs.tasks import available_suites, distribution_from_json, freeze_suite

TEST_03 = "hopper-v1/test/03"
DIST = {"mass": Uniform(0.8, 1.2)}
DEFINITION: dict[str, Any] = {
    "name": "bad-inputs",
    "seed": 1,
    "sizes": {"train": 1, "test": 1, "ood": 1},
    "distribution": {"mass": {"type": "log-uniform", "low": 0.8, "high": 1.2}},
    "ood": {"rings": {"mass": [0.5, 2.0]}, "params_per_task": 1},
}


def make(**kwargs: Any) -> gym.Env:
    return gym.make(ENV_ID, **kwargs)


def env_call(method: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
    """Call a method of a reset env (``step``, ``reset``, ``set_task``, ``sample_tasks``)."""

    def call() -> Any:
        env = make()
        env.reset(seed=0)
        return getattr(env.unwrapped if method in ("set_task", "sample_tasks") else env, method)(
            *args, **kwargs
        )

    return call


class Forged:
    """A pickle that rebuilds a Task from arbitrary arguments or state, as a tampered file would."""

    def __init__(self, reduce: tuple) -> None:
        self.reduce = reduce

    def __reduce__(self) -> tuple:
        return self.reduce


def unpickle(reduce: tuple) -> Callable[[], Any]:
    return lambda: pickle.loads(pickle.dumps(Forged(reduce)))


def tampered_task() -> Task:
    """A Task whose fields were overwritten after validation (frozen dataclasses allow it)."""
    task = Task({"mass": 1.2})
    object.__setattr__(task, "items", (("mass", -1.0),))
    return task


def definition(**changes: Any) -> dict[str, Any]:
    return {**DEFINITION, **changes}


def freeze(definition: Any, tmp: str = "/nonexistent/never-written.json") -> Callable[[], Any]:
    from pathlib import Path

    return lambda: freeze_suite(definition, Path(tmp))


# (label, call, exception class, words the message must contain)
BAD: list[tuple[str, Callable[[], Any], type[Exception], list[str]]] = [
    # --- dynamics parameters, through gym.make ------------------------------------------------
    ("mass=10**400", lambda: make(mass=10**400), ValueError, ["mass", "[0.1, 10]"]),
    ("mass=10**5000", lambda: make(mass=10**5000), ValueError, ["mass", "[0.1, 10]"]),
    ("mass=-inf", lambda: make(mass=-math.inf), ValueError, ["mass", "[0.1, 10]"]),
    ("mass=nan", lambda: make(mass=math.nan), ValueError, ["mass", "[0.1, 10]"]),
    ("mass='1.2'", lambda: make(mass="1.2"), TypeError, ["mass", "real number", "str"]),
    ("mass=None", lambda: make(mass=None), TypeError, ["mass", "real number"]),
    ("mass=True", lambda: make(mass=True), TypeError, ["mass", "bool"]),
    ("mass=np.bool_", lambda: make(mass=np.bool_(True)), TypeError, ["mass", "real number"]),
    ("mass=complex", lambda: make(mass=1 + 0j), TypeError, ["mass", "complex"]),
    ("mass=[1.2]", lambda: make(mass=[1.2]), TypeError, ["mass", "list"]),
    ("mass=ndarray", lambda: make(mass=np.array([1.2])), TypeError, ["mass", "ndarray"]),
    ("mass=Decimal", lambda: make(mass=Decimal("1.2")), TypeError, ["mass", "real number"]),
    ("mass below", lambda: make(mass=0.0999), ValueError, ["mass", "[0.1, 10] ×"]),
    ("mass above", lambda: make(mass=10.0001), ValueError, ["mass", "[0.1, 10]"]),
    ("torso_mass=0", lambda: make(torso_mass=0), ValueError, ["torso_mass", "[0.1, 10]"]),
    ("thigh_mass=11", lambda: make(thigh_mass=11), ValueError, ["thigh_mass", "[0.1, 10]"]),
    ("leg_mass=-1", lambda: make(leg_mass=-1), ValueError, ["leg_mass", "[0.1, 10]"]),
    ("foot_mass=inf", lambda: make(foot_mass=math.inf), ValueError, ["foot_mass", "[0.1, 10]"]),
    ("com_offset", lambda: make(com_offset=0.2000001), ValueError, ["com_offset", "[-0.2, 0.2] m"]),
    ("com_offset_z", lambda: make(com_offset_z=-0.3), ValueError, ["com_offset_z", "[-0.2, 0.2]"]),
    ("hip_range_scale", lambda: make(hip_range_scale=1.21), ValueError, ["hip_range_scale", "[0.1, 1.2]"]),
    ("knee_range_scale", lambda: make(knee_range_scale=0.05), ValueError, ["knee_range_scale", "[0.1, 1.2]"]),
    ("ankle_range_scale f32", lambda: make(ankle_range_scale=np.float32(2)), ValueError, ["ankle_range_scale", "[0.1, 1.2]"]),
    ("hip_low_deg=-181", lambda: make(hip_low_deg=-181), ValueError, ["hip_low_deg", "[-180, 180] deg"]),
    ("knee_high_deg=181", lambda: make(knee_high_deg=181), ValueError, ["knee_high_deg", "[-180, 180]"]),
    ("hip range empty", lambda: make(hip_low_deg=0), ValueError, ["hip_low_deg=0", "hip_high_deg=0", "1 deg"]),
    ("knee range inverted", lambda: make(knee_low_deg=10, knee_high_deg=5), ValueError, ["knee_low_deg=10", "below", "knee_high_deg=5"]),
    ("ankle range denormal", lambda: make(ankle_low_deg=-5e-324, ankle_high_deg=5e-324), ValueError, ["ankle_low_deg", "ankle_high_deg", "1 deg"]),
    ("ankle range 0.5 deg", lambda: make(ankle_low_deg=0, ankle_high_deg=0.5), ValueError, ["ankle_low_deg", "ankle_high_deg", "1 deg"]),
    ("ankle scaled past 180", lambda: make(ankle_low_deg=-170, ankle_range_scale=1.2), ValueError, ["ankle_range_scale", "180"]),
    ("friction", lambda: make(friction=0.04), ValueError, ["friction", "[0.05, 10]"]),
    ("damping", lambda: make(damping=21), ValueError, ["damping", "[0.05, 20]"]),
    ("gravity=0", lambda: make(gravity=0), ValueError, ["gravity", "[0.1, 3]"]),
    ("actuator_strength", lambda: make(actuator_strength=5.5), ValueError, ["actuator_strength", "[0.1, 5]"]),
    ("thigh_length", lambda: make(thigh_length=0.4), ValueError, ["thigh_length", "[0.5, 1.5]"]),
    ("leg_length", lambda: make(leg_length=1.6), ValueError, ["leg_length", "[0.5, 1.5]"]),
    ("foot_length nan f64", lambda: make(foot_length=np.float64("nan")), ValueError, ["foot_length", "[0.5, 1.5]"]),
    ("unknown parameter", lambda: make(masss=1.2), TypeError, ["masss", "known parameters", "mass"]),
    ("parameter case", lambda: make(Mass=1.2), TypeError, ["Mass", "known parameters"]),
    # --- environment options --------------------------------------------------------------------
    ("observe_context='no'", lambda: make(observe_context="no"), TypeError, ["observe_context", "True or False"]),
    ("observe_context=1", lambda: make(observe_context=1), TypeError, ["observe_context"]),
    ("observe_context=None", lambda: make(observe_context=None), TypeError, ["observe_context"]),
    ("terminate_when_unhealthy='yes'", lambda: make(terminate_when_unhealthy="yes"), TypeError, ["terminate_when_unhealthy"]),
    ("reset_noise_scale=True", lambda: make(reset_noise_scale=True), TypeError, ["reset_noise_scale", "[0, 1]"]),
    ("reset_noise_scale<0", lambda: make(reset_noise_scale=-0.1), ValueError, ["reset_noise_scale", "[0, 1]"]),
    ("reset_noise_scale>1", lambda: make(reset_noise_scale=1.5), ValueError, ["reset_noise_scale", "[0, 1]"]),
    ("reset_noise_scale=nan", lambda: make(reset_noise_scale=math.nan), ValueError, ["reset_noise_scale", "[0, 1]"]),
    ("reset_noise_scale='0.1'", lambda: make(reset_noise_scale="0.1"), TypeError, ["reset_noise_scale"]),
    ("render_mode='ansi'", lambda: make(render_mode="ansi"), ValueError, ["render_mode", "rgb_array"]),
    # gym.make itself wraps "human" in HumanRendering and calls str methods on render_mode:
    ("render_mode='human'", lambda: HopperVariantEnv(render_mode="human"), ValueError, ["render_mode"]),
    ("render_mode=list", lambda: HopperVariantEnv(render_mode=["rgb_array"]), ValueError, ["render_mode"]),
    ("width=0", lambda: make(render_mode="rgb_array", width=0, height=0), ValueError, ["height", "[1, 4096]"]),
    ("width=0 only", lambda: make(width=0), ValueError, ["width", "[1, 4096]"]),
    ("width<0", lambda: make(width=-64), ValueError, ["width", "[1, 4096]"]),
    ("width=64.0", lambda: make(width=64.0), TypeError, ["width", "integer"]),
    ("height=5000", lambda: make(height=5000), ValueError, ["height", "[1, 4096]"]),
    ("width=True", lambda: make(width=True), TypeError, ["width", "integer"]),
    ("task=dict", lambda: make(task={"mass": 1.1}), TypeError, ["task", "metail_envs.Task"]),
    ("task=id string", lambda: make(task=TEST_03), TypeError, ["task", "metail_envs.Task"]),
    ("task and keywords", lambda: make(task=Task({"mass": 1.1}), mass=1.2), TypeError, ["task=", "not both"]),
    ("task forging a suite id", lambda: make(task=Task({"mass": 5.0}, id=TEST_03)), ValueError, [TEST_03, "other parameters"]),
    ("task of an unknown suite id", lambda: make(task=Task(id="hopper-v1/test/99")), ValueError, ["hopper-v1/test/99", "no such task"]),
    # --- set_task, reset, step, sample_tasks ----------------------------------------------------
    ("set_task forged id", env_call("set_task", Task({"mass": 5.0}, id=TEST_03)), ValueError, [TEST_03, "other parameters"]),
    ("set_task nominal with a test id", env_call("set_task", Task(id=TEST_03)), ValueError, [TEST_03, "other parameters"]),
    ("set_task ood id", env_call("set_task", Task({"mass": 1.1}, id="hopper-v1/ood/00")), ValueError, ["hopper-v1/ood/00"]),
    ("set_task dict", env_call("set_task", {"mass": 1.2}), TypeError, ["task", "metail_envs.Task"]),
    ("set_task None", env_call("set_task", None), TypeError, ["task", "metail_envs.Task"]),
    ("reset seed=-1", env_call("reset", seed=-1), ValueError, ["seed", "[0, inf]"]),
    ("reset seed=1.5", env_call("reset", seed=1.5), TypeError, ["seed", "integer"]),
    ("reset seed='0'", env_call("reset", seed="0"), TypeError, ["seed"]),
    ("step shape (4,)", env_call("step", np.zeros(4, np.float32)), ValueError, ["action", "(3,)"]),
    ("step shape (1,)", env_call("step", np.zeros(1, np.float32)), ValueError, ["action", "(3,)"]),
    ("step scalar", env_call("step", 0.5), ValueError, ["action", "(3,)"]),
    ("step nan", env_call("step", np.array([0.0, np.nan, 0.0], np.float32)), ValueError, ["action", "finite"]),
    ("step strings", env_call("step", ["a", "b", "c"]), TypeError, ["action", "real numbers"]),
    ("sample_tasks(-1)", env_call("sample_tasks", -1), ValueError, ["n", "[0, inf]"]),
    ("sample_tasks(True)", env_call("sample_tasks", True), TypeError, ["n", "integer"]),
    # --- Task -------------------------------------------------------------------------------------
    ("Task('mass')", lambda: Task("mass"), TypeError, ["parameters", "mapping"]),
    ("Task([('mass', 1.2)])", lambda: Task([("mass", 1.2)]), TypeError, ["parameters", "mapping"]),
    ("Task('')", lambda: Task(""), TypeError, ["parameters", "mapping"]),
    ("Task mass=-1", lambda: Task({"mass": -1}), ValueError, ["mass", "[0.1, 10]"]),
    ("Task id=3", lambda: Task({"mass": 1.2}, id=3), TypeError, ["Task id", "string"]),
    ("Task id=''", lambda: Task(id=""), ValueError, ["Task id"]),
    ("Task id path", lambda: Task(id="../../etc/x"), ValueError, ["Task id", "'/'"]),
    ("Task id absolute", lambda: Task(id="/abs"), ValueError, ["Task id"]),
    ("Task id //", lambda: Task(id="a//b"), ValueError, ["Task id"]),
    ("Task id space", lambda: Task(id="a b"), ValueError, ["Task id"]),
    ("Task id too long", lambda: Task(id="x" * 201), ValueError, ["Task id", "200"]),
    ("from_json no params", lambda: Task.from_json({"id": "x"}), ValueError, ["'id'", "'params'"]),
    ("from_json no id", lambda: Task.from_json({"params": {}}), ValueError, ["'id'", "'params'"]),
    ("from_json id=None", lambda: Task.from_json({"id": None, "params": {}}), TypeError, ["'id'", "string"]),
    ("from_json params=None", lambda: Task.from_json({"id": "x", "params": None}), TypeError, ["'params'"]),
    ("from_json params list", lambda: Task.from_json({"id": "x", "params": [["mass", 1.2]]}), TypeError, ["parameters", "mapping"]),
    ("from_json mass str", lambda: Task.from_json({"id": "x", "params": {"mass": "1"}}), TypeError, ["mass", "real number"]),
    ("from_json extra key", lambda: Task.from_json({"id": "x", "params": {}, "x": 1}), ValueError, ["exactly the keys"]),
    ("from_json list", lambda: Task.from_json(["x", {}]), TypeError, ["Task JSON", "object"]),
    # --- unpickling never skips validation ----------------------------------------------------------
    ("unpickle tampered Task", lambda: pickle.loads(pickle.dumps(tampered_task())), ValueError, ["mass", "[0.1, 10]"]),
    ("copy tampered Task", lambda: copy.deepcopy(tampered_task()), ValueError, ["mass", "[0.1, 10]"]),
    ("unpickle forged args", unpickle((Task, ({"mass": -1.0}, "x"))), ValueError, ["mass", "[0.1, 10]"]),
    ("unpickle old state mass=-1", unpickle((object.__new__, (Task,), {"id": "x", "items": (("mass", -1.0),)})), ValueError, ["mass", "[0.1, 10]"]),
    ("unpickle old state bad id", unpickle((object.__new__, (Task,), {"id": "../x", "items": ()})), ValueError, ["Task id"]),
    ("unpickle old state keys", unpickle((object.__new__, (Task,), {"id": "x"})), TypeError, ["pickled Task", "state"]),
    ("unpickle old state items", unpickle((object.__new__, (Task,), {"id": "x", "items": 5})), TypeError, ["pickled Task", "items"]),
    # --- distributions ------------------------------------------------------------------------------
    ("Uniform(2, 0.5)", lambda: Uniform(2, 0.5), ValueError, ["Uniform low=2", "high=0.5"]),
    ("Uniform(nan, 1)", lambda: Uniform(math.nan, 1), ValueError, ["Uniform low"]),
    ("Uniform(0, inf)", lambda: Uniform(0, math.inf), ValueError, ["Uniform high"]),
    ("Uniform('0', 1)", lambda: Uniform("0", 1), TypeError, ["Uniform low", "real number"]),
    ("Uniform(None, 1)", lambda: Uniform(None, 1), TypeError, ["Uniform low"]),
    ("Uniform(True, 2)", lambda: Uniform(True, 2), TypeError, ["Uniform low", "bool"]),
    ("LogUniform(-0.1, 0.1)", lambda: LogUniform(-0.1, 0.1), ValueError, ["LogUniform low=-0.1", "> 0"]),
    ("LogUniform(0, 1)", lambda: LogUniform(0, 1), ValueError, ["LogUniform low=0", "> 0"]),
    ("LogUniform(2, 1)", lambda: LogUniform(2, 1), ValueError, ["LogUniform low=2", "high=1"]),
    ("Ring inverted", lambda: Ring(Uniform(0.5, 2), 3.0, 0.3), ValueError, ["Ring low", "[-inf, 0.5]"]),
    ("Ring low inside", lambda: Ring(Uniform(0.5, 2), 0.6, 3), ValueError, ["Ring low", "[-inf, 0.5]"]),
    ("Ring high inside", lambda: Ring(Uniform(0.5, 2), 0.3, 1.5), ValueError, ["Ring high", "[2, inf]"]),
    ("Ring without a band", lambda: Ring(Uniform(0.5, 2), 0.5, 2.0), ValueError, ["Ring", "band"]),
    ("Ring log below 0", lambda: Ring(LogUniform(0.5, 2), -1, 3), ValueError, ["Ring low", "> 0"]),
    ("Ring log at 0", lambda: Ring(LogUniform(0.5, 2), 0, 3), ValueError, ["Ring low", "> 0"]),
    ("Ring inner tuple", lambda: Ring((0.5, 2), 0.3, 3), TypeError, ["Ring inner", "Uniform"]),
    ("distribution without low", lambda: distribution_from_json({"type": "uniform", "high": 1}), ValueError, ["'low'"]),
    ("distribution type normal", lambda: distribution_from_json({"type": "normal", "low": 0, "high": 1}), ValueError, ["distribution type", "uniform"]),
    ("distribution without type", lambda: distribution_from_json({"low": 0, "high": 1}), ValueError, ["'type'"]),
    ("distribution type=3", lambda: distribution_from_json({"type": 3, "low": 0, "high": 1}), ValueError, ["distribution type"]),
    ("distribution string", lambda: distribution_from_json("uniform"), TypeError, ["distribution", "object"]),
    ("distribution low str", lambda: distribution_from_json({"type": "uniform", "low": "a", "high": 1}), TypeError, ["Uniform low"]),
    ("distribution extra key", lambda: distribution_from_json({"type": "uniform", "low": 0, "high": 1, "x": 0}), ValueError, ["exactly the keys"]),
    # --- TaskSampler ---------------------------------------------------------------------------------
    ("TaskSampler({'mass': 1.2})", lambda: TaskSampler({"mass": 1.2}), TypeError, ["distributions['mass']", "Uniform"]),
    ("TaskSampler list", lambda: TaskSampler([("mass", Uniform(1, 2))]), TypeError, ["distributions", "mapping"]),
    ("TaskSampler unknown name", lambda: TaskSampler({"masss": Uniform(1, 2)}), TypeError, ["masss", "known parameters"]),
    ("TaskSampler out of registry", lambda: TaskSampler({"mass": Uniform(0.01, 2)}), ValueError, ["mass", "[0.1, 10]"]),
    ("TaskSampler seed=-1", lambda: TaskSampler(DIST, seed=-1), ValueError, ["seed", "[0, inf]"]),
    ("TaskSampler seed=1.5", lambda: TaskSampler(DIST, seed=1.5), TypeError, ["seed"]),
    ("TaskSampler seed='7'", lambda: TaskSampler(DIST, seed="7"), TypeError, ["seed"]),
    ("TaskSampler seed=[1, -2]", lambda: TaskSampler(DIST, seed=[1, -2]), ValueError, ["seed[1]"]),
    ("TaskSampler seed=True", lambda: TaskSampler(DIST, seed=True), TypeError, ["seed"]),
    ("TaskSampler seed=[]", lambda: TaskSampler(DIST, seed=[]), ValueError, ["seed", "empty"]),
    ("max_tries=0", lambda: TaskSampler(DIST, max_tries=0), ValueError, ["max_tries", "[1, inf]"]),
    ("max_tries=1.5", lambda: TaskSampler(DIST, max_tries=1.5), TypeError, ["max_tries", "integer"]),
    ("ring_params without rings", lambda: TaskSampler(DIST, ring_params=1), ValueError, ["ring_params", "[0, 0]"]),
    ("ring_params=-1", lambda: TaskSampler(DIST, ring_params=-1), ValueError, ["ring_params"]),
    ("rings of Uniform", lambda: TaskSampler(DIST, rings={"mass": Uniform(1, 2)}), TypeError, ["rings['mass']", "Ring"]),
    ("constraint=5", lambda: TaskSampler(DIST, constraint=5), TypeError, ["constraint", "callable"]),
    ("id_prefix path", lambda: TaskSampler(DIST, id_prefix="../x"), ValueError, ["id_prefix"]),
    ("id_prefix=3", lambda: TaskSampler(DIST, id_prefix=3), TypeError, ["id_prefix", "string"]),
    ("sample(True)", lambda: TaskSampler(DIST).sample(True), TypeError, ["n", "integer"]),
    ("sample(-1)", lambda: TaskSampler(DIST).sample(-1), ValueError, ["n", "[0, inf]"]),
    ("sample(2.0)", lambda: TaskSampler(DIST).sample(2.0), TypeError, ["n", "integer"]),
    ("sample('3')", lambda: TaskSampler(DIST).sample("3"), TypeError, ["n", "integer"]),
    # --- suites ----------------------------------------------------------------------------------------
    ("load_suite('../../x')", lambda: load_suite("../../x"), ValueError, ["suite name", "no path"]),
    ("load_suite nested path", lambda: load_suite("hopper-v1/../hopper-v1"), ValueError, ["suite name"]),
    ("load_suite absolute", lambda: load_suite("/etc/passwd"), ValueError, ["suite name"]),
    ("load_suite('')", lambda: load_suite(""), ValueError, ["suite name"]),
    ("load_suite unknown", lambda: load_suite("hopper-v9"), ValueError, ["hopper-v9", "available"]),
    ("load_suite list", lambda: load_suite(["hopper-v1"]), TypeError, ["suite name", "string"]),
    ("load_suite None", lambda: load_suite(None), TypeError, ["suite name", "string"]),
    ("split('validation')", lambda: load_suite().split("validation"), ValueError, ["split", "train"]),
    ("split(['test'])", lambda: load_suite().split(["test"]), ValueError, ["split"]),
    ("suite.task(3)", lambda: load_suite().task(3), TypeError, ["task_id", "string"]),
    ("suite.sampler(seed=-1)", lambda: load_suite().sampler(seed=-1), ValueError, ["seed", "[0, inf]"]),
    ("freeze name path", freeze(definition(name="../x")), ValueError, ["suite name", "no path"]),
    ("freeze without seed", freeze({k: v for k, v in DEFINITION.items() if k != "seed"}), ValueError, ["seed"]),
    ("freeze sizes<0", freeze(definition(sizes={"train": -1, "test": 1, "ood": 1})), ValueError, ["sizes 'train'", "[0, 10000]"]),
    ("freeze sizes keys", freeze(definition(sizes={"train": 1})), ValueError, ["'sizes'", "'test'"]),
    ("freeze unknown key", freeze(definition(splits=3)), ValueError, ["suite definition", "keys"]),
    ("freeze ring of another param", freeze(definition(ood={"rings": {"gravity": [0.5, 2]}})), ValueError, ["'rings'"]),
    ("freeze params_per_task", freeze(definition(ood={"rings": {"mass": [0.5, 2]}, "params_per_task": 5})), ValueError, ["params_per_task", "[0, 1]"]),
    ("freeze torque_to_weight", freeze(definition(torque_to_weight=[2, 1])), ValueError, ["torque_to_weight high", "[2, inf]"]),
    ("freeze bad distribution", freeze(definition(distribution={"mass": {"type": "log-uniform", "low": 2, "high": 1}})), ValueError, ["LogUniform low=2"]),
    ("freeze not a mapping", freeze(["hopper-v1"]), TypeError, ["suite definition", "object"]),
]  # fmt: skip


def test_at_least_80_distinct_bad_inputs():
    labels = [label for label, *_ in BAD]
    assert len(labels) == len(set(labels)) >= 80


@pytest.mark.filterwarnings("ignore:.*render_mode.*:UserWarning")  # Gymnasium's own warning
@pytest.mark.parametrize("label, call, error, words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_clearly(label, call, error, words):
    with pytest.raises(Exception) as info:
        call()
    assert type(info.value) is error, f"{label}: {type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for word in words:
        assert word in message, f"{label}: {word!r} not in {message!r}"


# --- the valid corners are accepted -------------------------------------------------------------


def corner_params() -> list[dict[str, Any]]:
    """Every parameter at each bound alone (joint limits paired so the range stays valid), the
    narrowest joint range, and numbers given as ints, numpy scalars and fractions."""
    corners: list[dict[str, Any]] = []
    for p in PARAMS:
        if p.name.endswith("_low_deg"):
            high = p.name.replace("_low_", "_high_")
            corners += [{p.name: p.low}, {p.name: p.high - 1, high: p.high}]
        elif p.name.endswith("_high_deg"):
            low = p.name.replace("_high_", "_low_")
            corners += [{p.name: p.high}, {low: p.low, p.name: p.low + 1}]
        else:
            corners += [{p.name: p.low}, {p.name: p.high}]
    corners += [
        {"ankle_low_deg": 0.0, "ankle_high_deg": MIN_JOINT_RANGE_DEG},
        {"mass": 2, "com_offset": 0, "gravity": np.int64(1)},
        {"mass": np.float32(1.2), "friction": np.float64(0.7), "damping": np.float16(2)},
        {"mass": Fraction(3, 2), "leg_length": np.float32(0.9)},
    ]
    return corners


@pytest.mark.parametrize("params", corner_params(), ids=repr)
def test_valid_corner_parameters_are_accepted(params):
    env = make(**params)
    obs, _ = env.reset(seed=0)
    obs, reward, *_ = env.step(np.zeros(3, np.float32))
    assert np.all(np.isfinite(obs)) and np.isfinite(reward)
    assert Task(params).values == env.unwrapped.get_task().values
    assert all(type(v) is float for v in Task(params).values.values())


def test_valid_corner_options_are_accepted():
    for kwargs in (
        {"reset_noise_scale": np.float32(0.1)},
        {"reset_noise_scale": 0},
        {"reset_noise_scale": 1},
        {"reset_noise_scale": Fraction(1, 100)},
        {"observe_context": np.bool_(True), "terminate_when_unhealthy": np.bool_(False)},
        {"width": np.int64(64), "height": np.int32(48)},
        {"width": 1, "height": 4096},
    ):
        make(**kwargs).reset(seed=0)
    env = make(reset_noise_scale=np.float32(0.1))
    a, b = env.reset(seed=np.int64(3))[0], env.reset(seed=3)[0]
    np.testing.assert_array_equal(a, b)
    assert env.unwrapped.sample_tasks(np.int64(2)) and env.unwrapped.sample_tasks(0) == []
    env.step([0.1, -0.2, 0.3])  # a list of 3 numbers is an action


def test_frames_beyond_the_default_framebuffer_render():
    env = make(render_mode="rgb_array", width=800, height=600)  # the XML's buffer is 640x480
    env.reset(seed=0)
    assert env.render().shape == (600, 800, 3)
    env.close()


def test_valid_corner_distributions_and_samplers_are_accepted():
    assert Uniform(1, 1).sample(np.random.default_rng(0)) == 1.0  # a constant
    assert Uniform(np.float32(0.5), 2) == Uniform(0.5, 2.0)
    assert LogUniform(1, 2).low == 1.0 and type(LogUniform(1, 2).low) is float
    Ring(Uniform(0.5, 2), 0.5, 3)  # a band on one side only
    Ring(LogUniform(0.5, 2), 0.3, 2)
    assert distribution_from_json({"type": "uniform", "low": -1, "high": 1}) == Uniform(-1, 1)
    bounds = {"mass": LogUniform(0.1, 10.0), "com_offset": Uniform(-0.2, 0.2)}
    for seed in (np.int64(7), 7, [7], (1, 2), np.random.SeedSequence(7), None):
        TaskSampler(bounds, seed=seed).sample(np.int64(2))
    assert TaskSampler(bounds, seed=np.int64(7)).sample(3) == TaskSampler(bounds, seed=7).sample(3)
    assert TaskSampler(bounds, seed=[7]).sample(3) == TaskSampler(bounds, seed=(7,)).sample(3)
    assert TaskSampler(bounds, max_tries=1).sample(0) == []


def test_valid_corner_tasks_and_suites_are_accepted(suite):
    Task(id="x" * 200)
    Task({"mass": 1.2}, id="probe-low-mass-0.1")
    for name in available_suites():
        loaded = load_suite(name)
        assert loaded is load_suite(name)  # still cached
    env = make()
    env.reset(seed=0)
    real = suite.task(TEST_03)
    env.unwrapped.set_task(Task.from_json(real.to_json()))  # an equal Task, rebuilt
    env.unwrapped.set_task(Task(real.params))  # its parameters under an id of its own
    assert pickle.loads(pickle.dumps(real)) == real and copy.deepcopy(real) == real
    old_state = unpickle((object.__new__, (Task,), {"id": real.id, "items": real.items}))()
    assert old_state == real and old_state.values == real.values
