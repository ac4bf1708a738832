"""softmining_jax: soft mining for neural-field training in JAX/Flax.

The public API is what this module exports (``__all__``); everything else is internal and may
change. Sub-packages group it by concept: ``samplers`` (the sampler contract and samplers),
``fields`` (Flax fields and encodings), ``data`` (image loading and targets), ``tasks``,
``step`` (the training state and the jitted step), ``hooks`` (the loop's periodic work, the
dense refresh), ``train`` (the loop), ``parallel`` (data parallelism), ``metrics``.
"""

from softmining_jax.data import ImageTargets, load_image
from softmining_jax.fields import MLP, FourierEncoding, HashGridEncoding, ImageField
from softmining_jax.hooks import DenseRefresh
from softmining_jax.host_memory import reuse_freed_host_memory
from softmining_jax.metrics import psnr, ssim
from softmining_jax.optim import adam
from softmining_jax.samplers import (
    Domain,
    Feedback,
    Move,
    Population,
    Sampler,
    Samples,
    ViewCameras,
    WeightSchedule,
    chain,
    error_map_sampler,
    hard_mining_sampler,
    importance_sampler,
    official_sampler,
    official_weight_schedule,
    population_sampler,
    soft_mining_sampler,
    uniform_sampler,
)
from softmining_jax.step import TrainState, init_train_state, make_train_step
from softmining_jax.tasks import ImageFittingTask, Task
from softmining_jax.train import NonFiniteError, train_and_evaluate

__version__ = "0.2.0"

__all__ = [
    "MLP",
    "DenseRefresh",
    "Move",
    "Population",
    "Domain",
    "Feedback",
    "FourierEncoding",
    "HashGridEncoding",
    "ImageField",
    "ImageFittingTask",
    "ImageTargets",
    "NonFiniteError",
    "Sampler",
    "Samples",
    "Task",
    "TrainState",
    "ViewCameras",
    "WeightSchedule",
    "adam",
    "chain",
    "error_map_sampler",
    "hard_mining_sampler",
    "importance_sampler",
    "init_train_state",
    "load_image",
    "make_train_step",
    "official_sampler",
    "official_weight_schedule",
    "population_sampler",
    "psnr",
    "reuse_freed_host_memory",
    "soft_mining_sampler",
    "ssim",
    "train_and_evaluate",
    "uniform_sampler",
]
