"""Image quality metrics (JAX)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np


def mse_to_psnr(mse: jax.Array, peak: float = 1.0) -> jax.Array:
    """PSNR in dB for a mean squared error of values in ``[0, peak]``."""
    return 10.0 * jnp.log10(peak**2 / jnp.maximum(mse, 1e-20))


def psnr(a: jax.Array, b: jax.Array) -> jax.Array:
    """PSNR in dB between two images with values in ``[0, 1]``."""
    return mse_to_psnr(jnp.mean((jnp.asarray(a, jnp.float32) - jnp.asarray(b, jnp.float32)) ** 2))


def top_error_share(squared_error: np.ndarray, fraction: float = 0.1) -> float:
    """Share of the total squared error held by the worst ``fraction`` of pixels.

    Args:
      squared_error: ``(H, W)`` or ``(H, W, C)`` squared error (channels are averaged per pixel).
      fraction: the share of pixels counted, in ``(0, 1]``.

    Returns:
      A number in ``[fraction, 1]`` (``fraction``: the error is spread evenly; near 1: it sits in
      a few pixels, where mining has the most to gain); ``fraction`` for an error-free image.
    """
    e = np.asarray(squared_error, np.float64)
    e = e.reshape(e.shape[0] * e.shape[1], -1).mean(-1)
    k = max(1, int(round(fraction * e.size)))
    total = e.sum()
    if not total > 0:
        return float(fraction)
    return float(np.sort(e)[-k:].sum() / total)


def _gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    k = np.exp(-0.5 * (r / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def _gaussian_filter(x: jax.Array, kernel: np.ndarray) -> jax.Array:
    """Separable 'valid' Gaussian filtering of an ``(H, W, C)`` image, as sums of shifted slices
    (XLA's CPU convolution is several times slower for these shapes)."""
    size = len(kernel)
    h, w = x.shape[0] - size + 1, x.shape[1] - size + 1
    rows = sum(float(kernel[i]) * x[i : i + h] for i in range(size))
    return sum(float(kernel[i]) * rows[:, i : i + w] for i in range(size))


@functools.partial(jax.jit, static_argnames=("size", "sigma"))
def _ssim(a: jax.Array, b: jax.Array, size: int, sigma: float) -> jax.Array:
    kernel = _gaussian_kernel(size, sigma)
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = _gaussian_filter(a, kernel), _gaussian_filter(b, kernel)
    var_a = _gaussian_filter(a * a, kernel) - mu_a**2
    var_b = _gaussian_filter(b * b, kernel) - mu_b**2
    cov = _gaussian_filter(a * b, kernel) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return jnp.mean(num / den)


def ssim(a: jax.Array, b: jax.Array, size: int = 11, sigma: float = 1.5) -> jax.Array:
    """Mean structural similarity (Wang et al. 2004) of ``(H, W, C)`` images in ``[0, 1]``.

    Gaussian window ``size`` x ``size`` with standard deviation ``sigma`` pixels, ``K1 = 0.01``,
    ``K2 = 0.03``, averaged over valid positions and channels. An image whose shorter side is
    below ``size`` gets the largest odd window that fits (``sigma`` scaled with it); a single
    pixel side compares the pixels alone.
    """
    a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    side = min(a.shape[:2])
    if side < size:
        fitted = side if side % 2 else side - 1
        sigma, size = sigma * fitted / size, fitted
    return _ssim(a, b, int(size), float(sigma))
