"""Tasks: a dataset + a field + a per-sample loss."""

from softmining_jax.tasks.base import Task
from softmining_jax.tasks.image_fitting import ImageFittingTask

__all__ = ["ImageFittingTask", "Task"]
