"""Atomic writes: the new content or the old, never half, and no temporary left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metail_envs.fileio import TMP_PREFIX, atomic_write, write_json_atomic


def test_file_is_replaced_and_no_temporary_is_left(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.txt"
    assert atomic_write(target, lambda tmp: tmp.write_text("one")) == target
    atomic_write(target, lambda tmp: tmp.write_text("two"))
    assert target.read_text() == "two"
    assert not list(target.parent.glob(f"{TMP_PREFIX}*"))


def test_directory_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"

    def write(files: dict[str, str]):
        def w(tmp: Path) -> None:
            tmp.mkdir()
            for name, text in files.items():
                (tmp / name).write_text(text)

        return w

    atomic_write(target, write({"a": "1", "b": "2"}))
    atomic_write(target, write({"c": "3"}))
    assert sorted(p.name for p in target.iterdir()) == ["c"]
    assert not list(tmp_path.glob(f"{TMP_PREFIX}*"))


def test_a_failing_writer_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_json_atomic(target, {"x": 1})

    def half(tmp: Path) -> None:
        tmp.write_text('{"x": ')
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="killed"):
        atomic_write(target, half)
    assert json.loads(target.read_text()) == {"x": 1}
    assert not list(tmp_path.glob(f"{TMP_PREFIX}*"))


def test_a_writer_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="did not create"):
        atomic_write(tmp_path / "a", lambda tmp: None)
    assert not (tmp_path / "a").exists()


def test_json_format_and_strictness(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_json_atomic(target, {"b": 1, "a": [1, 2]}, sort_keys=True)
    assert target.read_text() == json.dumps({"a": [1, 2], "b": 1}, indent=1) + "\n"
    with pytest.raises(ValueError):
        write_json_atomic(target, {"x": float("nan")}, allow_nan=False)
    assert json.loads(target.read_text()) == {"a": [1, 2], "b": 1}
