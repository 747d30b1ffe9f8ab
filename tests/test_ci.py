"""What CI relies on: with ``METAIL_NO_SKIP=1`` a skipped test fails (tests/conftest.py), and
``.ci/run`` runs the README's test command as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
SKIPPING = """
import pytest

def test_runs():
    pass

def test_skips():
    pytest.skip("no frobnicator installed")
"""
SKIPPED_MODULE = 'import pytest\n\npytest.importorskip("no_such_module_xyz")\n'


def run_pytest(tmp_path: Path, no_skip: bool) -> subprocess.CompletedProcess:
    """pytest on two small test files, with this directory's conftest.py as a plugin."""
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    (tmp_path / "test_skipped_module.py").write_text(SKIPPED_MODULE)
    env = {k: v for k, v in os.environ.items() if k != "METAIL_NO_SKIP"}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    if no_skip:
        env["METAIL_NO_SKIP"] = "1"
    cmd = [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q"]
    cmd += ["-c", os.devnull, "--rootdir", str(tmp_path), "--continue-on-collection-errors"]
    cmd.append(str(tmp_path))
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("no_skip", [False, True])
def test_a_skip_fails_under_metail_no_skip(tmp_path, no_skip):
    out = run_pytest(tmp_path, no_skip)
    last = out.stdout.strip().splitlines()[-1]
    if not no_skip:
        assert out.returncode == 0 and "1 passed, 2 skipped" in last, out.stdout
        return
    # the skipped test fails, the skipped module is a collection error
    assert out.returncode == 1 and "1 failed, 1 passed, 1 error" in last, out.stdout
    assert "METAIL_NO_SKIP=1 allows no skip: Skipped: no frobnicator installed" in out.stdout
    assert "allows no skip: Skipped: could not import 'no_such_module_xyz'" in out.stdout


def test_ci_runs_the_readme_test_command_in_a_fresh_venv():
    root = TESTS.parent
    readme = (root / "README.md").read_text()
    [command] = re.findall(r"^(pip install .*?)\s+# the tests$", readme, re.MULTILINE)
    assert '-e ".[dev]"' in command and command.endswith("python -m pytest")
    assert "torch==2.13.0" in command  # an unpinned torch pulls a CUDA build of several GB
    ci = (root / ".ci" / "run").read_text()
    assert "# the tests$" in ci and 'eval "$test_command"' in ci and "METAIL_NO_SKIP=1" in ci
    paths = [".ci/venv/bin/python", ".ci/venv-light/bin/python"]
    ignored = subprocess.run(["git", "check-ignore", *paths], cwd=root, capture_output=True)
    assert ignored.stdout.decode().split() == paths, "the venvs of .ci/run must be git-ignored"
