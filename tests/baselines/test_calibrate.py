"""The short-track calibration runs the real evaluation at every setting and applies the rule."""

from __future__ import annotations

import json

from baselines.calibrate_short_track import EXPERT_GAP_MIN, FLOOR_MAX, Grid, calibrate, choose


def test_calibration_scores_every_setting(tiny_data_dir, suite, tmp_path):
    table = calibrate(
        tmp_path, Grid(seeds=(0,), windows=(5, 10), starts=("start", "offset"), k_values=(1,)),
        workers=1, data_dir=tiny_data_dir, progress=False,
        agent_kwargs={"single_task_bc": {"config": "small"}, "bc": {"config": "small"}},
        tasks=(suite.test[0].id,), train_tasks=tuple(t.id for t in suite.train[:2]),
        episodes=1, max_steps=20,
    )  # fmt: skip
    settings = {(r["window"], r["start"]) for r in table["rows"]}
    assert settings == {(5, "start"), (5, "offset"), (10, "start"), (10, "offset")}
    assert json.loads((tmp_path / "calibration.json").read_text()) == table
    assert table["pending"] == []
    assert "| T | window start |" in (tmp_path / "calibration.md").read_text()
    # the demonstrations really were windows of T transitions
    doc = json.loads((tmp_path / "10-offset" / "results" / "bc" / "seed_000.json").read_text())
    assert all(stop - start == 10 for j in doc["jobs"] for _, start, stop in j["demos"])
    # bc was meta-trained once: the later settings reused its checkpoint
    assert (tmp_path / "10-offset" / "checkpoints" / "bc" / "seed_000").is_dir()


def test_choice_follows_the_rule():
    def rows(window, floor, prior):
        return [
            {"window": window, "start": "start", "agent": "single_task_bc", "k": 1, "iqm": floor},
            {"window": window, "start": "start", "agent": "bc", "k": 1, "iqm": prior},
        ]

    too_easy = rows(100, FLOOR_MAX + 1, 60)  # the floor is too high
    no_room = rows(50, 10, 100 - EXPERT_GAP_MIN + 1)  # the prior leaves too little to the expert
    ok_small, ok_big = rows(25, 5, 20), rows(40, 5, 45)
    assert choose(too_easy + no_room, 1) is None
    assert choose(too_easy + ok_small + ok_big + no_room, 1)["window"] == 40
