"""2D image fitting: a field ``(u, v) -> colour`` fitted to one image."""

from __future__ import annotations

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from softmining_jax import metrics
from softmining_jax.data.targets import ImageTargets
from softmining_jax.fields.image_field import ImageField
from softmining_jax.samplers import Domain
from softmining_jax.tasks import dense

FieldFactory = Callable[..., nn.Module]


class ImageFittingTask:
    """Fit one image; evaluation is on every pixel centre of that image.

    Args:
      image: ``(H, W, C)`` integer or float image.
      field: factory called as ``field(channels=C, resolution=max(H, W))`` returning a Flax module
        mapping ``(N, 2)`` normalised ``(u, v)`` to ``(N, C)`` colours in ``[0, 1]``.
      edge_prior: give the samplers a Sobel edge prior (else uniform).
      edge_power: exponent of the Sobel magnitude in that prior (> 1: sharper on strong edges).
      eval_chunk: pixels per jitted chunk when rendering the whole image.
      name: label for logs.
    """

    def __init__(
        self,
        image: np.ndarray,
        field: FieldFactory = ImageField,
        edge_prior: bool = True,
        eval_chunk: int = 2**16,
        name: str = "image",
        edge_power: float = 1.0,
    ):
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[..., None]
        if image.ndim != 3 or min(image.shape[:2]) < 2:
            raise ValueError(f"Expected an (H, W, C) image of at least 2x2, got {image.shape}.")
        self.name = name
        self.targets_data = ImageTargets.from_arrays([image])
        self.size = image.shape[:2]
        self.channels = image.shape[-1]
        self.domain = Domain.from_images([image], edge_prior=edge_prior,
                                         edge_power=edge_power)
        self.field = field(channels=self.channels, resolution=max(self.size))
        self.eval_chunk = int(eval_chunk)
        self._render_chunk = jax.jit(self._apply_pixels)

    def init_params(self, key: jax.Array):
        return self.field.init(key, jnp.zeros((1, 2), jnp.float32))

    def _normalise(self, positions: jax.Array) -> jax.Array:
        h, w = self.size
        return positions / jnp.asarray([w, h], jnp.float32)

    def predict(self, params, positions, image_ids, key):
        del image_ids, key
        return self.field.apply(params, self._normalise(positions)), jnp.zeros((), jnp.float32)

    def targets(self, positions, image_ids):
        return self.targets_data.lookup(positions, image_ids)

    def _apply_pixels(self, params, positions):
        return self.field.apply(params, self._normalise(positions))

    @functools.cached_property
    def _pixel_centres(self) -> np.ndarray:
        h, w = self.size
        return dense.pixel_centres(np.arange(h), np.arange(w))

    def render(self, params, image_index: int = 0) -> np.ndarray:
        if image_index != 0:
            raise IndexError(f"ImageFittingTask has one image; asked for {image_index}.")
        h, w = self.size
        return self._render_centres(params, self._pixel_centres).reshape(h, w, self.channels)

    def _render_centres(self, params, centres: np.ndarray) -> np.ndarray:
        """``(N, C)`` predictions at ``(N, 2)`` pixel positions (host arrays)."""
        return dense.render_in_chunks(lambda part: self._render_chunk(params, part), centres,
                                      self.eval_chunk)

    def evaluate(self, params):
        pred = self.render(params)
        target = np.asarray(self.targets_data.image(0))
        err = np.abs(pred - target).mean(-1)
        scores = {
            "psnr": float(metrics.psnr(pred, target)),
            "ssim": float(metrics.ssim(jnp.asarray(pred), jnp.asarray(target))),
        }
        return scores, {"reconstruction": pred, "target": target, "error": err}

    def dense_l1(self, params, stride: int = 1, phase: int = 0):
        target = np.asarray(self.targets_data.image(0))
        return [jnp.asarray(dense.strided_l1(lambda c: self._render_centres(params, c), target,
                                             stride, phase))]
