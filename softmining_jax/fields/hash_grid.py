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


def hash_encode(table: jax.Array, x: jax.Array, layout: HashGridLayout) -> jax.Array:
    """Encode points.

    Args:
      table: ``(layout.table_size, F)`` feature table.
      x: ``(N, D)`` points in ``[0, 1]^D`` (clamped into it).
      layout: static geometry.

    Returns:
      ``(N, L * F)`` interpolated features, level-major.
    """
    n, d = x.shape
    if d != layout.dim:
        raise ValueError(f"Expected {layout.dim}-D points, got shape {x.shape}.")
    res = jnp.asarray(layout.resolutions, jnp.float32)  # (L,)
    x = jnp.clip(x, 0.0, 1.0)
    scaled = x[:, None, :] * res[None, :, None]  # (N, L, D)
    base = jnp.clip(jnp.floor(scaled), 0.0, res[None, :, None] - 1.0)
    frac = scaled - base
    base = base.astype(jnp.uint32)
    corners = np.asarray(list(itertools.product((0, 1), repeat=d)), np.uint32)  # (2^D, D)
    c = base[:, :, None, :] + jnp.asarray(corners)[None, None]  # (N, L, 2^D, D)
    strides = (layout.resolutions[:, None] + 1) ** np.arange(d)[None, :]  # (L, D)
    dense_idx = jnp.sum(c * jnp.asarray(strides, jnp.uint32)[None, :, None, :], axis=-1)
    hashed = c[..., 0] * jnp.uint32(PRIMES[0])
    for k in range(1, d):
        hashed = hashed ^ (c[..., k] * jnp.uint32(PRIMES[k]))
    hashed = hashed & jnp.uint32(2**layout.log2_table_size - 1)
    idx = jnp.where(jnp.asarray(layout.dense)[None, :, None], dense_idx, hashed).astype(jnp.int32)
    idx = idx + jnp.asarray(layout.offsets, jnp.int32)[None, :, None]
    w = jnp.where(jnp.asarray(corners, bool)[None, None], frac[:, :, None, :],
                  1.0 - frac[:, :, None, :])
    w = jnp.prod(w, axis=-1)  # (N, L, 2^D)
    feats = jnp.einsum("nlc,nlcf->nlf", w, table[idx])
    return feats.reshape(n, -1)


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
        table = self.param(
            "table",
            nn.initializers.uniform(scale=2 * self.init_scale),
            (layout.table_size, self.features_per_level),
        )
        table = table - self.init_scale if self.is_initializing() else table
        return hash_encode(table, x, layout)
