"""Dense per-pixel error maps, rendered at every pixel or at one pixel per block.

A dense error-map refresh renders the field on every pixel of every training image, which is most
of its cost. With ``stride = s > 1`` it renders one pixel in every ``s x s`` block instead and
gives the whole block that pixel's error: ``s^2`` times fewer rays, and a map that is piecewise
constant on blocks (the same resolution as an error map with ``cell_size = s``, at a fraction of
the render). Which pixel of its block is rendered rotates with the refresh's ``phase``, through all
``s^2`` offsets, so detail that falls between one refresh's pixels is seen by the next.

Units: pixel indices (row ``i``, column ``j``); pixel ``(j, i)`` has its centre at
``(j + 0.5, i + 0.5)`` in the samplers' continuous ``(x, y)`` coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax
import numpy as np

# A refresh with ``stride = "auto"`` renders at most this many steps' worth of training samples.
COVER_STEPS = 512


def auto_stride(sizes: Sequence[tuple[int, int]], samples_per_step: int) -> int:
    """The smallest block edge, in pixels, at which a strided render of the images ``sizes``
    (``(H, W)`` each) has at most :data:`COVER_STEPS` steps' worth of ``samples_per_step``
    samples: 1 (every pixel) unless the images have more pixels than that. A refresh every epoch
    of its rendered pixels then comes at least every ``COVER_STEPS`` steps, whatever the image
    size (a full render of a 4-megapixel image with 512 samples a step would come every 8192)."""
    pixels = sum(int(h) * int(w) for h, w in sizes)
    return max(1, math.ceil(math.sqrt(pixels / (COVER_STEPS * max(int(samples_per_step), 1)))))


def render_in_chunks(
    render_chunk: Callable[[jax.Array], jax.Array], centres: np.ndarray, chunk: int
) -> np.ndarray:
    """Render ``(N, 2)`` pixel positions in fixed-size chunks (one compiled shape).

    Args:
      render_chunk: jitted ``positions (n, 2) -> (n, C)`` colours.
      centres: ``(N, 2)`` float32 pixel positions ``(x, y)``.
      chunk: largest number of positions per call; smaller inputs use ``N`` (one call, no
        padding), the last chunk of larger ones is padded by repeating its last position.

    Returns:
      ``(N, C)`` float32 host array.
    """
    chunk = max(1, min(int(chunk), len(centres)))
    out = []
    for start in range(0, len(centres), chunk):
        part = centres[start : start + chunk]
        pad = chunk - len(part)
        part = np.pad(part, ((0, pad), (0, 0)), mode="edge") if pad else part
        out.append(np.asarray(render_chunk(part))[: chunk - pad])
    return np.concatenate(out)


def block_pixels(height: int, width: int, stride: int, phase: int = 0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The pixel rendered in each ``stride x stride`` block of an ``(height, width)`` image.

    Args:
      height, width: image size in pixels.
      stride: block edge in pixels (1: every pixel).
      phase: the refresh's index; the ``stride^2`` offsets within the block are visited in turn
        (every ``stride^2`` phases), consecutive phases always on different rows.

    Returns:
      ``rows (ceil(H / s),)`` and ``cols (ceil(W / s),)`` int indices (clipped to the image in a
      partial last block).
    """
    stride = int(stride)
    if stride < 1:
        raise ValueError(f"The dense error map's stride must be a positive pixel count, got "
                         f"{stride}.")
    turn, dy = divmod(int(phase) % (stride * stride), stride)
    dx = (turn + dy) % stride
    rows = np.minimum(np.arange(0, height, stride) + dy, height - 1)
    cols = np.minimum(np.arange(0, width, stride) + dx, width - 1)
    return rows, cols


def pixel_centres(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``(len(rows) * len(cols), 2)`` float32 centres ``(x, y)`` of a grid of pixels, row-major."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    out = np.empty((len(rows), len(cols), 2), np.float32)  # built in float32: no float64 copies
    out[..., 0] = cols.astype(np.float32)[None, :] + np.float32(0.5)
    out[..., 1] = rows.astype(np.float32)[:, None] + np.float32(0.5)
    return out.reshape(-1, 2)


def strided_l1(
    render: Callable[[np.ndarray], np.ndarray], target: np.ndarray, stride: int = 1,
    phase: int = 0,
) -> np.ndarray:
    """Per-pixel L1 error of one image, rendered at one pixel per block.

    Args:
      render: ``centres (N, 2) -> (N, C)`` predicted colours (host arrays).
      target: ``(H, W, C)`` float ground truth in ``[0, 1]``.
      stride, phase: as in :func:`block_pixels`.

    Returns:
      ``(H, W)`` float32 ``mean_c |prediction - target|`` of each block's rendered pixel, repeated
      over its block (exact per-pixel errors for ``stride = 1``).
    """
    height, width = target.shape[:2]
    rows, cols = block_pixels(height, width, stride, phase)
    pred = render(pixel_centres(rows, cols)).reshape(len(rows), len(cols), -1)
    target = np.asarray(target, np.float32)
    if stride == 1:  # every pixel: no gather of the target, no blocks to fill
        return np.abs(pred - target).mean(-1).astype(np.float32)
    coarse = np.abs(pred - target[np.ix_(rows, cols)]).mean(-1)
    full = np.repeat(np.repeat(coarse, stride, axis=0), stride, axis=1)
    return full[:height, :width].astype(np.float32)
