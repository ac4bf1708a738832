"""Densities that samples (re)start from, each with its own state.

* :func:`edge_density`: the domain's prior (e.g. Sobel edges), uniform if it has none; fixed.
* :func:`uniform_density`: uniform over all pixels; fixed.
* :func:`dense_error_density`: the per-pixel L1 error of the whole image(s), replaced at every
  dense refresh (:class:`softmining_jax.hooks.DenseRefresh` renders it); until the first refresh
  the edge prior or uniform.
* :func:`feedback_error_density`: instant-ngp's error map: a grid of ``cell_size``-pixel cells
  whose mean L1 error is blended in from the training samples' ``Q`` every step (an exponential
  moving average; a cell starts at 1, above any L1 error of colours in ``[0, 1]``, so unvisited
  cells are drawn first), each row of its sampling table rebuilt every ``rebuild_interval``
  steps (a slice of the rows per step, so no step pays for a whole rebuild); with
  ``refreshable`` a dense refresh also replaces the whole map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from softmining_jax.samplers import distribution as dist_lib
from softmining_jax.samplers.base import Feedback, Samples
from softmining_jax.samplers.domain import Domain
from softmining_jax.samplers.uniform import uniform_positions

DensityState = Any


class Density(NamedTuple):
    """``init(domain, num_samples) -> state``; ``draw(state, key, num, image_ids) -> Samples``
    (``image_ids`` ``(num,)`` or None: the image is drawn too); ``observe(state, feedback, step)
    -> state`` (the training feedback of a step); ``refresh(state, dense_l1) -> state`` or None."""

    init: Callable[[Domain, int], DensityState]
    draw: Callable[[DensityState, jax.Array, int, jax.Array | None], Samples]
    observe: Callable[[DensityState, Feedback, jax.Array], DensityState] = (
        lambda state, feedback, step: state)
    refresh: Callable[[DensityState, Sequence[jax.Array]], DensityState] | None = None


def _draw_cells(dist: dist_lib.CellDistribution, key: jax.Array, num: int,
                image_ids: jax.Array | None) -> Samples:
    return Samples(*dist_lib.sample(dist, key, num, image_ids))


def _edge_cells(domain: Domain, num_samples: int = 0) -> dist_lib.CellDistribution:
    layout = dist_lib.GridLayout(domain.sizes, 1)
    if domain.priors is None:
        return dist_lib.uniform(layout)
    return dist_lib.from_pixel_weights(layout, [jnp.asarray(p) for p in domain.priors])


def edge_density() -> Density:
    """The domain's prior weights per pixel (the tasks give Sobel edges), uniform without one."""
    return Density(init=_edge_cells, draw=_draw_cells)


@struct.dataclass
class Sizes:
    """The image sizes a uniform draw needs (static: no arrays to save)."""

    sizes: tuple[tuple[int, int], ...] = struct.field(pytree_node=False)


def uniform_density() -> Density:
    """Uniform over all pixels of all images (images in proportion to their area)."""

    def draw(state: Sizes, key, num, image_ids):
        return uniform_positions(state.sizes, jax.random.uniform(key, (num, 3)), image_ids)

    return Density(init=lambda domain, num_samples: Sizes(domain.sizes), draw=draw)


def dense_error_density(initial: str = "edge") -> Density:
    """The per-pixel L1 error of the latest dense refresh; before it ``initial`` (``"edge"``:
    the domain's prior, ``"uniform"``: uniform, as a map of the untrained field means nothing)."""
    if initial not in ("edge", "uniform"):
        raise ValueError(f"initial must be 'edge' or 'uniform', got {initial!r}.")

    def init(domain: Domain, num_samples: int) -> dist_lib.CellDistribution:
        if initial == "edge":
            return _edge_cells(domain)
        return dist_lib.uniform(dist_lib.GridLayout(domain.sizes, 1))

    def refresh(dist: dist_lib.CellDistribution, dense_l1) -> dist_lib.CellDistribution:
        # from_masses counts non-finite or negative errors as 0 (one pixel per cell here).
        return dist_lib.from_pixel_weights(dist.layout, dense_l1)

    return Density(init=init, draw=_draw_cells, refresh=refresh)


@struct.dataclass
class FeedbackMapState:
    """Attributes: ``grid`` ``(R, C)`` mean L1 error per cell, -1 for a cell never observed (0 in
    the padding); ``dist`` the sampling table built from it, row by row; ``row_mass`` ``(R,)`` the
    masses its rows were built from."""

    grid: jax.Array
    dist: dist_lib.CellDistribution
    row_mass: jax.Array
    rebuild_interval: int = struct.field(pytree_node=False, default=16)

    @property
    def errors(self) -> jax.Array:
        """``(R, C)`` the map's error per cell (see :func:`_observed_errors`)."""
        return _observed_errors(self.grid)


def _observed_errors(grid: jax.Array) -> jax.Array:
    """``grid`` with unobserved cells (-1) counted as error 1: above any L1 error of colours in
    ``[0, 1]``, so they are drawn first."""
    return jnp.where(grid < 0, 1.0, grid)


def _batch_means(idx: jax.Array, values: jax.Array, ok: jax.Array):
    """For samples falling in cells ``idx`` ``(N,)``: the sorting order, the sorted cells, the
    mean of the ``ok`` values of the samples sharing each sample's cell and their count (all in
    sorted order). ``O(N log N)``, independent of the number of cells."""
    order = jnp.argsort(idx)
    cells = idx[order]
    first = jnp.concatenate([jnp.ones((1,), bool), cells[1:] != cells[:-1]])
    segment = jnp.cumsum(first) - 1
    n = idx.shape[0]
    total = jnp.zeros((n,), jnp.float32).at[segment].add(jnp.where(ok, values, 0.0)[order])
    count = jnp.zeros((n,), jnp.float32).at[segment].add(ok[order].astype(jnp.float32))
    return cells, total[segment] / jnp.maximum(count[segment], 1.0), count[segment]


def feedback_error_density(cell_size: int = 16, ema: float = 0.1, rebuild_interval: int = 16,
                           refreshable: bool = False,
                           rebuild_fraction: float | None = None) -> Density:
    """instant-ngp's error map, updated from the training samples (see the module docstring).

    Args:
      cell_size: cell edge in pixels.
      ema: weight of a new observation in a cell's moving average (the first replaces the 1;
        1: a cell holds its latest observation).
      rebuild_interval: each row of the sampling table is rebuilt every this many steps, a
        ``1 / rebuild_interval`` share of the rows per step (an update itself costs
        ``O(N log N)`` for ``N`` samples, whatever the number of cells).
      refreshable: a dense refresh also replaces the whole map by the per-pixel L1 error of a
        full render (pooled to cells), which the training samples then keep fresh between
        refreshes.
      rebuild_fraction: if set, rebuild after the samples have made this many observations per
        cell instead (``round(rebuild_fraction * cells / num_samples)`` steps, at least 1): a
        whole rebuild costs ``O(cells)``, so its interval scales with the map's size.
    """
    if rebuild_fraction is not None and not rebuild_fraction > 0:
        raise ValueError(f"rebuild_fraction must be > 0 or None, got {rebuild_fraction!r}.")
    if int(cell_size) < 1 or int(rebuild_interval) < 1:
        raise ValueError("cell_size and rebuild_interval must be positive whole numbers.")
    if not 0.0 < ema <= 1.0:
        raise ValueError(f"ema must be in (0, 1], got {ema}.")

    def rebuild(layout: dist_lib.GridLayout, grid: jax.Array):
        return dist_lib.from_masses_and_row_masses(
            layout, _observed_errors(grid) * jnp.asarray(layout.cell_areas))

    def init(domain: Domain, num_samples: int) -> FeedbackMapState:
        layout = dist_lib.GridLayout(domain.sizes, int(cell_size))
        grid = -(jnp.asarray(layout.cell_areas) > 0).astype(jnp.float32)
        every = int(rebuild_interval)
        if rebuild_fraction is not None:
            cells = int(np.sum(layout.cell_areas > 0))
            every = max(1, round(rebuild_fraction * cells / max(int(num_samples), 1)))
        dist, row_mass = rebuild(layout, grid)
        return FeedbackMapState(grid=grid, dist=dist, row_mass=row_mass, rebuild_interval=every)

    def observe(state: FeedbackMapState, feedback: Feedback, step: jax.Array):
        layout = state.dist.layout
        q = jnp.asarray(feedback.l1, jnp.float32)
        ok = jnp.isfinite(q)
        idx = dist_lib.cell_index(layout, feedback.samples.positions, feedback.samples.image_ids)
        cells, mean, count = _batch_means(idx, jnp.maximum(q, 0.0), ok)
        flat = state.grid.reshape(-1)
        old = flat[cells]
        blend = jnp.where(old >= 0, ema, 1.0)  # the first observation replaces the optimistic 1
        new = jnp.where(count > 0, (1.0 - blend) * old + blend * mean, old)
        grid = flat.at[cells].set(new).reshape(state.grid.shape)  # duplicates write one value
        # Rebuild one slice of rows (in place; a lax.cond rebuilding the whole table every
        # interval made XLA copy the table on every step).
        n = -(-layout.num_rows // state.rebuild_interval)
        start = (step % -(-layout.num_rows // n)) * n  # the last slice is clamped to end at R
        rows = jax.lax.dynamic_slice_in_dim(grid, start, n, 0)
        dist, row_mass = dist_lib.rebuild_rows(state.dist, state.row_mass,
                                               _observed_errors(rows), start)
        return state.replace(grid=grid, dist=dist, row_mass=row_mass)

    def draw(state: FeedbackMapState, key, num, image_ids):
        return _draw_cells(state.dist, key, num, image_ids)

    def refresh(state: FeedbackMapState, dense_l1) -> FeedbackMapState:
        layout = state.dist.layout
        maps = [jnp.where(jnp.isfinite(e), jnp.maximum(e, 0.0), 0.0) for e in dense_l1]
        grid = layout.pool(maps) / jnp.maximum(jnp.asarray(layout.cell_areas), 1.0)
        dist, row_mass = rebuild(layout, grid)
        return state.replace(grid=grid, dist=dist, row_mass=row_mass)

    return Density(init=init, draw=draw, observe=observe,
                   refresh=refresh if refreshable else None)
