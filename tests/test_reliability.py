"""Crash safety (SIGKILL at random points, also mid-save) and bit-for-bit determinism."""

from __future__ import annotations

import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from helpers import tiny_task

from softmining_jax import samplers
from softmining_jax.checkpoint import Checkpointer
from softmining_jax.optim import adam
from softmining_jax.step import init_train_state
from softmining_jax.train import train_and_evaluate

ROOT = pathlib.Path(__file__).resolve().parents[1]
STEPS = 40
BINDINGS = [
    f"train_and_evaluate.num_steps = {STEPS}",
    f"adam.num_steps = {STEPS}",
    "train_and_evaluate.optimizer = @adam()",
    "train_and_evaluate.sampler = @soft_mining_sampler()",  # Langevin state in the checkpoints
    "train_and_evaluate.batch_size = 64",
    "train_and_evaluate.checkpoint_every = 2",  # saving dominates: kills often land mid-save
    "train_and_evaluate.max_checkpoints = 2",
    "train_and_evaluate.log_every = 2",
    "train_and_evaluate.eval_every = 20",
    "train_and_evaluate.plots = False",
    "train_and_evaluate.tensorboard = False",
    "image_fitting_task.max_side = 32",
    "ImageField.num_levels = 4",
    "ImageField.log2_table_size = 10",
    "ImageField.mlp_width = 16",
]


def _command(workdir: pathlib.Path) -> list[str]:
    return [sys.executable, "-m", "softmining_jax", f"--workdir={workdir}", "--quiet",
            *(f"--gin_bindings={b}" for b in BINDINGS)]


def _final_params(workdir: pathlib.Path):
    from softmining_jax.configurables import image_fitting_task

    task = image_fitting_task(max_side=32, field=lambda **kw: __import__(
        "softmining_jax").ImageField(num_levels=4, log2_table_size=10, mlp_width=16, **kw))
    template = init_train_state(task, samplers.soft_mining_sampler(), adam(num_steps=STEPS), 64,
                                0)
    state, meta = Checkpointer(workdir / "checkpoints").restore_latest(template)
    assert meta["step"] == STEPS
    return state


def _records(workdir: pathlib.Path) -> list[dict]:
    drop = ("elapsed_s", "train_s")
    return [{k: v for k, v in json.loads(line).items() if k not in drop}
            for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def _latest_saved_step(ckpt_dir: pathlib.Path) -> int:
    """The newest finished checkpoint's step (Orbax renames `N.orbax-checkpoint-tmp` to `N`)."""
    if not ckpt_dir.is_dir():
        return -1
    return max((int(p.name) for p in ckpt_dir.iterdir() if p.name.isdigit()), default=-1)


def _kill_when(proc: subprocess.Popen, ready, what: str) -> None:
    """SIGKILLs `proc` as soon as `ready()` holds; fails if the run ends first.

    Kill points are tied to the run's progress, never to wall-clock sleeps, so a faster or
    slower machine still kills the run mid-training (a fixed sleep once outlived a whole run on
    a fast CI machine).
    """
    deadline = time.monotonic() + 300
    while not ready():
        assert proc.poll() is None, f"the run finished before {what}; kill earlier"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_matches_uninterrupted(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    clean = tmp_path / "clean"
    subprocess.run(_command(clean), env=env, check=True, capture_output=True, timeout=600)
    crashed = tmp_path / "crashed"
    ckpt_dir = crashed / "checkpoints"
    rng = random.Random(0)
    # Two kills between saves, at random steps (the second after resuming from the first), then
    # one while a save is in progress (Orbax writes into a temporary folder first).
    for target in (rng.randrange(6, 14, 2), rng.randrange(20, 30, 2), None):
        proc = subprocess.Popen(_command(crashed), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        if target is not None:
            delay = rng.uniform(0.0, 0.02)  # somewhere inside the next step, not on the boundary

            def past_target(target=target, delay=delay):
                if _latest_saved_step(ckpt_dir) < target:
                    return False
                time.sleep(delay)
                return True

            _kill_when(proc, past_target, f"step {target} was saved")
        else:
            def saving():
                return ckpt_dir.is_dir() and any("tmp" in p.name for p in ckpt_dir.iterdir())

            _kill_when(proc, saving, "a save was in progress")
        assert 0 <= _latest_saved_step(ckpt_dir) < STEPS
    subprocess.run(_command(crashed), env=env, check=True, capture_output=True, timeout=600)
    assert _records(crashed) == _records(clean)
    a, b = _final_params(clean), _final_params(crashed)
    for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params),
                    strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    for x, y in zip(jax.tree_util.tree_leaves(a.sampler_state),
                    jax.tree_util.tree_leaves(b.sampler_state), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_same_seed_same_metrics_bit_for_bit(tmp_path):
    kwargs = dict(sampler=samplers.soft_mining_sampler(), batch_size=64, num_steps=20, seed=5,
                  log_every=5, eval_every=10, checkpoint_every=20, progress=False,
                  tensorboard=False, plots=False)
    train_and_evaluate(tmp_path / "a", tiny_task(), **kwargs)
    train_and_evaluate(tmp_path / "b", tiny_task(), **kwargs)
    assert _records(tmp_path / "a") == _records(tmp_path / "b")
    train_and_evaluate(tmp_path / "c", tiny_task(), **{**kwargs, "seed": 6})
    assert _records(tmp_path / "a") != _records(tmp_path / "c")
