"""Hash-grid encoding against a slow reference, finite-difference gradients, fields."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softmining_jax.fields import (
    MLP,
    FourierEncoding,
    HashGridEncoding,
    HashGridLayout,
    ImageField,
    RadianceField,
    hash_encode,
)
from softmining_jax.fields.hash_grid import _interpolation_slopes

jax.config.update("jax_enable_x64", False)


def reference_encode(table: np.ndarray, x: np.ndarray, layout: HashGridLayout) -> np.ndarray:
    """Obviously-correct loops over points, levels and corners (instant-ngp's definition)."""
    n, d = x.shape
    out = np.zeros((n, layout.num_levels, table.shape[1]))
    for i in range(n):
        p = np.clip(x[i].astype(np.float64), 0, 1)
        for lvl in range(layout.num_levels):
            res = int(layout.resolutions[lvl])
            scaled = p * res
            base = np.minimum(np.floor(scaled), res - 1).astype(np.int64)
            frac = scaled - base
            for corner in itertools.product((0, 1), repeat=d):
                c = base + np.asarray(corner)
                weight = np.prod([frac[k] if corner[k] else 1 - frac[k] for k in range(d)])
                if (res + 1) ** d <= 2**layout.log2_table_size:
                    index = sum(int(c[k]) * (res + 1) ** k for k in range(d))
                else:
                    primes = (1, 2654435761, 805459861)
                    h = 0
                    for k in range(d):
                        h ^= (int(c[k]) * primes[k]) & 0xFFFFFFFF
                    index = h % 2**layout.log2_table_size
                out[i, lvl] += weight * table[layout.offsets[lvl] + index]
    return out.reshape(n, -1)


@pytest.mark.parametrize("dim", [2, 3])
def test_hash_encoding_matches_reference(dim):
    layout = HashGridLayout(dim=dim, num_levels=6, log2_table_size=9, base_resolution=2,
                            max_resolution=40)
    assert layout.dense.any() and not layout.dense.all()  # both dense and hashed levels
    rng = np.random.default_rng(0)
    table = rng.normal(size=(layout.table_size, 3)).astype(np.float32)
    x = rng.uniform(-0.1, 1.1, size=(50, dim)).astype(np.float32)  # outside values are clamped
    x[0] = 1.0
    x[1] = 0.0
    got = np.asarray(hash_encode(jnp.asarray(table), jnp.asarray(x), layout))
    np.testing.assert_allclose(got, reference_encode(table, x, layout), rtol=1e-4, atol=1e-4)


def test_layout_resolutions_and_offsets():
    layout = HashGridLayout(dim=2, num_levels=16, log2_table_size=16, base_resolution=16,
                            max_resolution=2048)
    assert layout.resolutions[0] == 16 and layout.resolutions[-1] == 2048
    assert np.all(np.diff(layout.resolutions) > 0)
    assert layout.level_sizes.max() == 2**16
    np.testing.assert_array_equal(layout.offsets[1:], np.cumsum(layout.level_sizes)[:-1])
    with pytest.raises(ValueError):
        HashGridLayout(dim=4)
    with pytest.raises(ValueError):
        HashGridLayout(dim=2, base_resolution=64, max_resolution=16)


@pytest.mark.parametrize("dim", [2, 3])
def test_gradients_match_finite_differences_and_autodiff(dim):
    layout = HashGridLayout(dim=dim, num_levels=4, log2_table_size=8, base_resolution=3,
                            max_resolution=30)
    rng = np.random.default_rng(1)
    table = jnp.asarray(rng.normal(size=(layout.table_size, 2)), jnp.float32)
    x = jnp.asarray(rng.uniform(0.05, 0.95, size=(8, dim)), jnp.float32)
    probe = jnp.asarray(rng.normal(size=(8, layout.num_levels * 2)), jnp.float32)

    def f(t, p):
        return jnp.sum(probe * hash_encode(t, p, layout))

    g_table, g_x = jax.grad(f, argnums=(0, 1))(table, x)
    # Position: central differences, small enough to stay inside each cell (piecewise smooth).
    h = 1e-3
    for i in range(3):
        for k in range(dim):
            e = jnp.zeros_like(x).at[i, k].set(h)
            fd = (f(table, x + e) - f(table, x - e)) / (2 * h)
            assert float(g_x[i, k]) == pytest.approx(float(fd), rel=2e-2, abs=2e-2)
    # Table: the encoding is linear in the table, so autodiff of the plain forward is exact.
    auto = jax.grad(lambda t: jnp.sum(probe * jax.jit(hash_encode, static_argnums=2)(t, x,
                                                                                   layout)))
    np.testing.assert_allclose(g_table, auto(table), rtol=1e-5, atol=1e-6)
    # Outside [0, 1] the input is clamped: zero position gradient.
    outside = jnp.full((8, dim), 1.5)
    assert float(jnp.abs(jax.grad(f, argnums=1)(table, outside)).max()) == 0.0


@pytest.mark.parametrize("backward", ["custom_vjp", "autodiff"])
@pytest.mark.parametrize("dim", [2, 3])
def test_corner_loop_matches_the_summed_gather_and_autodiff(dim, backward):
    """The encoding sums the corners one at a time (so XLA fuses each gather into the sum); it
    equals the previous implementation, a sum over the stacked (N, L, 2^D, F) gather, and both
    backward passes (the hand-written VJP, autodiff of the corner loop) equal autodiff of that
    previous forward, for the table and the positions."""
    from softmining_jax.fields import hash_grid as hg

    encode = {"custom_vjp": hg.hash_encode_custom_vjp, "autodiff": hg.hash_encode_autodiff}[
        backward]

    layout = HashGridLayout(dim=dim, num_levels=5, log2_table_size=10, base_resolution=4,
                            max_resolution=200)
    rng = np.random.default_rng(2)
    table = jnp.asarray(rng.normal(size=(layout.table_size, 2)), jnp.float32)
    x = jnp.asarray(rng.uniform(0.0, 1.0, size=(64, dim)), jnp.float32)
    probe = jnp.asarray(rng.normal(size=(64, layout.num_levels * 2)), jnp.float32)

    def previous(t, p):  # the summed gather, differentiated by autodiff
        idx, frac, corners = hg._corner_indices(p, layout)
        w = hg._product(hg._axis_factors(frac, corners))
        return jnp.sum(w[..., None] * t[idx], axis=2).reshape(p.shape[0], -1)

    np.testing.assert_allclose(encode(table, x, layout), previous(table, x), rtol=1e-5,
                               atol=1e-6)
    ours = jax.grad(lambda t, p: jnp.sum(probe * encode(t, p, layout)), (0, 1))(table, x)
    auto = jax.grad(lambda t, p: jnp.sum(probe * previous(t, p)), (0, 1))(table, x)
    for a, b in zip(ours, auto, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_interpolation_slopes_by_hand():
    # Bilinear over corners (00, 01, 10, 11) = (a, b, c, d) at fractions (u, v):
    # d/du = (c - a)(1 - v) + (d - b) v and d/dv = (b - a)(1 - u) + (d - c) u.
    a, b, c, d, u, v = 1.0, -2.0, 4.0, 0.5, 0.25, 0.75
    got = _interpolation_slopes(jnp.asarray([[[a, b, c, d]]]), jnp.asarray([[[u, v]]]))
    want = [(c - a) * (1 - v) + (d - b) * v, (b - a) * (1 - u) + (d - c) * u]
    np.testing.assert_allclose(np.asarray(got)[0, 0], want, rtol=1e-6)
    # 1-D: the slope is the difference of the two ends.
    got = _interpolation_slopes(jnp.asarray([[[3.0, 5.0]]]), jnp.asarray([[[0.4]]]))
    np.testing.assert_allclose(np.asarray(got)[0, 0], [2.0])
    # 3-D: against autodiff of the corner-weight form, at random fractions and values.
    rng = np.random.default_rng(2)
    values = jnp.asarray(rng.normal(size=(5, 4, 8)), jnp.float32)
    frac = jnp.asarray(rng.uniform(size=(5, 4, 3)), jnp.float32)
    corners = np.asarray(list(itertools.product((0, 1), repeat=3)), np.float32)

    def interpolate(f):
        w = jnp.prod(jnp.where(corners[None, None] > 0, f[:, :, None], 1.0 - f[:, :, None]), -1)
        return jnp.sum(w * values)

    want = jax.grad(interpolate)(frac)
    np.testing.assert_allclose(_interpolation_slopes(values, frac), want, rtol=1e-5, atol=1e-5)


def test_flax_modules_shapes():
    x = jnp.full((5, 2), 0.3)
    enc = HashGridEncoding(num_levels=4, features_per_level=2, log2_table_size=8,
                           max_resolution=64)
    params = enc.init(jax.random.key(0), x)
    table = params["params"]["table"]
    assert float(jnp.abs(table).max()) <= 1e-4
    assert enc.apply(params, x).shape == (5, 8)
    assert FourierEncoding(num_frequencies=3).apply({}, x).shape == (5, 2 + 2 * 2 * 3)
    mlp = MLP(width=8, depth=2, out_features=3)
    assert mlp.apply(mlp.init(jax.random.key(0), x), x).shape == (5, 3)
    for encoding in ("hash", "fourier"):
        field = ImageField(channels=4, resolution=64, encoding=encoding, num_levels=4,
                           log2_table_size=8)
        y = field.apply(field.init(jax.random.key(0), x), x)
        assert y.shape == (5, 4) and float(y.min()) >= 0 and float(y.max()) <= 1
    with pytest.raises(ValueError, match="encoding"):
        ImageField(encoding="siren").init(jax.random.key(0), x)


def test_mlp_shared_inputs_are_the_concatenation():
    """A per-ray input shared by the samples gives the parameters and outputs of the MLP on the
    concatenated input (checkpoints of either form load into the other)."""
    x = jax.random.normal(jax.random.key(1), (4, 5, 3))
    shared = jax.random.normal(jax.random.key(2), (4, 1, 2))
    full = jnp.concatenate([x, jnp.broadcast_to(shared, (4, 5, 2))], axis=-1)
    mlp = MLP(width=8, depth=2, out_features=3)
    params = mlp.init(jax.random.key(0), x, shared)
    reference = mlp.init(jax.random.key(0), full)
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(
        lambda a, b: a.shape == b.shape and bool(jnp.all(a == b)), params, reference))
    np.testing.assert_allclose(mlp.apply(params, x, shared), mlp.apply(params, full),
                               rtol=1e-5, atol=1e-6)


def test_radiance_field_per_ray_directions_match_per_sample():
    field = RadianceField(num_levels=4, log2_table_size=10, max_resolution=64, width=16)
    pts = jax.random.uniform(jax.random.key(1), (6, 5, 3), minval=-1.6, maxval=1.6)
    dirs = jax.random.normal(jax.random.key(2), (6, 1, 3))
    dirs = dirs / jnp.linalg.norm(dirs, axis=-1, keepdims=True)
    params = field.init(jax.random.key(0), pts, dirs)
    density, rgb = field.apply(params, pts, dirs)
    assert density.shape == (6, 5) and rgb.shape == (6, 5, 3)
    flat_density, flat_rgb = field.apply(params, pts.reshape(-1, 3),
                                         jnp.broadcast_to(dirs, pts.shape).reshape(-1, 3))
    np.testing.assert_allclose(density.reshape(-1), flat_density, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rgb.reshape(-1, 3), flat_rgb, rtol=1e-5, atol=1e-6)


def test_the_corner_computation_is_stored_once_on_the_cpu():
    """On the CPU the hash of the corners is computed once per call, not fused into every gather
    and the scatter (a conditional keeps it in one buffer; if XLA hoisted the rows out of it, as
    it does with a branch output passed through unchanged, the hash would be recomputed in each
    consumer). The encoding's values and gradients are checked against the summed gather above."""
    from softmining_jax.fields import hash_grid as hg

    if jax.default_backend() != "cpu":
        pytest.skip("the corner computation is stored once only when compiled for the CPU")
    layout = HashGridLayout(dim=3, num_levels=4, log2_table_size=8, base_resolution=2,
                            max_resolution=64)  # dense and hashed levels
    table = jnp.zeros((layout.table_size, 2), jnp.float32)
    x = jnp.full((64, 3), 0.3, jnp.float32)
    for encode in (hash_encode, hg.hash_encode_autodiff):
        step = jax.jit(jax.grad(lambda t, p, e=encode: jnp.sum(e(t, p, layout) ** 2), (0, 1)))
        computations = step.lower(table, x).compile().as_text().split("\n\n")
        assert any(" xor(" in c for c in computations)  # the hash is in the program
        recomputing = [c.splitlines()[0] for c in computations
                       if " xor(" in c and (" gather(" in c or " scatter(" in c)]
        assert not recomputing, f"the hash is recomputed in {len(recomputing)} gathers/scatters"
