"""Multi-device checks, run in a subprocess with several CPU devices (see test_parallel.py).

Usage: python parallel_checks.py CHECK WORKDIR  (XLA_FLAGS sets the device count before import).
Each check asserts and exits 0 on success; ``train`` prints the run's parameters digest as JSON.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def _sampler():
    from softmining_jax import samplers

    # No randomness that matters: the Langevin move alone (no re-seeding, no uniform restarts),
    # noise of ~1e-6 px, a drift of up to 1 px; what steps over the border is clipped back.
    return samplers.population_sampler(
        samplers.langevin(step_size=1e-12, concentration=2e12, max_drift=1.0),
        samplers.WeightSchedule(alpha=0.6, warmup_steps=5, clamp_std=None))


def _leaves(tree):
    import jax
    import numpy as np

    return [np.asarray(x) for x in jax.tree_util.tree_leaves(jax.device_get(tree))]


def check_equivalence() -> None:
    """pmap == shard_map, and both match one device over the same global population."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from helpers import tiny_task

    from softmining_jax import parallel as par
    from softmining_jax.optim import adam
    from softmining_jax.step import init_train_state, make_train_step

    assert jax.device_count() == 4, jax.devices()
    task, sampler, opt = tiny_task(), _sampler(), adam(num_steps=10)
    single = init_train_state(task, sampler, opt, 64, seed=0)
    step1 = jax.jit(make_train_step(task, sampler, opt))
    results = {}
    for mode in ("pmap", "shard_map"):
        state = par.init_parallel_state(task, sampler, opt, 64, 0, 4)
        # The same global population, split into 4 per-device shares (per-sample arrays are
        # reshaped, shared ones such as the prior and the step counter are broadcast).
        split = jax.tree_util.tree_map(
            lambda a, b: a.reshape(b.shape) if a.size == b.size else jnp.broadcast_to(a, b.shape),
            single.sampler_state, state.sampler_state)
        state = par.place_state(state.replace(sampler_state=split), mode, 4)
        step = par.make_parallel_step(task, sampler, opt, mode, 4)
        for _ in range(10):
            state, _ = step(state)
        results[mode] = state
    s1 = single
    for _ in range(10):
        s1, _ = step1(s1)
    for a, b in zip(_leaves(results["pmap"].params), _leaves(results["shard_map"].params),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    worst = 0.0
    for a, b in zip(_leaves(results["pmap"].params), _leaves(s1.params), strict=True):
        worst = max(worst, float(np.abs(a - b).max()))
    # Same global batch, gradients averaged in another order: float32 round-off only.
    assert worst < 1e-4, worst
    pos4 = np.asarray(jax.device_get(results["shard_map"].sampler_state.positions)).reshape(-1, 2)
    np.testing.assert_allclose(pos4, np.asarray(s1.sampler_state.positions), atol=1e-3)
    print(json.dumps({"max_param_diff_1_vs_4": worst}))


def check_errors(workdir: str) -> None:
    """Batch that does not divide; resuming on another device count."""
    import pytest
    from helpers import tiny_task

    from softmining_jax.train import train_and_evaluate

    task = tiny_task()
    quiet = dict(progress=False, tensorboard=False, plots=False, log_every=5, eval_every=5,
                 checkpoint_every=5)
    with pytest.raises(ValueError, match="does not divide across 4 devices"):
        train_and_evaluate(workdir + "/a", task=task, batch_size=30, parallel="shard_map",
                           num_steps=1, **quiet)
    train_and_evaluate(workdir + "/b", task=task, batch_size=32, parallel="shard_map",
                       num_steps=5, **quiet)
    with pytest.raises(ValueError, match="written with 4 device"):
        train_and_evaluate(workdir + "/b", task=task, batch_size=32, parallel="shard_map",
                           num_devices=2, num_steps=10, **quiet)
    with pytest.raises(ValueError, match="reset_sampler"):
        train_and_evaluate(workdir + "/b", task=task, batch_size=32, num_steps=10, **quiet)
    out = train_and_evaluate(workdir + "/b", task=task, batch_size=32, parallel="pmap",
                             num_devices=2, num_steps=10, on_device_change="reset_sampler",
                             **quiet)
    assert out["step"] == 10
    with pytest.raises(ValueError, match="num_devices=8"):
        train_and_evaluate(workdir + "/c", task=task, parallel="pmap", num_devices=8, **quiet)


def check_checkpoint_roundtrip(workdir: str) -> None:
    import jax
    import numpy as np
    from helpers import tiny_task

    from softmining_jax import parallel as par
    from softmining_jax.checkpoint import Checkpointer
    from softmining_jax.optim import adam

    task, sampler, opt = tiny_task(), _sampler(), adam(num_steps=10)
    state = par.place_state(par.init_parallel_state(task, sampler, opt, 64, 0, 4), "shard_map", 4)
    step = par.make_parallel_step(task, sampler, opt, "shard_map", 4)
    for _ in range(3):
        state, _ = step(state)
    ckpt = Checkpointer(workdir)
    ckpt.save(3, state, {"step": 3})
    template = par.place_state(par.init_parallel_state(task, sampler, opt, 64, 1, 4),
                               "shard_map", 4)
    restored, meta = ckpt.restore_latest(template)
    assert meta["step"] == 3
    for a, b in zip(_leaves(state.sampler_state), _leaves(restored.sampler_state), strict=True):
        np.testing.assert_array_equal(a, b)
    spec = state.sampler_state.positions.sharding.spec
    assert restored.sampler_state.positions.sharding.spec == spec
    np.testing.assert_array_equal(jax.random.key_data(jax.device_get(state.key)),
                                  jax.random.key_data(jax.device_get(restored.key)))


def train(workdir: str, num_steps: int) -> None:
    """A short shard_map run over all devices (possibly several processes); prints a digest."""
    import jax
    from helpers import tiny_task

    from softmining_jax import parallel as par
    from softmining_jax.optim import adam
    from softmining_jax.train import train_and_evaluate

    if "SOFTMINING_COORDINATOR" in os.environ:
        par.initialize_distributed()
    out = train_and_evaluate(workdir, task=tiny_task(), sampler=_sampler(), batch_size=64,
                             optimizer=adam(num_steps=20),
                             num_steps=num_steps, log_every=5, eval_every=5, checkpoint_every=5,
                             progress=False, tensorboard=False, plots=True, parallel="shard_map")
    print(json.dumps({"process": jax.process_index(), "devices": jax.device_count(),
                      "eval_psnr": out["eval_psnr"], "loss": out["loss"]}), flush=True)


if __name__ == "__main__":
    name = sys.argv[1]
    if name == "equivalence":
        check_equivalence()
    elif name == "errors":
        check_errors(sys.argv[2])
    elif name == "checkpoint":
        check_checkpoint_roundtrip(sys.argv[2])
    elif name == "train":
        train(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown check {name}")
