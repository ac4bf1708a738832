"""Error-map sampling: multinomial draws from a per-image grid of L1 errors.

The grid has one cell per ``cell_size`` pixels (1: one cell per pixel, the paper's exact
"multinomial" reference; 16-32: instant-ngp style). It is refreshed either

* from training feedback (``source="feedback"``): each sample's ``Q`` is blended into its cell
  with an exponential moving average, cheap but stale (a cell starts at 1, above any L1 error of
  colours in ``[0, 1]``, so unvisited cells are drawn first; its first observation replaces that
  value instead of being blended into it); or
* from a dense error image (``source="dense"``): every ``refresh_interval`` steps the train loop
  evaluates the field on every pixel and passes the per-pixel L1 error to ``refresh``. Until the
  first refresh, sampling is uniform (a dense map of the untrained field is meaningless).

A ``uniform_fraction`` of every batch is uniform so no region is ever starved. Loss weights follow
the same soft-mining schedule as the Langevin sampler; with ``alpha = 1`` and
``uniform_fraction = 0`` the weighted loss is an importance-sampling estimate of the uniform mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import struct

from softmining_jax.samplers import distribution as dist_lib
from softmining_jax.samplers.base import Feedback, Sampler, Samples
from softmining_jax.samplers.domain import Domain
from softmining_jax.samplers.soft_mining import _check_dense_stride, _check_fraction
from softmining_jax.samplers.uniform import _check_num_samples, uniform_positions
from softmining_jax.samplers.weights import WeightSchedule


@struct.dataclass
class ErrorMapState:
    """State of the error-map sampler.

    Attributes:
      step: scalar int32.
      grid: ``(R, C)`` float32 mean L1 error per cell (0 in the padding).
      dist: the sampling distribution built from ``grid`` (mass = error x cell area).
      has_map: scalar bool, False until the first dense refresh (dense source only).
      visited: ``(R, C)`` bool, cells that have had a feedback observation (feedback source).
      num_samples: static batch size.
    """

    step: jax.Array
    grid: jax.Array
    dist: dist_lib.CellDistribution
    has_map: jax.Array
    visited: jax.Array
    num_samples: int = struct.field(pytree_node=False)


def error_map_sampler(
    cell_size: int = 1,
    source: str = "dense",
    refresh_interval: int = 100,
    dense_stride: int = 1,
    uniform_fraction: float = 0.1,
    ema: float = 0.1,
    rebuild_interval: int = 16,
    weights: WeightSchedule | None = None,
) -> Sampler:
    """Multinomial sampling proportional to a per-image error grid.

    Args:
      cell_size: grid cell edge in pixels.
      source: ``"dense"`` (refreshed from a full per-pixel error image every ``refresh_interval``
        steps) or ``"feedback"`` (updated from the training samples' ``Q`` every step).
      refresh_interval: steps between dense refreshes (dense source).
      dense_stride: dense source: each refresh renders one pixel per ``dense_stride`` x
        ``dense_stride`` block and gives the block its error (``dense_stride^2`` times cheaper,
        the resolution of ``cell_size = dense_stride``; 1: every pixel). The rendered pixel's
        offset in its block rotates from one refresh to the next.
      uniform_fraction: fraction of each batch drawn uniformly.
      ema: feedback source: weight of a new observation in a cell's moving average.
      rebuild_interval: feedback source: the sampling CDF is rebuilt from the grid every this many
        steps (the grid itself is updated every step).
      weights: loss-weight schedule (default ``WeightSchedule()``, alpha 0.6).
    """
    if source not in ("dense", "feedback"):
        raise ValueError(f"source must be 'dense' or 'feedback', got {source!r}.")
    if int(refresh_interval) < 1 or int(rebuild_interval) < 1:
        raise ValueError("refresh_interval and rebuild_interval must be positive step counts.")
    if not 0.0 < ema <= 1.0:
        raise ValueError(f"ema must be in (0, 1], got {ema}.")
    _check_fraction("uniform_fraction", uniform_fraction)
    _check_dense_stride(dense_stride)
    schedule = weights if weights is not None else WeightSchedule()

    def init(key: jax.Array, domain: Domain, num_samples: int) -> ErrorMapState:
        del key
        _check_num_samples(num_samples)
        layout = dist_lib.GridLayout(domain.sizes, int(cell_size))
        grid = (jnp.asarray(layout.cell_areas) > 0).astype(jnp.float32)
        return ErrorMapState(
            step=jnp.zeros((), jnp.int32), grid=grid, dist=dist_lib.uniform(layout),
            has_map=jnp.asarray(source == "feedback"), visited=jnp.zeros(grid.shape, bool),
            num_samples=int(num_samples),
        )

    def sample(state: ErrorMapState, key: jax.Array) -> Samples:
        n = state.num_samples
        layout = state.dist.layout
        # One draw (cheap on the CPU): (row, column, x, y, mixture choice, uniform image); a sample
        # is drawn from the map or uniformly, never both, so the two share the position columns.
        rand = jax.random.uniform(key, (n, 6))
        pos, ids = dist_lib.sample_from_uniforms(state.dist, rand[:, :4])
        fresh = uniform_positions(layout.sizes, rand[:, jnp.asarray([5, 2, 3])])
        use_uniform = (rand[:, 4] < uniform_fraction) | ~state.has_map
        return Samples(
            positions=jnp.where(use_uniform[:, None], fresh.positions, pos),
            image_ids=jnp.where(use_uniform, fresh.image_ids, ids),
        )

    def loss_weights(state: ErrorMapState, l1: jax.Array) -> jax.Array:
        return schedule(l1, state.step)

    def _rebuild(layout: dist_lib.GridLayout, grid: jax.Array) -> dist_lib.CellDistribution:
        return dist_lib.from_masses(layout, grid * jnp.asarray(layout.cell_areas))

    def update(state: ErrorMapState, feedback: Feedback, key: jax.Array) -> ErrorMapState:
        del key
        if source == "dense":
            return state.replace(step=state.step + 1)
        layout = state.dist.layout
        q = jnp.asarray(feedback.l1, jnp.float32)
        ok = jnp.isfinite(q)
        idx = dist_lib.cell_index(layout, feedback.samples.positions, feedback.samples.image_ids)
        flat = state.grid.reshape(-1)
        total = jnp.zeros_like(flat).at[idx].add(jnp.where(ok, jnp.maximum(q, 0.0), 0.0))
        count = jnp.zeros_like(flat).at[idx].add(ok.astype(jnp.float32))
        observed = total / jnp.maximum(count, 1.0)
        seen = state.visited.reshape(-1)
        blend = jnp.where(seen, ema, 1.0)  # the first observation replaces the optimistic 1
        flat = jnp.where(count > 0, (1.0 - blend) * flat + blend * observed, flat)
        grid = flat.reshape(state.grid.shape)
        visited = (seen | (count > 0)).reshape(state.grid.shape)
        step = state.step + 1
        dist = jax.lax.cond(
            step % rebuild_interval == 0, lambda g: _rebuild(layout, g), lambda g: state.dist, grid
        )
        return state.replace(step=step, grid=grid, dist=dist, visited=visited)

    def refresh(state: ErrorMapState, dense_l1: Sequence[jax.Array]) -> ErrorMapState:
        layout = state.dist.layout
        maps = [jnp.where(jnp.isfinite(e), jnp.maximum(e, 0.0), 0.0) for e in dense_l1]
        areas = jnp.asarray(layout.cell_areas)
        grid = layout.pool(maps) / jnp.maximum(areas, 1.0)
        return state.replace(grid=grid, dist=_rebuild(layout, grid), has_map=jnp.asarray(True))

    interval = int(refresh_interval) if source == "dense" else 0
    return Sampler(init=init, sample=sample, loss_weights=loss_weights, update=update,
                   refresh=refresh, dense_refresh_interval=interval,
                   dense_stride=int(dense_stride))
