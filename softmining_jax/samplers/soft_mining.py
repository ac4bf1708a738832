"""Soft mining: a persistent sample population moved by Langevin Monte Carlo.

A short composition (``../DESIGN.md`` section 2) of the moves in
:mod:`softmining_jax.samplers.moves`::

    langevin(step_size, concentration, max_drift)  # drift towards error, noise, leave -> restart
    -> view_hop(view_hop)                           # NeRF: continue on another view (optional)
    -> reseed(reinit_fraction, prior)               # lowest-error fraction restarts from a prior
    -> uniform_restart(uniform_fraction)            # a few restart uniformly

and a loss-weight schedule ``w = Q^-alpha_t`` (:class:`~softmining_jax.samplers.weights.
WeightSchedule`). Hard mining (``alpha = 0``) and importance sampling (``alpha = 1``) are the same
sampler with other weights. To change one behaviour, write a move and chain it: see
``docs/extending.md``.
"""

from __future__ import annotations

from softmining_jax.samplers import moves as moves_lib
from softmining_jax.samplers.base import Sampler
from softmining_jax.samplers.densities import (
    Density,
    dense_error_density,
    edge_density,
    uniform_density,
)
from softmining_jax.samplers.population import chain, population_sampler
from softmining_jax.samplers.weights import WeightSchedule

PRIORS = ("edge", "uniform", "error_map")


def prior_density(prior: str) -> Density:
    """The density named ``prior``: ``"edge"`` (the domain's prior, e.g. Sobel edges),
    ``"uniform"``, or ``"error_map"`` (the per-pixel L1 error of the latest dense refresh; the
    edge prior until the first)."""
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}.")
    return {"edge": edge_density, "uniform": uniform_density,
            "error_map": dense_error_density}[prior]()


def soft_mining_sampler(
    step_size: float = 2.0,
    concentration: float = 2.0,
    max_drift: float | None = 8.0,
    reinit_fraction: float = 0.5,
    uniform_fraction: float = 0.1,
    view_hop: float = 0.0,
    prior: str = "edge",
    weights: WeightSchedule | None = None,
) -> Sampler:
    """The Langevin soft-mining sampler.

    Args:
      step_size: Langevin step ``eps`` in pixels^2 (noise std ``sqrt(2 eps)`` pixels; also the
        noise of a view hop's landing).
      concentration: ``beta``; the stationary density is proportional to ``err^beta``.
      max_drift: trust region: the drift vector is clipped to this length in pixels (None: off).
      reinit_fraction: the lowest-error fraction that restarts from the prior each step.
      uniform_fraction: each sample independently restarts uniformly with this probability.
      view_hop: on the views of a 3-D scene, each chain hops with this probability
        to another view, at the pixel that sees the point its ray rendered (0: never).
      prior: where restarts are drawn: ``"edge"``, ``"uniform"`` or ``"error_map"`` (a dense
        error map; the train loop refreshes it, see :class:`softmining_jax.hooks.DenseRefresh`).
      weights: the loss-weight schedule (default: ``WeightSchedule()``, alpha 0.6).
    """
    moves = [moves_lib.langevin(step_size, concentration, max_drift)]
    if view_hop > 0:
        moves.append(moves_lib.view_hop(view_hop, step_size))
    moves += [moves_lib.reseed(reinit_fraction, prior_density(prior)),
              moves_lib.uniform_restart(uniform_fraction)]
    return population_sampler(chain(*moves), weights if weights is not None else WeightSchedule())


def hard_mining_sampler(**kwargs) -> Sampler:
    """Soft mining with ``alpha = 0``: all loss weights equal (pure mining, biased)."""
    return soft_mining_sampler(weights=WeightSchedule(alpha=0.0), **kwargs)


def importance_sampler(**kwargs) -> Sampler:
    """Soft mining with ``alpha = 1`` (importance sampling), weights unclamped."""
    return soft_mining_sampler(weights=WeightSchedule(alpha=1.0, clamp_std=None), **kwargs)
