"""The sampling domain: a set of images, given by their sizes, an optional prior density and,
for the views of a 3-D scene, optional pinhole cameras."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class ViewCameras:
    """Pinhole cameras of a domain's images (the training views of a scene).

    Attributes:
      c2w: ``(M, 3, 4)`` float32 camera-to-world matrices ``[R | t]``, OpenGL convention (see
        :func:`softmining_jax.render.cameras.pixel_rays`), world units.
      focal: focal length in pixels (shared by all views).
    """

    c2w: np.ndarray
    focal: float

    def __post_init__(self):
        c2w = np.asarray(self.c2w, dtype=np.float32)
        if c2w.ndim != 3 or c2w.shape[1:] != (3, 4):
            raise ValueError(f"ViewCameras.c2w must have shape (M, 3, 4), got {c2w.shape}.")
        if not np.all(np.isfinite(c2w)):
            raise ValueError("ViewCameras.c2w must be finite.")
        if not (np.isfinite(self.focal) and self.focal > 0):
            raise ValueError(f"ViewCameras.focal must be a positive pixel count, got {self.focal}.")
        object.__setattr__(self, "c2w", c2w)
        object.__setattr__(self, "focal", float(self.focal))

    def project(self, points: jax.Array, views: jax.Array, sizes: Sequence[tuple[int, int]]
                ) -> tuple[jax.Array, jax.Array]:
        """Pixel positions of world points in given views (the inverse of casting a ray through
        a pixel: the camera looks down ``-z``, ``+y`` up; pixel ``(x, y)`` has the camera-space
        direction ``((x - W/2) / f, -(y - H/2) / f, -1)``).

        Args:
          points: ``(N, 3)`` world points.
          views: ``(N,)`` int32 view of each point.
          sizes: static ``(H, W)`` of every view.

        Returns:
          ``positions (N, 2)`` continuous pixel coordinates ``(x, y)`` and ``visible (N,)`` bool:
          the point is finite, in front of the camera and inside ``[0, W] x [0, H]``. Occlusion
          is not tested.
        """
        c2w = jnp.asarray(self.c2w)[views]
        hw = jnp.asarray(sizes, jnp.float32)[views]
        height, width = hw[:, 0], hw[:, 1]
        cam = jnp.einsum("nji,nj->ni", c2w[:, :3, :3], points - c2w[:, :3, 3])  # R^T (p - t)
        depth = -cam[:, 2]
        safe = jnp.where(depth > 1e-6, depth, 1.0)
        x = 0.5 * width + self.focal * cam[:, 0] / safe
        y = 0.5 * height - self.focal * cam[:, 1] / safe
        positions = jnp.stack([x, y], axis=-1)
        visible = ((depth > 1e-6) & jnp.all(jnp.isfinite(positions), axis=-1)
                   & (x >= 0.0) & (x <= width) & (y >= 0.0) & (y <= height))
        return positions, visible


@dataclasses.dataclass(frozen=True, eq=False)
class Domain:
    """A set of one or more images to sample pixel positions from.

    Attributes:
      sizes: ``((H_0, W_0), (H_1, W_1), ...)`` image sizes in pixels.
      priors: optional per-image non-negative prior weights, each a ``(H_m, W_m)`` array (e.g. the
        Sobel edge magnitude, see :func:`softmining_jax.samplers.priors.sobel_prior`). ``None``
        means a uniform prior.
      cameras: optional :class:`ViewCameras`, one per image (a scene's training views): lets a
        sampler move a sample to another view that sees the same 3-D point.
    """

    sizes: tuple[tuple[int, int], ...]
    priors: tuple[np.ndarray, ...] | None = None
    cameras: ViewCameras | None = None

    def __post_init__(self):
        sizes = tuple((int(h), int(w)) for h, w in self.sizes)
        if not sizes:
            raise ValueError("Domain needs at least one image; got sizes=().")
        for m, (h, w) in enumerate(sizes):
            if h < 1 or w < 1:
                raise ValueError(f"Domain image {m} has invalid size (H, W)=({h}, {w}).")
        object.__setattr__(self, "sizes", sizes)
        if self.priors is not None:
            priors = tuple(np.asarray(p, dtype=np.float32) for p in self.priors)
            if len(priors) != len(sizes):
                raise ValueError(
                    f"Domain has {len(sizes)} images but {len(priors)} priors were given."
                )
            for m, (p, size) in enumerate(zip(priors, sizes, strict=True)):
                if p.shape != size:
                    raise ValueError(
                        f"Prior of image {m} has shape {p.shape}, expected (H, W)={size}."
                    )
                if not np.all(np.isfinite(p)) or np.any(p < 0):
                    raise ValueError(f"Prior of image {m} must be finite and non-negative.")
            object.__setattr__(self, "priors", priors)
        if self.cameras is not None and len(self.cameras.c2w) != len(sizes):
            raise ValueError(f"Domain has {len(sizes)} images but {len(self.cameras.c2w)} "
                             "cameras were given.")

    @property
    def num_images(self) -> int:
        return len(self.sizes)

    @property
    def num_pixels(self) -> int:
        return int(sum(h * w for h, w in self.sizes))

    @classmethod
    def from_sizes(cls, sizes: Sequence[tuple[int, int]]) -> Domain:
        """A domain with a uniform prior."""
        return cls(sizes=tuple(sizes))

    @classmethod
    def from_images(cls, images: Sequence[np.ndarray], edge_prior: bool = True,
                    cameras: ViewCameras | None = None, edge_power: float = 1.0) -> Domain:
        """A domain over ``images`` (each ``(H, W)`` or ``(H, W, C)``, any dtype).

        With ``edge_prior`` the prior is the Sobel edge magnitude of each image raised to
        ``edge_power`` (:func:`~softmining_jax.samplers.priors.sobel_prior`); ``cameras`` are the
        images' views.
        """
        from softmining_jax.samplers.priors import check_edge_power, sobel_prior

        check_edge_power(edge_power)
        sizes = tuple(np.asarray(im).shape[:2] for im in images)
        priors = (tuple(sobel_prior(im, power=edge_power) for im in images) if edge_prior
                  else None)
        return cls(sizes=sizes, priors=priors, cameras=cameras)
