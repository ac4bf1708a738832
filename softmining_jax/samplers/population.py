"""A persistent sample population moved by a chain of small moves.

As optax builds Adam from small gradient transformations composed with ``chain``, a mining
sampler is built from *moves*: pure functions over the shared population (positions, image ids),
each with its own state. :func:`chain` keeps a tuple of move states, so adding a move never
changes another move's checkpoint structure, and :func:`population_sampler` turns a move and a
loss-weight schedule into a :class:`~softmining_jax.samplers.base.Sampler`.

One update runs the moves in order; each sees the population as the previous one left it::

    langevin -> view_hop -> reseed -> uniform_restart -> (clip into the image)

A move may ask for a sample to restart (it left its image, its feedback was not finite) by
setting ``Population.restart``; a re-seeding move draws those anew and clears the flag.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from softmining_jax.samplers.base import Feedback, Sampler, Samples
from softmining_jax.samplers.domain import Domain
from softmining_jax.samplers.uniform import check_num_samples, sample_uniform
from softmining_jax.samplers.weights import WeightSchedule


class Population(NamedTuple):
    """The samples a move acts on.

    Attributes:
      positions: ``(N, 2)`` float32 pixel coordinates ``(x, y)``.
      image_ids: ``(N,)`` int32.
      restart: ``(N,)`` bool, samples an earlier move of this update asked to restart.
    """

    positions: jax.Array
    image_ids: jax.Array
    restart: jax.Array


class MoveInputs(NamedTuple):
    """What every move of an update reads (never writes).

    Attributes:
      feedback: this step's :class:`~softmining_jax.samplers.base.Feedback` (at the positions
        the population had before the update).
      errors: ``(N,)`` float32 ``feedback.errors`` with non-finite entries (or entries whose
        position gradient is not finite) set to 0.
      valid: ``(N,)`` bool, where the feedback was finite.
      step: scalar int32, updates so far.
      sizes: static ``(H, W)`` of every image.
    """

    feedback: Feedback
    errors: jax.Array
    valid: jax.Array
    step: jax.Array
    sizes: tuple[tuple[int, int], ...]


MoveState = Any


class Move(NamedTuple):
    """One move: ``init(domain, num_samples) -> state`` and
    ``update(state, population, inputs, key) -> (state, population)``; optionally
    ``refresh(state, dense_l1) -> state`` (None: the move uses no dense error maps) and
    ``diagnostics(state) -> {name: scalar}`` about its last update."""

    init: Callable[[Domain, int], MoveState]
    update: Callable[[MoveState, Population, MoveInputs, jax.Array], tuple[MoveState, Population]]
    refresh: Callable[[MoveState, Sequence[jax.Array]], MoveState] | None = None
    diagnostics: Callable[[MoveState], dict[str, jax.Array]] = lambda state: {}


def chain(*moves: Move) -> Move:
    """The moves applied one after another; the state is the tuple of their states."""

    def init(domain: Domain, num_samples: int) -> tuple:
        return tuple(m.init(domain, num_samples) for m in moves)

    def update(states, population, inputs, key):
        keys = jax.random.split(key, len(moves))
        new_states = []
        for move, state, k in zip(moves, states, keys, strict=True):
            state, population = move.update(state, population, inputs, k)
            new_states.append(state)
        return tuple(new_states), population

    def refresh(states, dense_l1):
        return tuple(m.refresh(s, dense_l1) if m.refresh is not None else s
                     for m, s in zip(moves, states, strict=True))

    def diagnostics(states) -> dict[str, jax.Array]:
        out = {}
        for move, state in zip(moves, states, strict=True):
            out.update(move.diagnostics(state))
        return out

    uses_maps = any(m.refresh is not None for m in moves)
    return Move(init=init, update=update, refresh=refresh if uses_maps else None,
                diagnostics=diagnostics)


@struct.dataclass
class PopulationState:
    """State of a :func:`population_sampler`.

    Attributes:
      positions: ``(N, 2)`` float32 pixel coordinates, always inside their image.
      image_ids: ``(N,)`` int32.
      step: scalar int32, updates so far.
      moves: the move's state (a tuple for a :func:`chain`).
      sizes: static ``(H, W)`` of every image.
    """

    positions: jax.Array
    image_ids: jax.Array
    step: jax.Array
    moves: Any
    sizes: tuple[tuple[int, int], ...] = struct.field(pytree_node=False)


def population_sampler(move: Move, weights: WeightSchedule, bind_images: bool = False,
                       target_rule: str | None = None) -> Sampler:
    """A sampler whose samples persist from step to step, moved by ``move``.

    Args:
      move: what an update does (usually a :func:`chain`).
      weights: the loss weights ``w(Q, step)``.
      bind_images: start with the samples split evenly over the images (for moves that keep a
        sample on its image for life); else uniform over all pixels.
      target_rule: see :class:`~softmining_jax.samplers.base.Sampler`.
    """

    def init(key: jax.Array, domain: Domain, num_samples: int) -> PopulationState:
        check_num_samples(num_samples)
        n, m = int(num_samples), domain.num_images
        if bind_images and n < m:
            raise ValueError(f"a sampler that binds samples to images needs at least one sample "
                             f"per image: {n} samples, {m} images.")
        ids = (jnp.arange(n, dtype=jnp.int32) * m) // n if bind_images else None
        start = sample_uniform(domain.sizes, key, n, ids)
        return PopulationState(positions=start.positions, image_ids=start.image_ids,
                               step=jnp.zeros((), jnp.int32), moves=move.init(domain, n),
                               sizes=domain.sizes)

    def sample(state: PopulationState, key: jax.Array) -> Samples:
        del key
        return Samples(positions=state.positions, image_ids=state.image_ids)

    def loss_weights(state: PopulationState, l1: jax.Array) -> jax.Array:
        return weights(l1, state.step)

    def update(state: PopulationState, feedback: Feedback, key: jax.Array) -> PopulationState:
        err = jnp.asarray(feedback.errors, jnp.float32)
        grads = jnp.asarray(feedback.error_grads, jnp.float32)
        valid = jnp.isfinite(err) & jnp.all(jnp.isfinite(grads), axis=-1)
        inputs = MoveInputs(feedback=feedback, errors=jnp.where(valid, jnp.maximum(err, 0.0), 0.0),
                            valid=valid, step=state.step, sizes=state.sizes)
        population = Population(state.positions, state.image_ids, ~valid)
        moves, population = move.update(state.moves, population, inputs, key)
        wh = jnp.asarray(state.sizes, jnp.float32)[population.image_ids][:, ::-1]
        positions = jnp.where(jnp.isfinite(population.positions), population.positions, 0.5 * wh)
        return state.replace(positions=jnp.clip(positions, 0.0, wh),
                             image_ids=population.image_ids.astype(jnp.int32),
                             step=state.step + 1, moves=moves)

    def refresh(state: PopulationState, dense_l1) -> PopulationState:
        return state.replace(moves=move.refresh(state.moves, dense_l1))

    def diagnostics(state: PopulationState) -> dict[str, jax.Array]:
        return move.diagnostics(state.moves)

    return Sampler(init=init, sample=sample, loss_weights=loss_weights, update=update,
                   refresh=refresh if move.refresh is not None else None,
                   diagnostics=diagnostics, target_rule=target_rule)


def lowest(errors: jax.Array, fraction: float) -> jax.Array:
    """``(N,)`` bool: the ``round(fraction * N)`` samples with the lowest ``errors`` ``(N,)``."""
    n = errors.shape[0]
    k = int(round(fraction * n))
    out = jnp.zeros((n,), bool)
    if k == 0:
        return out
    if k == n:
        return jnp.ones((n,), bool)
    _, idx = jax.lax.top_k(-errors, k)
    return out.at[idx].set(True)


def check_fraction(name: str, value: float) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is in ``[0, 1]``."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}.")


def outside(positions: jax.Array, image_ids: jax.Array, sizes) -> jax.Array:
    """``(N,)`` bool: the position is not finite or lies outside ``[0, W] x [0, H]``."""
    wh = jnp.asarray(sizes, jnp.float32)[image_ids][:, ::-1]
    inside = jnp.all((positions >= 0.0) & (positions <= wh), axis=-1)
    return ~(inside & jnp.all(jnp.isfinite(positions), axis=-1))
