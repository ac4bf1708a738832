"""The task contract: what the train loop needs from a dataset + field + loss."""

from __future__ import annotations

import pathlib
from typing import Any, Protocol

import jax
import numpy as np

from softmining_jax.samplers import Domain

Params = Any


class Task(Protocol):
    """A task binds a dataset to a field.

    Attributes:
      domain: the images samples are drawn from.
      name: short name for logs.
      target_rule: ``"pixel_centres"`` (the train step trains every sample at the centre of its
        pixel, where ``evaluate`` measures) or ``"continuous"`` (positions pass unchanged, and
        ``evaluate`` must measure at sub-pixel positions too); see
        :mod:`softmining_jax.tasks.target_rule`. A task without the attribute is continuous.
    """

    domain: Domain
    name: str
    target_rule: str

    def init_params(self, key: jax.Array) -> Params:
        """Initial field parameters."""

    def predict(
        self, params: Params, positions: jax.Array, image_ids: jax.Array, key: jax.Array
    ) -> tuple[jax.Array, jax.Array] | tuple[jax.Array, jax.Array, jax.Array]:
        """``(N, C)`` predicted colours at pixel positions ``(N, 2)``, differentiable w.r.t.
        ``positions``, and a scalar auxiliary loss added to the training loss (0 if none).

        A task over the views of a 3-D scene may return a third element: the ``(N, 3)`` world
        point each ray renders (non-finite where it hits nothing); the train loop passes it to
        the sampler as :attr:`~softmining_jax.samplers.Feedback.points`."""

    def targets(self, positions: jax.Array, image_ids: jax.Array) -> jax.Array:
        """``(N, C)`` ground truth at pixel positions (bilinear, differentiable; the train step
        passes pixel centres on a ``"pixel_centres"`` task)."""

    def render(self, params: Params, image_index: int) -> np.ndarray:
        """Full ``(H, W, C)`` prediction of training image ``image_index`` (host array)."""

    def evaluate(self, params: Params, final: bool = True
                 ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Held-out metrics (at least ``psnr``) and named pictures for plots (possibly none).
        ``final`` is False for the periodic evaluations during training, which a task may make
        cheaper (e.g. on a fixed subset); the loop's last evaluation is final."""

    def write_outputs(self, params: Params, workdir: pathlib.Path) -> dict[str, float] | None:
        """Write the task's own final outputs into ``workdir`` (e.g. test-view renders); called
        once at the end of a run by the process that writes files. May return final scores
        (e.g. ``test_psnr`` over every test view), added to the run's final record."""

    def dense_l1(self, params: Params, stride: int = 1, phase: int = 0) -> list[jax.Array]:
        """Per-pixel L1 error ``(H_m, W_m)`` of every training image (for dense error maps).

        With ``stride > 1``, one pixel per ``stride x stride`` block is rendered and its error
        fills the block; ``phase`` (the refresh's index) picks which pixel
        (``softmining_jax.tasks.dense.strided_l1`` does both)."""
