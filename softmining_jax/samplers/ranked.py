"""Ranked-pool sampling: every step draws fresh samples from the top of a pixel ranking or from the
rest, the shared core of the subset-selection methods (INT, EVOS, Expansive Supervision).

Those methods were published for full-batch training: each iteration trains on a chosen *subset*
of all pixels (the highest-error ones, plus random ones). With a fixed batch of ``N`` samples the
same selection becomes a two-tier draw: each sample comes from the top ``top_fraction`` of the
ranked pixels with probability ``top_share``, else uniformly from the pixels below, so that the
batch is a uniform draw from the method's subset. The ranking is

* ``score="dense"``: the per-pixel L1 error of the latest dense refresh
  (:class:`softmining_jax.hooks.DenseRefresh`; a uniform draw until the first), or
* ``score="edge"``: the domain's prior (the tasks give Sobel edge magnitudes), fixed.

Positions are uniform inside the drawn pixel (a task whose target rule is ``"pixel_centres"``
trains at the pixel's centre). The draw for a step is a function of ``state.key`` only, so
:func:`loss_weights` knows each sample's tier without storing it; ``update`` advances the key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from softmining_jax.samplers.base import Feedback, Sampler, Samples
from softmining_jax.samplers.domain import Domain
from softmining_jax.samplers.uniform import check_num_samples

Schedule = Callable[[jax.Array], jax.Array]
"""``schedule(step) -> scalar float32``, evaluated inside jit."""

TierWeights = Callable[[jax.Array, jax.Array], jax.Array]
"""``weights(top (N,) bool, step) -> (N,) float32`` per-sample loss weights."""


@struct.dataclass
class RankedState:
    """State of a :func:`ranked_pool_sampler`.

    Attributes:
      order: ``(P,)`` int32 indices of all ``P`` pixels of all images (images concatenated, each
        row-major), highest score first.
      ranked: scalar bool, ``order`` holds a ranking (False until the first dense refresh).
      key: typed PRNG key of the current step's draw.
      step: scalar int32, updates so far.
      sizes: static ``(H, W)`` of every image.
      num_samples: static batch size ``N``.
    """

    order: jax.Array
    ranked: jax.Array
    key: jax.Array
    step: jax.Array
    sizes: tuple[tuple[int, int], ...] = struct.field(pytree_node=False)
    num_samples: int = struct.field(pytree_node=False)


def constant(value: float) -> Schedule:
    """The schedule that is ``value`` at every step."""
    return lambda step: jnp.asarray(value, jnp.float32)


def unit_weights(top: jax.Array, step: jax.Array) -> jax.Array:
    """All loss weights 1 (a plain mean over the batch)."""
    del step
    return jnp.ones(top.shape, jnp.float32)


def rank(scores: jax.Array) -> jax.Array:
    """``(P,)`` int32 pixel indices by descending ``scores`` ``(P,)`` (non-finite scores last)."""
    scores = jnp.where(jnp.isfinite(scores), scores, -jnp.inf)
    return jnp.argsort(-scores).astype(jnp.int32)


def _offsets(sizes) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([h * w for h, w in sizes])]).astype(np.int64)


def pixel_positions(sizes, flat: jax.Array, jitter: jax.Array) -> Samples:
    """Positions of flat pixel indices ``(N,)`` over the concatenated images, ``jitter`` ``(N, 2)``
    in ``[0, 1)`` placing each inside its pixel."""
    starts = _offsets(sizes)
    ids = jnp.clip(jnp.searchsorted(jnp.asarray(starts[1:], jnp.int32), flat, side="right"),
                   0, len(sizes) - 1).astype(jnp.int32)
    local = flat - jnp.asarray(starts[:-1], jnp.int32)[ids]
    width = jnp.asarray([w for _, w in sizes], jnp.int32)[ids]
    rows, cols = local // width, local % width
    positions = jnp.stack([cols + jitter[:, 0], rows + jitter[:, 1]], axis=-1)
    return Samples(positions=positions.astype(jnp.float32), image_ids=ids)


def ranked_pool_sampler(
    score: str,
    top_fraction: Schedule,
    top_share: Schedule,
    tier_weights: TierWeights = unit_weights,
) -> Sampler:
    """A sampler drawing each sample from the top of a pixel ranking or from the rest.

    Args:
      score: ``"dense"`` (the latest dense L1 error map) or ``"edge"`` (the domain's prior).
      top_fraction: share of all pixels in the top tier, in ``(0, 1]``, per step.
      top_share: probability that a sample is drawn from the top tier, in ``[0, 1]``, per step.
      tier_weights: per-sample loss weights from the tier (default: all 1).
    """
    if score not in ("dense", "edge"):
        raise ValueError(f"ranked_pool_sampler.score must be 'dense' or 'edge', got {score!r}.")

    def init(key: jax.Array, domain: Domain, num_samples: int) -> RankedState:
        check_num_samples(num_samples)
        k_draw, k_ties = jax.random.split(key)
        total = domain.num_pixels
        if score == "edge":
            if domain.priors is None:
                raise ValueError("a sampler ranking pixels by their edge prior needs a domain "
                                 "with priors (the image and NeRF tasks give Sobel edges).")
            prior = jnp.concatenate([jnp.ravel(jnp.asarray(p)) for p in domain.priors])
            # Random tie-breaks: flat regions must not rank in raster order.
            ties = jax.random.uniform(k_ties, (total,), maxval=1e-6 * (jnp.max(prior) + 1e-12))
            order, ranked = rank(prior + ties), jnp.ones((), bool)
        else:
            order, ranked = jnp.arange(total, dtype=jnp.int32), jnp.zeros((), bool)
        return RankedState(order=order, ranked=ranked, key=k_draw, step=jnp.zeros((), jnp.int32),
                           sizes=domain.sizes, num_samples=int(num_samples))

    def draw(state: RankedState) -> tuple[Samples, jax.Array]:
        total = state.order.shape[0]
        u = jax.random.uniform(state.key, (state.num_samples, 4))
        top = (u[:, 0] < top_share(state.step)) & state.ranked
        k = jnp.clip(jnp.round(top_fraction(state.step) * total), 1, total).astype(jnp.int32)
        rest = jnp.maximum(total - k, 1)
        pick = jnp.where(top, jnp.floor(u[:, 1] * k), k + jnp.floor(u[:, 1] * rest))
        pick = jnp.clip(pick.astype(jnp.int32), 0, total - 1)
        uniform = jnp.clip(jnp.floor(u[:, 1] * total).astype(jnp.int32), 0, total - 1)
        flat = jnp.where(state.ranked, state.order[pick], uniform)
        return pixel_positions(state.sizes, flat, u[:, 2:]), top

    def sample(state: RankedState, key: jax.Array) -> Samples:
        del key  # the draw is a function of state.key, so loss_weights can repeat it
        return draw(state)[0]

    def loss_weights(state: RankedState, l1: jax.Array) -> jax.Array:
        del l1
        return tier_weights(draw(state)[1], state.step)

    def update(state: RankedState, feedback: Feedback, key: jax.Array) -> RankedState:
        del feedback
        return state.replace(key=key, step=state.step + 1)

    refresh = None
    if score == "dense":
        def refresh(state: RankedState, dense_l1: Sequence[jax.Array]) -> RankedState:
            scores = jnp.concatenate([jnp.ravel(jnp.asarray(m, jnp.float32)) for m in dense_l1])
            return state.replace(order=rank(scores), ranked=jnp.ones((), bool))

    def diagnostics(state: RankedState) -> dict[str, jax.Array]:
        return {"top_fraction": top_fraction(state.step), "top_share": top_share(state.step)}

    return Sampler(init=init, sample=sample, loss_weights=loss_weights, update=update,
                   refresh=refresh, diagnostics=diagnostics)
