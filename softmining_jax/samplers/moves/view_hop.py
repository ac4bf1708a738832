"""View hops: a chain on one view of a scene continues on another view that sees the same point.

The feedback of a NeRF task carries the 3-D point each ray renders (``Feedback.points``). With
probability ``probability`` a chain hops to another training view drawn uniformly: to the pixel
where that view sees its point (:meth:`~softmining_jax.samplers.domain.ViewCameras.project`), plus
a Langevin noise step, instead of where the moves before left it. A hard region is then trained
from many viewpoints instead of by one ray. A hop whose point is missing (the ray saw background)
or projects outside the other view is not taken; occlusion is not tested (an occluded landing
point has its own error, and is re-seeded if that is low).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from softmining_jax.samplers.domain import ViewCameras
from softmining_jax.samplers.moves.langevin import standard_normal
from softmining_jax.samplers.population import Move, MoveInputs, Population, check_fraction


@struct.dataclass
class ViewHopState:
    """``hops``: fraction of samples that hopped in the last update (some may be re-seeded after
    by a later move; diagnostic); ``cameras``: the views (static)."""

    hops: jax.Array
    cameras: ViewCameras = struct.field(pytree_node=False)


def view_hop(probability: float = 1.0, step_size: float = 2.0) -> Move:
    """The view-hop move (``step_size``: the landing's noise, ``sqrt(2 step_size)`` pixels)."""
    check_fraction("view_hop", probability)
    noise_std = (2.0 * step_size) ** 0.5

    def init(domain, num_samples) -> ViewHopState:
        if domain.cameras is None or domain.num_images < 2:
            raise ValueError(
                "view_hop > 0 needs a domain of two or more views with cameras (a NeRF task's "
                f"training views); this domain has {domain.num_images} image(s) and "
                f"{'no' if domain.cameras is None else 'its'} cameras.")
        return ViewHopState(hops=jnp.zeros(()), cameras=domain.cameras)

    def update(state: ViewHopState, pop: Population, inputs: MoveInputs, key: jax.Array):
        if inputs.feedback.points is None:
            raise ValueError("view_hop needs Feedback.points: a task over the views of a 3-D "
                             "scene (NerfTask) returns them from predict.")
        k_choice, k_noise = jax.random.split(key)
        n, m = pop.image_ids.shape[0], len(inputs.sizes)
        u = jax.random.uniform(k_choice, (n, 2))
        other = jnp.minimum((u[:, 0] * (m - 1)).astype(jnp.int32), m - 2)
        other = other + (other >= pop.image_ids).astype(jnp.int32)  # uniform over the others
        points = jnp.asarray(inputs.feedback.points, jnp.float32)
        landing, visible = state.cameras.project(points, other, inputs.sizes)
        landing = landing + noise_std * standard_normal(k_noise, landing.shape)
        wh = jnp.asarray(inputs.sizes, jnp.float32)[other][:, ::-1]
        inside = jnp.all((landing >= 0.0) & (landing <= wh), axis=-1)
        hop = (u[:, 1] < probability) & visible & inside & inputs.valid
        pop = Population(positions=jnp.where(hop[:, None], landing, pop.positions),
                         image_ids=jnp.where(hop, other, pop.image_ids),
                         restart=pop.restart & ~hop)
        return state.replace(hops=jnp.mean(hop.astype(jnp.float32))), pop

    def diagnostics(state: ViewHopState) -> dict[str, jax.Array]:
        return {"view_hops": state.hops}

    return Move(init=init, update=update, diagnostics=diagnostics)
