"""A small fully-connected network."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn


class _DenseOnParts(nn.Module):
    """``nn.Dense`` (same parameters, same initialisation) applied to the concatenation of
    ``parts`` along the last axis without forming it: each part is multiplied by its rows of the
    kernel at its own shape and the products are broadcast-added. A part with fewer leading
    entries (one per ray instead of one per sample) costs only that many rows."""

    features: int

    @nn.compact
    def __call__(self, *parts: jax.Array) -> jax.Array:
        sizes = [p.shape[-1] for p in parts]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (sum(sizes), self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        out, start = bias, 0
        for part, size in zip(parts, sizes, strict=True):
            out = out + jnp.matmul(part, kernel[start:start + size])
            start += size
        return out


class MLP(nn.Module):
    """``depth`` hidden ReLU layers of ``width`` units, then a linear layer of ``out_features``.

    Input: ``x (..., D)``; any ``shared`` inputs ``(..., D_k)`` are concatenated to ``x`` along the
    last axis, with leading dimensions that broadcast against ``x``'s (e.g. a view-direction
    encoding ``(R, 1, D_k)`` shared by the ``S`` samples of ``x (R, S, D)``): the first layer
    multiplies each at its own shape. Output ``(..., out_features)`` with ``x``'s leading shape.
    """

    width: int = 64
    depth: int = 2
    out_features: int = 3

    @nn.compact
    def __call__(self, x: jax.Array, *shared: jax.Array) -> jax.Array:
        for i in range(self.depth + 1):
            features = self.width if i < self.depth else self.out_features
            if i == 0:
                x = _DenseOnParts(features, name="Dense_0")(x, *shared)
            else:
                x = nn.Dense(features, name=f"Dense_{i}")(x)
            if i < self.depth:
                x = nn.relu(x)
        return x
