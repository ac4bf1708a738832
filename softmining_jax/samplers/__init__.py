"""Pure-functional samplers: state pytrees and init/sample/loss_weights/update functions."""

from softmining_jax.samplers.base import Feedback, Sampler, Samples
from softmining_jax.samplers.domain import Domain, ViewCameras
from softmining_jax.samplers.error_map import ErrorMapState, error_map_sampler
from softmining_jax.samplers.priors import sobel_prior
from softmining_jax.samplers.soft_mining import (
    HopCloneState,
    OcclusionHopState,
    SoftMiningState,
    ViewHopState,
    hard_mining_sampler,
    importance_sampler,
    official_sampler,
    soft_mining_sampler,
)
from softmining_jax.samplers.uniform import UniformState, sample_uniform, uniform_sampler
from softmining_jax.samplers.weights import WeightSchedule, official_weight_schedule

__all__ = [
    "Domain",
    "ErrorMapState",
    "Feedback",
    "HopCloneState",
    "OcclusionHopState",
    "Sampler",
    "Samples",
    "SoftMiningState",
    "UniformState",
    "ViewCameras",
    "ViewHopState",
    "WeightSchedule",
    "error_map_sampler",
    "hard_mining_sampler",
    "importance_sampler",
    "official_sampler",
    "official_weight_schedule",
    "sample_uniform",
    "soft_mining_sampler",
    "sobel_prior",
    "uniform_sampler",
]
