"""Sampler tests: statistics against exact densities, edge cases, jit/vmap, determinism."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softmining_jax.samplers import (
    Domain,
    Feedback,
    Samples,
    SoftMiningState,
    WeightSchedule,
    error_map_sampler,
    hard_mining_sampler,
    importance_sampler,
    official_sampler,
    sample_uniform,
    sobel_prior,
    soft_mining_sampler,
    uniform_sampler,
)
from softmining_jax.samplers import distribution as dist_lib
from softmining_jax.samplers.priors import sobel_magnitude


def _hist(positions: np.ndarray, size: tuple[int, int], cell: int) -> np.ndarray:
    h, w = size
    counts, _, _ = np.histogram2d(
        positions[:, 1], positions[:, 0], bins=(h // cell, w // cell), range=((0, h), (0, w))
    )
    return counts / counts.sum()


def _total_variation(p: np.ndarray, q: np.ndarray) -> float:
    return 0.5 * float(np.abs(p - q).sum())


# --- Langevin converges to err^beta -------------------------------------------------------------

SIZE = (32, 32)
CENTRE = jnp.asarray([20.0, 12.0])


def _analytic_error(x: jax.Array) -> jax.Array:
    """A smooth error field on a 32x32 image: a bump on a floor (colour^2 units)."""
    d2 = jnp.sum((x - CENTRE) ** 2)
    return 0.05 + jnp.exp(-d2 / (2 * 6.0**2))


def _exact_density(beta: float, cell: int, fine: int = 8) -> np.ndarray:
    h, w = SIZE
    ys = (np.arange(h * fine) + 0.5) / fine
    xs = (np.arange(w * fine) + 0.5) / fine
    grid = jnp.stack(jnp.meshgrid(jnp.asarray(xs), jnp.asarray(ys)), -1).reshape(-1, 2)
    err = np.asarray(jax.vmap(_analytic_error)(grid)).reshape(h * fine, w * fine)
    dens = err**beta
    dens = dens.reshape(h // cell, cell * fine, w // cell, cell * fine).sum(axis=(1, 3))
    return dens / dens.sum()


def _run_langevin(beta: float, steps: int, n: int = 4096) -> np.ndarray:
    sampler = soft_mining_sampler(
        step_size=0.5, concentration=beta, max_drift=None, reinit_fraction=0.0,
        uniform_fraction=0.0, prior="uniform", boundary="reflect",
    )
    domain = Domain.from_sizes([SIZE])
    state = sampler.init(jax.random.key(0), domain, n)
    err_and_grad = jax.vmap(jax.value_and_grad(_analytic_error))

    def body(state, key):
        samples = sampler.sample(state, key)
        err, grad = err_and_grad(samples.positions)
        fb = Feedback(samples, err, jnp.sqrt(err), grad)
        return sampler.update(state, fb, key), None

    keys = jax.random.split(jax.random.key(1), steps)
    state, _ = jax.jit(lambda s: jax.lax.scan(body, s, keys))(state)
    return np.asarray(state.positions)


@pytest.mark.parametrize("beta", [1.0, 3.0])
def test_langevin_converges_to_err_power_beta(beta):
    positions = _run_langevin(beta, steps=3000)
    cell = 4
    tv = _total_variation(_hist(positions, SIZE, cell), _exact_density(beta, cell))
    # 4096 samples over 64 cells: sampling noise alone gives TV ~0.04.
    assert tv < 0.08, tv
    # And the target is far from uniform, so the test can fail.
    uniform = np.full((SIZE[0] // cell, SIZE[1] // cell), 1.0 / 64)
    assert _total_variation(uniform, _exact_density(beta, cell)) > 0.25


def test_paper_form_matches_eps_beta():
    eps, beta = 2.0, 3.0
    s1 = soft_mining_sampler(step_size=eps, concentration=beta, uniform_fraction=0.0)
    s2 = soft_mining_sampler(a=eps * beta, b=(2 * eps) ** 0.5, uniform_fraction=0.0)
    domain = Domain.from_sizes([SIZE])
    st1 = s1.init(jax.random.key(0), domain, 64)
    st2 = s2.init(jax.random.key(0), domain, 64)
    smp = s1.sample(st1, jax.random.key(0))
    err, grad = jax.vmap(jax.value_and_grad(_analytic_error))(smp.positions)
    fb = Feedback(smp, err, jnp.sqrt(err), grad)
    a = s1.update(st1, fb, jax.random.key(3)).positions
    b = s2.update(st2, fb, jax.random.key(3)).positions
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-5)


def test_drift_moves_towards_error_within_trust_region():
    kwargs = dict(step_size=1.0, concentration=10.0, max_drift=2.0, reinit_fraction=0.0,
                  uniform_fraction=0.0, prior="uniform", boundary="reflect")
    with_drift, without = soft_mining_sampler(**kwargs), soft_mining_sampler(drift=False, **kwargs)
    domain = Domain.from_sizes([(200, 200)])
    state = with_drift.init(jax.random.key(0), domain, 256)
    state = state.replace(positions=state.positions * 0.1 + 5.0)  # around the bump, off borders
    smp = with_drift.sample(state, jax.random.key(0))
    err, grad = jax.vmap(jax.value_and_grad(_analytic_error))(smp.positions)
    fb = Feedback(smp, err, jnp.sqrt(err), grad)
    key = jax.random.key(5)
    drift = np.asarray(with_drift.update(state, fb, key).positions
                       - without.update(state, fb, key).positions)
    length = np.linalg.norm(drift, axis=-1)
    expected = 10.0 * np.asarray(grad) / np.asarray(err)[:, None]  # eps * beta * grad log err
    expected *= np.minimum(1.0, 2.0 / np.linalg.norm(expected, axis=-1))[:, None]
    np.testing.assert_allclose(drift, expected, rtol=1e-4, atol=1e-4)
    assert length.max() <= 2.0 + 1e-4 and length.max() > 1.0


# --- priors and error maps follow their densities -----------------------------------------------


def _square_image() -> np.ndarray:
    img = np.zeros((24, 40), np.uint8)
    img[6:18, 10:22] = 255
    return img


def test_sobel_prior_shape_mean_and_edges():
    prior = sobel_prior(_square_image())
    assert prior.shape == (24, 40)
    np.testing.assert_allclose(prior.mean(), 1.0, rtol=1e-5)
    assert prior[6, 15] > 10 * prior[0, 0]  # edge vs flat background
    assert prior.min() > 0
    np.testing.assert_array_equal(sobel_prior(np.full((5, 7, 3), 9, np.uint8)), np.ones((5, 7)))


def test_sobel_prior_power_sharpens_towards_the_strongest_edges():
    rng = np.random.default_rng(0)
    img = (rng.random((24, 40)) * 255).astype(np.uint8)
    mag = sobel_magnitude(img.astype(np.float32) / 255.0)
    for power in (0.5, 2.0, 3.0):
        prior = sobel_prior(img, floor=0.0, power=power)
        np.testing.assert_allclose(prior.mean(), 1.0, rtol=1e-5)
        expected = mag**power / np.mean(mag**power)
        np.testing.assert_allclose(prior, expected, rtol=1e-4, atol=1e-6)
    # A sharper prior puts more of its mass on the top 10% of pixels.
    top = mag >= np.quantile(mag, 0.9)
    masses = [sobel_prior(img, power=p)[top].sum() for p in (0.5, 1.0, 2.0)]
    assert masses[0] < masses[1] < masses[2]
    np.testing.assert_array_equal(sobel_prior(img, power=1.0), sobel_prior(img))
    # Huge powers stay finite (the magnitude is scaled to a maximum of 1 first).
    assert np.isfinite(sobel_prior(img, power=60.0)).all()


@pytest.mark.parametrize("power", [0.0, -1.0, float("nan"), float("inf")])
def test_edge_power_must_be_positive_and_finite(power):
    with pytest.raises(ValueError, match="edge_power"):
        sobel_prior(_square_image(), power=power)
    with pytest.raises(ValueError, match="edge_power"):
        Domain.from_images([_square_image()], edge_power=power)


def test_domain_edge_power_reaches_the_priors():
    img = _square_image()
    sharp = Domain.from_images([img], edge_power=2.0).priors[0]
    np.testing.assert_array_equal(sharp, sobel_prior(img, power=2.0))
    assert not np.array_equal(sharp, Domain.from_images([img]).priors[0])


def test_edge_prior_samples_follow_sobel_density():
    img = _square_image()
    domain = Domain.from_images([img])
    layout = dist_lib.GridLayout(domain.sizes, 1)
    dist = dist_lib.from_pixel_weights(layout, [jnp.asarray(domain.priors[0])])
    pos, ids = jax.jit(lambda k: dist_lib.sample(dist, k, 400_000))(jax.random.key(0))
    assert int(ids.max()) == 0
    cell = 2
    expected = domain.priors[0].reshape(12, cell, 20, cell).sum(axis=(1, 3))
    tv = _total_variation(_hist(np.asarray(pos), (24, 40), cell), expected / expected.sum())
    assert tv < 0.02, tv


@pytest.mark.parametrize("cell_size", [1, 4, 7])
def test_error_map_samples_follow_grid(cell_size):
    size = (21, 30)
    rng = np.random.default_rng(0)
    dense = rng.gamma(0.5, size=size).astype(np.float32)
    sampler = error_map_sampler(cell_size=cell_size, uniform_fraction=0.0)
    state = sampler.init(jax.random.key(0), Domain.from_sizes([size]), 4096)
    state = sampler.refresh(state, [jnp.asarray(dense)])
    keys = jax.random.split(jax.random.key(1), 100)
    pos = jax.jit(jax.vmap(lambda k: sampler.sample(state, k).positions))(keys)
    pos = np.asarray(pos).reshape(-1, 2)
    # The density is piecewise constant: each cell's mean error. Compare on 3x3-pixel bins.
    layout = dist_lib.GridLayout((size,), cell_size)
    cell_mean = np.asarray(layout.pool([jnp.asarray(dense)])) / layout.cell_areas
    per_pixel = np.repeat(np.repeat(cell_mean, cell_size, 0), cell_size, 1)[: size[0], : size[1]]
    expected = per_pixel.reshape(7, 3, 10, 3).sum(axis=(1, 3))
    tv = _total_variation(_hist(pos, size, 3), expected / expected.sum())
    assert tv < 0.02, tv


def test_multi_image_distribution_masses():
    sizes = ((10, 20), (30, 5), (3, 3))
    layout = dist_lib.GridLayout(sizes, 2)
    maps = [jnp.full(s, float(m + 1)) for m, s in enumerate(sizes)]
    dist = dist_lib.from_pixel_weights(layout, maps)
    pos, ids = dist_lib.sample(dist, jax.random.key(0), 200_000)
    mass = np.array([(m + 1) * h * w for m, (h, w) in enumerate(sizes)], float)
    freq = np.bincount(np.asarray(ids), minlength=3) / 200_000
    np.testing.assert_allclose(freq, mass / mass.sum(), atol=0.005)
    hw = np.asarray(sizes, float)[np.asarray(ids)]
    p = np.asarray(pos)
    assert np.all(p >= 0) and np.all(p[:, 0] <= hw[:, 1]) and np.all(p[:, 1] <= hw[:, 0])
    np.testing.assert_allclose(np.asarray(dist_lib.probabilities(dist)).sum(), 1.0, rtol=1e-5)


def test_conditional_sampling_stays_in_image():
    sizes = ((10, 20), (30, 5))
    dist = dist_lib.uniform(dist_lib.GridLayout(sizes, 1))
    want = jnp.asarray([0, 1] * 500, jnp.int32)
    pos, ids = dist_lib.sample(dist, jax.random.key(0), 1000, want)
    np.testing.assert_array_equal(ids, want)
    hw = np.asarray(sizes, float)[np.asarray(ids)]
    assert np.all(np.asarray(pos)[:, 0] <= hw[:, 1]) and np.all(np.asarray(pos)[:, 1] <= hw[:, 0])


@pytest.mark.parametrize("rows, cols", [(1, 1), (3, 7), (17, 100), (5, 45 * 45), (40, 2048)])
def test_blocked_row_search_matches_searchsorted(rows, cols):
    rng = np.random.default_rng(rows * cols)
    table = np.sort(rng.random((rows, cols)).astype(np.float32), axis=1)
    table[:, -min(3, cols):] = 1.0  # ties at the end, as in a CDF with padding
    row = rng.integers(0, rows, 2000).astype(np.int32)
    values = rng.random(2000).astype(np.float32)
    values[:20] = 1.0
    values[20:40] = 0.0
    values[40:60] = table[row[40:60], rng.integers(0, cols, 20)]  # exact hits
    block_last = table[:, dist_lib._block_ends(cols)]
    got = dist_lib._search_rows(jnp.asarray(table), jnp.asarray(block_last), jnp.asarray(row),
                                jnp.asarray(values))
    want = [np.searchsorted(table[r], v, side="right") for r, v in zip(row, values, strict=True)]
    np.testing.assert_array_equal(np.asarray(got), want)


def test_uniform_sampler_area_proportional():
    sizes = ((10, 10), (10, 30))
    smp = sample_uniform(sizes, jax.random.key(0), 100_000)
    frac = float(jnp.mean(smp.image_ids == 1))
    assert abs(frac - 0.75) < 0.01


# --- loss weights -------------------------------------------------------------------------------


def test_uniform_loss_scale_ramp():
    """The baseline's optional loss-scale control: all weights 1 by default; with a warm-up a
    geometric ramp from 1 to ``loss_scale`` (the same for every sample), then constant."""
    domain = Domain.from_sizes([(8, 8)])
    l1 = jnp.linspace(0.0, 1.0, 16)
    plain = uniform_sampler()
    np.testing.assert_array_equal(plain.loss_weights(plain.init(None, domain, 16), l1), 1.0)
    ramp = uniform_sampler(loss_scale=16.0, loss_scale_warmup_steps=100)
    state = ramp.init(None, domain, 16)
    fb = Feedback(ramp.sample(state, jax.random.key(0)), l1, l1, jnp.zeros((16, 2)))
    got = {}
    for step in range(151):
        got[step] = np.asarray(ramp.loss_weights(state, l1))
        state = ramp.update(state, fb, jax.random.key(step))
    for step, want in ((0, 1.0), (25, 2.0), (50, 4.0), (100, 16.0), (150, 16.0)):
        np.testing.assert_allclose(got[step], want, rtol=1e-5)
    constant = uniform_sampler(loss_scale=3.0)
    np.testing.assert_allclose(constant.loss_weights(constant.init(None, domain, 16), l1), 3.0)
    for bad in (dict(loss_scale=0.0), dict(loss_scale=float("nan")),
                dict(loss_scale_warmup_steps=-1)):
        with pytest.raises(ValueError, match="loss_scale"):
            uniform_sampler(**bad)


def test_weight_schedule_normalized_with_loss_scale_ramp():
    """Normalised soft-mining weights times the same ramp as uniform's control: each batch's
    mean weight is the ramp's value, the relative weights are unchanged."""
    l1 = jnp.asarray(np.random.default_rng(0).uniform(0.01, 0.5, 64), jnp.float32)
    plain = WeightSchedule(alpha=0.6, warmup_steps=0, normalize=True)
    ramped = WeightSchedule(alpha=0.6, warmup_steps=0, normalize=True, loss_scale=16.0,
                            loss_scale_warmup_steps=100)
    for step, scale in ((0, 1.0), (50, 4.0), (100, 16.0), (400, 16.0)):
        w = np.asarray(ramped(l1, jnp.asarray(step)))
        np.testing.assert_allclose(w.mean(), scale, rtol=1e-5)
        np.testing.assert_allclose(w / scale, plain(l1, jnp.asarray(step)), rtol=1e-5)
    with pytest.raises(ValueError, match="loss_scale"):
        WeightSchedule(loss_scale=-1.0)


def test_importance_sampling_is_unbiased():
    size = (16, 16)
    rng = np.random.default_rng(1)
    q = rng.uniform(0.01, 1.0, size=size).astype(np.float32) ** 3
    err = (q * rng.uniform(0.5, 1.5, size=size)).astype(np.float32) ** 2
    sampler = error_map_sampler(
        uniform_fraction=0.0, weights=WeightSchedule(alpha=1.0, warmup_steps=0, clamp_std=None,
                                                     q_floor=1e-9))
    state = sampler.refresh(sampler.init(jax.random.key(0), Domain.from_sizes([size]), 1024),
                            [jnp.asarray(q)])
    q_j, err_j = jnp.asarray(q), jnp.asarray(err)

    def estimate(key):
        smp = sampler.sample(state, key)
        ij = jnp.floor(smp.positions).astype(jnp.int32)
        q_s, e_s = q_j[ij[:, 1], ij[:, 0]], err_j[ij[:, 1], ij[:, 0]]
        w = sampler.loss_weights(state, q_s)
        weighted = jnp.mean(w * e_s) * jnp.mean(q_j)  # normalising constant of Q's density
        return weighted, jnp.mean(e_s)

    weighted, unweighted = jax.jit(jax.vmap(estimate))(jax.random.split(jax.random.key(2), 400))
    weighted, unweighted = np.asarray(weighted), np.asarray(unweighted)
    truth = err.mean()
    stderr = weighted.std() / np.sqrt(len(weighted))
    assert abs(weighted.mean() - truth) < 4 * stderr + 1e-6, (weighted.mean(), truth, stderr)
    assert abs(weighted.mean() - truth) < 0.02 * truth
    # Without the weights the same samples are badly biased, so the test has teeth.
    assert unweighted.mean() > 2 * truth


def test_hard_mining_weights_all_equal():
    sampler = hard_mining_sampler()
    state = sampler.init(jax.random.key(0), Domain.from_sizes([(8, 8)]), 16)
    state = state.replace(step=jnp.asarray(5000))
    w = sampler.loss_weights(state, jnp.linspace(0.0, 1.0, 16))
    np.testing.assert_array_equal(w, np.ones(16))


def test_weight_schedule_warmup_clamp_and_fade():
    sched = WeightSchedule(alpha=0.5, warmup_steps=100, clamp_std=None, fade_start=200,
                           fade_end=300)
    q = jnp.asarray([0.01, 0.1, 1.0])
    np.testing.assert_allclose(sched(q, 0), [1, 1, 1])
    np.testing.assert_allclose(sched(q, 50), q ** -0.25, rtol=1e-5)
    np.testing.assert_allclose(sched(q, 150), q ** -0.5, rtol=1e-5)
    np.testing.assert_allclose(sched(q, 250), q ** -0.25, rtol=1e-5)
    np.testing.assert_allclose(sched(q, 400), [1, 1, 1])
    clamped = WeightSchedule(alpha=1.0, warmup_steps=0, clamp_std=1.0)(q, 0)
    w = 1 / np.asarray(q)
    assert float(clamped.max()) == pytest.approx(w.mean() + w.std(), rel=1e-5)
    nan_w = sched(jnp.asarray([jnp.nan, 0.0, jnp.inf]), 150)
    assert np.all(np.isfinite(nan_w)) and np.all(np.asarray(nan_w) > 0)


def test_official_weights_and_uniform_block():
    sampler = official_sampler(alpha=0.6)
    state = sampler.init(jax.random.key(0), Domain.from_images([_square_image()]), 100)
    # official: alpha_t = min(step / 1000, alpha)
    q = jnp.linspace(0.001, 1.0, 100)
    w = np.asarray(sampler.loss_weights(state.replace(step=jnp.asarray(300)), q))
    raw = (1 / np.maximum(np.asarray(q), 2.0**-10)) ** 0.3
    np.testing.assert_allclose(w, np.clip(raw, 0.2, raw.mean() + raw.std()), rtol=1e-5)
    smp = sampler.sample(state, jax.random.key(0))
    assert sampler.target_rule == "pixel_centres"  # rounds to pixels: refused on other tasks
    fb = Feedback(smp, jnp.ones(100), jnp.ones(100), jnp.zeros((100, 2)))
    new = sampler.update(state, fb, jax.random.key(1))
    np.testing.assert_array_equal(new.image_ids, state.image_ids)  # bound to images for life
    assert float(new.reinit_fraction) >= 0.2 - 1e-6  # 10% lowest + fixed 10% uniform block


# --- edge cases ---------------------------------------------------------------------------------

ALL_SAMPLERS = {
    "uniform": uniform_sampler,
    "soft_mining": soft_mining_sampler,
    "hard_mining": hard_mining_sampler,
    "importance": importance_sampler,
    "official": lambda: official_sampler(keep_image=False),
    "error_map_dense": error_map_sampler,
    "error_map_feedback": lambda: error_map_sampler(cell_size=3, source="feedback",
                                                    rebuild_interval=1),
}


def _check_inside(samples: Samples, sizes) -> None:
    hw = np.asarray(sizes, float)[np.asarray(samples.image_ids)]
    p = np.asarray(samples.positions)
    assert np.all(np.isfinite(p))
    assert np.all(p >= 0) and np.all(p[:, 0] <= hw[:, 1]) and np.all(p[:, 1] <= hw[:, 0])


def _state_finite(state) -> bool:
    leaves = jax.tree_util.tree_leaves(state)
    return all(bool(jnp.all(jnp.isfinite(x))) for x in leaves if jnp.issubdtype(x.dtype,
                                                                                  jnp.floating))


@pytest.mark.parametrize("name", list(ALL_SAMPLERS))
def test_adversarial_feedback_keeps_state_finite_and_inside(name):
    sampler = ALL_SAMPLERS[name]()
    sizes = ((12, 20), (7, 5), (30, 9))
    imgs = [np.random.default_rng(m).integers(0, 255, s, np.uint8) for m, s in enumerate(sizes)]
    domain = Domain.from_images(imgs)
    n = 2  # fewer samples than images
    state = sampler.init(jax.random.key(0), domain, n)
    update, sample = jax.jit(sampler.update), jax.jit(sampler.sample)
    refresh = jax.jit(sampler.refresh)
    feedbacks = [
        (jnp.zeros(n), jnp.zeros(n), jnp.zeros((n, 2))),  # zero error everywhere
        (jnp.asarray([jnp.nan, 1.0]), jnp.asarray([jnp.inf, jnp.nan]),
         jnp.asarray([[jnp.nan, 1.0], [jnp.inf, -jnp.inf]])),
        (jnp.full(n, 1e-30), jnp.full(n, 1e-15), jnp.full((n, 2), 1e30)),  # huge gradients
        (jnp.ones(n), jnp.ones(n), jnp.full((n, 2), -1e30)),
    ]
    for i, (err, l1, grad) in enumerate(feedbacks * 3):
        smp = sample(state, jax.random.key(10 + i))
        _check_inside(smp, sizes)
        w = sampler.loss_weights(state, l1)
        assert np.all(np.isfinite(np.asarray(w)))
        state = update(state, Feedback(smp, err, l1, grad), jax.random.key(i))
        assert _state_finite(state)
        if i == 5:
            state = refresh(state, [jnp.full(s, jnp.nan) for s in sizes])
            assert _state_finite(state)
    _check_inside(sample(state, jax.random.key(99)), sizes)


def test_without_drift_the_position_gradient_is_ignored():
    """drift=False: a non-finite position gradient neither restarts a sample nor moves it (the
    gradient is unused, so a jitted train step need not compute it)."""
    sizes = ((64, 64),)
    sampler = soft_mining_sampler(step_size=1e-6, drift=False, reinit_fraction=0.0,
                                  uniform_fraction=0.0)
    state = sampler.init(jax.random.key(0), Domain.from_sizes(sizes), 8)
    smp = sampler.sample(state, jax.random.key(1))
    grad = jnp.full((8, 2), jnp.nan)
    new = sampler.update(state, Feedback(smp, jnp.ones(8), jnp.ones(8), grad), jax.random.key(2))
    np.testing.assert_allclose(np.asarray(new.positions), np.asarray(state.positions), atol=1e-2)
    assert float(new.reinit_fraction) == 0.0
    with_drift = soft_mining_sampler(step_size=1e-6, reinit_fraction=0.0, uniform_fraction=0.0)
    new = with_drift.update(state, Feedback(smp, jnp.ones(8), jnp.ones(8), grad),
                            jax.random.key(2))
    assert float(new.reinit_fraction) == 1.0  # with the drift a NaN gradient restarts the sample


def test_drift_interval_drifts_on_due_steps_only():
    """drift_interval=2: the drift moves the chains on even updates; on odd ones the gradient is
    not read (a NaN neither moves nor restarts a sample) and the train step is told to skip it."""
    sizes = ((64, 64),)
    sampler = soft_mining_sampler(a=4.0, b=0.0, drift_interval=2, reinit_fraction=0.0,
                                  uniform_fraction=0.0)
    assert soft_mining_sampler().position_gradient_due is None
    assert soft_mining_sampler(drift=False, drift_interval=2).position_gradient_due is None
    state = sampler.init(jax.random.key(0), Domain.from_sizes(sizes), 8)
    state = state.replace(positions=jnp.full((8, 2), 32.0))
    smp = sampler.sample(state, jax.random.key(1))
    right = jnp.tile(jnp.asarray([[1.0, 0.0]]), (8, 1))
    ones = jnp.ones(8)

    def update(state, grad):
        return sampler.update(state, Feedback(smp, ones, ones, grad), jax.random.key(2))

    assert bool(sampler.position_gradient_due(state))
    moved = update(state, right)
    np.testing.assert_allclose(np.asarray(moved.positions), [[36.0, 32.0]] * 8)  # a * grad / err
    assert not bool(sampler.position_gradient_due(moved))
    rested = update(moved, jnp.full((8, 2), jnp.nan))
    np.testing.assert_array_equal(np.asarray(rested.positions), np.asarray(moved.positions))
    assert float(rested.reinit_fraction) == 0.0 and float(rested.mean_drift) == 0.0
    assert bool(sampler.position_gradient_due(rested))
    np.testing.assert_allclose(np.asarray(update(rested, right).positions), [[40.0, 32.0]] * 8)


def test_clones_restart_next_to_high_error_parents():
    """clone_fraction=1: the lowest-error half restarts next to parents drawn in proportion to
    err^beta (here two samples hold all the error, 1:4 in err, so 1:16 in err^2), in the
    parent's image; with clone_fraction=0 they come from the (uniform) prior instead."""
    sizes = ((64, 64), (32, 48))
    n = 512
    kwargs = dict(step_size=1e-4, drift=False, reinit_fraction=0.5, uniform_fraction=0.0,
                  prior="uniform")
    sampler = soft_mining_sampler(clone_fraction=1.0, **kwargs)
    state = sampler.init(jax.random.key(0), Domain.from_sizes(sizes), n)
    parents = jnp.asarray([[10.0, 20.0], [40.0, 5.0]])
    state = state.replace(positions=state.positions.at[:2].set(parents),
                          image_ids=state.image_ids.at[:2].set(jnp.asarray([0, 1])))
    err = jnp.zeros(n).at[0].set(0.1).at[1].set(0.4)
    smp = sampler.sample(state, jax.random.key(1))
    fb = Feedback(smp, err, jnp.sqrt(err), jnp.zeros((n, 2)))
    new = sampler.update(state, fb, jax.random.key(2))
    pos, ids = np.asarray(new.positions), np.asarray(new.image_ids)
    d0 = np.linalg.norm(pos - np.asarray(parents[0]), axis=1)
    d1 = np.linalg.norm(pos - np.asarray(parents[1]), axis=1)
    near0 = (d0 < 0.1) & (ids == 0)
    near1 = (d1 < 0.1) & (ids == 1)
    low = np.isin(np.arange(n), np.asarray(jax.lax.top_k(-err, n // 2)[1]))  # the restarts
    assert np.all((near0 | near1)[low]), "every restart is a clone of one of the two parents"
    frac1 = near1[low].mean()
    assert abs(frac1 - 16 / 17) < 0.05, frac1
    # Without cloning the restarts are spread over both images (uniform prior).
    plain = soft_mining_sampler(clone_fraction=0.0, **kwargs).update(state, fb, jax.random.key(2))
    pos = np.asarray(plain.positions)
    d = np.minimum(np.linalg.norm(pos - np.asarray(parents[0]), axis=1),
                   np.linalg.norm(pos - np.asarray(parents[1]), axis=1))
    assert np.mean(d[low] < 0.1) < 0.05


def test_clones_fall_back_to_the_prior_without_error():
    """With no positive error in the batch there is no parent: restarts keep the prior's draws,
    and clone_fraction with keep_image=True is refused (a clone takes its parent's image)."""
    sizes = ((16, 16),)
    sampler = soft_mining_sampler(clone_fraction=1.0, drift=False, uniform_fraction=0.0)
    state = sampler.init(jax.random.key(0), Domain.from_sizes(sizes), 32)
    smp = sampler.sample(state, jax.random.key(1))
    new = sampler.update(state, Feedback(smp, jnp.zeros(32), jnp.zeros(32), jnp.zeros((32, 2))),
                         jax.random.key(2))
    _check_inside(sampler.sample(new, None), sizes)
    assert np.all(np.isfinite(np.asarray(new.positions)))
    with pytest.raises(ValueError, match="clone_fraction"):
        soft_mining_sampler(clone_fraction=0.5, keep_image=True)
    with pytest.raises(ValueError, match="clone_fraction"):
        soft_mining_sampler(clone_fraction=1.5)


def _three_views(size: int = 32, focal: float = 40.0):
    from softmining_jax.samplers import ViewCameras
    from softmining_jax.tasks.nerf import look_at

    c2w = np.stack([look_at(np.asarray(p), np.zeros(3), np.asarray([0.0, 0.0, 1.0]))
                    for p in ([4.0, 0.0, 1.0], [0.0, 4.0, 1.0], [-4.0, 0.5, 1.0])])
    domain = Domain(sizes=((size, size),) * 3, cameras=ViewCameras(c2w=c2w, focal=focal))
    return domain, jnp.asarray(c2w), focal


def test_chains_hop_to_the_pixel_where_another_view_sees_their_point():
    """view_hop=1 without noise: every chain whose 3-D point is visible elsewhere moves to another
    view, at the projection of its point there; a chain without a point (background) stays."""
    from softmining_jax.render import cameras

    domain, c2w, focal = _three_views()
    n = 64
    sampler = soft_mining_sampler(step_size=1e-8, drift=False, reinit_fraction=0.0,
                                  uniform_fraction=0.0, view_hop=1.0)
    state = sampler.init(jax.random.key(0), domain, n)
    points = 0.3 * jax.random.normal(jax.random.key(1), (n, 3))  # near the origin: seen by all
    points = points.at[:4].set(jnp.nan)
    smp = sampler.sample(state, jax.random.key(2))
    fb = Feedback(smp, jnp.ones(n), jnp.ones(n), jnp.zeros((n, 2)), points)
    new = sampler.update(state, fb, jax.random.key(3))
    ids, new_ids = np.asarray(state.image_ids), np.asarray(new.image_ids)
    np.testing.assert_array_equal(new_ids[:4], ids[:4])
    np.testing.assert_allclose(new.positions[:4], state.positions[:4], atol=1e-3)
    assert np.all(new_ids[4:] != ids[4:])
    expect, visible = cameras.project_points(points[4:], c2w[new_ids[4:]], focal, 32, 32)
    assert np.all(np.asarray(visible))
    np.testing.assert_allclose(new.positions[4:], expect, atol=1e-3)
    assert float(new.view_hops) == pytest.approx((n - 4) / n)
    # Every other view is a destination.
    assert len(set(zip(ids[4:].tolist(), new_ids[4:].tolist(), strict=True))) == 6


def test_view_hop_needs_cameras_points_and_free_images():
    domain, _, _ = _three_views()
    with pytest.raises(ValueError, match="cameras"):
        soft_mining_sampler(view_hop=0.5).init(jax.random.key(0),
                                               Domain.from_sizes(domain.sizes), 8)
    with pytest.raises(ValueError, match="keep_image"):
        soft_mining_sampler(view_hop=0.5, keep_image=True)
    sampler = soft_mining_sampler(view_hop=0.5)
    state = sampler.init(jax.random.key(0), domain, 8)
    smp = sampler.sample(state, jax.random.key(1))
    with pytest.raises(ValueError, match="Feedback.points"):
        sampler.update(state, Feedback(smp, jnp.ones(8), jnp.ones(8), jnp.zeros((8, 2))),
                       jax.random.key(2))
    # Without hops the state is a plain SoftMiningState, the structure of the checkpoints written
    # before view hopping existed (they must still resume).
    plain = soft_mining_sampler().init(jax.random.key(0), domain, 8)
    assert type(plain) is SoftMiningState and not hasattr(plain, "view_c2w")
    assert [f.name for f in dataclasses.fields(plain)] == [
        "positions", "image_ids", "step", "prior", "mean_drift", "drift_clipped",
        "reinit_fraction", "sizes"]


def test_an_occluded_hop_hops_again_from_the_point_it_projected():
    """hop_occlusion_tolerance: a hop remembers the point it projected; when the landing ray then
    renders something nearer to its camera (an occluder) or background, the chain's next hop
    starts from the remembered point, not from what the ray saw; a visible landing hops on from
    what it saw."""
    from softmining_jax.render import cameras
    from softmining_jax.samplers import OcclusionHopState

    domain, c2w, focal = _three_views()
    n = 48
    sampler = soft_mining_sampler(step_size=1e-8, drift=False, reinit_fraction=0.0,
                                  uniform_fraction=0.0, view_hop=1.0,
                                  hop_occlusion_tolerance=0.1)
    state = sampler.init(jax.random.key(0), domain, n)
    assert isinstance(state, OcclusionHopState)
    assert np.all(np.isnan(np.asarray(state.hop_points)))
    ones = jnp.ones(n)
    points = 0.3 * jax.random.normal(jax.random.key(1), (n, 3))
    first = sampler.update(state, Feedback(sampler.sample(state, jax.random.key(2)), ones, ones,
                                           jnp.zeros((n, 2)), points), jax.random.key(3))
    np.testing.assert_allclose(first.hop_points, points, atol=1e-6)  # every chain hopped
    assert float(first.occluded_hops) == 0.0
    # The landing rays see: chains 0-15 an occluder halfway to their camera, 16-23 background,
    # 24-47 the projected point itself moved by less than the tolerance.
    origin = np.asarray(c2w)[np.asarray(first.image_ids)][:, :, 3]
    seen = np.asarray(points).copy()
    seen[:16] = 0.5 * (origin[:16] + seen[:16])
    seen[16:24] = np.nan
    seen[24:] += 0.05 / np.sqrt(3.0)
    second = sampler.update(first, Feedback(sampler.sample(first, jax.random.key(4)), ones, ones,
                                            jnp.zeros((n, 2)), jnp.asarray(seen)),
                            jax.random.key(5))
    assert float(second.occluded_hops) == pytest.approx(24 / n)
    source = np.where(np.arange(n)[:, None] < 24, np.asarray(points), seen)
    np.testing.assert_allclose(second.hop_points, source, atol=1e-6)
    ids = np.asarray(second.image_ids)
    expect, _ = cameras.project_points(jnp.asarray(source), c2w[ids], focal, 32, 32)
    np.testing.assert_allclose(second.positions, expect, atol=1e-3)
    with pytest.raises(ValueError, match="hop_occlusion_tolerance"):
        soft_mining_sampler(view_hop=1.0, hop_occlusion_tolerance=-1.0)
    with pytest.raises(ValueError, match="view_hop"):
        soft_mining_sampler(hop_occlusion_tolerance=0.1)
    with pytest.raises(ValueError, match="hop_clone_fraction"):
        soft_mining_sampler(view_hop=1.0, hop_clone_fraction=0.5, hop_occlusion_tolerance=0.1)


def test_hops_go_to_the_nearest_views_with_hop_neighbours():
    """hop_neighbours=1: every hop lands in the view whose viewing direction is closest to the
    chain's current one (never the view itself)."""
    domain, c2w, _ = _three_views()
    n = 48
    sampler = soft_mining_sampler(step_size=1e-8, drift=False, reinit_fraction=0.0,
                                  uniform_fraction=0.0, view_hop=1.0, hop_neighbours=1)
    state = sampler.init(jax.random.key(0), domain, n)
    points = 0.3 * jax.random.normal(jax.random.key(1), (n, 3))
    smp = sampler.sample(state, jax.random.key(2))
    new = sampler.update(state, Feedback(smp, jnp.ones(n), jnp.ones(n), jnp.zeros((n, 2)),
                                         points), jax.random.key(3))
    forward = np.asarray(c2w)[:, :, 2]
    cosine = forward @ forward.T - 3.0 * np.eye(3)
    nearest = np.argmax(cosine, axis=1)
    ids = np.asarray(state.image_ids)
    assert len(set(ids.tolist())) == 3
    np.testing.assert_array_equal(np.asarray(new.image_ids), nearest[ids])
    # hop_farthest: the view whose direction is farthest instead.
    far = soft_mining_sampler(step_size=1e-8, drift=False, reinit_fraction=0.0,
                              uniform_fraction=0.0, view_hop=1.0, hop_neighbours=1,
                              hop_farthest=True)
    new = far.update(far.init(jax.random.key(0), domain, n),
                     Feedback(smp, jnp.ones(n), jnp.ones(n), jnp.zeros((n, 2)), points),
                     jax.random.key(3))
    farthest = np.argmin(forward @ forward.T + 3.0 * np.eye(3), axis=1)
    assert np.any(farthest != nearest)
    np.testing.assert_array_equal(np.asarray(new.image_ids), farthest[ids])
    with pytest.raises(ValueError, match="hop_neighbours"):
        soft_mining_sampler(view_hop=1.0, hop_neighbours=-1)
    with pytest.raises(ValueError, match="hop_farthest"):
        soft_mining_sampler(view_hop=1.0, hop_farthest=True)


def test_restarts_become_hops_of_surviving_chains_with_hop_clone_fraction():
    """hop_clone_fraction=1 without noise or view hops: the survivors (the higher-error half)
    keep their place, and every restart lands where another view sees a survivor's point."""
    from softmining_jax.render import cameras
    from softmining_jax.samplers import HopCloneState

    domain, c2w, focal = _three_views()
    n = 64
    sampler = soft_mining_sampler(step_size=1e-8, drift=False, reinit_fraction=0.5,
                                  uniform_fraction=0.0, hop_clone_fraction=1.0)
    state = sampler.init(jax.random.key(0), domain, n)
    assert isinstance(state, HopCloneState)
    points = 0.3 * jax.random.normal(jax.random.key(1), (n, 3))
    err = jnp.arange(n, dtype=jnp.float32) + 1.0  # the upper half survives
    smp = sampler.sample(state, jax.random.key(2))
    new = sampler.update(state, Feedback(smp, err, err, jnp.zeros((n, 2)), points),
                         jax.random.key(3))
    ids, new_ids = np.asarray(state.image_ids), np.asarray(new.image_ids)
    pos, new_pos = np.asarray(state.positions), np.asarray(new.positions)
    survive = np.arange(n) >= n // 2
    np.testing.assert_array_equal(new_ids[survive], ids[survive])
    np.testing.assert_allclose(new_pos[survive], pos[survive], atol=1e-3)
    parents = np.nonzero(survive)[0]
    for i in np.nonzero(~survive)[0]:
        view = np.full(len(parents), new_ids[i])
        proj, _ = cameras.project_points(points[parents], c2w[view], focal, 32, 32)
        match = (np.linalg.norm(np.asarray(proj) - new_pos[i], axis=1) < 1e-3)
        assert np.any(match & (ids[parents] != new_ids[i])), i
    assert float(new.hop_clones) == pytest.approx(0.5)
    assert float(new.view_hops) == 0.0
    # Survivors without a 3-D point (background) are no parents: the restarts keep the prior's.
    nan_points = points.at[n // 2:].set(jnp.nan)
    fallback = sampler.update(state, Feedback(smp, err, err, jnp.zeros((n, 2)), nan_points),
                              jax.random.key(3))
    assert float(fallback.hop_clones) == 0.0
    _check_inside(sampler.sample(fallback, None), domain.sizes)
    with pytest.raises(ValueError, match="keep_image"):
        soft_mining_sampler(hop_clone_fraction=0.5, keep_image=True)
    with pytest.raises(ValueError, match="cameras"):
        sampler.init(jax.random.key(0), Domain.from_sizes(domain.sizes), 8)


def test_samples_on_the_border_stay_valid():
    sampler = soft_mining_sampler(step_size=1e-6, max_drift=None)
    sizes = ((8, 8),)
    state = sampler.init(jax.random.key(0), Domain.from_sizes(sizes), 4)
    border = jnp.asarray([[0.0, 0.0], [8.0, 8.0], [8.0, 0.0], [0.0, 8.0]])
    state = state.replace(positions=border)
    smp = sampler.sample(state, jax.random.key(0))
    _check_inside(smp, sizes)
    fb = Feedback(smp, jnp.ones(4), jnp.ones(4), jnp.zeros((4, 2)))
    _check_inside(sampler.sample(sampler.update(state, fb, jax.random.key(1)), None), sizes)
    idx = dist_lib.cell_index(dist_lib.GridLayout(sizes, 3), border, jnp.zeros(4, jnp.int32))
    assert int(idx.max()) < 9


@pytest.mark.parametrize(
    "make",
    [
        lambda: soft_mining_sampler(step_size=0.0),
        lambda: soft_mining_sampler(reinit_fraction=1.5),
        lambda: soft_mining_sampler(uniform_fraction=-0.1),
        lambda: soft_mining_sampler(prior="sobel"),
        lambda: soft_mining_sampler(boundary="wrap"),
        lambda: soft_mining_sampler(drift_interval=0),
        lambda: soft_mining_sampler(drift_interval=1.5),
        lambda: soft_mining_sampler(a=1.0),
        lambda: soft_mining_sampler(max_drift=0.0),
        lambda: error_map_sampler(source="stale"),
        lambda: error_map_sampler(cell_size=0).init(jax.random.key(0),
                                                    Domain.from_sizes([(4, 4)]), 4),
        lambda: error_map_sampler(refresh_interval=0),
        lambda: WeightSchedule(alpha=-1.0),
        lambda: uniform_sampler().init(jax.random.key(0), Domain.from_sizes([(4, 4)]), 0),
        lambda: soft_mining_sampler(keep_image=True).init(
            jax.random.key(0), Domain.from_sizes([(4, 4)] * 3), 2),
        lambda: Domain.from_sizes([]),
        lambda: Domain.from_sizes([(0, 4)]),
        lambda: Domain(sizes=((4, 4),), priors=(np.ones((3, 4)),)),
        lambda: Domain(sizes=((4, 4),), priors=(np.full((4, 4), np.nan),)),
    ],
)
def test_invalid_arguments_raise_clear_errors(make):
    with pytest.raises(ValueError):
        make()


def test_error_map_refresh_rejects_wrong_shape():
    sampler = error_map_sampler()
    state = sampler.init(jax.random.key(0), Domain.from_sizes([(4, 4)]), 4)
    with pytest.raises(ValueError, match="shape"):
        sampler.refresh(state, [jnp.ones((4, 5))])


def test_error_map_dense_is_uniform_until_first_refresh_then_concentrates():
    size = (20, 20)
    sampler = error_map_sampler(uniform_fraction=0.0)
    state = sampler.init(jax.random.key(0), Domain.from_sizes([size]), 4000)
    before = np.asarray(sampler.sample(state, jax.random.key(1)).positions)
    assert 0.2 < np.mean(before[:, 0] < 5) < 0.3
    dense = np.zeros(size, np.float32)
    dense[:, :5] = 1.0
    state = sampler.refresh(state, [jnp.asarray(dense)])
    after = np.asarray(sampler.sample(state, jax.random.key(1)).positions)
    assert np.all(after[:, 0] < 5)


def test_error_map_feedback_learns_where_error_is():
    size = (16, 16)
    sampler = error_map_sampler(cell_size=4, source="feedback", uniform_fraction=0.2,
                                rebuild_interval=1, ema=0.5)
    state = sampler.init(jax.random.key(0), Domain.from_sizes([size]), 256)

    def body(state, key):
        smp = sampler.sample(state, key)
        q = jnp.where(smp.positions[:, 0] >= 12, 1.0, 0.01)
        fb = Feedback(smp, q**2, q, jnp.zeros_like(smp.positions))
        return sampler.update(state, fb, key), None

    state, _ = jax.lax.scan(body, state, jax.random.split(jax.random.key(1), 50))
    pos = np.asarray(sampler.sample(state, jax.random.key(2)).positions)
    assert np.mean(pos[:, 0] >= 12) > 0.7


def test_error_map_feedback_first_observation_replaces_the_optimistic_start():
    sampler = error_map_sampler(cell_size=4, source="feedback", rebuild_interval=1, ema=0.1)
    state = sampler.init(jax.random.key(0), Domain.from_sizes([(8, 8)]), 2)
    smp = Samples(positions=jnp.asarray([[1.0, 1.0], [1.5, 2.0]]), image_ids=jnp.zeros(2, int))
    fb = Feedback(smp, jnp.zeros(2), jnp.asarray([0.2, 0.4]), jnp.zeros((2, 2)))
    state = sampler.update(state, fb, jax.random.key(1))
    np.testing.assert_allclose(state.grid, [[0.3, 1.0], [1.0, 1.0]], rtol=1e-6)  # mean of the two
    state = sampler.update(state, fb._replace(l1=jnp.asarray([1.3, 1.3])), jax.random.key(2))
    np.testing.assert_allclose(state.grid[0, 0], 0.9 * 0.3 + 0.1 * 1.3, rtol=1e-6)  # then EMA


# --- determinism and transformations ------------------------------------------------------------


@pytest.mark.parametrize("name", list(ALL_SAMPLERS))
def test_same_key_same_result_and_jit_vmap(name):
    sampler = ALL_SAMPLERS[name]()
    domain = Domain.from_images([_square_image()])
    n = 32

    def one_step(key):
        k0, k1, k2 = jax.random.split(key, 3)
        state = sampler.init(k0, domain, n)
        smp = sampler.sample(state, k1)
        err = jnp.sum(smp.positions, axis=-1) / 100.0
        fb = Feedback(smp, err, jnp.sqrt(err), jnp.ones_like(smp.positions))
        state = sampler.update(state, fb, k2)
        return sampler.sample(state, k1).positions

    a = one_step(jax.random.key(7))
    b = jax.jit(one_step)(jax.random.key(7))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(one_step(jax.random.key(7)), a)
    batched = jax.vmap(one_step)(jax.random.split(jax.random.key(3), 4))
    assert batched.shape == (4, n, 2)
    assert not np.allclose(batched[0], batched[1])


def test_soft_mining_error_map_prior_reseeds_where_the_dense_error_is():
    size = (20, 20)
    sampler = soft_mining_sampler(prior="error_map", refresh_interval=50, reinit_fraction=1.0,
                                  uniform_fraction=0.0, drift=False)
    assert sampler.dense_refresh_interval == 50
    domain = Domain.from_images([np.zeros((*size, 3), np.uint8)])
    state = sampler.init(jax.random.key(0), domain, 2000)
    dense = np.zeros(size, np.float32)
    dense[:, 15:] = 1.0
    state = sampler.refresh(state, [jnp.asarray(dense)])
    n = 2000
    feedback = Feedback(sampler.sample(state, jax.random.key(1)), jnp.ones(n), jnp.ones(n),
                        jnp.zeros((n, 2)))
    state = sampler.update(state, feedback, jax.random.key(2))
    x = np.asarray(state.positions)[:, 0]
    assert np.all((x >= 15) & (x <= 20))  # every sample restarted inside the high-error band
    assert soft_mining_sampler().dense_refresh_interval == 0


def test_uniform_fade_ends_on_uniform_restarts():
    sampler = soft_mining_sampler(uniform_fade=(100, 200), reinit_fraction=0.0,
                                  uniform_fraction=0.1, prior="uniform")
    domain = Domain.from_sizes([(2048, 2048)])
    n = 4000
    state = sampler.init(jax.random.key(0), domain, n)
    feedback = Feedback(sampler.sample(state, jax.random.key(1)), jnp.ones(n), jnp.ones(n),
                        jnp.zeros((n, 2)))
    restarted = {}
    for step in (0, 150, 200, 500):
        new = sampler.update(state.replace(step=jnp.asarray(step, jnp.int32)), feedback,
                             jax.random.key(2))
        restarted[step] = float(new.reinit_fraction)
    # (a few samples also leave the image: noise std 2 px)
    assert abs(restarted[0] - 0.1) < 0.02 and abs(restarted[150] - 0.55) < 0.03
    assert restarted[200] == 1.0 and restarted[500] == 1.0
    with pytest.raises(ValueError, match="uniform_fade"):
        soft_mining_sampler(uniform_fade=(5, 5))
