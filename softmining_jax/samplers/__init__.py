"""Pure-functional samplers: state pytrees and init/sample/loss_weights/update functions.

Other data-selection methods of the literature (INT, EVOS, Expansive Supervision, online
hard-sample mining) are in :mod:`~softmining_jax.samplers.int_teaching`, ``evos``,
``expansive`` and ``hsm``. Mining samplers are chains of small moves over a persistent population
(:mod:`softmining_jax.samplers.population`, :mod:`softmining_jax.samplers.moves`); new ideas
start in :mod:`softmining_jax.samplers.contrib`.
"""

from softmining_jax.samplers.base import Feedback, Sampler, Samples, for_run
from softmining_jax.samplers.densities import (
    Density,
    dense_error_density,
    edge_density,
    feedback_error_density,
    uniform_density,
)
from softmining_jax.samplers.domain import Domain, ViewCameras
from softmining_jax.samplers.error_map import error_map_sampler
from softmining_jax.samplers.evos import evos_sampler
from softmining_jax.samplers.expansive import expansive_sampler
from softmining_jax.samplers.hsm import hsm_sampler
from softmining_jax.samplers.int_teaching import int_sampler
from softmining_jax.samplers.moves import langevin, reseed, uniform_restart, view_hop
from softmining_jax.samplers.official import official_sampler
from softmining_jax.samplers.population import (
    Move,
    MoveInputs,
    Population,
    PopulationState,
    chain,
    population_sampler,
)
from softmining_jax.samplers.priors import sobel_prior
from softmining_jax.samplers.soft_mining import (
    hard_mining_sampler,
    importance_sampler,
    soft_mining_sampler,
)
from softmining_jax.samplers.uniform import UniformState, sample_uniform, uniform_sampler
from softmining_jax.samplers.weights import WeightSchedule, official_weight_schedule

__all__ = [
    "Density",
    "Domain",
    "Feedback",
    "Move",
    "MoveInputs",
    "Population",
    "PopulationState",
    "Sampler",
    "Samples",
    "UniformState",
    "ViewCameras",
    "WeightSchedule",
    "chain",
    "dense_error_density",
    "edge_density",
    "error_map_sampler",
    "evos_sampler",
    "expansive_sampler",
    "feedback_error_density",
    "for_run",
    "hard_mining_sampler",
    "hsm_sampler",
    "importance_sampler",
    "int_sampler",
    "langevin",
    "official_sampler",
    "official_weight_schedule",
    "population_sampler",
    "reseed",
    "sample_uniform",
    "soft_mining_sampler",
    "sobel_prior",
    "uniform_density",
    "uniform_restart",
    "uniform_sampler",
    "view_hop",
]
