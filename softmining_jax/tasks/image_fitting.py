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
from softmining_jax.tasks.target_rule import PIXEL_CENTRES, check_target_rule

FieldFactory = Callable[..., nn.Module]


class ImageFittingTask:
    """Fit one image, trained and evaluated by one target rule.

    With ``target_rule="pixel_centres"`` (the default) every sample is trained at the centre of
    its pixel against that pixel's colour, and evaluation renders every pixel centre. With
    ``"continuous"`` samples train at sub-pixel positions against the bilinearly interpolated
    image, and evaluation does the same: PSNR over ``H * W`` random sub-pixel positions (a fixed
    seed, the same points at every evaluation), SSIM over the pixel grid shifted by one fixed
    random sub-pixel offset.

    Args:
      image: ``(H, W, C)`` integer or float image.
      field: factory called as ``field(channels=C, resolution=max(H, W))`` returning a Flax module
        mapping ``(N, 2)`` normalised ``(u, v)`` to ``(N, C)`` colours in ``[0, 1]``.
      edge_prior: give the samplers a Sobel edge prior (else uniform).
      edge_power: exponent of the Sobel magnitude in that prior (> 1: sharper on strong edges).
      eval_chunk: pixels per jitted chunk when rendering the whole image.
      name: label for logs.
      target_rule: ``"pixel_centres"`` or ``"continuous"`` (see
        :mod:`softmining_jax.tasks.target_rule`).
      eval_pixels: evaluate during training on this many pixels drawn once (a fixed seed; PSNR
        only, no pictures) and on every pixel at the end (None: every pixel each time). On a
        4-megapixel image a full evaluation costs seconds on a CPU.
    """

    def __init__(
        self,
        image: np.ndarray,
        field: FieldFactory = ImageField,
        edge_prior: bool = True,
        eval_chunk: int = 2**16,
        name: str = "image",
        edge_power: float = 1.0,
        target_rule: str = PIXEL_CENTRES,
        eval_pixels: int | None = None,
    ):
        self.target_rule = check_target_rule(target_rule)
        if eval_pixels is not None and (isinstance(eval_pixels, bool) or int(eval_pixels) < 1):
            raise ValueError(f"eval_pixels must be a positive pixel count or None, got "
                             f"{eval_pixels!r}.")
        self.eval_pixels = None if eval_pixels is None else int(eval_pixels)
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

    @functools.cached_property
    def _continuous_eval_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The continuous rule's evaluation points and their bilinear targets (fixed seed 0):
        ``(H * W, 2)`` uniform sub-pixel positions and ``(H * W, C)`` targets, then the pixel grid
        shifted by one random sub-pixel offset ``(H * W, 2)`` and its targets."""
        h, w = self.size
        rng = np.random.default_rng(0)
        scattered = (rng.random((h * w, 2)) * np.asarray([w, h])).astype(np.float32)
        offset = (rng.random(2) - 0.5).astype(np.float32)
        shifted = np.clip(self._pixel_centres + offset, 0.0, np.asarray([w, h], np.float32))
        lookup = jax.jit(lambda p: self.targets_data.lookup(p, jnp.zeros((p.shape[0],),
                                                                            jnp.int32)))
        return (scattered, dense.render_in_chunks(lookup, scattered, self.eval_chunk),
                shifted, dense.render_in_chunks(lookup, shifted, self.eval_chunk))

    @functools.cached_property
    def _target_host(self) -> np.ndarray:
        """``(H, W, C)`` float32 target on the host (read once, not at every evaluation)."""
        return np.asarray(self.targets_data.image(0))

    @functools.cached_property
    def _eval_subset(self) -> tuple[np.ndarray, np.ndarray]:
        """A fixed random subset of ``eval_pixels`` pixels (seed 0): positions and targets
        (pixel centres, or sub-pixel points with bilinear targets on a continuous task)."""
        h, w = self.size
        rng = np.random.default_rng(0)
        if self.target_rule == PIXEL_CENTRES:
            flat = rng.choice(h * w, size=min(self.eval_pixels, h * w), replace=False)
            return (self._pixel_centres[flat],
                    self._target_host.reshape(h * w, -1)[flat])
        scattered, targets, _, _ = self._continuous_eval_points
        flat = rng.choice(len(scattered), size=min(self.eval_pixels, len(scattered)),
                          replace=False)
        return scattered[flat], targets[flat]

    def evaluate(self, params, final: bool = True):
        """Scores (``psnr``, ``ssim``, ``top10_error_share``) and pictures; with ``eval_pixels``
        set and ``final`` False, only the PSNR on the fixed subset and no pictures."""
        h, w = self.size
        if self.eval_pixels is not None and not final:
            positions, target = self._eval_subset
            return {"psnr": float(metrics.psnr(self._render_centres(params, positions),
                                               target))}, {}
        if self.target_rule == PIXEL_CENTRES:
            pred = self.render(params)
            target = self._target_host
            psnr = float(metrics.psnr(pred, target))
        else:
            scattered, scattered_target, shifted, shifted_target = self._continuous_eval_points
            psnr = float(metrics.psnr(self._render_centres(params, scattered), scattered_target))
            pred = self._render_centres(params, shifted).reshape(h, w, self.channels)
            target = shifted_target.reshape(h, w, self.channels)
        err = np.abs(pred - target).mean(-1)
        scores = {"psnr": psnr, "ssim": float(metrics.ssim(jnp.asarray(pred), jnp.asarray(target))),
                  "top10_error_share": metrics.top_error_share((pred - target) ** 2, 0.1)}
        return scores, {"reconstruction": pred, "target": target, "error": err}

    def write_outputs(self, params, workdir) -> None:
        """Nothing beyond the loop's plots and metrics for a single image."""
        del params, workdir
        return None

    def dense_l1(self, params, stride: int = 1, phase: int = 0):
        target = self._target_host
        return [jnp.asarray(dense.strided_l1(lambda c: self._render_centres(params, c), target,
                                             stride, phase))]
