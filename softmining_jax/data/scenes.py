"""Posed multi-view scenes for NeRF: the container and shared validation."""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class NerfScene:
    """Training and test views of one scene.

    Attributes:
      train_images, test_images: ``(M, H, W, 3)`` uint8, already composited on ``background``.
      train_c2w, test_c2w: ``(M, 3, 4)`` float32 camera-to-world ``[R | t]`` (OpenGL convention:
        camera looks down ``-z``, ``+y`` up).
      focal: focal length in pixels. width, height: image size in pixels.
      near, far: ray interval (world units; in NDC for ``ndc=True``: 0 and 1).
      ndc: forward-facing scene rendered in normalised device coordinates.
      background: ``(3,)`` background colour in ``[0, 1]``.
      aabb: ``(xmin, ymin, zmin, xmax, ymax, zmax)`` of the region the field covers.
      name: label.
    """

    train_images: np.ndarray
    train_c2w: np.ndarray
    test_images: np.ndarray
    test_c2w: np.ndarray
    focal: float
    width: int
    height: int
    near: float
    far: float
    ndc: bool
    background: tuple[float, float, float]
    aabb: tuple[float, ...]
    name: str

    def __post_init__(self):
        for split in ("train", "test"):
            images, c2w = getattr(self, f"{split}_images"), getattr(self, f"{split}_c2w")
            if len(images) == 0:
                raise ValueError(f"Scene {self.name!r} has no {split} images.")
            if images.shape[1:] != (self.height, self.width, 3) or images.dtype != np.uint8:
                raise ValueError(f"Scene {self.name!r}: {split} images have shape {images.shape} "
                                 f"({images.dtype}), expected (M, {self.height}, {self.width}, 3) "
                                 "uint8.")
            if c2w.shape != (len(images), 3, 4):
                raise ValueError(f"Scene {self.name!r}: {split} poses have shape {c2w.shape}, "
                                 f"expected ({len(images)}, 3, 4).")
        if not (np.isfinite(self.focal) and self.focal > 0):
            raise ValueError(f"Scene {self.name!r}: focal length must be positive, got "
                             f"{self.focal}.")


def check_poses(c2w: np.ndarray, source: str | pathlib.Path, tol: float = 1e-3) -> np.ndarray:
    """Validate ``(M, 3, 4)`` camera-to-world matrices: finite and rigid (orthonormal rotation
    with determinant +1). Returns them as float32; raises ValueError naming ``source``."""
    c2w = np.asarray(c2w, np.float64)
    if c2w.ndim != 3 or c2w.shape[1:] not in ((3, 4), (4, 4)):
        raise ValueError(f"{source}: poses must be (N, 3, 4) or (N, 4, 4), got {c2w.shape}.")
    c2w = c2w[:, :3, :4]
    bad = np.nonzero(~np.all(np.isfinite(c2w), axis=(1, 2)))[0]
    if len(bad):
        raise ValueError(f"{source}: pose {int(bad[0])} has non-finite entries.")
    rot = c2w[:, :, :3]
    err = np.abs(np.einsum("nji,njk->nik", rot, rot) - np.eye(3)).max(axis=(1, 2))
    det = np.linalg.det(rot)
    bad = np.nonzero((err > tol) | (np.abs(det - 1.0) > tol))[0]
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"{source}: pose {i} is not a rigid transform (rotation not orthonormal "
                         f"or det != 1: |R^T R - I| = {err[i]:.3g}, det = {det[i]:.4g}).")
    return c2w.astype(np.float32)
