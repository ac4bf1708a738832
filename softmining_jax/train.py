"""The training loop: one jitted step for any task and sampler, evaluation, checkpoints, logs.

Data flow of one step (one jitted function, no host round trip)::

    sampler.sample -> task.targets -> task.predict -> per-sample err / Q -> sampler.loss_weights
    -> value_and_grad over (params, positions) -> optimizer update -> sampler.update(feedback)

``train_and_evaluate`` is the whole run; the CLI (``softmining-train``) wires it with gin.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from softmining_jax import metrics
from softmining_jax.checkpoint import Checkpointer
from softmining_jax.plots import save_run_plots
from softmining_jax.run_log import MetricsLog
from softmining_jax.samplers import Feedback, Sampler, soft_mining_sampler
from softmining_jax.tasks import target_rule
from softmining_jax.tasks.base import Task

log = logging.getLogger(__name__)

_TINY = 1e-30


class NonFiniteError(FloatingPointError):
    """A training step produced a non-finite loss or gradient."""


@struct.dataclass
class TrainState:
    """Everything a run needs to continue bit for bit.

    Attributes:
      step: scalar int32, completed steps.
      params: field parameters.
      opt_state: optimizer state.
      sampler_state: the sampler's state pytree.
      key: typed PRNG key for the next step.
      nonfinite_steps: scalar int32, steps skipped because of non-finite values.
      first_nonfinite_step: scalar int32, first such step (-1 if none).
    """

    step: jax.Array
    params: Any
    opt_state: Any
    sampler_state: Any
    key: jax.Array
    nonfinite_steps: jax.Array
    first_nonfinite_step: jax.Array


def adam(
    learning_rate: float = 1e-2,
    num_steps: int = 20_000,
    schedule: str = "exponential",
    final_lr_factor: float = 0.1,
    b1: float = 0.9,
    b2: float = 0.99,
    eps: float = 1e-15,
) -> optax.GradientTransformation:
    """Adam with a learning-rate decay over ``num_steps`` (instant-ngp style ``eps``).

    Args:
      schedule: ``"exponential"`` (to ``final_lr_factor * lr``), ``"cosine"`` (to
        ``final_lr_factor * lr``) or ``"constant"``.
    """
    if schedule == "exponential":
        lr = optax.exponential_decay(learning_rate, num_steps, final_lr_factor)
    elif schedule == "cosine":
        lr = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=final_lr_factor)
    elif schedule == "constant":
        lr = learning_rate
    else:
        raise ValueError(f"schedule must be exponential, cosine or constant; got {schedule!r}.")
    return optax.adam(lr, b1=b1, b2=b2, eps=eps)


def init_train_state(
    task: Task, sampler: Sampler, optimizer: optax.GradientTransformation, batch_size: int,
    seed: int,
) -> TrainState:
    """Fresh state: parameters, optimizer state and sampler state from ``seed``."""
    k_params, k_sampler, k_loop = jax.random.split(jax.random.key(seed), 3)
    params = task.init_params(k_params)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=optimizer.init(params),
        sampler_state=sampler.init(k_sampler, task.domain, batch_size),
        key=k_loop,
        nonfinite_steps=jnp.zeros((), jnp.int32),
        first_nonfinite_step=jnp.full((), -1, jnp.int32),
    )


def make_train_step(
    task: Task,
    sampler: Sampler,
    optimizer: optax.GradientTransformation,
    axis_name: str | None = None,
):
    """The pure training step ``state -> (state, metrics)`` (jit it).

    On a task whose ``target_rule`` is ``"pixel_centres"`` each position is trained at its pixel
    centre (:func:`softmining_jax.tasks.target_rule.snap_to_pixel_centres`, straight-through).
    The parameter gradient and ``d loss / d x_i = (w_i / N) grad_x err_i`` come from one backward
    pass; the sampler receives ``grad_x err_i`` (``N / w_i`` times the position gradient), or
    zeros on the steps its ``position_gradient_due`` says it will not read them. A step
    with a non-finite loss or gradient leaves params and optimizer state unchanged and is counted.

    With ``axis_name`` the step is the per-device step of a data-parallel run (under ``pmap`` or
    ``shard_map``): ``N`` is the local batch, the parameter gradients and the metrics are averaged
    over the axis, and every device takes the same skip decision so parameters stay replicated.
    """

    def mean_over_devices(tree):
        return tree if axis_name is None else jax.lax.pmean(tree, axis_name)

    centres = target_rule.task_rule(task) == target_rule.PIXEL_CENTRES
    sizes = task.domain.sizes

    def loss_fn(params, positions, image_ids, sampler_state, key):
        if centres:  # the task's rule: train where it evaluates (gradient reaches the position)
            positions = target_rule.snap_to_pixel_centres(positions, image_ids, sizes)
        pred, aux_loss, *rest = task.predict(params, positions, image_ids, key)
        points = jax.lax.stop_gradient(rest[0]) if rest else None
        diff = pred - task.targets(positions, image_ids)
        err = jnp.mean(diff * diff, axis=-1)
        l1 = jax.lax.stop_gradient(jnp.mean(jnp.abs(diff), axis=-1))
        w = jax.lax.stop_gradient(sampler.loss_weights(sampler_state, l1))
        loss = jnp.mean(w * err) + aux_loss
        return loss, (err, l1, w, points)

    grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)
    params_grad_fn = jax.value_and_grad(loss_fn, argnums=0, has_aux=True)

    def without_position_gradient(*args):
        value, g_params = params_grad_fn(*args)
        return value, (g_params, jnp.zeros_like(args[1]))

    def step(state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        key, k_sample, k_predict, k_update = jax.random.split(state.key, 4)
        samples = sampler.sample(state.sampler_state, k_sample)
        args = (state.params, samples.positions, samples.image_ids, state.sampler_state,
                k_predict)
        if sampler.position_gradient_due is None:
            value_and_grads = grad_fn(*args)
        else:  # only the taken branch runs: the backward pass skips the position path when not due
            value_and_grads = jax.lax.cond(sampler.position_gradient_due(state.sampler_state),
                                           grad_fn, without_position_gradient, *args)
        (loss, (err, l1, w, points)), (g_params, g_pos) = value_and_grads
        n = err.shape[0]
        error_grads = g_pos * (n / jnp.maximum(w, _TINY))[:, None]
        g_params, loss = mean_over_devices((g_params, loss))
        finite = jnp.isfinite(loss) & jnp.all(
            jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree_util.tree_leaves(g_params)])
        )

        def apply(operand):
            params, opt_state = operand
            updates, opt_state = optimizer.update(g_params, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        params, opt_state = jax.lax.cond(
            finite, apply, lambda operand: operand, (state.params, state.opt_state)
        )
        sampler_state = sampler.update(
            state.sampler_state, Feedback(samples, err, l1, error_grads, points), k_update
        )
        mse = mean_over_devices(jnp.mean(err))
        out = dict(loss=loss, mse=mse, train_psnr=metrics.mse_to_psnr(mse),
                   weight_mean=mean_over_devices(jnp.mean(w)))
        for name in ("mean_drift", "drift_clipped", "reinit_fraction", "view_hops", "hop_clones",
                     "occluded_hops"):
            if getattr(sampler_state, name, None) is not None:
                out[name] = mean_over_devices(getattr(sampler_state, name))
        new_state = state.replace(
            step=state.step + 1, params=params, opt_state=opt_state, sampler_state=sampler_state,
            key=key,
            nonfinite_steps=state.nonfinite_steps + (~finite).astype(jnp.int32),
            first_nonfinite_step=jnp.where(
                (state.first_nonfinite_step < 0) & ~finite, state.step, state.first_nonfinite_step
            ),
        )
        return new_state, out

    return step


def _sample_positions(sampler_state: Any, sampler: Sampler, stacked: bool,
                      pooled: bool) -> np.ndarray:
    """``(N, 2)`` current sample positions of every device, for plots: on image 0 only, or
    (``pooled``) on every image, all in one pixel frame (views of one scene, same size)."""
    sample = jax.vmap(sampler.sample, in_axes=(0, None)) if stacked else sampler.sample
    samples = sample(sampler_state, jax.random.key(0))
    if jax.process_count() > 1:  # a collective: every process must call this
        from jax.experimental import multihost_utils

        samples = multihost_utils.process_allgather(samples, tiled=True)
    samples = jax.device_get(samples)
    positions = np.asarray(samples.positions).reshape(-1, 2)
    if pooled:
        return positions
    return positions[np.asarray(samples.image_ids).reshape(-1) == 0]


def _sampler_name(sampler: Sampler) -> str:
    """The factory a sampler came from (``soft_mining_sampler``), for plot titles."""
    qualname = getattr(sampler.init, "__qualname__", "sampler")
    return qualname.split(".<locals>")[0]


def train_and_evaluate(
    workdir: str | pathlib.Path,
    task: Task,
    sampler: Sampler | None = None,
    batch_size: int = 512,
    num_steps: int = 2000,
    seed: int = 0,
    optimizer: optax.GradientTransformation | None = None,
    log_every: int = 100,
    eval_every: int = 500,
    checkpoint_every: int = 1000,
    max_checkpoints: int = 3,
    plots: bool = True,
    progress: bool = True,
    tensorboard: bool = True,
    on_nonfinite: str = "stop",
    operative_config: str | None = None,
    parallel: str = "none",
    num_devices: int | None = None,
    on_device_change: str = "error",
) -> dict[str, Any]:
    """Train ``task`` with ``sampler``; resume from ``workdir`` if it has checkpoints.

    Writes to ``workdir``: ``metrics.jsonl`` (``step``, ``loss``, ``mse``, ``train_psnr``,
    ``elapsed_s`` wall seconds, ``train_s`` seconds spent in training steps and dense refreshes;
    ``eval_psnr``/``eval_ssim`` on evaluation lines), ``checkpoints/``, ``plots/``,
    ``tensorboard/`` and ``config.gin`` (when ``operative_config`` is given).

    Args:
      workdir: output folder; running again with the same folder resumes.
      task: what to fit. sampler: how to sample (default: soft mining).
      batch_size: samples per step (global). num_steps: total steps.
      seed: seeds parameters, sampler and every step's randomness.
      optimizer: default :func:`adam` decaying over ``num_steps``.
      log_every, eval_every, checkpoint_every: intervals in steps (the last step does all three).
      on_nonfinite: ``"stop"`` (raise :class:`NonFiniteError` naming the step; the checkpoint of
        that interval is not written) or ``"skip"`` (skip such steps and carry on).
      operative_config: text saved as ``config.gin``.
      parallel: ``"none"`` (one device, plain ``jit``), ``"pmap"`` or ``"shard_map"`` (data
        parallel over ``num_devices`` devices, default all; ``batch_size`` is global and must
        divide evenly). See :mod:`softmining_jax.parallel`.
      on_device_change: when resuming a checkpoint written with another device count or layout:
        ``"error"`` (stop with instructions) or ``"reset_sampler"`` (keep params, optimizer state
        and step, start fresh sampler states for the new device count).

    Returns:
      The final metrics record (with ``eval_psnr``).
    """
    from softmining_jax import parallel as par

    par.check_mode(parallel)
    if on_device_change not in ("error", "reset_sampler"):
        raise ValueError(f"on_device_change must be 'error' or 'reset_sampler', got "
                         f"{on_device_change!r}.")
    if on_nonfinite not in ("stop", "skip"):
        raise ValueError(f"on_nonfinite must be 'stop' or 'skip', got {on_nonfinite!r}.")
    if int(batch_size) < 1 or int(num_steps) < 0:
        raise ValueError(f"batch_size must be >= 1 and num_steps >= 0 (got {batch_size}, "
                         f"{num_steps}).")
    for name, value in (("log_every", log_every), ("eval_every", eval_every),
                        ("checkpoint_every", checkpoint_every)):
        if int(value) < 1:
            raise ValueError(f"{name} must be a positive number of steps, got {value}.")
    workdir = pathlib.Path(workdir)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        # One probe file per process: processes of a multi-host run share the workdir.
        probe = workdir / f".write_test_{os.getpid()}_{jax.process_index()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise PermissionError(f"workdir {workdir} is not writable: {e}") from e
    sampler = sampler if sampler is not None else soft_mining_sampler()
    target_rule.check_sampler_rule(task, sampler)
    optimizer = optimizer if optimizer is not None else adam(num_steps=max(num_steps, 1))
    if operative_config is not None:
        (workdir / "config.gin").write_text(operative_config)

    stacked = parallel != "none"
    ndev = par.resolve_num_devices(num_devices) if stacked else 1

    def fresh_state(devices: int, stacked_layout: bool) -> TrainState:
        if not stacked_layout:
            return init_train_state(task, sampler, optimizer, batch_size, seed)
        return par.init_parallel_state(task, sampler, optimizer, batch_size, seed, devices)

    layout = {"layout": "stacked" if stacked else "single", "num_devices": ndev}
    state = fresh_state(ndev, stacked)
    if stacked:
        step_fn = par.make_parallel_step(task, sampler, optimizer, parallel, ndev)
        refresh_fn = par.make_parallel_refresh(sampler)
        state = par.place_state(state, parallel, ndev)
    else:
        step_fn = jax.jit(make_train_step(task, sampler, optimizer), donate_argnums=0)
        refresh_fn = jax.jit(sampler.refresh)

    ckpt = Checkpointer(workdir / "checkpoints", max_to_keep=max_checkpoints)
    saved = ckpt.latest_meta()
    saved_layout = {k: saved.get(k, v) for k, v in layout.items()} if saved else layout
    if saved_layout != layout:
        if on_device_change == "error":
            ckpt.close()
            raise ValueError(
                f"The checkpoint in {workdir} was written with {saved_layout['num_devices']} "
                f"device(s) ({saved_layout['layout']} layout); this run has {ndev} "
                f"({layout['layout']}). Resume with the same device count and parallel mode, "
                "or set train_and_evaluate.on_device_change='reset_sampler' to keep the "
                "parameters and restart the sampler states, or use a new workdir."
            )
        old = fresh_state(saved_layout["num_devices"], saved_layout["layout"] == "stacked")
        old, meta = ckpt.restore_latest(old)
        state = fresh_state(ndev, stacked).replace(
            step=old.step, params=old.params, opt_state=old.opt_state)
        if stacked:
            state = par.place_state(state, parallel, ndev)
        restored = (state, meta)
        log.warning("Device layout changed (%s -> %s): parameters kept, sampler states reset.",
                    saved_layout, layout)
    else:
        restored = ckpt.restore_latest(state)
    start_wall, train_s = 0.0, 0.0
    if restored is not None:
        state, meta = restored
        start_wall, train_s = float(meta.get("elapsed_s", 0.0)), float(meta.get("train_s", 0.0))
        log.info("Resumed from step %d in %s", int(state.step), workdir)
    first_step = int(state.step)
    lead = jax.process_index() == 0
    run_log = MetricsLog(workdir, first_step if restored is not None else None, tensorboard,
                         enabled=lead)

    def local(tree):
        """Replicated global arrays as this process's own copy (multi-host evaluation)."""
        if jax.process_count() == 1:
            return tree
        return jax.tree_util.tree_map(lambda x: x.addressable_data(0), tree)
    interval = int(sampler.dense_refresh_interval)
    t0 = time.perf_counter() - start_wall
    last: dict[str, Any] = {}

    def evaluate(step: int) -> dict[str, Any]:
        scores, pictures = task.evaluate(local(state.params))
        record = {"step": step, "elapsed_s": time.perf_counter() - t0, "train_s": train_s}
        record.update({f"eval_{k}": v for k, v in scores.items()})
        run_log.write(record)
        pooled = "samples_pooled_background" in pictures
        positions = (_sample_positions(state.sampler_state, sampler, stacked, pooled)
                     if plots else None)
        if plots and lead:
            save_run_plots(workdir / "plots", run_log.records, pictures, positions,
                           f"{task.name}: {_sampler_name(sampler)}",
                           step=step)
        return record

    if restored is None:
        last = evaluate(0)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_steps, initial=first_step, desc=task.name, dynamic_ncols=True)
    try:
        tick = time.perf_counter()
        for step in range(first_step, num_steps):
            if interval and step > 0 and step % interval == 0:
                dense = task.dense_l1(local(state.params), stride=sampler.dense_stride,
                                      phase=step // interval - 1)
                if stacked:
                    dense = par.replicate(dense, ndev)
                state = state.replace(sampler_state=refresh_fn(state.sampler_state, dense))
            state, step_metrics = step_fn(state)
            done = step + 1
            if bar is not None:
                bar.update(1)
            is_last = done == num_steps
            do_log, do_eval = done % log_every == 0 or is_last, done % eval_every == 0 or is_last
            do_ckpt = done % checkpoint_every == 0 or is_last
            if not (do_log or do_eval or do_ckpt):
                continue
            step_metrics = jax.device_get(step_metrics)
            train_s += time.perf_counter() - tick
            bad = int(state.nonfinite_steps)
            if bad and on_nonfinite == "stop":
                raise NonFiniteError(
                    f"Non-finite loss or gradient at step {int(state.first_nonfinite_step)} "
                    f"(loss={float(step_metrics['loss'])}); stopping without checkpointing. Set "
                    "train_and_evaluate.on_nonfinite='skip' to skip such steps instead."
                )
            record = {"step": done, "elapsed_s": time.perf_counter() - t0, "train_s": train_s,
                      **{k: float(v) for k, v in step_metrics.items()}}
            if bad:
                record["nonfinite_steps"] = bad
            if do_log:
                run_log.write(record)
                last = record
                if bar is not None:
                    bar.set_postfix(loss=f"{record['loss']:.4g}",
                                    psnr=f"{record['train_psnr']:.2f}")
            if do_eval:
                last = {**record, **evaluate(done)}
            if do_ckpt:
                ckpt.save(done, state, {"elapsed_s": time.perf_counter() - t0,
                                        "train_s": train_s, "step": done, **layout})
            tick = time.perf_counter()
    finally:
        if bar is not None:
            bar.close()
        run_log.close()
        ckpt.close()
    if not last or "eval_psnr" not in last:
        evals = [r for r in run_log.records if "eval_psnr" in r]
        last = evals[-1] if evals else last
    if lead:
        if hasattr(task, "write_outputs"):
            task.write_outputs(local(state.params), workdir)
        (workdir / "final_metrics.json").write_text(json.dumps(last, indent=2))
    if math.isfinite(last.get("eval_psnr", math.nan)):
        log.info("final eval PSNR %.2f dB", last["eval_psnr"])
    return last
