"""Sampling priors computed from image content."""

from __future__ import annotations

import numpy as np


def luminance(image: np.ndarray) -> np.ndarray:
    """Grey level in ``[0, 1]`` of an ``(H, W)`` or ``(H, W, C)`` image.

    Integer images are scaled by their dtype's maximum; an alpha channel (C=2 or C=4) is ignored.
    Returns ``(H, W)`` float32.
    """
    im = np.asarray(image)
    scale = float(np.iinfo(im.dtype).max) if np.issubdtype(im.dtype, np.integer) else 1.0
    im = im.astype(np.float32) / scale
    if im.ndim == 2:
        return im
    if im.ndim != 3:
        raise ValueError(f"Expected an (H, W) or (H, W, C) image, got shape {im.shape}.")
    channels = im.shape[-1]
    if channels in (1, 2):
        return im[..., 0]
    return im[..., :3] @ np.asarray([0.299, 0.587, 0.114], np.float32)


def check_edge_power(power: float) -> None:
    """Raises ``ValueError`` unless ``power`` is a finite number > 0 (an edge prior's exponent)."""
    if not (np.isfinite(power) and power > 0):
        raise ValueError(f"edge_power must be a finite number > 0, got {power}.")


def sobel_magnitude(grey: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of an ``(H, W)`` grey image (edge-replicated borders).

    Returns ``(H, W)`` float32 in grey levels per pixel (up to the Sobel kernel's factor 4).
    """
    g = np.pad(np.asarray(grey, np.float32), 1, mode="edge")
    gx = (g[:-2, 2:] + 2 * g[1:-1, 2:] + g[2:, 2:]) - (g[:-2, :-2] + 2 * g[1:-1, :-2] + g[2:, :-2])
    gy = (g[2:, :-2] + 2 * g[2:, 1:-1] + g[2:, 2:]) - (g[:-2, :-2] + 2 * g[:-2, 1:-1] + g[:-2, 2:])
    return np.sqrt(gx * gx + gy * gy)


def sobel_prior(image: np.ndarray, floor: float = 0.01, power: float = 1.0) -> np.ndarray:
    """Edge prior of one image: Sobel magnitude normalised to mean 1, mixed with a uniform floor.

    ``prior = (1 - floor) * m / mean(m) + floor`` with ``m = sobel ** power``, so the prior has
    mean 1 per image (each image's total mass is its pixel count: images are drawn in proportion
    to their area) and no pixel has zero density. A flat image gives the uniform prior.

    Args:
      image: ``(H, W)`` or ``(H, W, C)`` image, any dtype.
      floor: fraction of uniform density mixed in, in ``[0, 1]``.
      power: exponent of the Sobel magnitude: > 1 concentrates the prior on the strongest edges,
        < 1 spreads it towards weak ones (1: the magnitude itself).

    Returns:
      ``(H, W)`` float32 non-negative weights with mean 1.
    """
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"floor must be in [0, 1], got {floor}.")
    check_edge_power(power)
    mag = sobel_magnitude(luminance(image))
    if power != 1.0:
        # Scaled to a maximum of 1 first so that large powers neither overflow nor underflow.
        peak = float(mag.max())
        mag = (mag / peak) ** np.float32(power) if peak > 0.0 else mag
    mean = float(mag.mean())
    if not np.isfinite(mean) or mean <= 0.0:
        return np.ones(mag.shape, np.float32)
    return ((1.0 - floor) * mag / mean + floor).astype(np.float32)
