"""The expert pipeline: PPO experts per task, their demonstrations, references and exports.

Writes ``expert_data/``; the benchmark reads it through :mod:`metail_envs.data` only.
"""
