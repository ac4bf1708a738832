"""The sampler contract.

A sampler is a :class:`Sampler`: a NamedTuple of pure functions over an explicit state pytree, in
the style of ``optax.GradientTransformation``. It never sees a model. Positions go out; per-sample
error and its gradient with respect to position come back as :class:`Feedback`.

Units: positions are continuous pixel coordinates ``(x, y)`` with ``x`` in ``[0, W]`` (columns) and
``y`` in ``[0, H]`` (rows) of the sample's image; pixel ``(j, i)`` covers ``[j, j+1) x [i, i+1)``
and its centre is at ``(j + 0.5, i + 0.5)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax

from softmining_jax.samplers.domain import Domain

SamplerState = Any


class Samples(NamedTuple):
    """A batch of sample positions.

    Attributes:
      positions: ``(N, 2)`` float32, continuous pixel coordinates ``(x, y)``.
      image_ids: ``(N,)`` int32, index of the image each sample belongs to.
    """

    positions: jax.Array
    image_ids: jax.Array


class Feedback(NamedTuple):
    """What the task returns to the sampler after one step.

    Attributes:
      samples: the :class:`Samples` the errors refer to.
      errors: ``(N,)`` per-sample loss ``err_i = mean_c (f - y)^2`` (colour units squared).
      l1: ``(N,)`` per-sample importance ``Q_i = mean_c |f - y|`` (colour units).
      error_grads: ``(N, 2)`` ``d err_i / d x_i`` in colour^2 per pixel.
      points: optional ``(N, 3)`` world point each sample's ray renders (a NeRF ray's expected
        termination point; non-finite where the ray hits nothing), for samplers that move samples
        between the views of a scene. None for tasks without a 3-D scene.
    """

    samples: Samples
    errors: jax.Array
    l1: jax.Array
    error_grads: jax.Array
    points: jax.Array | None = None


InitFn = Callable[[jax.Array, Domain, int], SamplerState]
SampleFn = Callable[[SamplerState, jax.Array], Samples]
LossWeightsFn = Callable[[SamplerState, jax.Array], jax.Array]
UpdateFn = Callable[[SamplerState, Feedback, jax.Array], SamplerState]
RefreshFn = Callable[[SamplerState, Sequence[jax.Array]], SamplerState]
DiagnosticsFn = Callable[[SamplerState], dict[str, jax.Array]]
SelectFn = Callable[[SamplerState, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]


def no_diagnostics(state: SamplerState) -> dict[str, jax.Array]:
    """The diagnostics of a sampler that reports none."""
    del state
    return {}


class Sampler(NamedTuple):
    """A sampler: pure functions over an explicit state pytree.

    Attributes:
      init: ``init(key, domain, num_samples) -> state``.
      sample: ``sample(state, key) -> Samples`` with ``num_samples`` positions.
      loss_weights: ``loss_weights(state, l1) -> (N,)`` per-sample loss weights computed from this
        step's ``Q_i`` (callers apply ``stop_gradient``; the functions do too).
      update: ``update(state, feedback, key) -> state``.
      refresh: ``refresh(state, dense_l1) -> state`` where ``dense_l1`` is a sequence with one
        ``(H_m, W_m)`` per-pixel L1 error image per image of the domain; None for a sampler that
        uses no dense error maps. When to refresh, and at what resolution, is the loop's choice
        (:class:`softmining_jax.hooks.DenseRefresh`).
      diagnostics: ``diagnostics(state) -> {name: scalar}`` about the last update (e.g. the mean
        drift in pixels), logged by the train loop.
      target_rule: the task target rule this sampler assumes (``"pixel_centres"`` or
        ``"continuous"``, see :mod:`softmining_jax.tasks.target_rule`), or None: any. The train
        loop refuses a task with another rule.
      select: ``select(state, errors, key) -> (indices (K,), weights (K,))`` or None. With it the
        step is "two forward passes, one backward": the ``N`` sampled positions are first
        evaluated without gradients (``errors`` ``(N,)``), then only the ``K`` chosen ones are
        evaluated again and back-propagated, with these loss weights (``loss_weights`` is not
        used), and ``update`` receives the feedback of those ``K``.
      for_run: ``for_run(num_steps) -> Sampler`` or None. A sampler whose schedule spans the run
        (INT's stages, Expansive's loss-weight decay) when its own ``num_steps`` is left unset:
        the train loop replaces it by ``for_run(num_steps)`` with the run's length.
    """

    init: InitFn
    sample: SampleFn
    loss_weights: LossWeightsFn
    update: UpdateFn
    refresh: RefreshFn | None = None
    diagnostics: DiagnosticsFn = no_diagnostics
    target_rule: str | None = None
    select: SelectFn | None = None
    for_run: Callable[[int], Sampler] | None = None


def for_run(sampler: Sampler, num_steps: int) -> Sampler:
    """``sampler`` with its schedule spanning a run of ``num_steps`` steps (itself when it has
    no run-length schedule, or its own ``num_steps`` was set)."""
    return sampler if sampler.for_run is None else sampler.for_run(int(num_steps))


def spanning_the_run(name: str, make: Callable[[int], Sampler]) -> Sampler:
    """The sampler ``make(num_steps)`` with ``num_steps`` left to the run: its ``for_run`` is
    ``make``, and its ``init`` refuses to start (one line naming ``name.num_steps``) until the
    train loop, or :func:`for_run` for a step built by hand, has replaced it."""

    def init(key, domain, num_samples):
        raise ValueError(f"{name}.num_steps is unset: pass it, or train with train_and_evaluate "
                         "(which sets it to the run's num_steps); for a step built by hand use "
                         f"samplers.for_run(sampler, num_steps).")

    return make(1)._replace(init=init, for_run=make)
