"""Tasks: a dataset + a field + a per-sample loss."""

from softmining_jax.tasks.base import Task
from softmining_jax.tasks.image_fitting import ImageFittingTask
from softmining_jax.tasks.nerf import NerfTask

__all__ = ["ImageFittingTask", "NerfTask", "Task"]
