"""Volume rendering weights."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def volume_weights(density: jax.Array, bins: jax.Array, directions: jax.Array) -> jax.Array:
    """Per-interval weights ``w_k = T_k (1 - exp(-sigma_k delta_k))`` of the volume integral.

    Args:
      density: ``(N, S)`` non-negative densities per unit world length.
      bins: ``(N, S + 1)`` sorted interval edges in ray parameter ``t``.
      directions: ``(N, 3)`` ray directions (``delta = dt * |d|``).

    Returns:
      ``(N, S)`` weights; their sum is the opacity (at most 1).
    """
    delta = (bins[:, 1:] - bins[:, :-1]) * jnp.linalg.norm(directions, axis=-1, keepdims=True)
    tau = density * delta
    alpha = 1.0 - jnp.exp(-tau)
    transmittance = jnp.exp(-jnp.concatenate(
        [jnp.zeros_like(tau[:, :1]), jnp.cumsum(tau[:, :-1], axis=-1)], axis=-1))
    return alpha * transmittance


def composite(weights: jax.Array, rgb: jax.Array, background: jax.Array) -> jax.Array:
    """``sum_k w_k c_k + (1 - sum_k w_k) * background``; ``rgb (N, S, 3)``, returns ``(N, 3)``."""
    acc = jnp.sum(weights, axis=-1, keepdims=True)
    return jnp.einsum("ns,nsc->nc", weights, rgb) + (1.0 - acc) * background
