"""The before/after table of the scored experts, from two manifests on disk."""

from __future__ import annotations

import json

from baselines.experts.expert_table import main


def _manifest(path, rates: dict[str, float]) -> str:
    tasks = {
        t: {"expert": {"mean_return": 3000.0 * r, "std_return": 10.0, "completion_rate": r}}
        for t, r in rates.items()
    }
    path.write_text(json.dumps({"tasks": tasks}))
    return str(path)


def test_table_counts_the_experts_at_the_bar_and_marks_the_rest(tmp_path, capsys):
    before = _manifest(
        tmp_path / "before.json",
        {"hopper-v1/test/00": 0.5, "hopper-v1/ood/00": 0.95, "hopper-v1/train/00": 0.1},
    )
    after = _manifest(
        tmp_path / "after.json",
        {"hopper-v1/test/00": 0.92, "hopper-v1/ood/00": 0.88, "hopper-v1/train/00": 1.0},
    )
    assert main([before, after]) == 0
    out = capsys.readouterr().out
    assert "| hopper-v1/test/00 | 1500 ± 10 | 50% | 2760 ± 10 | 92% |" in out
    assert "| hopper-v1/ood/00 | 2850 ± 10 | 95% | 2640 ± 10 | 88% ✗ |" in out
    assert "train/00" not in out  # training tasks are not scored
    assert "1 of 2 before, 1 of 2 after" in out


def test_an_unreadable_manifest_is_a_one_line_error(tmp_path, capsys):
    after = _manifest(tmp_path / "after.json", {"hopper-v1/test/00": 1.0})
    assert main([str(tmp_path / "missing.json"), after]) == 2
    assert "cannot read manifest" in capsys.readouterr().err


def test_retry_compute_sums_each_plans_recorded_attempts(tmp_path, capsys):
    training = tmp_path / "training"
    for task, plan, attempts in (
        ("t1", "reliability", {"a": (100, 60.0), "b": (200, 120.0)}),
        ("t2", "reliability", {"a": (50, 30.0)}),
        ("t2", "reliability-2", {"c": (10, 6.0)}),
    ):
        for name, (steps, wall) in attempts.items():
            (training / task / name).mkdir(parents=True)
            (training / task / name / "state.json").write_text(
                json.dumps({"steps": steps, "wall_s": wall})
            )
        scores = {"current": {}, **{n: {} for n in attempts}}
        (training / task / f"retry-{plan}.json").write_text(
            json.dumps({"plan": plan, "scores": scores})
        )
    manifest = _manifest(tmp_path / "m.json", {"hopper-v1/test/00": 1.0})
    assert main([manifest, manifest, "--training", str(training)]) == 0
    out = capsys.readouterr().out
    assert "| reliability | 2 | 3 | 350 | 3.5 |" in out
    assert "| reliability-2 | 1 | 1 | 10 | 0.1 |" in out
    assert "| all | 3 | 4 | 360 | 3.6 |" in out
