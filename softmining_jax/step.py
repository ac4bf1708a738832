"""The training state and the one jitted training step, for any task and sampler.

Data flow of one step (one jitted function, no host round trip)::

    sampler.sample -> (snap to pixel centres) -> task.targets -> task.predict -> per-sample err / Q
    -> sampler.loss_weights -> value_and_grad over (params, positions) -> optimizer update
    -> sampler.update(feedback)

A sampler with ``select`` (online hard-sample mining) adds a forward pass without gradients over
the sampled positions and back-propagates only the subset it selects.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from softmining_jax import metrics
from softmining_jax.samplers import Feedback, Sampler, Samples
from softmining_jax.tasks import target_rule
from softmining_jax.tasks.base import Task

_TINY = 1e-30


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


def all_finite(tree: Any) -> jax.Array:
    """Scalar bool: every entry of ``tree`` (gradients, parameters) is finite, read off one sum
    per leaf (NaN and inf propagate through a sum; an ``isfinite`` over every entry is a separate
    pass over the table gradient that costs more than Adam's update of it on the CPU,
    ``experiments/bench_step.py``). Entries whose float32 sum overflows (beyond 3e38) also count
    as non-finite."""
    total = sum(jnp.sum(g, dtype=jnp.float32) for g in jax.tree_util.tree_leaves(tree))
    return jnp.isfinite(total)


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
    pass; the sampler receives ``grad_x err_i`` (``N / w_i`` times the position gradient). A step
    with a non-finite loss or gradient leaves params and optimizer state unchanged and is counted.
    The metrics are the loss, the mse, the training PSNR, the mean loss weight and the sampler's
    ``diagnostics``.

    With ``axis_name`` the step is the per-device step of a data-parallel run (under ``pmap`` or
    ``shard_map``): ``N`` is the local batch, the parameter gradients and the metrics are averaged
    over the axis, and every device takes the same skip decision so parameters stay replicated.
    """

    def mean_over_devices(tree):
        return tree if axis_name is None else jax.lax.pmean(tree, axis_name)

    centres = target_rule.task_rule(task) == target_rule.PIXEL_CENTRES
    sizes = task.domain.sizes

    def errors(params, positions, image_ids, key):
        if centres:  # the task's rule: train where it evaluates (gradient reaches the position)
            positions = target_rule.snap_to_pixel_centres(positions, image_ids, sizes)
        pred, aux_loss, *rest = task.predict(params, positions, image_ids, key)
        points = jax.lax.stop_gradient(rest[0]) if rest else None
        diff = pred - task.targets(positions, image_ids)
        l1 = jax.lax.stop_gradient(jnp.mean(jnp.abs(diff), axis=-1))
        return jnp.mean(diff * diff, axis=-1), l1, aux_loss, points

    def loss_fn(params, positions, image_ids, sampler_state, key, weights=None):
        err, l1, aux_loss, points = errors(params, positions, image_ids, key)
        w = sampler.loss_weights(sampler_state, l1) if weights is None else weights
        w = jax.lax.stop_gradient(w)
        loss = jnp.mean(w * err) + aux_loss
        return loss, (err, l1, w, points)

    grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)

    def step(state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        key, k_sample, k_predict, k_update = jax.random.split(state.key, 4)
        samples = sampler.sample(state.sampler_state, k_sample)
        weights, candidate_err = None, None
        if sampler.select is not None:  # first forward pass without gradients, then a subset
            k_first, k_select, k_predict = jax.random.split(k_predict, 3)
            candidate_err = jax.lax.stop_gradient(errors(
                state.params, samples.positions, samples.image_ids, k_first)[0])
            chosen, weights = sampler.select(state.sampler_state, candidate_err, k_select)
            samples = Samples(samples.positions[chosen], samples.image_ids[chosen])
        (loss, (err, l1, w, points)), (g_params, g_pos) = grad_fn(
            state.params, samples.positions, samples.image_ids, state.sampler_state, k_predict,
            weights)
        n = err.shape[0]
        error_grads = g_pos * (n / jnp.maximum(w, _TINY))[:, None]
        g_params, loss = mean_over_devices((g_params, loss))
        finite = jnp.isfinite(loss) & all_finite(g_params)

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
        mse = mean_over_devices(jnp.mean(err if candidate_err is None else candidate_err))
        out = dict(loss=loss, mse=mse, train_psnr=metrics.mse_to_psnr(mse),
                   weight_mean=mean_over_devices(jnp.mean(w)))
        out.update(mean_over_devices(sampler.diagnostics(sampler_state)))
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
