"""instant-ngp style radiance field and a small proposal density field."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn

from softmining_jax.fields.encodings import FourierEncoding
from softmining_jax.fields.hash_grid import HashGridEncoding
from softmining_jax.fields.mlp import MLP


def _normalise(points: jax.Array, aabb: tuple[float, ...]) -> jax.Array:
    lo = jnp.asarray(aabb[:3], points.dtype)
    hi = jnp.asarray(aabb[3:], points.dtype)
    return (points - lo) / (hi - lo)


def _density(raw: jax.Array) -> jax.Array:
    """Truncated exponential activation (instant-ngp); gradient-safe for large inputs."""
    return jnp.exp(jnp.minimum(raw, 11.0))


class RadianceField(nn.Module):
    """3D hash grid -> density MLP (density + geometry features) -> colour MLP with an encoded
    view direction.

    Input: ``points (..., 3)`` in world (or NDC) units and unit ``directions (..., 3)`` whose
    leading dimensions broadcast against the points' (one direction per ray, ``(R, 1, 3)``, for the
    ``S`` samples ``(R, S, 3)`` of each ray: the direction's encoding and its share of the colour
    MLP's first layer are then computed once per ray). Points outside ``aabb = (xmin, ymin, zmin,
    xmax, ymax, zmax)`` get zero density. Output: ``density (...)`` per unit length and
    ``rgb (..., 3)`` in ``[0, 1]``, with the points' leading shape.
    """

    aabb: tuple[float, ...] = (-1.5, -1.5, -1.5, 1.5, 1.5, 1.5)
    num_levels: int = 16
    features_per_level: int = 2
    log2_table_size: int = 19
    base_resolution: int = 16
    max_resolution: int = 2048
    geo_features: int = 15
    width: int = 64
    direction_frequencies: int = 4

    @nn.compact
    def __call__(self, points: jax.Array, directions: jax.Array) -> tuple[jax.Array, jax.Array]:
        lead = points.shape[:-1]
        x = _normalise(points.reshape(-1, 3), self.aabb)
        inside = jnp.all((x >= 0.0) & (x <= 1.0), axis=-1)
        h = HashGridEncoding(self.num_levels, self.features_per_level, self.log2_table_size,
                             self.base_resolution, self.max_resolution)(x)
        h = MLP(self.width, 1, 1 + self.geo_features)(h)
        density = jnp.where(inside, _density(h[:, 0]), 0.0).reshape(lead)
        d = FourierEncoding(self.direction_frequencies)(directions)
        geometry = h[:, 1:].reshape(*lead, self.geo_features)
        rgb = nn.sigmoid(MLP(self.width, 2, 3)(geometry, d))
        return density, rgb


class ProposalField(nn.Module):
    """A small hash-grid density field used to place the radiance field's samples."""

    aabb: tuple[float, ...] = (-1.5, -1.5, -1.5, 1.5, 1.5, 1.5)
    num_levels: int = 5
    features_per_level: int = 2
    log2_table_size: int = 17
    base_resolution: int = 16
    max_resolution: int = 128
    width: int = 16

    @nn.compact
    def __call__(self, points: jax.Array) -> jax.Array:
        x = _normalise(points, self.aabb)
        inside = jnp.all((x >= 0.0) & (x <= 1.0), axis=-1)
        h = HashGridEncoding(self.num_levels, self.features_per_level, self.log2_table_size,
                             self.base_resolution, self.max_resolution)(x)
        return jnp.where(inside, _density(MLP(self.width, 1, 1)(h)[:, 0]), 0.0)
