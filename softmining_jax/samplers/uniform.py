"""Uniform sampling: fresh positions every step over all pixels of all images."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from softmining_jax.samplers.base import Feedback, Sampler, Samples
from softmining_jax.samplers.domain import Domain
from softmining_jax.samplers.weights import check_loss_scale, loss_scale_at


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


def uniform_sampler(
    loss_scale: float = 1.0,
    loss_scale_warmup_steps: int = 0,
) -> Sampler:
    """The baseline: i.i.d. uniform positions every step, all loss weights 1.

    Positions are continuous; a task whose target rule is ``"pixel_centres"`` (the default of
    every shipped task) trains each at the centre of its pixel, so uniform then draws whole
    pixels.

    Args:
      loss_scale: a control, not a sampler feature: every loss weight is
        ``loss_scale ** min(step / loss_scale_warmup_steps, 1)`` (the same for all samples), a
        geometric ramp from 1 to ``loss_scale``. Soft mining's unnormalised weights ``Q^-alpha_t``
        grow like this while ``alpha_t`` warms up (their batch mean goes from about 1 to about 20
        on chair), and Adam's second moment lags such a rise, so its steps are briefly larger;
        this gives the baseline the same transient. With no warm-up a constant scale, which Adam
        all but ignores.
      loss_scale_warmup_steps: the ramp's length in steps (0: ``loss_scale`` from the start).
    """
    check_loss_scale(loss_scale, loss_scale_warmup_steps)

    def init(key: jax.Array, domain: Domain, num_samples: int) -> UniformState:
        del key
        check_num_samples(num_samples)
        return UniformState(step=jnp.zeros((), jnp.int32), sizes=domain.sizes,
                            num_samples=int(num_samples))

    def sample(state: UniformState, key: jax.Array) -> Samples:
        return sample_uniform(state.sizes, key, state.num_samples)

    def loss_weights(state: UniformState, l1: jax.Array) -> jax.Array:
        scale = loss_scale_at(loss_scale, loss_scale_warmup_steps, state.step)
        return jnp.full(jnp.shape(l1), scale, jnp.float32)

    def update(state: UniformState, feedback: Feedback, key: jax.Array) -> UniformState:
        del feedback, key
        return state.replace(step=state.step + 1)

    return Sampler(init=init, sample=sample, loss_weights=loss_weights, update=update)


def check_num_samples(num_samples: int) -> None:
    if int(num_samples) < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples}.")
