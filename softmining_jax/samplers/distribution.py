"""Piecewise-constant densities over the pixels of several images, sampled by inverse CDF.

An image of size ``(H, W)`` is split into square cells of ``cell_size`` pixels (the last row and
column of cells may be narrower). Each cell has a non-negative mass; a sample picks a cell with
probability proportional to its mass and then a uniform position inside the cell. The cells of all
images are stacked as rows of one ``(R, C)`` table (rows of all images one after another, columns
padded to the widest image), and sampling is two-level: a row from the row marginal, then a column
from that row's conditional. Two levels keep float32 CDFs accurate for tens of millions of cells.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@dataclasses.dataclass(frozen=True)
class GridLayout:
    """Static geometry of the cell table (hashable, so it can be a static pytree field).

    Attributes:
      sizes: per-image ``(H, W)`` in pixels.
      cell_size: cell edge in pixels (1: one cell per pixel).
    """

    sizes: tuple[tuple[int, int], ...]
    cell_size: int = 1

    def __post_init__(self):
        if int(self.cell_size) < 1:
            raise ValueError(f"cell_size must be a positive pixel count, got {self.cell_size}.")

    @functools.cached_property
    def cell_shapes(self) -> tuple[tuple[int, int], ...]:
        s = self.cell_size
        return tuple((-(-h // s), -(-w // s)) for h, w in self.sizes)

    @functools.cached_property
    def row_offsets(self) -> np.ndarray:
        """``(M + 1,)`` int32: first table row of each image, then the total row count."""
        return np.concatenate([[0], np.cumsum([hc for hc, _ in self.cell_shapes])]).astype(np.int32)

    @property
    def num_rows(self) -> int:
        return int(self.row_offsets[-1])

    @property
    def num_cols(self) -> int:
        return max(wc for _, wc in self.cell_shapes)

    @property
    def col_block(self) -> int:
        """Columns per block of the two-stage column search (about ``sqrt(C)``)."""
        return _block_size(self.num_cols)

    @functools.cached_property
    def row_image(self) -> np.ndarray:
        """``(R,)`` int32: image index of each table row."""
        return np.repeat(np.arange(len(self.sizes)), [hc for hc, _ in self.cell_shapes]).astype(
            np.int32
        )

    @functools.cached_property
    def cell_areas(self) -> np.ndarray:
        """``(R, C)`` float32 area of each cell in pixels (0 in the padding)."""
        s = self.cell_size
        out = np.zeros((self.num_rows, self.num_cols), np.float32)
        for m, ((h, w), (hc, wc)) in enumerate(zip(self.sizes, self.cell_shapes, strict=True)):
            ch = np.minimum(s, h - s * np.arange(hc))
            cw = np.minimum(s, w - s * np.arange(wc))
            r0 = self.row_offsets[m]
            out[r0 : r0 + hc, :wc] = np.outer(ch, cw)
        return out

    def pool(self, maps: Sequence[jax.Array]) -> jax.Array:
        """Sum per-pixel values into cells.

        Args:
          maps: one ``(H_m, W_m)`` array per image.

        Returns:
          ``(R, C)`` float32 cell sums (0 in the padding).
        """
        if len(maps) != len(self.sizes):
            raise ValueError(f"Expected {len(self.sizes)} maps, got {len(maps)}.")
        s, rows = self.cell_size, []
        for m, (v, (h, w), (hc, wc)) in enumerate(
            zip(maps, self.sizes, self.cell_shapes, strict=True)
        ):
            if tuple(v.shape) != (h, w):
                raise ValueError(f"Map {m} has shape {tuple(v.shape)}, expected {(h, w)}.")
            v = jnp.pad(jnp.asarray(v, jnp.float32), ((0, hc * s - h), (0, wc * s - w)))
            v = v.reshape(hc, s, wc, s).sum(axis=(1, 3))
            rows.append(jnp.pad(v, ((0, 0), (0, self.num_cols - wc))))
        return jnp.concatenate(rows, axis=0)


@struct.dataclass
class CellDistribution:
    """A normalised piecewise-constant density over the cells of a :class:`GridLayout`.

    Attributes:
      row_cdf: ``(R,)`` inclusive cumulative row masses, last entry exactly 1.
      col_cdf: ``(R, C)`` per-row inclusive cumulative column masses, 1 from the row's last valid
        cell on (padding is never drawn).
      col_block_last: ``(R, ceil(C / layout.col_block))`` the last ``col_cdf`` entry of each block
        of ``layout.col_block`` columns (the coarse stage of the column search).
      layout: static geometry.
    """

    row_cdf: jax.Array
    col_cdf: jax.Array
    col_block_last: jax.Array
    layout: GridLayout = struct.field(pytree_node=False)


def _cdf(mass: jax.Array, axis: int) -> jax.Array:
    """Inclusive normalised cumulative sum along ``axis``; all-zero slices become uniform over
    their first entry on (callers mask the padding before)."""
    total = jnp.sum(mass, axis=axis, keepdims=True)
    cdf = jnp.cumsum(mass, axis=axis) / jnp.where(total > 0, total, 1.0)
    return jnp.where(total > 0, cdf, 1.0)


def _last_valid(layout: GridLayout) -> np.ndarray:
    """``(R,)`` int32: the last valid column of each table row."""
    return np.asarray([wc - 1 for _, wc in layout.cell_shapes], np.int32)[layout.row_image]


def _row_tables(masses: jax.Array, areas: jax.Array, last_valid: jax.Array):
    """The per-row part of a distribution for ``n`` table rows: ``masses`` ``(n, C)`` (finite,
    non-negative, 0 in the padding), their ``areas`` and ``last_valid`` columns ``(n,)``.

    Returns the rows' total masses ``(n,)``, column CDFs ``(n, C)`` and block ends. A row with no
    mass draws uniformly over its valid cells (its zero mass means it is never chosen)."""
    row_mass = jnp.sum(masses, axis=1)
    safe = jnp.where(row_mass[:, None] > 0, masses, areas)
    col_cdf = _cdf(safe, axis=1)
    col_cdf = jnp.where(jnp.arange(masses.shape[1])[None, :] >= last_valid[:, None], 1.0, col_cdf)
    return row_mass, col_cdf, col_cdf[:, _block_ends(masses.shape[1])]


def _row_cdf(layout: GridLayout, row_mass: jax.Array) -> jax.Array:
    """``(R,)`` row CDF from the rows' masses; uniform over the pixels if every mass is 0."""
    row_area = jnp.asarray(layout.cell_areas.sum(axis=1))
    mass = jnp.where(jnp.sum(row_mass) > 0, row_mass, row_area)
    return _cdf(mass, axis=0).at[-1].set(1.0)


def _clean(masses: jax.Array, areas: jax.Array) -> jax.Array:
    return jnp.where((areas > 0) & jnp.isfinite(masses) & (masses > 0), masses, 0.0)


def from_masses_and_row_masses(layout: GridLayout,
                               masses: jax.Array) -> tuple[CellDistribution, jax.Array]:
    """:func:`from_masses` and the ``(R,)`` row masses that :func:`rebuild_rows` keeps."""
    areas = jnp.asarray(layout.cell_areas)
    row_mass, col_cdf, block_last = _row_tables(_clean(masses, areas), areas,
                                                jnp.asarray(_last_valid(layout)))
    dist = CellDistribution(row_cdf=_row_cdf(layout, row_mass), col_cdf=col_cdf,
                            col_block_last=block_last, layout=layout)
    return dist, row_mass


def from_masses(layout: GridLayout, masses: jax.Array) -> CellDistribution:
    """Build a distribution from ``(R, C)`` non-negative cell masses.

    Non-finite or negative masses count as 0. If every cell has zero mass the distribution is
    uniform over the pixels.
    """
    return from_masses_and_row_masses(layout, masses)[0]


def rebuild_rows(dist: CellDistribution, row_mass: jax.Array, densities: jax.Array,
                 start: jax.Array) -> tuple[CellDistribution, jax.Array]:
    """Rebuild table rows ``start .. start + n`` from their new ``(n, C)`` cell densities (mass
    per pixel, e.g. a map's per-cell mean; each cell's mass is its density times its area); the
    other rows keep theirs (``row_mass`` ``(R,)``, as :func:`from_masses_and_row_masses` returns).

    The result is the distribution whose rows hold masses of different ages: every row's column
    CDF matches its own row mass, so it is a valid density. The updates are in-place slices (a
    donated state is not copied), ``O(n C + R)``.

    Args:
      start: first row, a traced int32; a start past ``R - n`` is clamped to ``R - n``, as
        :func:`jax.lax.dynamic_slice` clamps it (slice the densities with the same start).
    """
    layout = dist.layout
    n = densities.shape[0]
    start = jnp.clip(jnp.asarray(start, jnp.int32), 0, layout.num_rows - n)
    areas = jax.lax.dynamic_slice_in_dim(jnp.asarray(layout.cell_areas), start, n, 0)
    last_valid = jax.lax.dynamic_slice_in_dim(jnp.asarray(_last_valid(layout)), start, n, 0)
    rows_mass, col_cdf, block_last = _row_tables(_clean(densities * areas, areas), areas,
                                                 last_valid)
    row_mass = jax.lax.dynamic_update_slice_in_dim(row_mass, rows_mass, start, 0)
    dist = dist.replace(
        row_cdf=_row_cdf(layout, row_mass),
        col_cdf=jax.lax.dynamic_update_slice_in_dim(dist.col_cdf, col_cdf, start, 0),
        col_block_last=jax.lax.dynamic_update_slice_in_dim(dist.col_block_last, block_last,
                                                           start, 0))
    return dist, row_mass


def from_pixel_weights(layout: GridLayout, maps: Sequence[jax.Array]) -> CellDistribution:
    """A distribution whose density is proportional to per-pixel weights (one map per image)."""
    return from_masses(layout, layout.pool(maps))


def uniform(layout: GridLayout) -> CellDistribution:
    """The uniform density over all pixels of all images."""
    return from_masses(layout, jnp.asarray(layout.cell_areas))


def sample(
    dist: CellDistribution, key: jax.Array, num: int, image_ids: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
    """Draw ``num`` positions.

    Args:
      dist: the distribution.
      key: a typed PRNG key.
      num: number of samples (static).
      image_ids: optional ``(num,)`` int32; if given, sample ``i`` is drawn from the conditional
        density of image ``image_ids[i]``.

    Returns:
      ``positions (num, 2)`` float32 pixel coordinates ``(x, y)`` and ``image_ids (num,)`` int32.
    """
    return sample_from_uniforms(dist, jax.random.uniform(key, (num, 4)), image_ids)


def sample_from_uniforms(
    dist: CellDistribution, u: jax.Array, image_ids: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
    """:func:`sample` driven by given ``(num, 4)`` uniforms in ``[0, 1)``.

    Column 0 picks the row, column 1 the cell in that row, columns 2 and 3 the position inside the
    cell (so a caller can draw all of a step's random numbers in one call).
    """
    layout = dist.layout
    u_row = u[:, 0]
    row_offsets = jnp.asarray(layout.row_offsets)
    if image_ids is not None:
        image_ids = jnp.asarray(image_ids, jnp.int32)
        first, end = row_offsets[image_ids], row_offsets[image_ids + 1]
        lo = jnp.where(first > 0, dist.row_cdf[jnp.maximum(first - 1, 0)], 0.0)
        hi = dist.row_cdf[end - 1]
        u_row = lo + u_row * (hi - lo)
    row_table = dist.row_cdf[None]
    row_block_last = dist.row_cdf[_block_ends(layout.num_rows)][None]
    row = _search_rows(row_table, row_block_last, jnp.zeros_like(u_row, jnp.int32), u_row)
    row = jnp.clip(row, 0, layout.num_rows - 1)
    if image_ids is not None:
        row = jnp.clip(row, first, end - 1)
    else:
        image_ids = jnp.asarray(layout.row_image)[row]
    col = _search_rows(dist.col_cdf, dist.col_block_last, row, u[:, 1])
    sizes = jnp.asarray(layout.sizes, jnp.float32)[image_ids]  # (num, 2) as (H, W)
    s = float(layout.cell_size)
    local_row = (row - row_offsets[image_ids]).astype(jnp.float32)
    wc = jnp.ceil(sizes[:, 1] / s)
    col = jnp.clip(col.astype(jnp.float32), 0.0, wc - 1.0)
    x0, y0 = col * s, local_row * s
    x1, y1 = jnp.minimum(x0 + s, sizes[:, 1]), jnp.minimum(y0 + s, sizes[:, 0])
    positions = jnp.stack([x0 + u[:, 2] * (x1 - x0), y0 + u[:, 3] * (y1 - y0)], axis=-1)
    return positions, image_ids


def _block_size(length: int) -> int:
    return max(1, int(np.ceil(np.sqrt(length))))


def _block_ends(length: int) -> np.ndarray:
    """Index of the last entry of each block of ``_block_size(length)`` entries."""
    block = _block_size(length)
    return np.minimum(np.arange(-(-length // block)) * block + block - 1, length - 1)


def _search_rows(
    table: jax.Array, block_last: jax.Array, rows: jax.Array, values: jax.Array
) -> jax.Array:
    """``searchsorted(table[rows[i]], values[i], side="right")`` for every ``i``, rows sorted.

    Two stages of about ``sqrt(C)`` comparisons each: count the blocks whose last entry is
    ``<= value`` (``block_last``, ``(R, ceil(C / block))``), then the entries ``<= value`` inside
    the first block that is not. Four wide, independent gathers instead of a binary search's
    ``log2 C`` dependent ones (which XLA on the CPU runs as one slow pass each).

    Args:
      table: ``(R, C)`` rows sorted ascending.
      block_last: the last entry of each block of ``_block_size(C)`` columns.
      rows: ``(N,)`` int32 row of each query.
      values: ``(N,)`` float32 queries.

    Returns:
      ``(N,)`` int32 in ``[0, C]``.
    """
    num_cols = table.shape[1]
    block = _block_size(num_cols)
    num_blocks = block_last.shape[1]
    coarse = block_last[rows]  # (N, num_blocks)
    b = jnp.sum(coarse <= values[:, None], axis=1, dtype=jnp.int32)
    start = jnp.minimum(b, num_blocks - 1) * block
    cols = start[:, None] + jnp.arange(block, dtype=jnp.int32)[None, :]  # (N, block)
    fine = table.reshape(-1)[(rows * num_cols)[:, None] + jnp.minimum(cols, num_cols - 1)]
    inside = jnp.sum((fine <= values[:, None]) & (cols < num_cols), axis=1, dtype=jnp.int32)
    return start + inside


def cell_index(layout: GridLayout, positions: jax.Array, image_ids: jax.Array) -> jax.Array:
    """Flat index into the ``(R, C)`` table of the cell containing each position.

    Args:
      positions: ``(N, 2)`` pixel coordinates ``(x, y)``; clamped into the image.
      image_ids: ``(N,)`` int32.

    Returns:
      ``(N,)`` int32 flat indices ``row * C + col``.
    """
    sizes = jnp.asarray(layout.sizes, jnp.int32)[image_ids]
    s = layout.cell_size
    col = jnp.clip(jnp.floor(positions[:, 0]).astype(jnp.int32), 0, sizes[:, 1] - 1) // s
    row = jnp.clip(jnp.floor(positions[:, 1]).astype(jnp.int32), 0, sizes[:, 0] - 1) // s
    row = row + jnp.asarray(layout.row_offsets)[image_ids]
    return row * layout.num_cols + col


def probabilities(dist: CellDistribution) -> jax.Array:
    """``(R, C)`` probability of each cell (for tests and plots)."""
    row_p = jnp.diff(dist.row_cdf, prepend=0.0)
    col_p = jnp.diff(dist.col_cdf, axis=1, prepend=0.0)
    return row_p[:, None] * col_p * (jnp.asarray(dist.layout.cell_areas) > 0)
