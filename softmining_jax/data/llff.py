"""LLFF forward-facing scenes: ``poses_bounds.npy`` + ``images_<factor>/``."""

from __future__ import annotations

import pathlib

import numpy as np

from softmining_jax.data.images import load_image
from softmining_jax.data.scenes import NerfScene, check_poses

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG")


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def average_pose(c2w: np.ndarray) -> np.ndarray:
    """``(3, 4)`` mean camera: mean position, mean viewing axis, mean up vector."""
    centre = c2w[:, :, 3].mean(0)
    z = _normalize(c2w[:, :, 2].sum(0))
    up = c2w[:, :, 1].sum(0)
    x = _normalize(np.cross(up, z))
    y = np.cross(z, x)
    return np.stack([x, y, z, centre], axis=1)


def load_llff(
    root: str | pathlib.Path,
    factor: int = 4,
    holdout: int = 8,
    max_train_images: int | None = None,
) -> NerfScene:
    """Load an LLFF scene with the standard protocol.

    ``poses_bounds.npy`` (``N x 17``: a ``3 x 5`` pose ``[R | t | (h, w, f)]`` in LLFF's
    ``[down, right, back]`` axes and two depth bounds per image) is converted to OpenGL axes,
    rescaled so the nearest bound is at 1/0.75, recentred on the average pose, and rendered in NDC.
    Every ``holdout``-th image (0, 8, 16, ...) is the test set.

    Args:
      root: scene folder. factor: use ``images_<factor>/`` (focal scaled accordingly).
      holdout: test split stride. max_train_images: keep at most this many training views.
    """
    root = pathlib.Path(root)
    path = root / "poses_bounds.npy"
    if not path.is_file():
        raise FileNotFoundError(f"LLFF file not found: {path}")
    try:
        arr = np.load(path)
    except (ValueError, OSError) as e:
        raise ValueError(f"{path}: cannot read ({e}).") from e
    if arr.ndim != 2 or arr.shape[1] != 17:
        raise ValueError(f"{path}: expected shape (N, 17), got {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{path}: contains non-finite values.")
    folder = root / (f"images_{factor}" if factor > 1 else "images")
    if not folder.is_dir():
        raise FileNotFoundError(f"LLFF image folder not found: {folder}")
    files = sorted(f for f in folder.iterdir() if f.suffix in _IMAGE_SUFFIXES)
    if len(files) != len(arr):
        raise ValueError(f"{folder}: {len(files)} images but {path} has {len(arr)} poses.")
    poses = arr[:, :15].reshape(-1, 3, 5)
    bounds = arr[:, 15:17]
    if np.any(bounds <= 0):
        raise ValueError(f"{path}: depth bounds must be positive.")
    images = [load_image(f)[..., :3] for f in files]
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise ValueError(f"{folder}: images have different sizes {sorted(shapes)}.")
    height, width = images[0].shape[:2]
    focal = float(poses[0, 2, 4]) * width / float(poses[0, 1, 4])
    c2w = np.concatenate([poses[:, :, 1:2], -poses[:, :, 0:1], poses[:, :, 2:4]], axis=2)
    c2w = check_poses(c2w, path).astype(np.float64)
    scale = 1.0 / (bounds.min() * 0.75)
    c2w[:, :, 3] *= scale
    avg = np.concatenate([average_pose(c2w), [[0, 0, 0, 1]]], 0)
    bottom = np.broadcast_to([0, 0, 0, 1.0], (len(c2w), 1, 4))
    c2w = (np.linalg.inv(avg) @ np.concatenate([c2w, bottom], 1))[:, :3]
    c2w = c2w.astype(np.float32)
    test_idx = np.arange(0, len(images), holdout)
    train_idx = np.setdiff1d(np.arange(len(images)), test_idx)
    if max_train_images is not None:
        train_idx = train_idx[:: max(1, len(train_idx) // max_train_images)][:max_train_images]
    stack = np.stack(images).astype(np.uint8)
    return NerfScene(
        train_images=stack[train_idx], train_c2w=c2w[train_idx], test_images=stack[test_idx],
        test_c2w=c2w[test_idx], focal=focal, width=width, height=height, near=0.0, far=1.0,
        ndc=True, background=(0.0, 0.0, 0.0), aabb=(-1.5, -1.5, -1.0, 1.5, 1.5, 1.0),
        name=root.name,
    )
