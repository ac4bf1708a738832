"""Ground-truth images kept compact on device, with a differentiable bilinear lookup."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class ImageTargets:
    """One or more images with the same channel count, stored flat in their integer dtype.

    Attributes:
      pixels: ``(P, C)`` uint8/uint16 (or float32) pixels of all images, row-major, concatenated.
      offsets: ``(M,)`` int32 index of each image's first pixel in ``pixels``.
      sizes: static per-image ``(H, W)``.
      scale: static divisor mapping stored values to ``[0, 1]`` (255, 65535 or 1).
    """

    pixels: jax.Array
    offsets: jax.Array
    sizes: tuple[tuple[int, int], ...] = struct.field(pytree_node=False)
    scale: float = struct.field(pytree_node=False)

    @classmethod
    def from_arrays(cls, images: Sequence[np.ndarray]) -> ImageTargets:
        """Stack ``(H, W, C)`` images (all the same dtype and ``C``)."""
        if not images:
            raise ValueError("ImageTargets needs at least one image.")
        images = [np.asarray(im) for im in images]
        images = [im[..., None] if im.ndim == 2 else im for im in images]
        channels = {im.shape[-1] for im in images}
        dtypes = {im.dtype for im in images}
        if len(channels) != 1 or len(dtypes) != 1:
            raise ValueError(
                f"All images must share channels and dtype; got channels {sorted(channels)}, "
                f"dtypes {sorted(map(str, dtypes))}."
            )
        dtype = dtypes.pop()
        if np.issubdtype(dtype, np.integer):
            scale = float(np.iinfo(dtype).max)
        else:
            scale = 1.0
            if not all(np.all(np.isfinite(im)) for im in images):
                raise ValueError("Float images must be finite.")
            images = [im.astype(np.float32) for im in images]
        sizes = tuple(im.shape[:2] for im in images)
        offsets = np.concatenate([[0], np.cumsum([h * w for h, w in sizes])[:-1]]).astype(np.int32)
        flat = np.concatenate([im.reshape(-1, im.shape[-1]) for im in images])
        return cls(pixels=jnp.asarray(flat), offsets=jnp.asarray(offsets), sizes=sizes,
                   scale=scale)

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[-1])

    def lookup(self, positions: jax.Array, image_ids: jax.Array) -> jax.Array:
        """Bilinear colour at continuous pixel positions (differentiable w.r.t. positions).

        Pixel ``(j, i)`` has its centre at ``(j + 0.5, i + 0.5)``; beyond the outermost centres the
        border value extends (clamped).

        Args:
          positions: ``(N, 2)`` pixel coordinates ``(x, y)``.
          image_ids: ``(N,)`` int32.

        Returns:
          ``(N, C)`` float32 in ``[0, 1]``.
        """
        hw = jnp.asarray(self.sizes, jnp.int32)[image_ids]
        h, w = hw[:, 0], hw[:, 1]
        t = positions - 0.5
        t = jnp.stack([jnp.clip(t[:, 0], 0.0, (w - 1).astype(jnp.float32)),
                       jnp.clip(t[:, 1], 0.0, (h - 1).astype(jnp.float32))], axis=-1)
        i0 = jnp.floor(t).astype(jnp.int32)
        i0 = jnp.minimum(i0, jnp.stack([jnp.maximum(w - 2, 0), jnp.maximum(h - 2, 0)], -1))
        f = t - i0
        x0, y0 = i0[:, 0], i0[:, 1]
        x1, y1 = jnp.minimum(x0 + 1, w - 1), jnp.minimum(y0 + 1, h - 1)
        base = self.offsets[image_ids]

        def px(yy, xx):
            return self.pixels[base + yy * w + xx].astype(jnp.float32)

        fx, fy = f[:, :1], f[:, 1:]
        top = px(y0, x0) * (1 - fx) + px(y0, x1) * fx
        bottom = px(y1, x0) * (1 - fx) + px(y1, x1) * fx
        return (top * (1 - fy) + bottom * fy) / self.scale

    def image(self, m: int) -> jax.Array:
        """Image ``m`` as ``(H, W, C)`` float32 in ``[0, 1]``."""
        h, w = self.sizes[m]
        start = int(self.offsets[m])
        return self.pixels[start : start + h * w].reshape(h, w, -1).astype(jnp.float32) / self.scale
