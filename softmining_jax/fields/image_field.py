"""Image fields: ``(u, v) -> colour``."""

from __future__ import annotations

import jax
from flax import linen as nn

from softmining_jax.fields.encodings import FourierEncoding
from softmining_jax.fields.hash_grid import HashGridEncoding
from softmining_jax.fields.mlp import MLP


class ImageField(nn.Module):
    """Hash-grid (or Fourier) encoding + MLP + sigmoid.

    Input ``(N, 2)`` normalised coordinates ``(u, v) = (x / W, y / H)`` in ``[0, 1]^2``;
    output ``(N, channels)`` colours in ``[0, 1]``.

    Attributes:
      channels: output channels.
      resolution: the image's longest side in pixels; the finest hash level uses it when
        ``max_resolution`` is None.
      encoding: ``"hash"`` or ``"fourier"``.
      num_levels, features_per_level, log2_table_size, base_resolution, max_resolution:
        hash-grid settings.
      num_frequencies: Fourier settings.
      mlp_width, mlp_depth: the MLP.
    """

    channels: int = 3
    resolution: int = 512
    encoding: str = "hash"
    num_levels: int = 16
    features_per_level: int = 2
    log2_table_size: int = 16
    base_resolution: int = 16
    max_resolution: int | None = None
    num_frequencies: int = 10
    mlp_width: int = 64
    mlp_depth: int = 2

    @nn.compact
    def __call__(self, uv: jax.Array) -> jax.Array:
        if self.encoding == "hash":
            enc = HashGridEncoding(
                num_levels=self.num_levels, features_per_level=self.features_per_level,
                log2_table_size=self.log2_table_size, base_resolution=self.base_resolution,
                max_resolution=self.max_resolution or self.resolution,
            )
        elif self.encoding == "fourier":
            enc = FourierEncoding(num_frequencies=self.num_frequencies)
        else:
            raise ValueError(f"encoding must be 'hash' or 'fourier', got {self.encoding!r}.")
        h = enc(uv)
        return nn.sigmoid(MLP(self.mlp_width, self.mlp_depth, self.channels)(h))
