"""One target rule per task: training where evaluation measures, for every sampler."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import struct
from helpers import tiny_image, tiny_task

from softmining_jax import samplers
from softmining_jax.samplers import Domain, Sampler, Samples
from softmining_jax.step import init_train_state, make_train_step
from softmining_jax.tasks import target_rule
from softmining_jax.train import train_and_evaluate

QUIET = dict(progress=False, tensorboard=False, plots=False)


def test_snap_is_exact_centre_with_straight_through_gradient():
    sizes = ((4, 6),)
    x = jnp.asarray([[0.0, 0.0], [2.3, 3.99], [6.0, 4.0], [5.5, 0.5]], jnp.float32)
    ids = jnp.zeros((4,), jnp.int32)
    snapped = target_rule.snap_to_pixel_centres(x, ids, sizes)
    np.testing.assert_array_equal(snapped, [[0.5, 0.5], [2.5, 3.5], [5.5, 3.5], [5.5, 0.5]])
    grad = jax.grad(lambda p: jnp.sum(target_rule.snap_to_pixel_centres(p, ids, sizes) * x))(x)
    np.testing.assert_array_equal(grad, x)


@struct.dataclass
class _SpyState:
    grads: jax.Array


def _fixed_positions_sampler(positions: np.ndarray) -> Sampler:
    """Always samples ``positions``; its state keeps the last ``error_grads`` it was given."""
    n = len(positions)

    def init(key, domain, num):
        return _SpyState(grads=jnp.zeros((n, 2)))

    def sample(state, key):
        return Samples(jnp.asarray(positions, jnp.float32), jnp.zeros((n,), jnp.int32))

    def update(state, feedback, key):
        return state.replace(grads=feedback.error_grads)

    return Sampler(init=init, sample=sample, loss_weights=lambda s, l1: jnp.ones_like(l1),
                   update=update)


class _XTask:
    """Predicts its input's ``x`` coordinate; targets are zero: ``err = x^2`` at the trained
    point, so the step's mse says where it trained."""

    name = "x"

    def __init__(self, rule):
        self.target_rule = rule
        self.domain = Domain.from_sizes([(4, 8)])

    def init_params(self, key):
        return {"b": jnp.zeros(())}

    def predict(self, params, positions, image_ids, key):
        return positions[:, :1] + params["b"], jnp.zeros(())

    def targets(self, positions, image_ids):
        return jnp.zeros((positions.shape[0], 1))


@pytest.mark.parametrize("rule", ["pixel_centres", "continuous"])
def test_train_step_trains_where_the_task_evaluates(rule):
    positions = np.asarray([[1.2, 0.3], [6.9, 2.0]], np.float32)
    task, sampler = _XTask(rule), _fixed_positions_sampler(positions)
    state = init_train_state(task, sampler, optax.sgd(0.0), 2, 0)
    state, metrics = jax.jit(make_train_step(task, sampler, optax.sgd(0.0)))(state)
    trained_x = np.asarray([1.5, 6.5]) if rule == "pixel_centres" else positions[:, 0]
    assert float(metrics["mse"]) == pytest.approx(np.mean(trained_x**2), rel=1e-6)
    # d err / d x at the trained point reaches the continuous position (2 x for err = x^2)
    np.testing.assert_allclose(state.sampler_state.grads[:, 0], 2 * trained_x, rtol=1e-6)


def test_a_mismatched_sampler_is_refused(tmp_path):
    task = tiny_task(target_rule="continuous")
    with pytest.raises(ValueError, match="pixel_centres.*continuous"):
        train_and_evaluate(tmp_path / "run", task, samplers.official_sampler(), batch_size=32,
                           num_steps=2, **QUIET)
    assert not (tmp_path / "run" / "metrics.jsonl").exists()
    with pytest.raises(ValueError, match="target_rule"):
        tiny_task(target_rule="centre")


def test_continuous_task_evaluates_at_sub_pixel_positions():
    # A field that outputs the bilinear image exactly scores infinity on the continuous rule and
    # not at pixel centres: evaluate a field that is the target's own lookup.
    image = tiny_image()
    centres, continuous = tiny_task(), tiny_task(target_rule="continuous")
    scattered, targets, shifted, _ = continuous._continuous_eval_points
    assert scattered.shape == (image.shape[0] * image.shape[1], 2)
    assert np.any(np.abs(scattered % 1.0 - 0.5) > 0.1)  # not pixel centres
    np.testing.assert_array_equal(scattered, tiny_task(target_rule="continuous")
                                  ._continuous_eval_points[0])  # the same points every time
    lookup = np.asarray(continuous.targets_data.lookup(jnp.asarray(scattered),
                                                       jnp.zeros(len(scattered), jnp.int32)))
    np.testing.assert_allclose(targets, lookup, atol=1e-6)
    params = centres.init_params(jax.random.key(0))
    s_centres, _ = centres.evaluate(params)
    s_continuous, _ = continuous.evaluate(params)
    assert s_centres["psnr"] != s_continuous["psnr"]
    assert 0.1 <= s_centres["top10_error_share"] <= 1.0
