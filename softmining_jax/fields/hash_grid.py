"""Multiresolution hash-grid encoding (instant-ngp), in pure JAX.

Level ``l`` has resolution ``N_l = floor(N_min * b^l)`` with ``b`` chosen so the last level reaches
``N_max``. A level whose ``(N_l + 1)^D`` grid vertices fit in the table is stored densely; finer
levels are hashed into ``T = 2^log2_table_size`` entries with the spatial hash
``xor_d(c_d * pi_d) mod T``. All levels live in one flat ``(sum_l size_l, F)`` table with per-level
offsets. Features are interpolated (bi/trilinearly) from the ``2^D`` surrounding vertices.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

PRIMES = (1, 2654435761, 805459861)


@dataclasses.dataclass(frozen=True)
class HashGridLayout:
    """Static geometry of a hash grid.

    Attributes:
      dim: input dimension ``D`` (2 or 3).
      num_levels: ``L``.
      log2_table_size: ``log2 T``, entries per hashed level.
      base_resolution: ``N_min``.
      max_resolution: ``N_max`` (finest level's cells per unit length).
    """

    dim: int
    num_levels: int = 16
    log2_table_size: int = 16
    base_resolution: int = 16
    max_resolution: int = 2048

    def __post_init__(self):
        if self.dim not in (1, 2, 3):
            raise ValueError(f"dim must be 1, 2 or 3, got {self.dim}.")
        if self.num_levels < 1 or self.base_resolution < 1:
            raise ValueError("num_levels and base_resolution must be positive.")
        if self.max_resolution < self.base_resolution:
            raise ValueError(
                f"max_resolution ({self.max_resolution}) < base_resolution "
                f"({self.base_resolution})."
            )

    @functools.cached_property
    def resolutions(self) -> np.ndarray:
        """``(L,)`` int64 per-level resolutions ``N_l``."""
        if self.num_levels == 1:
            return np.asarray([self.base_resolution], np.int64)
        growth = np.exp(
            (np.log(self.max_resolution) - np.log(self.base_resolution)) / (self.num_levels - 1)
        )
        res = np.floor(self.base_resolution * growth ** np.arange(self.num_levels) + 1e-6)
        return res.astype(np.int64)

    @functools.cached_property
    def dense(self) -> np.ndarray:
        """``(L,)`` bool: level stored densely (all vertices fit in the table)."""
        return (self.resolutions + 1) ** self.dim <= 2**self.log2_table_size

    @functools.cached_property
    def level_sizes(self) -> np.ndarray:
        return np.where(self.dense, (self.resolutions + 1) ** self.dim, 2**self.log2_table_size)

    @functools.cached_property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.level_sizes)[:-1]]).astype(np.int64)

    @property
    def table_size(self) -> int:
        return int(np.sum(self.level_sizes))


def _corners(dim: int) -> np.ndarray:
    """``(2^D, D)`` uint32 offsets of the cell corners around a point (0/1 per axis)."""
    return np.asarray(list(itertools.product((0, 1), repeat=dim)), np.uint32)


def _corner_indices(x: jax.Array, layout: HashGridLayout):
    """Table rows, per-axis fractions and corner pattern for points ``x`` ``(N, D)``.

    The dense index ``sum_d c_d * stride_d`` and the hash ``xor_d c_d * pi_d`` are separable, so
    each axis's two candidate terms (``c_d = base_d`` or ``base_d + 1``) are computed once and the
    ``2^D`` corners are formed by broadcasting (a few integer ops per corner, not ``O(D)``).

    Returns ``idx (N, L, 2^D)`` int32, ``frac (N, L, D)`` float32, ``corners (2^D, D)`` numpy, with
    corner ``j`` of ``idx`` at offset ``corners[j]`` (first axis most significant).
    """
    n, d = x.shape
    num_levels = layout.num_levels
    res = jnp.asarray(layout.resolutions, jnp.float32)  # (L,)
    scaled = jnp.clip(x, 0.0, 1.0)[:, None, :] * res[None, :, None]  # (N, L, D)
    base = jnp.clip(jnp.floor(scaled), 0.0, res[None, :, None] - 1.0)
    frac = scaled - base
    c = base.astype(jnp.uint32)[..., None] + jnp.arange(2, dtype=jnp.uint32)  # (N, L, D, 2)
    strides = (layout.resolutions[:, None] + 1) ** np.arange(d)[None, :]  # (L, D)
    dense_terms = c * jnp.asarray(strides, jnp.uint32)[None, :, :, None]
    hash_terms = c * jnp.asarray(PRIMES[:d], jnp.uint32)[None, None, :, None]
    dense_idx, hashed = dense_terms[:, :, 0], hash_terms[:, :, 0]  # (N, L, 2)
    for k in range(1, d):
        dense_idx = (dense_idx[..., :, None] + dense_terms[:, :, k, None, :]).reshape(
            n, num_levels, -1)
        hashed = (hashed[..., :, None] ^ hash_terms[:, :, k, None, :]).reshape(n, num_levels, -1)
    hashed = hashed & jnp.uint32(2**layout.log2_table_size - 1)
    idx = jnp.where(jnp.asarray(layout.dense)[None, :, None], dense_idx, hashed).astype(jnp.int32)
    idx = idx + jnp.asarray(layout.offsets, jnp.int32)[None, :, None]
    return idx, frac, _corners(d)


def _axis_factors(frac: jax.Array, corners: np.ndarray) -> list[jax.Array]:
    """Per-axis interpolation factors ``(N, L, 2^D)``: ``frac_k`` or ``1 - frac_k`` by corner."""
    return [
        jnp.where(jnp.asarray(corners[:, k], bool)[None, None], frac[:, :, None, k],
                  1.0 - frac[:, :, None, k])
        for k in range(corners.shape[1])
    ]


def _product(factors: list[jax.Array]) -> jax.Array:
    out = factors[0]
    for f in factors[1:]:
        out = out * f
    return out


def _interpolation_slopes(values: jax.Array, frac: jax.Array) -> jax.Array:
    """Derivatives w.r.t. ``frac`` of the multilinear interpolation of per-corner ``values``.

    ``values (N, L, 2^D)`` (corner order of :func:`_corners`, first axis most significant),
    ``frac (N, L, D)``. Returns ``(N, L, D)``: for axis ``k``, the difference of the two faces
    across ``k``, interpolated along the other axes. Separable, so it costs ``O(2^D)`` operations
    per axis instead of forming a ``2^D``-corner weight product for each (on chair's hash encoding
    the position gradient's cost over the table gradient fell from 17% to 8% on the CPU).
    """
    n, levels, d = frac.shape
    grid = values.reshape(n, levels, *([2] * d))
    slopes = []
    for k in range(d):
        face = jnp.take(grid, 1, axis=2 + k) - jnp.take(grid, 0, axis=2 + k)  # D - 1 corner axes
        for i in reversed([j for j in range(d) if j != k]):  # contract the last corner axis
            t = frac[:, :, i].reshape(n, levels, *([1] * (face.ndim - 3)))
            face = face[..., 0] + t * (face[..., 1] - face[..., 0])
        slopes.append(face)  # (N, L)
    return jnp.stack(slopes, axis=-1)


def hash_encode(table: jax.Array, x: jax.Array, layout: HashGridLayout) -> jax.Array:
    """Encode points.

    Differentiable w.r.t. ``table`` and ``x``, by the hand-written VJP
    (:func:`hash_encode_custom_vjp`): with the corner computation stored once
    (:func:`_stored_once`) it measured at least as fast as autodiff of the same forward pass
    (:func:`hash_encode_autodiff`, the same gradients) on every image and NeRF training step,
    uniform and soft mining (``experiments/bench_step.py --hash_backward``, on the CPU).

    Args:
      table: ``(layout.table_size, F)`` feature table.
      x: ``(N, D)`` points in ``[0, 1]^D`` (clamped into it; zero gradient outside).
      layout: static geometry.

    Returns:
      ``(N, L * F)`` interpolated features, level-major.
    """
    return hash_encode_custom_vjp(table, x, layout)


def hash_encode_autodiff(table: jax.Array, x: jax.Array, layout: HashGridLayout) -> jax.Array:
    """:func:`hash_encode` differentiated by JAX's autodiff of the forward pass (the reference the
    hand-written VJP is tested and timed against)."""
    return _interpolate(table, x, layout)[0]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def hash_encode_custom_vjp(table: jax.Array, x: jax.Array,
                           layout: HashGridLayout) -> jax.Array:
    """:func:`hash_encode` with a hand-written VJP: one scatter of the table gradient, and the
    position gradient from the corner features gathered again in the backward pass."""
    return _interpolate(table, x, layout, store=False)[0]


def _sum_unrolled(terms) -> jax.Array:
    """The sum of ``terms`` (arrays of one shape), unrolled in Python.

    Over the ``2^D`` corners each term is a gather fused into its consumer; a ``jnp.sum`` over a
    stacked corner axis would make XLA materialise the ``(N, L, 2^D, F)`` gathered features first
    (a much slower forward on the CPU). Over a short axis (features, levels) XLA:CPU runs a
    reduction as a separate kernel that costs more than the few adds."""
    total = None
    for term in terms:
        total = term if total is None else total + term
    return total


def _rows(table: jax.Array, idx: jax.Array) -> jax.Array:
    """``table[idx]`` for row indices known to be in range (never negative: no wrap-around
    ``select`` over every index, which XLA:CPU runs as a separate pass before a scatter)."""
    return table.at[idx].get(wrap_negative_indices=False)


def _stored_once(idx: jax.Array, frac: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(idx, frac)`` unchanged, but computed once into memory when compiled for the CPU.

    XLA:CPU otherwise fuses the corner computation (from the sample points, through the hash)
    into every consumer: each of the ``2^D`` gathers of the forward pass and, in the backward
    pass, each gather again and the scatter, so the hash is recomputed up to ``2^(D+1) + 1``
    times (a large share of the NeRF step on the CPU, ``experiments/bench_step.py --nerf``;
    ``docs/results.md``). A conditional is a boundary XLA does not fuse across;
    ``jax.lax.optimization_barrier`` is not one (XLA expands it before fusing). The predicate is
    always true (rows are never negative) but unknown to the compiler. Other platforms leave the
    choice to XLA (not measured there; on a GPU a conditional reads its predicate on the host).
    """

    def through_a_conditional(idx, frac):
        # The other branch is never taken; it must differ in both outputs, or XLA hoists the
        # one that is passed through unchanged out of the conditional.
        return jax.lax.cond(idx.reshape(-1)[0] >= 0, lambda t: t,
                            lambda t: (jnp.zeros_like(t[0]), jnp.full_like(t[1], jnp.nan)),
                            (idx, frac))

    return jax.lax.platform_dependent(idx, frac, cpu=through_a_conditional,
                                      default=lambda idx, frac: (idx, frac))


def _interpolate(table, x, layout, store: bool = True):
    """The forward pass: features ``(N, L * F)``, corner rows ``(N, L, 2^D)``, fractions
    ``(N, L, D)`` and corner weights ``(N, L, 2^D)``. ``store``: the corner rows and fractions
    are computed once (:func:`_stored_once`); without a backward pass (evaluation, renders)
    recomputing them in each of the ``2^D`` gathers costs less than storing them."""
    n, d = x.shape
    if d != layout.dim:
        raise ValueError(f"Expected {layout.dim}-D points, got shape {x.shape}.")
    idx, frac, corners = _corner_indices(x, layout)
    if store:
        idx, frac = _stored_once(idx, frac)
    w = _product(_axis_factors(frac, corners))  # (N, L, 2^D)
    feats = _sum_unrolled(w[..., j, None] * _rows(table, idx[..., j]) for j in range(len(corners)))
    return feats.reshape(n, -1), idx, frac, w


def _hash_encode_fwd(table, x, layout):
    feats, idx, frac, w = _interpolate(table, x, layout)
    return feats, (idx, frac, w, x, table)


def _hash_encode_bwd(layout, residuals, cotangent):
    idx, frac, w, x, table = residuals
    n, d = x.shape
    ct = cotangent.reshape(n, layout.num_levels, -1)  # (N, L, F)
    features = table.shape[-1]
    d_table = jnp.zeros(table.shape, cotangent.dtype)
    d_table = d_table.at[idx.reshape(-1)].add(
        (w[..., None] * ct[:, :, None, :]).reshape(-1, features), wrap_negative_indices=False)
    # d loss / d w_j = <ct, feature of corner j>: the corner features gathered again, one corner
    # at a time, rather than kept from the forward pass as one (N, L, 2^D, F) array (one gather
    # of all corners measured slower on the image step and no faster on chair's).
    def dot_features(rows):  # <ct, rows> over the feature axis: (N, L, F) -> (N, L)
        return _sum_unrolled(ct[..., f] * rows[..., f] for f in range(features))

    d_w = jnp.stack([dot_features(_rows(table, idx[..., j])) for j in range(idx.shape[-1])],
                    axis=-1)  # (N, L, 2^D)
    d_frac = _interpolation_slopes(d_w, frac)  # (N, L, D)
    d_x = _sum_unrolled(d_frac[:, level] * np.float32(res)
                        for level, res in enumerate(layout.resolutions))
    d_x = jnp.where((x >= 0.0) & (x <= 1.0), d_x, 0.0).astype(x.dtype)
    return d_table, d_x


hash_encode_custom_vjp.defvjp(_hash_encode_fwd, _hash_encode_bwd)


class HashGridEncoding(nn.Module):
    """Flax module wrapping :func:`hash_encode`; input ``(N, D)`` in ``[0, 1]^D``."""

    num_levels: int = 16
    features_per_level: int = 2
    log2_table_size: int = 16
    base_resolution: int = 16
    max_resolution: int = 2048
    init_scale: float = 1e-4

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        layout = HashGridLayout(
            dim=x.shape[-1], num_levels=self.num_levels, log2_table_size=self.log2_table_size,
            base_resolution=self.base_resolution,
            max_resolution=max(self.max_resolution, self.base_resolution),
        )
        scale = self.init_scale

        def init(key, shape, dtype=jnp.float32):
            return jax.random.uniform(key, shape, dtype, minval=-scale, maxval=scale)

        table = self.param("table", init, (layout.table_size, self.features_per_level))
        return hash_encode(table, x, layout)
