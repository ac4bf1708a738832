"""Uniform restarts: every sample restarts uniformly with a small probability, so no region is
ever starved (and a biased sampler keeps seeing the whole domain)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from softmining_jax.samplers.population import Move, MoveInputs, Population, check_fraction
from softmining_jax.samplers.uniform import uniform_positions


@struct.dataclass
class UniformRestartState:
    """``restarted``: fraction of samples restarted by the last update (diagnostic)."""

    restarted: jax.Array


def uniform_restart(fraction: float = 0.1, keep_image: bool = False) -> Move:
    """Each sample restarts, with probability ``fraction``, at a uniform position (on its own
    image with ``keep_image``, else over all pixels)."""
    check_fraction("uniform_fraction", fraction)

    def init(domain, num_samples) -> UniformRestartState:
        return UniformRestartState(restarted=jnp.zeros(()))

    def update(state, pop: Population, inputs: MoveInputs, key: jax.Array):
        u = jax.random.uniform(key, (pop.image_ids.shape[0], 4))
        chosen = u[:, 0] < fraction
        fresh = uniform_positions(inputs.sizes, u[:, 1:], pop.image_ids if keep_image else None)
        pop = Population(positions=jnp.where(chosen[:, None], fresh.positions, pop.positions),
                         image_ids=jnp.where(chosen, fresh.image_ids, pop.image_ids),
                         restart=pop.restart & ~chosen)
        return UniformRestartState(restarted=jnp.mean(chosen.astype(jnp.float32))), pop

    def diagnostics(state: UniformRestartState) -> dict[str, jax.Array]:
        return {"uniform_restarts": state.restarted}

    return Move(init=init, update=update, diagnostics=diagnostics)
