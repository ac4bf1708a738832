"""Pinhole cameras (OpenGL convention) and NDC rays, differentiable in pixel position."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def pixel_rays(
    positions: jax.Array, c2w: jax.Array, focal: float, width: int, height: int
) -> tuple[jax.Array, jax.Array]:
    """Rays through continuous pixel positions.

    Camera convention (OpenGL / Blender): the camera looks down ``-z``, ``+y`` is up, ``+x`` right;
    pixel ``(x, y)`` (``y`` down the image, pixel centres at ``+0.5``) maps to the camera-space
    direction ``((x - W/2) / f, -(y - H/2) / f, -1)``.

    Args:
      positions: ``(N, 2)`` pixel coordinates ``(x, y)``.
      c2w: ``(N, 3, 4)`` camera-to-world matrices ``[R | t]``.
      focal: focal length in pixels.
      width, height: image size in pixels.

    Returns:
      ``origins (N, 3)`` and unnormalised ``directions (N, 3)`` (camera-space z component -1), in
      world units; both differentiable w.r.t. ``positions``.
    """
    x = (positions[:, 0] - 0.5 * width) / focal
    y = -(positions[:, 1] - 0.5 * height) / focal
    d_cam = jnp.stack([x, y, -jnp.ones_like(x)], axis=-1)
    directions = jnp.einsum("nij,nj->ni", c2w[:, :3, :3], d_cam)
    origins = c2w[:, :3, 3]
    return origins, directions


def ndc_rays(
    origins: jax.Array, directions: jax.Array, focal: float, width: int, height: int,
    near: float = 1.0,
) -> tuple[jax.Array, jax.Array]:
    """Map rays of a forward-facing scene to normalised device coordinates (NeRF, appendix C).

    Origins are first moved to the ``z = -near`` plane; in NDC the ray runs from ``t = 0`` (near
    plane) to ``t = 1`` (infinity).

    Returns ``(N, 3)`` NDC origins and directions.
    """
    t = -(near + origins[:, 2]) / directions[:, 2]
    o = origins + t[:, None] * directions
    ox, oy, oz = o[:, 0], o[:, 1], o[:, 2]
    dx, dy, dz = directions[:, 0], directions[:, 1], directions[:, 2]
    ax, ay = -2.0 * focal / width, -2.0 * focal / height
    o_ndc = jnp.stack([ax * ox / oz, ay * oy / oz, 1.0 + 2.0 * near / oz], axis=-1)
    d_ndc = jnp.stack([ax * (dx / dz - ox / oz), ay * (dy / dz - oy / oz), -2.0 * near / oz],
                      axis=-1)
    return o_ndc, d_ndc


def ndc_to_world(points: jax.Array, focal: float, width: int, height: int,
                 near: float = 1.0) -> jax.Array:
    """Inverse of the NDC map of :func:`ndc_rays` for points: ``(N, 3)`` NDC -> world.

    A point at NDC depth ``z' = 1`` (infinity) maps to non-finite coordinates.
    """
    ax, ay = -2.0 * focal / width, -2.0 * focal / height
    z = 2.0 * near / (points[:, 2] - 1.0)
    return jnp.stack([points[:, 0] * z / ax, points[:, 1] * z / ay, z], axis=-1)
