"""INT: implicit neural teaching, the points with the largest error first.

Zhang, Luo, Li, Wu and Wong, "Nonparametric Teaching of Implicit Neural Representations" (ICML
2024; code: stevolopolis/nmt_inr). The teacher picks, at each iteration, the ``m`` training points
where the learner is most wrong, ``argmax |f_theta(x) - f*(x)|`` (the functional gradient of the
loss is largest there), and the learner takes one gradient step on them. The share ``m / P`` of
all ``P`` points follows the code's default "step" scheduler: from ``start_ratio`` it rises
linearly in ``num_stages`` equal stages over ``num_steps`` to 1 (then INT is uniform training).

Mini-batch form (:mod:`softmining_jax.samplers.ranked`): each step's ``N`` samples are uniform
over the current top ``m`` pixels of the latest dense error map. The code's "incremental"
strategy re-ranks with a full forward pass every iteration for the first quarter of training and
then every few iterations; here the ranking is refreshed by
:class:`softmining_jax.hooks.DenseRefresh` (``gin_configs/samplers/int.gin``: once per epoch of
samples, as the image default), and its cost is charged to the method's wall-clock.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from softmining_jax.samplers.base import Sampler, spanning_the_run
from softmining_jax.samplers.ranked import constant, ranked_pool_sampler


def int_sampler(start_ratio: float = 0.2, num_stages: int = 10,
                num_steps: int | None = None) -> Sampler:
    """Uniform over the ``ratio(step)`` share of pixels with the largest error.

    Args:
      start_ratio: the first stage's share of all pixels, in ``(0, 1]``.
      num_stages: stages of the "step" scheduler.
      num_steps: the training length the scheduler spans; None: the run's ``num_steps``
        (set by the train loop, see :func:`softmining_jax.samplers.for_run`).
    """
    if num_steps is None:
        return spanning_the_run(
            "int_sampler", lambda steps: int_sampler(start_ratio, num_stages, steps))
    if not 0.0 < start_ratio <= 1.0:
        raise ValueError(f"int_sampler.start_ratio must be in (0, 1], got {start_ratio}.")
    if num_stages < 1 or num_steps < 1:
        raise ValueError("int_sampler.num_stages and int_sampler.num_steps must be >= 1, got "
                         f"{num_stages} and {num_steps}.")
    stage_steps = num_steps / num_stages

    def ratio(step: jax.Array) -> jax.Array:
        stage = jnp.floor(jnp.asarray(step, jnp.float32) / stage_steps)
        return jnp.minimum(start_ratio + stage * (1.0 - start_ratio) / num_stages, 1.0)

    return ranked_pool_sampler("dense", top_fraction=ratio, top_share=constant(1.0))
