"""Every baseline but bc's meta-training runs without imitation: each meta-trains (small config)
on shipped demonstrations and adapts, in a process where ``import imitation`` fails."""

from __future__ import annotations

import subprocess
import sys

AGENTS = [
    "baselines.single_task_bc:SingleTaskBCAgent",
    "baselines.maml_bc:MAMLBCAgent",
    "baselines.joint:JointAgent",
    "baselines.conditioned:ConditionedAgent",
    "baselines.in_context:InContextAgent",
    "baselines.history_bc:HistoryBCAgent",
]
CODE = """
import sys
sys.modules["imitation"] = None  # `import imitation...` now fails
import importlib
import numpy as np
import metail_envs.data as D
from metail_envs.benchmark.jobs import cut
from metail_envs.benchmark.protocol import DemoWindow
from metail_envs.trajectory import TrajectoryWithRew

def demo(task, steps):
    return cut(D.load_demos(task, n=1, data_dir=D.REPO_DATA_DIR)[0], DemoWindow(0, 0, steps))

train = {t: [demo(t, 200)] for t in ("hopper-v1/train/00", "hopper-v1/train/01")}
support = [demo("hopper-v1/test/00", 50)]
assert type(support[0]) is TrajectoryWithRew
for path in sys.argv[1:]:
    module, name = path.split(":")
    agent = getattr(importlib.import_module(module), name)(config="small")
    agent.meta_train(train, seed=0)
    policy = agent.adapt(support)
    if hasattr(policy, "reset"):
        policy.reset(2)
        actions = policy.act(np.zeros((2, 11)), np.arange(2))
    else:
        actions = policy.act(np.zeros((2, 11)))
    assert np.asarray(actions).shape == (2, 3), (name, np.shape(actions))
    print(name)
"""


def test_the_other_baselines_meta_train_and_adapt_without_imitation() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CODE, *AGENTS], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == [a.split(":")[1] for a in AGENTS]
