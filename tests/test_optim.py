"""Adam with lazy hash-table entries (tiny-cuda-nn semantics)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax

from softmining_jax.optim import adam


def _params():
    return {"field": {"table": jnp.ones((6, 2)), "kernel": jnp.ones((3, 4))}}


def test_lazy_table_adam_equals_adam_while_every_entry_has_a_gradient():
    params = _params()
    grads = {"field": {"table": jnp.arange(12.0).reshape(6, 2) + 1.0,
                       "kernel": jnp.full((3, 4), -0.5)}}
    lazy = adam(learning_rate=1e-2, num_steps=100, lazy_tables=True)
    dense = adam(learning_rate=1e-2, num_steps=100)
    s_lazy, s_dense = lazy.init(params), dense.init(params)
    for k in range(4):
        g = {"field": {n: v * (k + 1) for n, v in grads["field"].items()}}
        u_lazy, s_lazy = lazy.update(g, s_lazy, params)
        u_dense, s_dense = dense.update(g, s_dense, params)
        for name in ("table", "kernel"):
            np.testing.assert_allclose(u_lazy["field"][name], u_dense["field"][name], rtol=1e-5)


def test_a_table_entry_without_gradient_keeps_its_value_and_its_own_step_count():
    params = _params()
    lazy = adam(learning_rate=1e-2, schedule="constant", lazy_tables=True)
    state = lazy.init(params)
    touched = jnp.zeros((6, 2)).at[:2].set(1.0)
    kernel = jnp.ones((3, 4))
    for _ in range(3):  # rows 0-1 have gradients, rows 2-5 none
        updates, state = lazy.update({"field": {"table": touched, "kernel": kernel}}, state,
                                     params)
        table = np.asarray(updates["field"]["table"])
        np.testing.assert_array_equal(table[2:], 0.0)
        np.testing.assert_allclose(table[:2], -1e-2, rtol=1e-5)
    # Plain Adam keeps moving an entry by its momentum after its gradient stops; lazy does not.
    dense = optax.adam(1e-2, b1=0.9, b2=0.99, eps=1e-15)
    d_state = dense.init(params)
    for g in (touched, touched, jnp.zeros((6, 2))):
        d_updates, d_state = dense.update({"field": {"table": g, "kernel": kernel}}, d_state)
    assert np.all(np.asarray(d_updates["field"]["table"][:2]) < -1e-3)
    # Row 4's first gradients get a first Adam step (bias-corrected by its own count: 1).
    first = jnp.zeros((6, 2)).at[4].set(-3.0)
    updates, state = lazy.update({"field": {"table": first, "kernel": kernel}}, state, params)
    np.testing.assert_allclose(updates["field"]["table"][4], 1e-2, rtol=1e-5)
    np.testing.assert_array_equal(updates["field"]["table"][:4], 0.0)
