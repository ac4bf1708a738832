"""A small fully-connected network."""

from __future__ import annotations

import jax
from flax import linen as nn


class MLP(nn.Module):
    """``depth`` hidden ReLU layers of ``width`` units, then a linear layer of ``out_features``."""

    width: int = 64
    depth: int = 2
    out_features: int = 3

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(self.out_features)(x)
