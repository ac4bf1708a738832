"""Optimizers: Adam with the learning-rate schedules the configs use."""

from __future__ import annotations

import math

import optax

SCHEDULES = ("exponential", "cosine", "constant")


def adam(
    learning_rate: float = 1e-2,
    num_steps: int = 20_000,
    schedule: str = "exponential",
    final_lr_factor: float = 0.1,
    b1: float = 0.9,
    b2: float = 0.99,
    eps: float = 1e-15,
) -> optax.GradientTransformation:
    """Adam with a learning-rate decay over ``num_steps`` (instant-ngp style ``eps``).

    Args:
      learning_rate: the initial rate.
      num_steps: the steps the decay spans (the run's length).
      schedule: ``"exponential"`` (to ``final_lr_factor * lr``), ``"cosine"`` (to
        ``final_lr_factor * lr``) or ``"constant"``.
      final_lr_factor: the rate at ``num_steps`` over the initial rate.
      b1, b2, eps: Adam's moment decays and denominator floor.
    """
    for name, value in (("learning_rate", learning_rate), ("final_lr_factor", final_lr_factor),
                        ("eps", eps)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ValueError(f"adam.{name} must be a finite number >= 0, got {value!r}.")
    if not learning_rate > 0:
        raise ValueError(f"adam.learning_rate must be > 0, got {learning_rate!r}.")
    if isinstance(num_steps, bool) or int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"adam.num_steps must be a whole number >= 1, got {num_steps!r}.")
    if schedule == "exponential":
        lr = optax.exponential_decay(learning_rate, num_steps, final_lr_factor)
    elif schedule == "cosine":
        lr = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=final_lr_factor)
    elif schedule == "constant":
        lr = learning_rate
    else:
        raise ValueError(f"adam.schedule must be one of {SCHEDULES}, got {schedule!r}.")
    return optax.adam(lr, b1=b1, b2=b2, eps=eps)
