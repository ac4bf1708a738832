"""Positional (Fourier-feature) encoding."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn


class FourierEncoding(nn.Module):
    """``[x, sin(2^k pi x), cos(2^k pi x)]`` for ``k < num_frequencies``; input ``(N, D)``.

    Returns ``(N, D * (2 * num_frequencies + include_input))``.
    """

    num_frequencies: int = 10
    include_input: bool = True

    def __call__(self, x: jax.Array) -> jax.Array:
        freqs = jnp.pi * 2.0 ** jnp.arange(self.num_frequencies, dtype=x.dtype)
        angles = (x[..., None] * freqs).reshape(*x.shape[:-1], -1)
        parts = [jnp.sin(angles), jnp.cos(angles)]
        if self.include_input:
            parts.insert(0, x)
        return jnp.concatenate(parts, axis=-1)
