"""Re-seeding: the lowest-error samples, and those asked to restart, start anew from a density.

Mining concentrates samples where the error is; samples whose error is already among the lowest
of the batch teach little, so a ``fraction`` of them restarts each step from a density (Sobel
edges, uniform, a dense error map), together with every sample an earlier move marked for a
restart (it left its image, its feedback was not finite).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from softmining_jax.samplers.densities import Density, edge_density
from softmining_jax.samplers.population import (
    Move,
    MoveInputs,
    Population,
    check_fraction,
    lowest,
)


@struct.dataclass
class ReseedState:
    """``density``: the density's state; ``reseeded``: fraction of samples re-seeded by the last
    update (diagnostic)."""

    density: object
    reseeded: jax.Array


def reseed(fraction: float = 0.5, density: Density | None = None,
           keep_image: bool = False) -> Move:
    """The re-seeding move.

    Args:
      fraction: share of the batch with the lowest error that restarts each step.
      density: where restarts are drawn (default :func:`edge_density`).
      keep_image: draw each restart on the sample's own image (else the image is drawn too, in
        proportion to the density's mass).
    """
    check_fraction("reinit_fraction", fraction)
    density = density if density is not None else edge_density()

    def init(domain, num_samples) -> ReseedState:
        return ReseedState(density=density.init(domain, num_samples), reseeded=jnp.zeros(()))

    def update(state: ReseedState, pop: Population, inputs: MoveInputs, key: jax.Array):
        dens = density.observe(state.density, inputs.feedback, inputs.step)
        restart = pop.restart | lowest(inputs.errors, fraction)
        n = restart.shape[0]
        drawn = density.draw(dens, key, n, pop.image_ids if keep_image else None)
        pop = Population(positions=jnp.where(restart[:, None], drawn.positions, pop.positions),
                         image_ids=jnp.where(restart, drawn.image_ids, pop.image_ids),
                         restart=jnp.zeros_like(restart))
        return ReseedState(density=dens, reseeded=jnp.mean(restart.astype(jnp.float32))), pop

    refresh = None
    if density.refresh is not None:
        def refresh(state: ReseedState, dense_l1) -> ReseedState:
            return state.replace(density=density.refresh(state.density, dense_l1))

    def diagnostics(state: ReseedState) -> dict[str, jax.Array]:
        return {"reseeded": state.reseeded}

    return Move(init=init, update=update, refresh=refresh, diagnostics=diagnostics)
