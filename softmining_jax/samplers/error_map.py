"""Error-map sampling: every step, every sample is drawn anew from a map of the error.

A composition of :func:`~softmining_jax.samplers.moves.reseed` with ``fraction = 1`` (all
samples) and :func:`~softmining_jax.samplers.moves.uniform_restart` (a ``uniform_fraction`` of
every batch is uniform so no region is ever starved), with soft-mining loss weights. The map is

* ``source="dense"``: the per-pixel L1 error of the whole image(s), rendered by the train loop at
  every dense refresh (:class:`softmining_jax.hooks.DenseRefresh`; uniform until the first: a map
  of the untrained field means nothing), the paper's exact "multinomial" reference; or
* ``source="feedback"``: instant-ngp's grid of ``cell_size``-pixel cells updated from the
  training samples' errors (an exponential moving average), cheap but stale; or
* ``source="dense+feedback"``: both: every dense refresh replaces the map, and between refreshes
  each training sample writes its error into its cell (``ema`` 1: the latest observation), so
  the pixels being trained, whose error changes fastest, stay fresh while refreshes are rare.

With ``alpha = 1`` and ``uniform_fraction = 0`` the weighted loss is an importance-sampling
estimate of the uniform mean.
"""

from __future__ import annotations

from softmining_jax.samplers.base import Sampler
from softmining_jax.samplers.densities import dense_error_density, feedback_error_density
from softmining_jax.samplers.moves import reseed, uniform_restart
from softmining_jax.samplers.population import chain, population_sampler
from softmining_jax.samplers.weights import WeightSchedule


def error_map_sampler(
    source: str = "dense",
    uniform_fraction: float = 0.1,
    cell_size: int = 16,
    ema: float = 0.1,
    rebuild_interval: int = 16,
    rebuild_fraction: float | None = None,
    weights: WeightSchedule | None = None,
) -> Sampler:
    """Multinomial sampling proportional to an error map.

    Args:
      source: ``"dense"``, ``"feedback"`` or ``"dense+feedback"`` (see the module docstring).
      uniform_fraction: share of each batch drawn uniformly.
      cell_size, ema, rebuild_interval, rebuild_fraction: the feedback map's cell edge in
        pixels, the weight of a new observation in a cell's moving average, and the steps
        between rebuilds of its sampling table, or the observations per cell between them (see
        :func:`~softmining_jax.samplers.densities.feedback_error_density`).
      weights: loss-weight schedule (default ``WeightSchedule()``, alpha 0.6).
    """
    if source == "dense":
        density = dense_error_density(initial="uniform")
    elif source == "feedback":
        density = feedback_error_density(cell_size, ema, rebuild_interval,
                                         rebuild_fraction=rebuild_fraction)
    elif source == "dense+feedback":
        density = feedback_error_density(cell_size, ema, rebuild_interval, refreshable=True,
                                         rebuild_fraction=rebuild_fraction)
    else:
        raise ValueError("error_map_sampler.source must be 'dense', 'feedback' or "
                         f"'dense+feedback', got {source!r}.")
    move = chain(reseed(1.0, density), uniform_restart(uniform_fraction))
    return population_sampler(move, weights if weights is not None else WeightSchedule())
