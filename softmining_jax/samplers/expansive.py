"""Expansive Supervision: a content-aware anchor set plus random "source" pixels.

Zhang et al., "Expansive Supervision for Neural Radiance Field" (ICME 2025; code:
zwx-open/Expansive-Supervision). Before training, the *anchor* set is the edge pixels of every
training image (Canny edges, dilated, capped at ``anchor_area`` = 25% of the pixels). Each batch
takes a share ``anchor_share`` (0.5) of its rays from the anchors and the rest from the other
pixels, and the loss is ``mse_anchor + c(t) mse_source`` with ``c`` falling linearly from
``(1 - anchor_area) / anchor_area`` to 1 over training, so the under-sampled source pixels weigh
in at first as much as their area. The error never guides the choice: it is fixed by content.

Here (:mod:`softmining_jax.samplers.ranked`) the anchors are the top ``anchor_area`` of the
pixels ranked by the domain's Sobel edge prior (not Canny plus dilation), and the two means are
per-sample weights ``1 / anchor_share`` and ``c(t) / (1 - anchor_share)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from softmining_jax.samplers.base import Sampler, spanning_the_run
from softmining_jax.samplers.ranked import constant, ranked_pool_sampler


def expansive_sampler(anchor_area: float = 0.25, anchor_share: float = 0.5,
                      num_steps: int | None = None) -> Sampler:
    """Anchors (edges) and sources in fixed shares, the source loss weight decaying to 1.

    Args:
      anchor_area: share of all pixels in the anchor set, in ``(0, 1)``.
      anchor_share: share of each batch drawn from the anchors, in ``(0, 1)``.
      num_steps: the training length over which ``c(t)`` falls to 1; None: the run's
        ``num_steps`` (set by the train loop, see :func:`softmining_jax.samplers.for_run`).
    """
    if num_steps is None:
        return spanning_the_run(
            "expansive_sampler", lambda steps: expansive_sampler(anchor_area, anchor_share, steps))
    for name, value in (("anchor_area", anchor_area), ("anchor_share", anchor_share)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"expansive_sampler.{name} must be in (0, 1), got {value}.")
    if num_steps < 1:
        raise ValueError(f"expansive_sampler.num_steps must be >= 1, got {num_steps}.")
    start = (1.0 - anchor_area) / anchor_area

    def tier_weights(top: jax.Array, step: jax.Array) -> jax.Array:
        t = jnp.clip(jnp.asarray(step, jnp.float32) / num_steps, 0.0, 1.0)
        source = (start + (1.0 - start) * t) / (1.0 - anchor_share)
        return jnp.where(top, 1.0 / anchor_share, source).astype(jnp.float32)

    return ranked_pool_sampler("edge", top_fraction=constant(anchor_area),
                               top_share=constant(anchor_share), tier_weights=tier_weights)
