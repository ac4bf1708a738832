"""The Langevin step: drift towards high error, noise, and samples that leave their image.

Each sample moves by

    x <- x + eps * beta * grad_x log err(x) + sqrt(2 eps) * noise,

whose stationary density is proportional to ``err^beta`` (``eps`` in pixels^2, so the noise has a
standard deviation of ``sqrt(2 eps)`` pixels). ``grad_x log err = grad_x err / err`` comes from the
one backward pass of the train step (``Feedback.error_grads``). It explodes where the error
crosses zero, so the drift is clipped to a trust region of ``max_drift`` pixels. A sample that
leaves its image, or whose feedback was not finite, is marked for a restart
(``Population.restart``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from softmining_jax.samplers.population import Move, MoveInputs, Population, outside

ERR_FLOOR = 1e-12
_MAX_GRAD_LOG = 1e12


@struct.dataclass
class LangevinState:
    """Diagnostics of the last step: ``mean_drift`` (pixels) and ``drift_clipped`` (fraction of
    samples whose drift hit the trust region)."""

    mean_drift: jax.Array
    drift_clipped: jax.Array


def grad_log_error(inputs: MoveInputs) -> jax.Array:
    """``(N, 2)`` ``grad_x log err`` per pixel (0 where the feedback was not finite; bounded so
    that a squared length cannot overflow float32)."""
    grad = jnp.where(inputs.valid[:, None], jnp.asarray(inputs.feedback.error_grads, jnp.float32),
                     0.0)
    grad_log = grad / jnp.maximum(inputs.errors, ERR_FLOOR)[:, None]
    return jnp.clip(grad_log, -_MAX_GRAD_LOG, _MAX_GRAD_LOG)


def standard_normal(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Standard normals by the inverse CDF of uniforms (as ``jax.random.normal`` does)."""
    u = jax.random.uniform(key, shape)
    lo = float(np.nextafter(np.float32(-1.0), np.float32(0.0)))
    return np.float32(np.sqrt(2.0)) * jax.lax.erf_inv(jnp.maximum(2.0 * u - 1.0, lo))


def langevin(step_size: float = 2.0, concentration: float = 2.0,
             max_drift: float | None = 8.0) -> Move:
    """The Langevin move.

    Args:
      step_size: ``eps`` in pixels^2 (noise std ``sqrt(2 eps)`` pixels).
      concentration: ``beta``; the stationary density is proportional to ``err^beta``.
      max_drift: trust region: the drift vector is clipped to this length in pixels (None: off).
    """
    if not step_size > 0:
        raise ValueError(f"step_size (eps, pixels^2) must be > 0, got {step_size}.")
    if max_drift is not None and not max_drift > 0:
        raise ValueError(f"max_drift must be > 0 pixels or None, got {max_drift}.")
    drift_coef, noise_std = float(step_size) * float(concentration), (2.0 * step_size) ** 0.5

    def init(domain, num_samples) -> LangevinState:
        return LangevinState(mean_drift=jnp.zeros(()), drift_clipped=jnp.zeros(()))

    def update(state: LangevinState, pop: Population, inputs: MoveInputs, key: jax.Array):
        drift = drift_coef * grad_log_error(inputs)
        length = jnp.linalg.norm(drift, axis=-1, keepdims=True)
        clipped = jnp.zeros(length.shape[:1], bool)
        if max_drift is not None:
            clipped = length[:, 0] > max_drift
            drift = drift * jnp.minimum(1.0, max_drift / jnp.maximum(length, 1e-30))
        moved = pop.positions + drift + noise_std * standard_normal(key, pop.positions.shape)
        restart = pop.restart | outside(moved, pop.image_ids, inputs.sizes)
        return (LangevinState(mean_drift=jnp.mean(jnp.linalg.norm(drift, axis=-1)),
                              drift_clipped=jnp.mean(clipped.astype(jnp.float32))),
                pop._replace(positions=moved, restart=restart))

    def diagnostics(state: LangevinState) -> dict[str, jax.Array]:
        return {"mean_drift": state.mean_drift, "drift_clipped": state.drift_clipped}

    return Move(init=init, update=update, diagnostics=diagnostics)
