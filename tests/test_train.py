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
from softmining_jax.hooks import DenseRefresh
from softmining_jax.optim import adam
from softmining_jax.step import init_train_state, make_train_step
from softmining_jax.train import NonFiniteError, train_and_evaluate

QUIET = dict(progress=False, tensorboard=False, plots=False)


def _records(workdir: pathlib.Path) -> list[dict]:
    drop = ("elapsed_s", "train_s")
    return [{k: v for k, v in json.loads(line).items() if k not in drop}
            for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def _params(workdir: pathlib.Path, task, sampler, batch):
    template = init_train_state(task, sampler, adam(num_steps=60), batch, 0)
    state, _ = Checkpointer(workdir / "checkpoints").restore_latest(template)
    return state


@pytest.mark.parametrize("name", ["soft_mining", "error_map", "error_map_strided", "official",
                                  "evos", "hsm"])
def test_resume_equals_uninterrupted(tmp_path, name):
    make = {
        "soft_mining": samplers.soft_mining_sampler,
        "error_map": samplers.error_map_sampler,
        "error_map_strided": samplers.error_map_sampler,
        "official": samplers.official_sampler,
        "evos": samplers.evos_sampler,  # a ranking from the dense refresh and a draw key
        "hsm": samplers.hsm_sampler,  # the select step
    }[name]
    # The refresh phase (which pixel of each block is rendered) must continue on resume.
    refresh = DenseRefresh(every=10, stride=2 if name == "error_map_strided" else 1)
    task = tiny_task()
    common = dict(task=task, batch_size=64, seed=3, log_every=10, eval_every=20,
                  checkpoint_every=20, dense_refresh=refresh, **QUIET)

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


def test_a_loop_of_your_own_refreshes_dense_maps_with_the_hook():
    """make_train_step in a plain Python loop, with DenseRefresh bound to the task and sampler,
    gives the run train_and_evaluate gives."""
    task, sampler, opt = tiny_task(), samplers.error_map_sampler(), adam(num_steps=30)
    refresh = DenseRefresh(every=10).bind(task, sampler)
    step = jax.jit(make_train_step(task, sampler, opt))
    state = init_train_state(task, sampler, opt, 64, 0)
    for i in range(30):
        state = refresh(i, state)
        state, metrics = step(state)
    mine = jnp.concatenate([x.ravel() for x in jax.tree_util.tree_leaves(state.params)])
    assert bool(state.sampler_state.moves[0].density.row_cdf[0] != 0.0)
    # no refresh: the map stays uniform, and the run differs
    plain = init_train_state(task, sampler, opt, 64, 0)
    for _ in range(30):
        plain, _ = step(plain)
    other = jnp.concatenate([x.ravel() for x in jax.tree_util.tree_leaves(plain.params)])
    assert not np.array_equal(np.asarray(mine), np.asarray(other))


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


def test_a_checkpoint_of_the_old_layout_is_refused_naming_the_version_change(tmp_path):
    """Checkpoints written before the samplers became chains of moves (no ``format`` in their
    metadata) are refused with a message, not misloaded or reported as merely unreadable."""
    task = tiny_task()
    kwargs = dict(task=task, batch_size=32, log_every=5, eval_every=10, checkpoint_every=10,
                  **QUIET)
    train_and_evaluate(tmp_path, num_steps=10, **kwargs)
    meta = tmp_path / "checkpoints" / "10" / "meta" / "metadata"  # Orbax's JSON item
    record = json.loads(meta.read_text())
    del record["format"]
    meta.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"format 1 \(written by softmining_jax 0.1\)"):
        train_and_evaluate(tmp_path, num_steps=20, **kwargs)


def test_evaluation_on_a_fixed_subset_during_training_and_everything_at_the_end(tmp_path):
    task = tiny_task(eval_pixels=100)
    params = task.init_params(jax.random.key(0))
    periodic, pictures = task.evaluate(params, final=False)
    assert set(periodic) == {"psnr"} and pictures == {}
    assert task.evaluate(params, final=False)[0] == periodic  # the same pixels every time
    full, pictures = task.evaluate(params)
    assert {"psnr", "ssim"} <= set(full) and "reconstruction" in pictures
    assert abs(full["psnr"] - periodic["psnr"]) < 1.0  # an estimate of the same quantity
    train_and_evaluate(tmp_path, task=task, batch_size=32, num_steps=20, eval_every=10,
                       **QUIET)
    evals = [r for r in _records(tmp_path) if "eval_psnr" in r]
    assert [("eval_ssim" in r) for r in evals] == [False, False, True]  # steps 0, 10, 20
