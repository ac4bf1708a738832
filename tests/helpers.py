"""Small tasks shared by the train-loop tests."""

from __future__ import annotations

import functools

import numpy as np

from softmining_jax.fields import ImageField
from softmining_jax.tasks import ImageFittingTask

TinyField = functools.partial(ImageField, num_levels=4, log2_table_size=10, base_resolution=4,
                              mlp_width=16, mlp_depth=1)


def tiny_image(h: int = 24, w: int = 32) -> np.ndarray:
    """A deterministic RGB test picture: a bright disc with an edge on a gradient."""
    ys, xs = np.mgrid[0:h, 0:w]
    disc = ((xs - 0.6 * w) ** 2 + (ys - 0.4 * h) ** 2) < (0.25 * h) ** 2
    img = np.stack([xs / w, ys / h, disc.astype(float)], -1) * 255
    return img.astype(np.uint8)


def tiny_task(**kwargs) -> ImageFittingTask:
    return ImageFittingTask(tiny_image(), field=TinyField, eval_chunk=256, **kwargs)
