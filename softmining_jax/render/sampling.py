"""Sampling along rays: stratified bins, proposal resampling (inverse CDF), interlevel loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp

_EPS = 1e-7


def _nondecreasing(edges: jax.Array) -> jax.Array:
    """``(N, K)`` edges that are sorted along each row in exact arithmetic, made exactly so by a
    running maximum (it only evens out a rounding inversion of an ulp; a sort of the short rows
    measured several times slower on the CPU)."""
    return jax.lax.cummax(edges, axis=1)


def _search(sorted_rows: jax.Array, queries: jax.Array, side: str) -> jax.Array:
    """``(N, Q)`` int32: ``searchsorted`` of each row's queries in its sorted row ``(N, K)``; the
    rows are short (tens of edges), so every query is compared with every edge."""
    return jax.vmap(lambda row, q: jnp.searchsorted(row, q, side=side, method="compare_all"))(
        sorted_rows, queries)


def stratified_bins(
    key: jax.Array | None, near: jax.Array, far: jax.Array, num_rays: int, num_bins: int
) -> jax.Array:
    """``(N, S + 1)`` interval edges evenly spaced in ``[near, far]``, jittered within each
    interval when ``key`` is given (training) and regular otherwise (evaluation)."""
    u = jnp.linspace(0.0, 1.0, num_bins + 1)
    u = jnp.broadcast_to(u, (num_rays, num_bins + 1))
    if key is not None:
        width = 1.0 / num_bins
        jitter = (jax.random.uniform(key, (num_rays, num_bins + 1)) - 0.5) * width
        u = jnp.clip(u + jitter.at[:, 0].set(0.0).at[:, -1].set(0.0), 0.0, 1.0)
        u = _nondecreasing(u)  # each edge stays inside its half-interval: sorted up to rounding
    return near + (far - near) * u


def sample_pdf(
    key: jax.Array | None, bins: jax.Array, weights: jax.Array, num_edges: int
) -> jax.Array:
    """Resample interval edges from the piecewise-constant density of ``weights`` over ``bins``.

    Args:
      key: random key for jittered quantiles (None: evenly spaced, deterministic).
      bins: ``(N, S + 1)`` sorted edges. weights: ``(N, S)`` non-negative.
      num_edges: number of new edges (``S' + 1``).

    Returns:
      ``(N, num_edges)`` sorted edges inside ``[bins[:, 0], bins[:, -1]]`` (stop-gradient).
    """
    bins, weights = jax.lax.stop_gradient(bins), jax.lax.stop_gradient(weights)
    n = bins.shape[0]
    w = weights + 1e-5  # keeps every interval reachable
    cdf = jnp.cumsum(w, axis=-1) / jnp.sum(w, axis=-1, keepdims=True)
    cdf = jnp.concatenate([jnp.zeros((n, 1)), jnp.minimum(cdf, 1.0)], axis=-1)  # (N, S + 1)
    if key is None:
        u = jnp.broadcast_to(jnp.linspace(0.0, 1.0, num_edges), (n, num_edges))
    else:
        base = jnp.linspace(0.0, 1.0 - 1.0 / num_edges, num_edges)
        u = base + jax.random.uniform(key, (n, num_edges)) / num_edges
    idx = _search(cdf, u, "right")
    hi = jnp.clip(idx, 1, bins.shape[-1] - 1)
    lo = hi - 1
    c0, c1 = jnp.take_along_axis(cdf, lo, -1), jnp.take_along_axis(cdf, hi, -1)
    b0, b1 = jnp.take_along_axis(bins, lo, -1), jnp.take_along_axis(bins, hi, -1)
    t = jnp.clip((u - c0) / jnp.maximum(c1 - c0, _EPS), 0.0, 1.0)
    # Sorted quantiles map to sorted edges (the inverse CDF is monotone), up to rounding.
    return jax.lax.stop_gradient(_nondecreasing(b0 + t * (b1 - b0)))


def interlevel_loss(
    bins: jax.Array, weights: jax.Array, proposal_bins: jax.Array, proposal_weights: jax.Array
) -> jax.Array:
    """mip-NeRF 360 proposal loss: the proposal's weights must upper-bound the NeRF's.

    For each NeRF interval, ``bound`` sums the proposal weights of every overlapping proposal
    interval; the loss is ``mean_rays sum_k max(0, w_k - bound_k)^2 / (w_k + eps)``. The NeRF
    weights are treated as constants; the gradient trains the proposal.
    """
    weights = jax.lax.stop_gradient(weights)
    bins = jax.lax.stop_gradient(bins)
    cum = jnp.concatenate([jnp.zeros_like(proposal_weights[:, :1]),
                           jnp.cumsum(proposal_weights, axis=-1)], axis=-1)  # (N, P + 1)
    lo = jnp.clip(_search(proposal_bins, bins[:, :-1], "right") - 1, 0, cum.shape[-1] - 1)
    hi = jnp.clip(_search(proposal_bins, bins[:, 1:], "left"), 0, cum.shape[-1] - 1)
    bound = jnp.take_along_axis(cum, hi, -1) - jnp.take_along_axis(cum, lo, -1)
    excess = jnp.maximum(0.0, weights - bound)
    return jnp.mean(jnp.sum(excess**2 / (weights + _EPS), axis=-1))
