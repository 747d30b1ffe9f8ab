"""imitation is optional: the shipped demonstrations load as metail's own TrajectoryWithRew when
imitation cannot be imported, with the same fields and values as imitation's type; the bc
baseline's meta-training names the extra it needs; every other path runs without imitation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from metail_envs import data as D
from metail_envs import trajectory as T

TASK = "hopper-v1/nominal"
N = 3
BLOCK = "import sys; sys.modules['imitation'] = None  # `import imitation...` now fails\n"
"""Run first in a subprocess: imitation is absent there, whatever this venv holds."""


def _without_imitation(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=300
    )


def _dump(trajs: list, out: Path) -> None:
    np.savez(out / "arrays.npz", **{
        f"{i}_{f}": getattr(t, f) for i, t in enumerate(trajs) for f in ("obs", "acts", "rews")
    })  # fmt: skip
    meta = [{"infos": list(t.infos), "terminal": t.terminal} for t in trajs]
    (out / "meta.json").write_text(json.dumps(meta))


def test_shipped_demos_load_as_metails_type_without_imitation(tmp_path: Path) -> None:
    """The fallback type, on the shipped demonstrations, in a process where imitation is absent."""
    code = (
        "from pathlib import Path\n"
        "import metail_envs.data as D, metail_envs.trajectory as T\n"
        "from test_trajectory import _dump\n"
        f"trajs = D.load_demos({TASK!r}, n={N}, data_dir=D.REPO_DATA_DIR)\n"
        "assert all(type(t) is T.TrajectoryWithRew for t in trajs), type(trajs[0])\n"
        f"_dump(trajs, Path({str(tmp_path)!r}))\n"
        "print(type(trajs[0]).__module__, 'imitation' in sys.modules and sys.modules['imitation'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", BLOCK + code],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).parent,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["metail_envs.trajectory", "None"]
    ours = D.load_demos(TASK, n=N, data_dir=D.REPO_DATA_DIR)  # this process's type, either one
    arrays = np.load(tmp_path / "arrays.npz")
    meta = json.loads((tmp_path / "meta.json").read_text())
    for i, t in enumerate(ours):
        for f in ("obs", "acts", "rews"):
            np.testing.assert_array_equal(arrays[f"{i}_{f}"], getattr(t, f))
            assert arrays[f"{i}_{f}"].dtype == getattr(t, f).dtype
        assert meta[i] == {"infos": list(t.infos), "terminal": t.terminal}


@pytest.mark.imitation
def test_both_types_carry_the_same_fields_and_values() -> None:
    """Where imitation is installed load_demos returns its type, and metail's own type built from
    the same shipped demonstrations equals it field for field."""
    from imitation.data.types import TrajectoryWithRew

    assert T.trajectory_class() is TrajectoryWithRew
    theirs = D.load_demos(TASK, n=N, data_dir=D.REPO_DATA_DIR)
    assert all(type(t) is TrajectoryWithRew for t in theirs)
    assert [f.name for f in T.dataclasses.fields(TrajectoryWithRew)] == list(T.FIELDS)
    for t in theirs:
        own = T.TrajectoryWithRew(**{f: getattr(t, f) for f in T.FIELDS})
        assert len(own) == len(t) > 0
        for f in T.FIELDS:
            a, b = getattr(own, f), getattr(t, f)
            assert np.array_equal(a, b) if isinstance(b, np.ndarray) else a == b


BAD = [
    {"obs": np.zeros((3, 11)), "acts": np.zeros((3, 3)), "rews": np.zeros(3)},  # obs not n + 1
    {"obs": np.zeros((1, 11)), "acts": np.zeros((0, 3)), "rews": np.zeros(0)},  # no action
    {"obs": np.zeros((4, 11)), "acts": np.zeros((3, 3)), "rews": np.zeros(2)},  # rews short
    {"obs": np.zeros((4, 11)), "acts": np.zeros((3, 3)), "rews": np.zeros(3, int)},  # int rews
    {"obs": np.zeros((4, 11)), "acts": np.zeros((3, 3)), "rews": np.zeros(3), "infos": [{}]},
]


@pytest.mark.parametrize("fields", BAD, ids=["obs", "empty", "rews", "dtype", "infos"])
def test_metails_type_refuses_what_imitations_refuses(fields: dict) -> None:
    kw = {"infos": None, "terminal": True, **fields}
    with pytest.raises(ValueError) as ours:
        T.TrajectoryWithRew(**kw)
    try:
        from imitation.data.types import TrajectoryWithRew
    except ImportError:
        return
    with pytest.raises(ValueError) as theirs:
        TrajectoryWithRew(**kw)
    assert str(ours.value) == str(theirs.value)


def test_metails_type_compares_by_value() -> None:
    kw = {"obs": np.zeros((3, 2)), "acts": np.ones((2, 1)), "terminal": True, "rews": np.ones(2)}
    a = T.TrajectoryWithRew(infos=None, **kw)
    assert a == T.TrajectoryWithRew(infos=np.array([{}, {}]), **kw) and len(a) == 2
    assert a != T.TrajectoryWithRew(infos=None, **{**kw, "rews": np.zeros(2)})


def test_bc_names_its_extra_and_the_other_paths_run_without_imitation() -> None:
    """Without imitation: the bc policy builds (single-task BC's too) and bc's meta-training
    says in one line which extra it needs."""
    code = (
        "import metail_envs.data as D\n"
        "from baselines.bc import BCAgent\nfrom baselines.nets import make_policy\n"
        "agent = BCAgent(config='small')\n"
        "make_policy(agent.config)\n"
        "demos = {'hopper-v1/train/00': D.load_demos('hopper-v1/train/00', n=1, "
        "data_dir=D.REPO_DATA_DIR)}\n"
        "try:\n"
        "    agent.meta_train(demos, seed=0)\n"
        "except ModuleNotFoundError as e:\n"
        "    print(e.name, '|', e)\n"
    )
    out = _without_imitation(code)
    assert out.returncode == 0, out.stderr
    name, message = out.stdout.strip().split(" | ")
    assert name == "imitation" and 'pip install "metail[imitation]"' in message
    assert "\n" not in message
