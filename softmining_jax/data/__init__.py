"""Data: image loading and ground-truth targets."""

from softmining_jax.data.images import load_image
from softmining_jax.data.targets import ImageTargets

__all__ = ["ImageTargets", "load_image"]
