"""Optimizers: Adam with the learning-rate schedules the configs use, optionally lazy on the
hash tables (tiny-cuda-nn's semantics: a table entry whose gradient is zero this step is
skipped)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

SCHEDULES = ("exponential", "cosine", "constant")


def adam(
    learning_rate: float = 1e-2,
    num_steps: int = 20_000,
    schedule: str = "exponential",
    final_lr_factor: float = 0.1,
    b1: float = 0.9,
    b2: float = 0.99,
    eps: float = 1e-15,
    lazy_tables: bool = False,
) -> optax.GradientTransformation:
    """Adam with a learning-rate decay over ``num_steps`` (instant-ngp style ``eps``).

    Args:
      learning_rate: the initial rate.
      num_steps: the steps the decay spans (the run's length).
      schedule: ``"exponential"`` (to ``final_lr_factor * lr``), ``"cosine"`` (to
        ``final_lr_factor * lr``) or ``"constant"``.
      final_lr_factor: the rate at ``num_steps`` over the initial rate.
      b1, b2, eps: Adam's moment decays and denominator floor.
      lazy_tables: hash tables (parameters named ``table``) get :func:`lazy_adam`, the rest
        plain Adam.
    """
    for name, value in (("learning_rate", learning_rate), ("final_lr_factor", final_lr_factor),
                        ("eps", eps)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ValueError(f"adam.{name} must be a finite number >= 0, got {value!r}.")
    if not learning_rate > 0:
        raise ValueError(f"adam.learning_rate must be > 0, got {learning_rate!r}.")
    if isinstance(num_steps, bool) or int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"adam.num_steps must be a whole number >= 1, got {num_steps!r}.")
    if schedule == "exponential":
        lr = optax.exponential_decay(learning_rate, num_steps, final_lr_factor)
    elif schedule == "cosine":
        lr = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=final_lr_factor)
    elif schedule == "constant":
        lr = learning_rate
    else:
        raise ValueError(f"adam.schedule must be one of {SCHEDULES}, got {schedule!r}.")
    if not lazy_tables:
        return optax.adam(lr, b1=b1, b2=b2, eps=eps)
    return optax.multi_transform(
        {"table": lazy_adam(lr, b1, b2, eps), "dense": optax.adam(lr, b1=b1, b2=b2, eps=eps)},
        _table_labels)


def _table_labels(params):
    def label(path, leaf) -> str:
        last = path[-1]
        named = getattr(last, "key", getattr(last, "name", None))
        return "table" if named == "table" and jnp.ndim(leaf) == 2 else "dense"

    return jax.tree_util.tree_map_with_path(label, params)


class LazyAdamState(NamedTuple):
    """Per leaf, each of the leaf's shape: moments ``mu``, ``nu`` and ``b1^t``, ``b2^t`` where
    ``t`` counts the steps that entry had a non-zero gradient; ``count`` all steps (for the rate
    schedule)."""

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates
    b1_power: optax.Updates
    b2_power: optax.Updates


def lazy_adam(learning_rate: optax.ScalarOrSchedule, b1: float = 0.9, b2: float = 0.99,
              eps: float = 1e-15) -> optax.GradientTransformation:
    """Adam that skips the entries whose gradient is exactly zero this step.

    An entry with a gradient gets Adam's update with its own bias correction (its ``t`` counts
    only the steps it had a gradient); an entry without one keeps its moments and its value
    (plain Adam keeps moving it by its decaying momentum). This is tiny-cuda-nn's Adam for
    hash-grid entries, which a step touches only where samples fall. Elementwise, so it costs a
    dense pass like Adam's, with two more arrays to read and write.
    """

    def init(params):
        ones = jax.tree.map(jnp.ones_like, params)
        return LazyAdamState(count=jnp.zeros((), jnp.int32),
                             mu=jax.tree.map(jnp.zeros_like, params),
                             nu=jax.tree.map(jnp.zeros_like, params),
                             b1_power=ones, b2_power=jax.tree.map(jnp.copy, ones))

    def update(grads, state, params=None):
        del params
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate

        def leaf(g, mu, nu, p1, p2):
            hit = g != 0
            p1 = jnp.where(hit, p1 * b1, p1)
            p2 = jnp.where(hit, p2 * b2, p2)
            mu = jnp.where(hit, b1 * mu + (1 - b1) * g, mu)
            nu = jnp.where(hit, b2 * nu + (1 - b2) * g * g, nu)
            step = (mu / (1 - p1)) / (jnp.sqrt(nu / (1 - p2)) + eps)
            return jnp.where(hit, -lr * step, 0.0), mu, nu, p1, p2

        leaves, treedef = jax.tree.flatten(grads)
        per_leaf = [leaf(*args) for args in zip(leaves, *(treedef.flatten_up_to(t) for t in (
            state.mu, state.nu, state.b1_power, state.b2_power)), strict=True)]
        part = [treedef.unflatten([o[i] for o in per_leaf]) for i in range(5)]
        new = LazyAdamState(count=optax.safe_int32_increment(state.count), mu=part[1],
                               nu=part[2], b1_power=part[3], b2_power=part[4])
        return part[0], new

    return optax.GradientTransformation(init, update)
