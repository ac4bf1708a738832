"""A small procedural scene with known geometry and colours, written in the Blender layout.

A sphere whose colour is ``0.5 + 0.5 * normal`` seen from cameras on a ring, rendered
analytically (ray-sphere intersection) as RGBA PNGs with a transparent background. Tests and
examples use it where the real data sets are absent.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
from PIL import Image


def _look_at(position: np.ndarray) -> np.ndarray:
    z = position / np.linalg.norm(position)
    x = np.cross([0.0, 0.0, 1.0], z)
    x /= np.linalg.norm(x)
    c2w = np.eye(4)
    c2w[:3, :4] = np.stack([x, np.cross(z, x), z, position], axis=1)
    return c2w


def render_sphere(c2w: np.ndarray, size: int, focal: float, radius: float) -> np.ndarray:
    """``(size, size, 4)`` uint8 RGBA view of the sphere from a ``(4, 4)`` camera."""
    ys, xs = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    d_cam = np.stack([(xs - size / 2) / focal, -(ys - size / 2) / focal, -np.ones_like(xs)], -1)
    d = d_cam @ c2w[:3, :3].T
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    o = c2w[:3, 3]
    b = d @ o
    disc = b**2 - (o @ o - radius**2)
    hit = disc > 0
    t = -b - np.sqrt(np.maximum(disc, 0.0))
    normal = (o + t[..., None] * d) / radius
    rgb = np.where(hit[..., None], 0.5 + 0.5 * normal, 0.0)
    rgba = np.concatenate([rgb, hit[..., None].astype(float)], -1)
    return np.round(np.clip(rgba, 0, 1) * 255).astype(np.uint8)


def write_sphere_scene(
    root: str | pathlib.Path, size: int = 32, num_train: int = 16, num_test: int = 4,
    radius: float = 0.6, distance: float = 3.0, camera_angle_x: float = 0.6,
) -> pathlib.Path:
    """Write ``transforms_{train,test}.json`` and PNGs under ``root``; returns ``root``."""
    root = pathlib.Path(root)
    focal = 0.5 * size / np.tan(0.5 * camera_angle_x)
    for split, count, offset in (("train", num_train, 0.0), ("test", num_test, 0.5)):
        (root / split).mkdir(parents=True, exist_ok=True)
        frames = []
        for i in range(count):
            angle = 2 * np.pi * (i + offset) / count
            elevation = 0.5 * np.sin(3 * angle + offset)
            pos = distance * np.asarray([np.cos(angle) * np.cos(elevation),
                                         np.sin(angle) * np.cos(elevation), np.sin(elevation)])
            c2w = _look_at(pos)
            Image.fromarray(render_sphere(c2w, size, focal, radius)).save(
                root / split / f"r_{i}.png")
            frames.append({"file_path": f"./{split}/r_{i}", "transform_matrix": c2w.tolist()})
        (root / f"transforms_{split}.json").write_text(
            json.dumps({"camera_angle_x": camera_angle_x, "frames": frames}, indent=1))
    return root
