"""Soft-mining loss weights ``w_i = Q_i^(-alpha_t)``."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp


def check_loss_scale(scale: float, warmup_steps: int) -> None:
    """Raise ``ValueError`` unless ``scale`` is finite and > 0 and ``warmup_steps`` >= 0."""
    if not (scale > 0.0 and math.isfinite(scale)):
        raise ValueError(f"loss_scale must be a finite number > 0, got {scale}.")
    if warmup_steps < 0:
        raise ValueError(f"loss_scale_warmup_steps must be >= 0, got {warmup_steps}.")


def loss_scale_at(scale: float, warmup_steps: int, step: jax.Array) -> jax.Array:
    """``scale ** min(step / warmup_steps, 1)`` (scalar float32): a geometric ramp from 1 to
    ``scale`` over ``warmup_steps`` steps, ``scale`` throughout when ``warmup_steps`` is 0."""
    if warmup_steps > 0:
        ramp = jnp.clip(jnp.asarray(step, jnp.float32) / warmup_steps, 0.0, 1.0)
    else:
        ramp = jnp.ones((), jnp.float32)
    return jnp.exp(math.log(scale) * ramp)


@dataclasses.dataclass(frozen=True)
class WeightSchedule:
    """How per-sample loss weights are computed from the L1 importance ``Q``.

    ``alpha = 0`` is hard mining (all weights 1), ``alpha = 1`` is unbiased importance sampling for
    samples drawn with density proportional to ``Q``, values in between are soft mining.

    Attributes:
      alpha: final exponent.
      warmup_steps: ``alpha_t`` ramps linearly from 0 to ``alpha`` over this many steps (0: none).
      warmup_rate: if set, ``alpha_t = min(step * warmup_rate, alpha)`` instead (the official code
        uses ``1/1000``: it reaches ``alpha`` at step ``1000 * alpha``).
      q_floor: ``Q`` is clipped below at this value before the power (colour units).
      clamp_min: weights are clipped below at this value (``None``: no lower clip).
      clamp_std: weights are clipped above at ``mean(w) + clamp_std * std(w)`` over the batch
        (``None``: no upper clip). The official code uses 1.
    """

    alpha: float = 0.6
    warmup_steps: int = 1000
    warmup_rate: float | None = None
    q_floor: float = 1e-3
    clamp_min: float | None = None
    clamp_std: float | None = 3.0

    def __post_init__(self):
        if not self.alpha >= 0.0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}.")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}.")
        if not self.q_floor > 0.0:
            raise ValueError(f"q_floor must be > 0, got {self.q_floor}.")
        if self.clamp_std is not None and self.clamp_std < 0:
            raise ValueError(f"clamp_std must be >= 0 or None, got {self.clamp_std}.")

    def alpha_at(self, step: jax.Array) -> jax.Array:
        """``alpha_t`` at integer ``step`` (scalar float32)."""
        step = jnp.asarray(step, jnp.float32)
        if self.warmup_rate is not None:
            a = jnp.minimum(step * self.warmup_rate, self.alpha)
        elif self.warmup_steps > 0:
            a = self.alpha * jnp.clip(step / self.warmup_steps, 0.0, 1.0)
        else:
            a = jnp.asarray(self.alpha, jnp.float32)
        return a

    def __call__(self, l1: jax.Array, step: jax.Array) -> jax.Array:
        """Per-sample weights.

        Args:
          l1: ``(N,)`` per-sample ``Q_i = mean_c |f - y|``; non-finite entries get weight 1.
          step: scalar training step.

        Returns:
          ``(N,)`` float32 weights, finite and positive, with ``stop_gradient`` applied.
        """
        l1 = jax.lax.stop_gradient(jnp.asarray(l1, jnp.float32))
        finite = jnp.isfinite(l1)
        q = jnp.maximum(jnp.where(finite, l1, 1.0), self.q_floor)
        w = jnp.exp(-self.alpha_at(step) * jnp.log(q))
        if self.clamp_std is not None:
            w = jnp.minimum(w, jnp.mean(w) + self.clamp_std * jnp.std(w))
        if self.clamp_min is not None:
            w = jnp.maximum(w, self.clamp_min)
        return jax.lax.stop_gradient(jnp.where(finite, w, 1.0))


def official_weight_schedule(alpha: float = 0.6) -> WeightSchedule:
    """The loss weights of the authors' code: ``(1/clip(Q, 2^-10))^min(step/1000, alpha)``.

    The exponent rises by ``1e-3`` per step (no fixed warm-up length) and the weights are clamped
    to ``[0.2, mean + std]`` over the batch. Used by ``official_sampler``; bind
    ``soft_mining_sampler.weights = @official_weight_schedule()`` to give our sampler these weights.
    """
    return WeightSchedule(
        alpha=alpha, warmup_rate=1e-3, q_floor=2.0**-10, clamp_min=0.2, clamp_std=1.0
    )
