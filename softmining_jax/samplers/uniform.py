"""Uniform sampling: fresh positions every step over all pixels of all images."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from softmining_jax.samplers.base import Feedback, Sampler, Samples
from softmining_jax.samplers.domain import Domain


@struct.dataclass
class UniformState:
    """Attributes: ``step`` (scalar int32); ``sizes`` and ``num_samples`` (static)."""

    step: jax.Array
    sizes: tuple[tuple[int, int], ...] = struct.field(pytree_node=False)
    num_samples: int = struct.field(pytree_node=False)


def uniform_positions(
    sizes: tuple[tuple[int, int], ...],
    u: jax.Array,
    image_ids: jax.Array | None = None,
) -> Samples:
    """Map ``(num, 3)`` uniforms in ``[0, 1)`` to positions uniform over all pixels.

    Column 0 picks the image (in proportion to its area; unused when ``image_ids`` is given or
    there is one image), columns 1 and 2 the position inside it. Taking the uniforms as an argument
    lets a sampler draw all of a step's random numbers at once (on the CPU each separate draw costs
    a fixed ~0.1 ms, far more than the numbers themselves).

    Returns:
      :class:`Samples` in pixel coordinates, inside ``[0, W) x [0, H)``.
    """
    num = u.shape[0]
    hw = jnp.asarray(sizes, jnp.float32)
    if image_ids is None:
        if len(sizes) == 1:
            image_ids = jnp.zeros((num,), jnp.int32)
        else:
            areas = hw[:, 0] * hw[:, 1]
            cdf = jnp.cumsum(areas) / jnp.sum(areas)
            image_ids = jnp.searchsorted(cdf, u[:, 0], side="right", method="compare_all")
            image_ids = jnp.minimum(image_ids.astype(jnp.int32), len(sizes) - 1)
    size = hw[image_ids]
    positions = jnp.stack([u[:, 1] * size[:, 1], u[:, 2] * size[:, 0]], axis=-1)
    return Samples(positions=positions, image_ids=image_ids.astype(jnp.int32))


def sample_uniform(
    sizes: tuple[tuple[int, int], ...],
    key: jax.Array,
    num: int,
    image_ids: jax.Array | None = None,
) -> Samples:
    """``num`` positions uniform over all pixels (images drawn in proportion to their area).

    If ``image_ids`` (``(num,)`` int32) is given, each sample is uniform over its own image.
    Returns :class:`Samples` in pixel coordinates, inside ``[0, W) x [0, H)``.
    """
    return uniform_positions(sizes, jax.random.uniform(key, (num, 3)), image_ids)


def uniform_sampler(snap_to_pixel_centres: bool = False) -> Sampler:
    """The baseline: i.i.d. uniform positions every step, all loss weights 1.

    Args:
      snap_to_pixel_centres: draw whole pixels (positions at their centres, the usual NeRF
        baseline) instead of continuous positions with bilinearly interpolated targets.
    """

    def init(key: jax.Array, domain: Domain, num_samples: int) -> UniformState:
        del key
        _check_num_samples(num_samples)
        return UniformState(step=jnp.zeros((), jnp.int32), sizes=domain.sizes,
                            num_samples=int(num_samples))

    def sample(state: UniformState, key: jax.Array) -> Samples:
        samples = sample_uniform(state.sizes, key, state.num_samples)
        if snap_to_pixel_centres:
            samples = samples._replace(positions=jnp.floor(samples.positions) + 0.5)
        return samples

    def loss_weights(state: UniformState, l1: jax.Array) -> jax.Array:
        del state
        return jnp.ones(jnp.shape(l1), jnp.float32)

    def update(state: UniformState, feedback: Feedback, key: jax.Array) -> UniformState:
        del feedback, key
        return state.replace(step=state.step + 1)

    return Sampler(init=init, sample=sample, loss_weights=loss_weights, update=update)


def _check_num_samples(num_samples: int) -> None:
    if int(num_samples) < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples}.")
