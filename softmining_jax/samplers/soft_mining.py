"""Soft mining: a persistent sample population moved by Langevin Monte Carlo.

Per step (``../DESIGN.md`` section 2): each sample moves by

    x <- x + eps * beta * grad_x log err(x) + sqrt(2 eps) * noise,

whose stationary density is proportional to ``err^beta`` (``eps`` in pixels^2, so the noise has a
standard deviation of ``sqrt(2 eps)`` pixels). The drift is clipped to a trust region of
``max_drift`` pixels because ``grad log err`` explodes where the error crosses zero. Samples that
leave their image, and the lowest-error ``reinit_fraction``, restart from a prior (Sobel edges,
uniform, or a dense error map refreshed every ``refresh_interval`` steps), or, for a
``clone_fraction`` of them, next to a surviving sample drawn in proportion to ``err^beta`` (a
resampling move, as in sequential Monte Carlo); a further ``uniform_fraction`` restarts uniformly
so no region is ever starved. On the views of a 3-D scene a surviving chain may also hop, with
probability ``view_hop``, to another view, at the pixel that sees the 3-D point its ray renders.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from softmining_jax.render import cameras as cameras_lib
from softmining_jax.samplers import distribution as dist_lib
from softmining_jax.samplers.base import Feedback, Sampler, Samples
from softmining_jax.samplers.domain import Domain
from softmining_jax.samplers.uniform import (
    _check_num_samples,
    sample_uniform,
    uniform_positions,
)
from softmining_jax.samplers.weights import WeightSchedule, official_weight_schedule

_ERR_FLOOR = 1e-12
_MAX_GRAD_LOG = 1e12


@struct.dataclass
class SoftMiningState:
    """State of the Langevin soft-mining sampler.

    Attributes:
      positions: ``(N, 2)`` float32 pixel coordinates ``(x, y)``, always inside their image.
      image_ids: ``(N,)`` int32.
      step: scalar int32, number of updates so far.
      prior: the re-initialisation density (None: uniform, sampled analytically).
      mean_drift: scalar float32, mean drift length of the last update in pixels (diagnostic).
      drift_clipped: scalar float32, fraction of samples whose drift was clipped (diagnostic).
      reinit_fraction: scalar float32, fraction of samples re-initialised last update (diagnostic).
    """

    positions: jax.Array
    image_ids: jax.Array
    step: jax.Array
    prior: dist_lib.CellDistribution | None
    mean_drift: jax.Array
    drift_clipped: jax.Array
    reinit_fraction: jax.Array
    sizes: tuple[tuple[int, int], ...] = struct.field(pytree_node=False, default=())


@struct.dataclass
class ViewHopState(SoftMiningState):
    """:class:`SoftMiningState` of a sampler with ``view_hop > 0`` (a separate class, so the
    checkpoints of plain soft mining keep their structure).

    Attributes:
      view_c2w: ``(M, 3, 4)`` camera-to-world matrices of the domain's views.
      view_hops: scalar float32, fraction of samples that hopped to another view last update
        (diagnostic).
      focal: the views' focal length in pixels.
    """

    view_c2w: jax.Array | None = None
    view_hops: jax.Array | None = None
    focal: float = struct.field(pytree_node=False, default=0.0)


@struct.dataclass
class HopCloneState(ViewHopState):
    """:class:`ViewHopState` of a sampler with ``hop_clone_fraction > 0``.

    Attributes:
      hop_clones: scalar float32, fraction of samples that restarted last update as a hop of a
        surviving chain (diagnostic).
    """

    hop_clones: jax.Array | None = None


@struct.dataclass
class OcclusionHopState(ViewHopState):
    """:class:`ViewHopState` of a sampler with ``hop_occlusion_tolerance`` set.

    Attributes:
      hop_points: ``(N, 3)`` float32 world points the chains' last hops projected (NaN for a chain
        that did not hop last update).
      occluded_hops: scalar float32, fraction of samples whose last hop landed on something else
        (an occluder in front of the point, or background) and that hopped again from the point
        (diagnostic).
    """

    hop_points: jax.Array | None = None
    occluded_hops: jax.Array | None = None


def _normal_from_uniform(u: jax.Array) -> jax.Array:
    """Standard normals from uniforms in ``[0, 1)`` by the inverse CDF, as ``jax.random.normal``."""
    lo = float(np.nextafter(np.float32(-1.0), np.float32(0.0)))
    return np.float32(np.sqrt(2.0)) * jax.lax.erf_inv(jnp.maximum(2.0 * u - 1.0, lo))


def _draw_parents(mass: jax.Array, u: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Indices ``(N,)`` drawn with probability ``mass / sum(mass)`` from the uniforms ``u``
    ``(N,)`` (``mass``: ``(N,)``, non-negative), and the total mass (scalar; 0: no parent)."""
    cdf = jnp.cumsum(mass)
    total = cdf[-1]
    parent = jnp.searchsorted(cdf, u * total, side="right")
    return jnp.clip(parent, 0, mass.shape[0] - 1), total


def _check_dense_stride(stride: int) -> None:
    if isinstance(stride, bool) or int(stride) != stride or int(stride) < 1:
        raise ValueError(f"dense_stride must be a positive whole number of pixels, got {stride!r}.")


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}.")


def soft_mining_sampler(
    step_size: float = 2.0,
    concentration: float = 2.0,
    a: float | None = None,
    b: float | None = None,
    drift: bool = True,
    drift_interval: int = 1,
    max_drift: float | None = 8.0,
    reinit_fraction: float = 0.5,
    clone_fraction: float = 0.0,
    uniform_fraction: float = 0.1,
    view_hop: float = 0.0,
    hop_neighbours: int = 0,
    hop_farthest: bool = False,
    hop_clone_fraction: float = 0.0,
    hop_occlusion_tolerance: float | None = None,
    uniform_fade: tuple[int, int] | None = None,
    prior: str = "edge",
    refresh_interval: int = 1000,
    dense_stride: int = 1,
    boundary: str = "reinit",
    keep_image: bool = False,
    weights: WeightSchedule | None = None,
    normalized_units: bool = False,
    gradient_of_mean: bool = False,
    drift_over_weight: bool = False,
    uniform_block: bool = False,
) -> Sampler:
    """The Langevin soft-mining sampler.

    Args:
      step_size: Langevin step ``eps`` in pixels^2 (noise std ``sqrt(2 eps)`` pixels).
      concentration: ``beta``; the stationary density is proportional to ``err^beta``.
      a, b: the paper's form ``x + a grad log err + b noise``; if both are given they override
        ``step_size``/``concentration`` (``eps = b^2/2``, ``beta = 2a/b^2``).
      drift: if False, only noise and re-initialisation move the samples; the position gradient
        is then unused (a jitted train step does not compute it).
      drift_interval: apply the drift on every this many-th update only (those whose ``step`` is
        a multiple of it); on the others only noise and re-initialisation move the samples, and
        the train step skips the position gradient, whose backward pass through the field is
        what the drift costs (a few percent of a CPU chair step; docs/results.md).
      max_drift: trust region: the drift vector is clipped to this length in pixels (None: off).
      reinit_fraction: the lowest-error fraction restarts from the prior each step (0.5, was 0.1:
        faster than 0.1 and 0.3 on Pluto and Albert, level with 0.3 on chair; docs/results.md).
      clone_fraction: each restarting sample (re-initialised or out of its image) restarts, with
        this probability, at a copy of a sample of the batch drawn in proportion to ``err^beta``
        (its image, its position plus one Langevin noise step) instead of from the prior: the
        population moves to where the error is now without waiting for the chains to diffuse.
        Needs ``keep_image=False`` (a clone takes its parent's image).
      uniform_fraction: each sample independently restarts uniformly with this probability.
      view_hop: each chain that does not restart hops, with this probability, to another view of
        the scene drawn uniformly: to the pixel where that view sees the 3-D point the chain's
        ray rendered (``Feedback.points``), plus the Langevin noise, instead of its Langevin move.
        A hard region is then trained from many viewpoints instead of by one ray. A hop whose
        point is missing (the ray saw background) or projects outside the other view is not
        taken; occlusion is not tested (an occluded landing point has its own error, and
        restarts if that is low). Needs a domain with cameras (a NeRF task) and
        ``keep_image=False``.
      hop_neighbours: if > 0, a hop (or hop clone) goes to one of this many views whose viewing
        direction is closest to the current view's, drawn uniformly, instead of to any other
        view (fewer occluded landings, less change of viewpoint).
      hop_farthest: with ``hop_neighbours = k``, draw among the ``k`` views whose viewing
        direction is farthest from the current one instead (the largest change of viewpoint).
      hop_clone_fraction: each restarting sample (re-initialised or out of its image, not a
        uniform restart) restarts, with this probability, as a hop of a surviving chain drawn
        uniformly among this step's survivors: in another view (drawn as for ``view_hop``), at
        the pixel that sees the 3-D point the parent's ray rendered, plus the Langevin noise. A
        hard 3-D region then gains rays from several viewpoints at once (where the landing point
        is invalid the prior's draw is kept). Needs a domain with cameras and
        ``keep_image=False``; independent of ``view_hop``.
      hop_occlusion_tolerance: with ``view_hop > 0``, test each hop's landing when its ray is
        rendered (the next step): if the ray's rendered point is nearer to the camera than the
        point the hop projected by more than this distance (world units), or the ray saw
        background, the landing was occluded (or missed), and the chain's next hop starts from
        the projected point instead of from what the ray saw, so it stays on its 3-D region
        instead of drifting onto the occluder. None: off (a hop starts from the rendered point).
        Not combined with ``hop_clone_fraction``.
      uniform_fade: ``(start, end)`` steps: the uniform restart probability rises linearly from
        ``uniform_fraction`` at ``start`` to 1 at ``end``, so training ends on uniform samples
        (pair it with ``WeightSchedule(fade_start=start, fade_end=end)`` so the weights end at 1).
        Removes the bias of mining late in training. None: constant.
      prior: ``"edge"`` (the domain's prior, e.g. Sobel edges), ``"uniform"``, or
        ``"error_map"``: the edge prior until the first dense refresh, then the per-pixel L1 error
        of the whole image(s), recomputed by the train loop every ``refresh_interval`` steps (the
        chains are re-seeded where the error is, and Langevin refines between refreshes).
      refresh_interval: steps between dense refreshes for ``prior="error_map"``.
      dense_stride: ``prior="error_map"``: render one pixel per ``dense_stride`` x
        ``dense_stride`` block for each refresh (``dense_stride^2`` times cheaper; the map is then
        constant on blocks; 1: every pixel).
      boundary: ``"reinit"`` (samples that leave their image restart from the prior) or
        ``"reflect"`` (reflect at the image border; keeps the Langevin stationary density).
      keep_image: if True a sample keeps its image forever (re-initialisation draws from its own
        image's prior); otherwise a re-initialised sample may move to another image, drawn in
        proportion to prior mass. Must be False when there are more images than samples.
      weights: the loss-weight schedule (default: ``WeightSchedule()``, alpha 0.6).
      normalized_units: official-code behaviour: ``a``, ``b`` act on ``[0, 1]``-normalised
        positions (pixel index / (size - 1)) while the gradient stays in pixel units.
      gradient_of_mean: official-code behaviour: the gradient is that of the batch-mean loss
        (an extra ``1/N``).
      drift_over_weight: the authors' code before its commit ce17cb1 (2025-12-01): the drift is
        also divided by the sample's loss weight (``grad log err / w``).
      uniform_block: official-code behaviour: the uniform re-seed always hits the last
        ``uniform_fraction * N`` samples instead of a random subset.

    Returns:
      A :class:`Sampler`.
    """
    if (a is None) != (b is None):
        raise ValueError("Give both a and b (the paper's form) or neither.")
    if a is None:
        if not step_size > 0:
            raise ValueError(f"step_size (eps, pixels^2) must be > 0, got {step_size}.")
        drift_coef, noise_std = float(step_size) * float(concentration), (2.0 * step_size) ** 0.5
    else:
        if not b >= 0:
            raise ValueError(f"b must be >= 0, got {b}.")
        drift_coef, noise_std = float(a), float(b)
    if int(drift_interval) != drift_interval or drift_interval < 1:
        raise ValueError(f"drift_interval must be a positive step count, got {drift_interval}.")
    drift_interval = int(drift_interval)
    if max_drift is not None and not max_drift > 0:
        raise ValueError(f"max_drift must be > 0 pixels or None, got {max_drift}.")
    _check_fraction("reinit_fraction", reinit_fraction)
    _check_fraction("clone_fraction", clone_fraction)
    if clone_fraction > 0 and keep_image:
        raise ValueError("clone_fraction > 0 needs keep_image=False: a clone takes its parent's "
                         "image.")
    _check_fraction("uniform_fraction", uniform_fraction)
    _check_fraction("view_hop", view_hop)
    _check_fraction("hop_clone_fraction", hop_clone_fraction)
    uses_views = view_hop > 0 or hop_clone_fraction > 0
    if uses_views and keep_image:
        raise ValueError("view_hop > 0 or hop_clone_fraction > 0 needs keep_image=False: a hop "
                         "changes a sample's view.")
    if int(hop_neighbours) != hop_neighbours or hop_neighbours < 0:
        raise ValueError(f"hop_neighbours must be a view count >= 0, got {hop_neighbours}.")
    occlusion_check = hop_occlusion_tolerance is not None
    if occlusion_check:
        if not hop_occlusion_tolerance >= 0:
            raise ValueError("hop_occlusion_tolerance must be a distance >= 0 (world units) or "
                             f"None, got {hop_occlusion_tolerance}.")
        if not view_hop > 0:
            raise ValueError("hop_occlusion_tolerance needs view_hop > 0 (it tests hops).")
        if hop_clone_fraction > 0:
            raise ValueError("hop_occlusion_tolerance is not combined with hop_clone_fraction.")
    if hop_farthest and hop_neighbours < 1:
        raise ValueError("hop_farthest needs hop_neighbours >= 1 (how many of the farthest views).")
    if uniform_fade is not None:
        if uniform_block:
            raise ValueError("uniform_fade needs random uniform restarts, not uniform_block.")
        if not 0 <= int(uniform_fade[0]) < int(uniform_fade[1]):
            raise ValueError(f"uniform_fade must be (start, end) with 0 <= start < end, "
                             f"got {uniform_fade}.")
    if prior not in ("edge", "uniform", "error_map"):
        raise ValueError(f"prior must be 'edge', 'uniform' or 'error_map', got {prior!r}.")
    if prior == "error_map" and int(refresh_interval) < 1:
        raise ValueError(f"refresh_interval must be a positive step count, got {refresh_interval}.")
    _check_dense_stride(dense_stride)
    if boundary not in ("reinit", "reflect"):
        raise ValueError(f"boundary must be 'reinit' or 'reflect', got {boundary!r}.")
    schedule = weights if weights is not None else WeightSchedule()

    def init(key: jax.Array, domain: Domain, num_samples: int) -> SoftMiningState:
        _check_num_samples(num_samples)
        n, m = int(num_samples), domain.num_images
        if keep_image and n < m:
            raise ValueError(
                f"keep_image=True needs at least one sample per image: {n} samples, {m} images."
            )
        if uses_views and (domain.cameras is None or m < 2):
            raise ValueError(
                "view_hop > 0 or hop_clone_fraction > 0 needs a domain of two or more views "
                f"with cameras (a NeRF task's training views); this domain has {m} image(s) and "
                f"{'no' if domain.cameras is None else 'its'} cameras.")
        prior_dist = None
        layout = dist_lib.GridLayout(domain.sizes, 1)
        if prior in ("edge", "error_map") and domain.priors is not None:
            maps = [jnp.asarray(p) for p in domain.priors]
            prior_dist = dist_lib.from_pixel_weights(layout, maps)
        elif prior == "error_map":  # refresh replaces it; the state's structure must not change
            prior_dist = dist_lib.uniform(layout)
        ids = (jnp.arange(n, dtype=jnp.int32) * m) // n if keep_image else None
        samples = sample_uniform(domain.sizes, key, n, ids)

        def zero():  # a fresh buffer per field: a donated state must not hold one buffer twice
            return jnp.zeros((), jnp.float32)

        fields = dict(
            positions=samples.positions, image_ids=samples.image_ids,
            step=jnp.zeros((), jnp.int32), prior=prior_dist,
            mean_drift=zero(), drift_clipped=zero(), reinit_fraction=zero(), sizes=domain.sizes,
        )
        if uses_views:
            views = dict(view_c2w=jnp.asarray(domain.cameras.c2w), view_hops=zero(),
                         focal=domain.cameras.focal)
            if hop_clone_fraction > 0:
                return HopCloneState(hop_clones=zero(), **views, **fields)
            if occlusion_check:
                return OcclusionHopState(hop_points=jnp.full((n, 3), jnp.nan, jnp.float32),
                                         occluded_hops=zero(), **views, **fields)
            return ViewHopState(**views, **fields)
        return SoftMiningState(**fields)

    def sample(state: SoftMiningState, key: jax.Array) -> Samples:
        del key
        return Samples(positions=state.positions, image_ids=state.image_ids)

    def loss_weights(state: SoftMiningState, l1: jax.Array) -> jax.Array:
        return schedule(l1, state.step)

    def drift_due(state: SoftMiningState) -> jax.Array:
        return state.step % drift_interval == 0

    def _clone_or_prior(key, x, ids, err, p_pos, p_ids, noise_scale):
        """Restart positions ``(N, 2)`` and image ids ``(N,)`` for the restarting samples.

        A ``clone_fraction`` of them copies a parent drawn with probability
        ``err^beta / sum(err^beta)`` over the batch (``beta``: ``concentration``; positions
        before this update's move) plus one Langevin noise step (``noise_scale``: ``(N, 2)``
        noise std in pixels, the parent's entry is used); the rest keep the prior's draws
        ``p_pos``, ``p_ids``. With no positive error in the batch every restart keeps the prior's.
        """
        n = x.shape[0]
        rand = jax.random.uniform(key, (n, 4))
        mass = jnp.exp(float(concentration) * jnp.log(jnp.maximum(err, _ERR_FLOOR)))
        parent, total = _draw_parents(jnp.where(err > 0.0, mass, 0.0), rand[:, 0])
        child = x[parent] + noise_scale[parent] * _normal_from_uniform(rand[:, 1:3])
        cloned = (rand[:, 3] < clone_fraction) & (total > 0.0)
        return (jnp.where(cloned[:, None], child, p_pos),
                jnp.where(cloned, ids[parent], p_ids))

    def _view_choices(state):
        """``(M, k)`` the views a hop from each view may go to (the ``hop_neighbours`` closest
        in viewing direction, or with ``hop_farthest`` the farthest, never the view itself), or
        None: any other view."""
        if hop_neighbours == 0:
            return None
        m = state.view_c2w.shape[0]
        forward = state.view_c2w[:, :3, 2]
        cosine = forward @ forward.T
        rank = -cosine if hop_farthest else cosine
        _, chosen = jax.lax.top_k(rank - 3.0 * jnp.eye(m), min(int(hop_neighbours), m - 1))
        return chosen

    def _other_view(state, choices, u_view, ids, points, noise):
        """Where each point lands in another view: ``(valid (N,) bool, positions (N, 2), image
        ids (N,))``. The view is drawn with the uniforms ``u_view`` ``(N,)``: uniformly over
        the other views, or over the views ``choices`` (``_view_choices``) lists for the current
        one; ``valid`` holds where the point is finite and its projection (plus ``noise``) lies
        inside that view."""
        m = state.view_c2w.shape[0]
        if choices is not None:
            k = choices.shape[1]
            other = choices[ids, jnp.minimum((u_view * k).astype(jnp.int32), k - 1)]
        else:
            other = jnp.minimum((u_view * (m - 1)).astype(jnp.int32), m - 2)
            other = other + (other >= ids).astype(jnp.int32)  # uniform over the other views
        hw = jnp.asarray(state.sizes, jnp.float32)[other]
        pos, visible = cameras_lib.project_points(points, state.view_c2w[other], state.focal,
                                                  hw[:, 1], hw[:, 0])
        pos = pos + noise
        inside = jnp.all((pos >= 0.0) & (pos <= hw[:, ::-1]), axis=-1)
        return visible & inside, pos, other

    def _hop_views(state, choices, key, ids, points, noise):
        """Where each chain would land in another view: ``(hop (N,) bool, positions (N, 2),
        image ids (N,))``. ``hop`` holds for a ``view_hop`` fraction of the samples whose point
        is finite and projects inside the drawn view, its landing point (plus ``noise``) too."""
        rand = jax.random.uniform(key, (ids.shape[0], 2))
        valid, pos, other = _other_view(state, choices, rand[:, 0], ids, points, noise)
        return (rand[:, 1] < view_hop) & valid, pos, other

    def _hop_clones(state, choices, key, ids, points, survivor, noise):
        """Restarts as hops of surviving chains: ``(cloned (N,) bool, positions (N, 2), image
        ids (N,))``. Each sample draws a parent uniformly among the ``survivor`` ``(N,)`` chains
        whose point is finite and lands in another view, drawn as for a hop, at the pixel that
        sees the parent's point (plus its own ``noise``); ``cloned`` holds for a
        ``hop_clone_fraction`` of the samples whose landing point is valid."""
        n = ids.shape[0]
        rand = jax.random.uniform(key, (n, 3))
        mass = (survivor & jnp.all(jnp.isfinite(points), axis=-1)).astype(jnp.float32)
        parent, total = _draw_parents(mass, rand[:, 0])
        valid, pos, other = _other_view(state, choices, rand[:, 1], ids[parent], points[parent],
                                        noise)
        return (rand[:, 2] < hop_clone_fraction) & valid & (total > 0.0), pos, other

    def update(state: SoftMiningState, feedback: Feedback, key: jax.Array) -> SoftMiningState:
        sizes = state.sizes
        x, ids = state.positions, state.image_ids
        n = x.shape[0]
        # Every random number of the update comes from one draw: (noise x, noise y, restart mask,
        # prior row, prior column, position x, position y, uniform image). A sample restarts from
        # the prior or uniformly, never both, so the two restarts can share the position columns.
        rand = jax.random.uniform(key, (n, 8))
        err = jnp.asarray(feedback.errors, jnp.float32)
        bad = ~jnp.isfinite(err)
        if drift:  # without the drift the position gradient is unused, and XLA need not compute it
            grad = jnp.asarray(feedback.error_grads, jnp.float32)
            bad_grad = ~jnp.all(jnp.isfinite(grad), axis=-1)
            if drift_interval > 1:  # a step that is not due does not read the gradient
                bad_grad = bad_grad & drift_due(state)
            bad = bad | bad_grad
        err = jnp.where(bad, 0.0, jnp.maximum(err, 0.0))

        hw = jnp.asarray(sizes, jnp.float32)[ids]
        wh = hw[:, ::-1]  # (N, 2) as (W, H), matching (x, y)
        scale = jnp.maximum(wh - 1.0, 1.0) if normalized_units else jnp.ones_like(wh)
        if drift:
            grad_log = jnp.where(bad[:, None], 0.0, grad) / jnp.maximum(err, _ERR_FLOOR)[:, None]
            # Bounded so the squared drift length cannot overflow float32; the trust region clips
            # far below this anyway.
            grad_log = jnp.clip(grad_log, -_MAX_GRAD_LOG, _MAX_GRAD_LOG)
            if drift_over_weight:  # the weights are a function of (Q, step): recomputed here
                w = schedule(jnp.asarray(feedback.l1, jnp.float32), state.step)
                grad_log = grad_log / jnp.maximum(w, _ERR_FLOOR)[:, None]
            step_drift = (drift_coef / n if gradient_of_mean else drift_coef) * scale * grad_log
            if drift_interval > 1:  # selected away, whatever the unread gradient held
                step_drift = jnp.where(drift_due(state), step_drift, 0.0)
        else:
            step_drift = jnp.zeros_like(x)
        length = jnp.linalg.norm(step_drift, axis=-1, keepdims=True)
        clipped = jnp.zeros((n,), bool)
        if max_drift is not None:
            clipped = length[:, 0] > max_drift
            step_drift = step_drift * jnp.minimum(1.0, max_drift / jnp.maximum(length, 1e-30))
        noise = noise_std * scale * _normal_from_uniform(rand[:, 0:2])
        moved = x + step_drift + noise
        moved_ids = ids
        hop = jnp.zeros((n,), bool)
        if uses_views:
            if feedback.points is None:
                raise ValueError("view_hop > 0 or hop_clone_fraction > 0 needs Feedback.points: a "
                                 "task over the views of a 3-D scene (NerfTask) returns them from "
                                 "predict.")
            points = jnp.asarray(feedback.points, jnp.float32)
            choices = _view_choices(state)
        occluded = jnp.zeros((n,), bool)
        if occlusion_check:  # the last hop's landing, seen from the camera the ray came from
            origin = state.view_c2w[ids][:, :3, 3]
            expected = jnp.linalg.norm(state.hop_points - origin, axis=-1)
            seen = jnp.linalg.norm(points - origin, axis=-1)
            hopped = jnp.isfinite(expected)
            occluded = hopped & (~jnp.isfinite(seen)
                                 | (seen < expected - float(hop_occlusion_tolerance)))
            points = jnp.where(occluded[:, None], state.hop_points, points)
        if view_hop > 0:  # own random numbers, so the other draws do not change with it
            hop, hop_x, hop_ids = _hop_views(state, choices, jax.random.fold_in(key, 2), ids,
                                             points, noise)
            moved = jnp.where(hop[:, None], hop_x, moved)
            moved_ids = jnp.where(hop, hop_ids, ids)
            wh = jnp.asarray(sizes, jnp.float32)[moved_ids][:, ::-1]

        if boundary == "reflect":
            period = 2.0 * wh
            t = jnp.mod(moved, period)
            moved = jnp.where(t > wh, period - t, t)
            outside = jnp.zeros((n,), bool)
        else:
            outside = jnp.any((moved < 0.0) | (moved > wh), axis=-1)
        outside = outside | ~jnp.all(jnp.isfinite(moved), axis=-1) | bad

        k_low = int(round(reinit_fraction * n))
        low = jnp.zeros((n,), bool)
        if k_low > 0:
            _, idx = jax.lax.top_k(-err, k_low)
            low = low.at[idx].set(True)
        if uniform_block:
            uni = jnp.arange(n) >= n - int(round(uniform_fraction * n))
        else:
            frac = jnp.float32(uniform_fraction)
            if uniform_fade is not None:
                start, end = int(uniform_fade[0]), int(uniform_fade[1])
                t = jnp.clip((state.step - start) / (end - start), 0.0, 1.0)
                frac = frac + (1.0 - frac) * t
            uni = rand[:, 2] < frac

        keep_ids = ids if keep_image else None
        fresh = uniform_positions(sizes, rand[:, jnp.asarray([7, 5, 6])], keep_ids)
        if state.prior is None:
            p_pos, p_ids = fresh.positions, fresh.image_ids
        else:
            p_pos, p_ids = dist_lib.sample_from_uniforms(state.prior, rand[:, 3:7], keep_ids)
        restart = outside | low
        if clone_fraction > 0:  # own random numbers, so the other draws do not change with it
            p_pos, p_ids = _clone_or_prior(jax.random.fold_in(key, 1), x, ids, err, p_pos, p_ids,
                                           noise_std * scale)
        hop_clone = jnp.zeros((n,), bool)
        if hop_clone_fraction > 0:  # own random numbers, so the other draws do not change with it
            hop_clone, c_pos, c_ids = _hop_clones(state, choices, jax.random.fold_in(key, 3), ids,
                                                  points, ~restart & ~uni, noise)
            p_pos = jnp.where(hop_clone[:, None], c_pos, p_pos)
            p_ids = jnp.where(hop_clone, c_ids, p_ids)
        new_x = jnp.where(uni[:, None], fresh.positions,
                          jnp.where(restart[:, None], p_pos, moved))
        new_ids = jnp.where(uni, fresh.image_ids, jnp.where(restart, p_ids, moved_ids))
        new_wh = jnp.asarray(sizes, jnp.float32)[new_ids][:, ::-1]
        new_x = jnp.clip(new_x, 0.0, new_wh)
        view_fields = {}  # the hop states' own fields (diagnostics and, with the check, points)
        took = hop & ~restart & ~uni  # the hops that were taken
        if uses_views:
            view_fields["view_hops"] = jnp.mean(took.astype(jnp.float32))
        if occlusion_check:
            view_fields["hop_points"] = jnp.where(took[:, None], points, jnp.nan)
            view_fields["occluded_hops"] = jnp.mean(occluded.astype(jnp.float32))
        if hop_clone_fraction > 0:
            view_fields["hop_clones"] = jnp.mean((hop_clone & restart & ~uni).astype(jnp.float32))
        return state.replace(
            positions=new_x,
            image_ids=new_ids.astype(jnp.int32),
            step=state.step + 1,
            mean_drift=jnp.mean(jnp.linalg.norm(step_drift, axis=-1)),
            drift_clipped=jnp.mean(clipped.astype(jnp.float32)),
            reinit_fraction=jnp.mean((restart | uni).astype(jnp.float32)),
            **view_fields,
        )

    def refresh(state: SoftMiningState, dense_l1) -> SoftMiningState:
        if prior != "error_map":
            return state
        # from_masses already counts non-finite or negative masses as 0 (one pixel per cell here).
        return state.replace(prior=dist_lib.from_pixel_weights(state.prior.layout, dense_l1))

    interval = int(refresh_interval) if prior == "error_map" else 0
    due = drift_due if drift and drift_interval > 1 else None
    return Sampler(init=init, sample=sample, loss_weights=loss_weights, update=update,
                   refresh=refresh, dense_refresh_interval=interval,
                   dense_stride=int(dense_stride), position_gradient_due=due)


def hard_mining_sampler(**kwargs) -> Sampler:
    """Soft mining with ``alpha = 0``: all loss weights equal (pure mining, biased)."""
    return soft_mining_sampler(weights=WeightSchedule(alpha=0.0), **kwargs)


def importance_sampler(**kwargs) -> Sampler:
    """Soft mining with ``alpha = 1`` (importance sampling), weights unclamped."""
    return soft_mining_sampler(weights=WeightSchedule(alpha=1.0, clamp_std=None), **kwargs)


def official_sampler(alpha: float = 0.6, a: float = 20.0, b: float = 2e-2,
                     version: str = "2025", **kwargs) -> Sampler:
    """The behaviour of the authors' PyTorch code (ubc-vision/nf-soft-mining, ``lmc.py`` and
    ``examples/train_ngp_nerf_prop.py``).

    ``a`` and ``b`` act on ``[0, 1]``-normalised positions with a pixel-unit gradient of the batch
    mean loss; 10% lowest-loss samples re-seeded on edges, a fixed 10% index block re-seeded
    uniformly, each sample bound to its image for life, positions rounded to pixels, and loss
    weights ``(1/clip(Q, 2^-10))^min(step/1000, alpha)`` clamped to ``[0.2, mean + std]``.

    Args:
      version: ``"2025"``: the code since commit ce17cb1 (2025-12-01, "fix grad update"), whose
        position gradient is divided by the weighted per-pixel loss ``w * err``: the drift is
        ``a * grad log err / N``. ``"2024"``: the code before it, which divided by ``w * (w *
        err)`` (the per-pixel loss had already been multiplied by the weight in place): the drift
        is ``a * grad log err / (N * w)``.
    """
    if version not in ("2024", "2025"):
        raise ValueError(f"official_sampler.version must be '2024' or '2025', got {version!r}.")
    schedule = official_weight_schedule(alpha)
    options = dict(
        a=a, b=b, max_drift=None, reinit_fraction=0.1, uniform_fraction=0.1, prior="edge",
        boundary="reinit", keep_image=True, normalized_units=True, gradient_of_mean=True,
        uniform_block=True, drift_over_weight=version == "2024",
    )
    options.update(kwargs)
    # The authors' code rounds positions to pixels: it runs on pixel-centre tasks only.
    return soft_mining_sampler(weights=schedule, **options)._replace(target_rule="pixel_centres")
