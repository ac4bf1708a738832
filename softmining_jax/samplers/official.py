"""The behaviour of the authors' PyTorch code (ubc-vision/nf-soft-mining), as a baseline to beat.

Built from moves that reproduce what their ``examples/datasets/lmc.py`` and
``examples/train_ngp_nerf_prop.py`` do, which differs from our Langevin sampler:

* :func:`authors_langevin`: ``a`` and ``b`` act on ``[0, 1]``-normalised positions
  (pixel index / (size - 1)) while the gradient stays in pixel units, and the gradient is that of
  the batch-mean loss (an extra ``1/N``); no trust region. So the drift is tiny next to the noise.
* :func:`index_block_restart`: the uniform re-seed always hits the last ``fraction * N`` samples.
* each sample is bound to its image for life; the lowest-loss 10% restart on Sobel edges;
  positions are rounded to pixels (``target_rule = "pixel_centres"``);
* loss weights ``(1/clip(Q, 2^-10))^min(step/1000, alpha)`` clamped to ``[0.2, mean + std]``
  (:func:`~softmining_jax.samplers.weights.official_weight_schedule`).

Their code changed on 2025-12-01 (commit ce17cb1, "fix grad update"): the position gradient is
now divided by the weighted per-pixel loss ``w * err`` (the drift is ``a grad log err / N``);
before, the per-pixel loss had already been multiplied by the weight in place and was multiplied
by it again (the drift was ``a grad log err / (N w)``). ``version`` picks either.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from softmining_jax.samplers.base import Sampler
from softmining_jax.samplers.densities import edge_density
from softmining_jax.samplers.moves import reseed
from softmining_jax.samplers.moves.langevin import ERR_FLOOR, grad_log_error, standard_normal
from softmining_jax.samplers.population import (
    Move,
    MoveInputs,
    Population,
    chain,
    check_fraction,
    outside,
    population_sampler,
)
from softmining_jax.samplers.uniform import uniform_positions
from softmining_jax.samplers.weights import WeightSchedule, official_weight_schedule

VERSIONS = ("2024", "2025")


def authors_langevin(a: float, b: float, weights: WeightSchedule | None = None) -> Move:
    """``x <- x + a * grad log err / N + b * noise`` on normalised positions (``weights``: divide
    the drift by the sample's loss weight too, as the code before 2025-12-01 did)."""
    if not b >= 0:
        raise ValueError(f"b must be >= 0, got {b}.")

    def update(state, pop: Population, inputs: MoveInputs, key: jax.Array):
        n = pop.positions.shape[0]
        grad_log = grad_log_error(inputs)
        if weights is not None:  # the weights are a function of (Q, step): recomputed here
            w = weights(jnp.asarray(inputs.feedback.l1, jnp.float32), inputs.step)
            grad_log = grad_log / jnp.maximum(w, ERR_FLOOR)[:, None]
        wh = jnp.asarray(inputs.sizes, jnp.float32)[pop.image_ids][:, ::-1]
        scale = jnp.maximum(wh - 1.0, 1.0)  # pixels per normalised unit
        noise = b * scale * standard_normal(key, pop.positions.shape)
        moved = pop.positions + (a / n) * scale * grad_log + noise
        restart = pop.restart | outside(moved, pop.image_ids, inputs.sizes)
        return state, pop._replace(positions=moved, restart=restart)

    return Move(init=lambda domain, num_samples: (), update=update)


def index_block_restart(fraction: float = 0.1) -> Move:
    """The last ``round(fraction * N)`` samples restart uniformly on their own image every step.
    Their restart flags stay: the authors re-seed a sample on edges after this if it left its
    image or had a low loss."""
    check_fraction("uniform_fraction", fraction)

    def update(state, pop: Population, inputs: MoveInputs, key: jax.Array):
        n = pop.image_ids.shape[0]
        block = jnp.arange(n) >= n - int(round(fraction * n))
        fresh = uniform_positions(inputs.sizes, jax.random.uniform(key, (n, 3)), pop.image_ids)
        return state, pop._replace(positions=jnp.where(block[:, None], fresh.positions,
                                                       pop.positions))

    return Move(init=lambda domain, num_samples: (), update=update)


def official_sampler(alpha: float = 0.6, a: float = 20.0, b: float = 2e-2,
                     version: str = "2025") -> Sampler:
    """The authors' sampler (see the module docstring).

    Args:
      alpha: the final weight exponent (their 0.6 for Blender scenes, 0.8 for LLFF).
      a, b: drift and noise coefficients on normalised positions.
      version: ``"2025"``: their code since commit ce17cb1; ``"2024"``: the code before it.
    """
    if version not in VERSIONS:
        raise ValueError(f"official_sampler.version must be one of {VERSIONS}, got {version!r}.")
    weights = official_weight_schedule(alpha)
    move = chain(authors_langevin(a, b, weights if version == "2024" else None),
                 index_block_restart(0.1), reseed(0.1, edge_density(), keep_image=True))
    return population_sampler(move, weights, bind_images=True, target_rule="pixel_centres")
