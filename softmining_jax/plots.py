"""Pictures of a run: PSNR curve, reconstruction, error map, where the samples sit."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

# Figures are built with the object-oriented API (no pyplot), so importing this module never
# changes the matplotlib backend of a notebook or application.


def _show(ax, image: np.ndarray, **kwargs) -> None:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
        kwargs.setdefault("cmap", "gray")
    elif image.ndim == 3 and image.shape[-1] == 2:
        image = image[..., 0]
        kwargs.setdefault("cmap", "gray")
    ax.imshow(np.clip(image, 0, 1) if image.ndim == 3 else image, **kwargs)
    ax.set_axis_off()


def _show_error(ax, err: np.ndarray):
    """Per-pixel error with the 99.5th percentile as the top of the colour scale."""
    err = np.asarray(err)
    im = ax.imshow(err, cmap="inferno", vmin=0, vmax=max(float(np.percentile(err, 99.5)), 1e-6))
    ax.set_axis_off()
    return im


def _show_samples(ax, background: np.ndarray, positions: np.ndarray) -> None:
    """Sample positions (pixel coordinates) as red dots over a faded ``background``."""
    _show(ax, background, alpha=0.6)
    p = np.asarray(positions)
    ax.scatter(p[:, 0] - 0.5, p[:, 1] - 0.5, s=2, c="red", linewidths=0)


def save_run_plots(
    out: pathlib.Path,
    records: Sequence[dict[str, Any]],
    pictures: dict[str, np.ndarray],
    positions: np.ndarray | None,
    title: str,
    step: int | None = None,
) -> None:
    """Write ``psnr.png``, ``reconstruction.png``, ``error_map.png`` and ``samples.png``.

    With ``step``, also keep ``history/step<step>.png`` (error map and samples side by side), so
    how the error and the samples evolve over a run can be looked at afterwards.

    Args:
      out: the ``plots/`` folder (created).
      records: metrics records; those with ``eval_psnr`` make the curve.
      pictures: ``target`` and ``reconstruction`` ``(H, W, C)``, ``error`` ``(H, W)``, and
        optionally ``samples_background`` (the image the samples live on, if not ``target``) or
        ``samples_pooled_background`` (the samples of every image share one pixel frame, e.g. the
        views of a NeRF scene, drawn over this picture, e.g. their mean).
      positions: ``(N, 2)`` pixel positions of the current samples (image 0, or every image when
        pooled), or None.
      title: run label.
      step: the training step of these pictures (None: no history snapshot).
    """
    out.mkdir(parents=True, exist_ok=True)
    evals = [r for r in records if "eval_psnr" in r]
    if evals:
        fig = Figure(figsize=(10, 4))
        axes = fig.subplots(1, 2)
        steps = [r["step"] for r in evals]
        axes[0].plot(steps, [r["eval_psnr"] for r in evals], marker="o")
        axes[0].set_xlabel("step")
        axes[1].plot([r.get("train_s", 0.0) for r in evals], [r["eval_psnr"] for r in evals],
                     marker="o")
        axes[1].set_xlabel("training seconds")
        for ax in axes:
            ax.set_ylabel("eval PSNR (dB)")
            ax.grid(alpha=0.3)
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(out / "psnr.png", dpi=100)
    if "reconstruction" in pictures:
        fig = Figure(figsize=(10, 5))
        axes = fig.subplots(1, 2)
        _show(axes[0], pictures["target"])
        axes[0].set_title("target")
        _show(axes[1], pictures["reconstruction"])
        axes[1].set_title("reconstruction")
        fig.tight_layout()
        fig.savefig(out / "reconstruction.png", dpi=100)
    if "error" in pictures:
        fig = Figure(figsize=(6, 5))
        ax = fig.subplots()
        im = _show_error(ax, pictures["error"])
        ax.set_title("|prediction - target| (mean over channels)")
        fig.colorbar(im, ax=ax, fraction=0.046)
        fig.tight_layout()
        fig.savefig(out / "error_map.png", dpi=100)
    pooled = "samples_pooled_background" in pictures
    background = pictures.get("samples_pooled_background",
                              pictures.get("samples_background", pictures.get("target")))
    where = "all views" if pooled else "image 0"
    if positions is not None and background is not None:
        fig = Figure(figsize=(6, 6))
        ax = fig.subplots()
        _show_samples(ax, background, positions)
        ax.set_title(f"{len(positions)} sample positions ({where})")
        fig.tight_layout()
        fig.savefig(out / "samples.png", dpi=100)
    if step is not None and "error" in pictures and positions is not None and (
        background is not None
    ):
        fig = Figure(figsize=(9, 4.4))
        axes = fig.subplots(1, 2)
        _show_error(axes[0], pictures["error"])
        axes[0].set_title(f"error, step {step}")
        _show_samples(axes[1], background, positions)
        axes[1].set_title(f"{len(positions)} samples ({where}), step {step}")
        fig.suptitle(title)
        fig.tight_layout()
        (out / "history").mkdir(exist_ok=True)
        fig.savefig(out / "history" / f"step{step:07d}.png", dpi=60)
