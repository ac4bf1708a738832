"""Online hard-sample mining: two forward passes, one backward on the hard samples only.

Korhonen et al., "Efficient NeRF Optimization - Not All Samples Remain Equally Hard" (ECCV 2024,
HSM-NeRF). Their step: draw a batch, run it forward in inference mode (cheap: no graph), take the
norm of the loss gradient with respect to each sample's network output as its importance, draw a
smaller "hard" batch by importance sampling, and build the graph and back-propagate only that.

What fits our contract (a sampler chooses pixels, never the points along a ray):

* the importance of a pixel is the norm of ``d err / d f`` for ``err = mean_c (f - y)^2``, i.e.
  ``2 ||f - y|| / C``, proportional to ``sqrt(err)``;
* ``K = round(hard_fraction * N)`` pixels are drawn with replacement with probability
  ``p_i`` proportional to it (a floor of ``1e-3`` of the mean keeps every ``p_i`` positive),
  weighted ``1 / (N p_i)`` so the loss is an unbiased estimate of the batch mean;
* the step (:func:`softmining_jax.step.make_train_step`) runs the first pass without gradients
  and back-propagates the ``K`` chosen pixels only, so the backward pass costs ``K / N`` of
  uniform's, while the forward costs ``1 + K / N``.

What does not fit: the paper mines the *points along rays* of Instant-NGP's occupancy-grid
sampler (a ray is kept whole here), and its hard batch size changes during training (ours is
fixed, as shapes inside jit must be).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from softmining_jax.samplers.base import Sampler
from softmining_jax.samplers.population import check_fraction
from softmining_jax.samplers.uniform import uniform_sampler


def hsm_sampler(hard_fraction: float = 0.5) -> Sampler:
    """Uniform candidates, of which ``hard_fraction`` (by count, drawn by importance) are
    back-propagated; see the module docstring."""
    check_fraction("hsm_sampler.hard_fraction", hard_fraction)
    if hard_fraction <= 0.0:
        raise ValueError("hsm_sampler.hard_fraction must be > 0.")
    base = uniform_sampler()

    def select(state, errors: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        n = errors.shape[0]
        k = max(1, int(round(hard_fraction * n)))
        importance = jnp.sqrt(jnp.maximum(jnp.where(jnp.isfinite(errors), errors, 0.0), 0.0))
        importance = jnp.maximum(importance, 1e-3 * jnp.mean(importance) + 1e-12)
        p = importance / jnp.sum(importance)
        # Inverse CDF: K uniforms and a binary search, not K x N Gumbel draws (categorical).
        cdf = jnp.cumsum(p)
        u = jax.random.uniform(key, (k,), dtype=cdf.dtype) * cdf[-1]
        chosen = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), n - 1)
        return chosen, 1.0 / (n * p[chosen])

    return base._replace(select=select)
