"""Where a task trains and evaluates: one rule per task, the same for every sampler.

* ``"pixel_centres"``: a sample at continuous position ``x`` of image ``m`` is trained at the
  centre of the pixel it lies in, against that pixel's colour, and evaluation renders every pixel
  centre. A sampler may keep continuous positions (a Langevin chain does): the train step snaps
  them with a straight-through gradient, so ``d err / d x`` is the gradient at the centre.
* ``"continuous"``: samples are trained at their sub-pixel positions against the bilinearly
  interpolated image, and evaluation does the same (random sub-pixel positions, fixed seed).

A run that trains by one rule and evaluates by the other compares a sampler with a baseline on
points neither was trained on; :func:`check_sampler_rule` refuses it.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

PIXEL_CENTRES = "pixel_centres"
CONTINUOUS = "continuous"
TARGET_RULES = (PIXEL_CENTRES, CONTINUOUS)


def check_target_rule(rule: str, name: str = "target_rule") -> str:
    """Return ``rule`` if it is one of :data:`TARGET_RULES`, else raise a ``ValueError`` naming
    the parameter ``name``."""
    if rule not in TARGET_RULES:
        raise ValueError(f"{name} must be one of {TARGET_RULES}, got {rule!r}.")
    return rule


def task_rule(task) -> str:
    """The rule of ``task`` (its ``target_rule`` attribute; a task without one is continuous:
    the train step passes the sampler's positions through unchanged)."""
    return check_target_rule(getattr(task, "target_rule", CONTINUOUS),
                             f"{type(task).__name__}.target_rule")


def check_sampler_rule(task, sampler) -> None:
    """Raise ``ValueError`` if ``sampler`` declares a rule (``Sampler.target_rule``) other than the
    task's: e.g. a preset that rounds positions to pixels on a task evaluated at sub-pixel
    positions."""
    wanted = getattr(sampler, "target_rule", None)
    if wanted is None:
        return
    have = task_rule(task)
    if wanted != have:
        raise ValueError(
            f"the sampler trains at {wanted} but the task {getattr(task, 'name', task)!r} trains "
            f"and evaluates at {have}: its numbers would not be comparable with a baseline's. "
            f"Use a task with target_rule={wanted!r} (e.g. image_fitting_task.target_rule = "
            f"{wanted!r}) or another sampler.")


def snap_to_pixel_centres(positions: jax.Array, image_ids: jax.Array,
                          sizes: Sequence[tuple[int, int]]) -> jax.Array:
    """Pixel-centre positions with a straight-through gradient.

    Args:
      positions: ``(N, 2)`` continuous pixel coordinates ``(x, y)`` in ``[0, W] x [0, H]``.
      image_ids: ``(N,)`` int32 image of each sample.
      sizes: static ``(H, W)`` of every image.

    Returns:
      ``(N, 2)`` the centres ``floor(x) + 0.5`` (clipped to the image's outermost centres), whose
      value is exactly the centre and whose derivative w.r.t. ``positions`` is the identity, so a
      gradient taken at the centre reaches the continuous position unchanged.
    """
    wh = jnp.asarray(sizes, jnp.float32)[image_ids][:, ::-1]
    centres = jnp.clip(jnp.floor(positions) + 0.5, 0.5, wh - 0.5)
    return jax.lax.stop_gradient(centres) + (positions - jax.lax.stop_gradient(positions))
