"""The train loop: learning, resume equals uninterrupted, checkpoints, non-finite handling."""

from __future__ import annotations

import json
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import tiny_task

from softmining_jax import samplers
from softmining_jax.checkpoint import Checkpointer
from softmining_jax.train import NonFiniteError, train_and_evaluate

QUIET = dict(progress=False, tensorboard=False, plots=False)


def _records(workdir: pathlib.Path) -> list[dict]:
    drop = ("elapsed_s", "train_s")
    return [{k: v for k, v in json.loads(line).items() if k not in drop}
            for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def _params(workdir: pathlib.Path, task, sampler, batch):
    from softmining_jax.train import adam, init_train_state

    template = init_train_state(task, sampler, adam(num_steps=60), batch, 0)
    state, _ = Checkpointer(workdir / "checkpoints").restore_latest(template)
    return state


@pytest.mark.parametrize("name", ["soft_mining", "error_map", "error_map_strided", "official"])
def test_resume_equals_uninterrupted(tmp_path, name):
    make = {
        "soft_mining": samplers.soft_mining_sampler,
        "error_map": lambda: samplers.error_map_sampler(refresh_interval=10),
        # The refresh phase (which pixel of each block is rendered) must continue on resume.
        "error_map_strided": lambda: samplers.error_map_sampler(refresh_interval=10,
                                                                dense_stride=2),
        "official": samplers.official_sampler,
    }[name]
    task = tiny_task()
    common = dict(task=task, batch_size=64, seed=3, log_every=10, eval_every=20,
                  checkpoint_every=20, **QUIET)
    from softmining_jax.train import adam

    opt = adam(num_steps=60)
    full = tmp_path / "full"
    train_and_evaluate(full, sampler=make(), num_steps=60, optimizer=opt, **common)
    parts = tmp_path / "parts"
    train_and_evaluate(parts, sampler=make(), num_steps=40, optimizer=opt, **common)
    # Leave a later, half-written metrics line as a crash would.
    with (parts / "metrics.jsonl").open("a") as f:
        f.write('{"step": 50, "loss": 1.0}\n{"step": 5')
    train_and_evaluate(parts, sampler=make(), num_steps=60, optimizer=opt, **common)
    assert _records(full) == _records(parts)
    a = _params(full, task, make(), 64)
    b = _params(parts, task, make(), 64)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert int(a.step) == 60


def test_drift_interval_skips_the_position_gradient_between_drift_steps():
    """With drift_interval=2 a due step equals the every-step drift's, and the step after it
    equals a drift-free sampler's positions with the same parameter update."""
    from softmining_jax.train import adam, init_train_state, make_train_step

    task, opt = tiny_task(), adam(num_steps=10)
    every, second = (samplers.soft_mining_sampler(drift_interval=k) for k in (1, 2))
    never = samplers.soft_mining_sampler(drift=False)
    step = {name: jax.jit(make_train_step(task, s, opt))
            for name, s in dict(every=every, second=second, never=never).items()}
    state = init_train_state(task, every, opt, 64, 0)

    def same_params(a, b):
        for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params),
                        strict=True):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7)

    def same(a, b):
        np.testing.assert_array_equal(np.asarray(a.sampler_state.positions),
                                      np.asarray(b.sampler_state.positions))
        same_params(a, b)

    due, _ = step["second"](state)
    same(due, step["every"](state)[0])
    assert float(due.sampler_state.mean_drift) > 0.0
    skipped, metrics = step["second"](due)
    same(skipped, step["never"](due)[0])
    drifted = step["every"](due)[0]
    assert not np.array_equal(np.asarray(drifted.sampler_state.positions),
                              np.asarray(skipped.sampler_state.positions))
    same_params(drifted, skipped)
    assert float(metrics["mean_drift"]) == 0.0


def test_training_improves_psnr_and_writes_outputs(tmp_path):
    from softmining_jax.configurables import image_fitting_task

    task = image_fitting_task(max_side=128)  # the bundled Pluto, downscaled for speed
    final = train_and_evaluate(tmp_path, task=task, sampler=samplers.soft_mining_sampler(),
                               batch_size=512, num_steps=300, eval_every=150,
                               checkpoint_every=300, progress=False, operative_config="# test")
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval_psnr" in r]
    assert evals[0]["step"] == 0 and evals[-1]["step"] == 300
    assert final["eval_psnr"] > evals[0]["eval_psnr"] + 10.0, (evals[0], final)
    assert {"step", "loss", "elapsed_s"} <= set(records[1])
    for name in ("psnr.png", "reconstruction.png", "error_map.png", "samples.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000
    history = sorted(p.name for p in (tmp_path / "plots" / "history").iterdir())
    assert history == ["step0000000.png", "step0000150.png", "step0000300.png"]
    assert (tmp_path / "config.gin").read_text() == "# test"
    assert any((tmp_path / "tensorboard").iterdir())
    assert (tmp_path / "checkpoints" / "300").is_dir()


class _NaNAfter:
    """Wraps a task so predictions become NaN from a given step's parameters on."""

    def __init__(self, task):
        self._task = task

    def __getattr__(self, name):
        return getattr(self._task, name)

    def predict(self, params, positions, image_ids, key):
        pred, aux = self._task.predict(params, positions, image_ids, key)
        return pred * jnp.nan, aux


def test_nonfinite_stops_with_step_and_keeps_last_good_checkpoint(tmp_path):
    task = tiny_task()
    train_and_evaluate(tmp_path, task=task, batch_size=32, num_steps=20, checkpoint_every=10,
                       log_every=5, eval_every=10, **QUIET)
    with pytest.raises(NonFiniteError, match="step 20"):
        train_and_evaluate(tmp_path, task=_NaNAfter(task), batch_size=32, num_steps=40,
                           checkpoint_every=10, log_every=5, eval_every=10, **QUIET)
    assert Checkpointer(tmp_path / "checkpoints").steps()[-1] == 20
    out = train_and_evaluate(tmp_path / "skip", task=_NaNAfter(task), batch_size=32,
                             num_steps=10, log_every=5, eval_every=10, on_nonfinite="skip",
                             **QUIET)
    assert out["nonfinite_steps"] == 10


def test_corrupt_latest_checkpoint_falls_back_with_warning(tmp_path, caplog):
    task = tiny_task()
    kwargs = dict(task=task, batch_size=32, log_every=5, eval_every=10, checkpoint_every=10,
                  **QUIET)
    train_and_evaluate(tmp_path, num_steps=20, **kwargs)
    latest = tmp_path / "checkpoints" / "20"
    for f in latest.rglob("*"):
        if f.is_file() and f.stat().st_size > 0:
            f.write_bytes(b"\x00garbage")
    out = train_and_evaluate(tmp_path, num_steps=30, **kwargs)
    assert out["step"] == 30
    assert "unreadable" in caplog.text


def test_invalid_run_arguments(tmp_path):
    task = tiny_task()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PermissionError, match="not writable"):
        train_and_evaluate(blocker / "sub", task=task, num_steps=1, **QUIET)
    if os.geteuid() != 0:  # root ignores permission bits
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        with pytest.raises(PermissionError):
            train_and_evaluate(ro / "w", task=task, num_steps=1, **QUIET)
    with pytest.raises(ValueError, match="on_nonfinite"):
        train_and_evaluate(tmp_path / "a", task=task, on_nonfinite="ignore", **QUIET)
    with pytest.raises(ValueError, match="eval_every"):
        train_and_evaluate(tmp_path / "b", task=task, eval_every=0, **QUIET)
