"""NeRF Synthetic (Blender) scenes: ``transforms_{split}.json`` + RGBA PNGs."""

from __future__ import annotations

import json
import pathlib

import numpy as np
from PIL import Image

from softmining_jax.data.images import load_image
from softmining_jax.data.scenes import NerfScene, check_poses


def _load_split(root: pathlib.Path, split: str, factor: int, background: np.ndarray,
                max_images: int | None):
    path = root / f"transforms_{split}.json"
    if not path.is_file():
        raise FileNotFoundError(f"Blender scene file not found: {path}")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e}).") from e
    for key in ("camera_angle_x", "frames"):
        if key not in meta:
            raise ValueError(f"{path}: missing key {key!r}.")
    frames = meta["frames"]
    if not isinstance(frames, list) or not frames:
        raise ValueError(f"{path}: 'frames' must be a non-empty list.")
    if max_images is not None:
        frames = frames[:: max(1, len(frames) // max_images)][:max_images]
    images, poses = [], []
    for i, frame in enumerate(frames):
        for key in ("file_path", "transform_matrix"):
            if key not in frame:
                raise ValueError(f"{path}: frame {i} is missing key {key!r}.")
        file = root / frame["file_path"]
        if not file.suffix:
            file = file.with_suffix(".png")
        rgba = load_image(file)
        if rgba.shape[-1] == 3:
            rgba = np.concatenate([rgba, np.full(rgba.shape[:2] + (1,), 255, np.uint8)], -1)
        if rgba.shape[-1] != 4:
            raise ValueError(f"{file}: expected an RGB or RGBA image, got {rgba.shape[-1]} "
                             "channels.")
        img = rgba.astype(np.float32) / 255.0
        rgb = img[..., :3] * img[..., 3:] + background * (1.0 - img[..., 3:])
        out = Image.fromarray(np.round(rgb * 255).astype(np.uint8))
        if factor > 1:
            out = out.resize((out.width // factor, out.height // factor), Image.Resampling.BOX)
        arr = np.asarray(out)
        if images and arr.shape != images[0].shape:
            raise ValueError(f"{file}: size {arr.shape[:2]} differs from the first image's "
                             f"{images[0].shape[:2]}.")
        images.append(arr)
        try:
            poses.append(np.asarray(frame["transform_matrix"], np.float64))
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: frame {i} has a malformed transform_matrix ({e}).") from e
    try:
        stacked = np.stack(poses)
    except ValueError as e:
        raise ValueError(f"{path}: transform matrices have inconsistent shapes ({e}).") from e
    c2w = check_poses(stacked, path)
    angle = float(meta["camera_angle_x"])
    if not 0.0 < angle < np.pi:
        raise ValueError(f"{path}: camera_angle_x must be in (0, pi) radians, got {angle}.")
    width = images[0].shape[1]
    focal = 0.5 * width / np.tan(0.5 * angle)
    return np.stack(images), c2w, focal


def load_blender(
    root: str | pathlib.Path,
    factor: int = 1,
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
    max_train_images: int | None = None,
    max_test_images: int | None = None,
    near: float = 2.0,
    far: float = 6.0,
    aabb: tuple[float, ...] = (-1.5, -1.5, -1.5, 1.5, 1.5, 1.5),
) -> NerfScene:
    """Load a NeRF Synthetic scene folder.

    Args:
      root: folder with ``transforms_train.json``, ``transforms_test.json`` and the images.
      factor: integer downscale factor (box filter, after compositing).
      background: colour the RGBA images are composited on (white is standard).
      max_train_images, max_test_images: keep at most this many views (evenly spaced).
      near, far: ray interval in world units (2 and 6 for the standard scenes).
      aabb: bounding box of the scene.
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Blender scene folder not found: {root}")
    if int(factor) < 1:
        raise ValueError(f"factor must be a positive integer, got {factor}.")
    bg = np.asarray(background, np.float32)
    train, train_c2w, focal = _load_split(root, "train", int(factor), bg, max_train_images)
    test, test_c2w, _ = _load_split(root, "test", int(factor), bg, max_test_images)
    return NerfScene(train_images=train, train_c2w=train_c2w, test_images=test,
                     test_c2w=test_c2w, focal=float(focal), width=train.shape[2],
                     height=train.shape[1], near=near, far=far, ndc=False,
                     background=tuple(float(b) for b in bg), aabb=tuple(aabb), name=root.name)
