"""Sampler tests: statistics against exact densities, edge cases, jit/vmap, determinism.

The moves a mining sampler is built from are tested in ``test_moves.py``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softmining_jax.samplers import (
    Domain,
    Feedback,
    Samples,
    WeightSchedule,
    error_map_sampler,
    evos_sampler,
    expansive_sampler,
    hard_mining_sampler,
    hsm_sampler,
    importance_sampler,
    int_sampler,
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


def _redraw(sampler, state, key):
    """One update with neutral feedback: a sampler that redraws every sample (the error map)
    draws the next batch from its map."""
    smp = sampler.sample(state, key)
    n = smp.positions.shape[0]
    return sampler.update(state, Feedback(smp, jnp.ones(n), jnp.ones(n), jnp.zeros((n, 2))), key)


def test_dense_error_map_samples_follow_the_map():
    size = (21, 30)
    rng = np.random.default_rng(0)
    dense = rng.gamma(0.5, size=size).astype(np.float32)
    sampler = error_map_sampler(uniform_fraction=0.0)
    state = sampler.init(jax.random.key(0), Domain.from_sizes([size]), 4096)
    state = sampler.refresh(state, [jnp.asarray(dense)])
    keys = jax.random.split(jax.random.key(1), 100)
    pos = jax.jit(jax.vmap(lambda k: _redraw(sampler, state, k).positions))(keys)
    pos = np.asarray(pos).reshape(-1, 2)
    expected = dense.reshape(7, 3, 10, 3).sum(axis=(1, 3))  # compare on 3x3-pixel bins
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


def test_rebuilding_rows_in_slices_reaches_the_whole_rebuild():
    sizes = ((10, 20), (7, 5))  # 10 + 7 = 17 table rows of cells
    layout = dist_lib.GridLayout(sizes, 1)
    old = jnp.asarray(np.random.default_rng(0).random((17, 20)), jnp.float32)
    new = jnp.asarray(np.random.default_rng(1).random((17, 20)), jnp.float32)
    areas = jnp.asarray(layout.cell_areas)
    dist, row_mass = dist_lib.from_masses_and_row_masses(layout, old * areas)
    # Rows 4..9 only: those rows follow the new masses, the rest the old ones, and the rows'
    # probabilities are their masses over the mixed total.
    half, _ = dist_lib.rebuild_rows(dist, row_mass, new[4:10], jnp.int32(4))
    rows = np.arange(17)[:, None]
    masses = np.asarray(np.where((rows >= 4) & (rows < 10), new * areas, old * areas))
    np.testing.assert_allclose(dist_lib.probabilities(half), masses / masses.sum(), rtol=1e-4,
                               atol=1e-7)
    # Slices covering every row (the last clamped back to stay inside) give the whole rebuild.
    for start in (0, 5, 10, 14):
        dist, row_mass = dist_lib.rebuild_rows(dist, row_mass, new[min(start, 12):][:5],
                                               jnp.int32(start))
    whole = dist_lib.from_masses(layout, new * areas)
    for got, want in zip(jax.tree_util.tree_leaves(dist), jax.tree_util.tree_leaves(whole),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)


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
        drawn = _redraw(sampler, state, key)
        smp = sampler.sample(drawn, key)
        ij = jnp.floor(smp.positions).astype(jnp.int32)
        q_s, e_s = q_j[ij[:, 1], ij[:, 0]], err_j[ij[:, 1], ij[:, 0]]
        w = sampler.loss_weights(drawn, q_s)
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


def test_weight_schedule_warmup_and_clamp():
    sched = WeightSchedule(alpha=0.5, warmup_steps=100, clamp_std=None)
    q = jnp.asarray([0.01, 0.1, 1.0])
    np.testing.assert_allclose(sched(q, 0), [1, 1, 1])
    np.testing.assert_allclose(sched(q, 50), q ** -0.25, rtol=1e-5)
    np.testing.assert_allclose(sched(q, 150), q ** -0.5, rtol=1e-5)
    clamped = WeightSchedule(alpha=1.0, warmup_steps=0, clamp_std=1.0)(q, 0)
    w = 1 / np.asarray(q)
    assert float(clamped.max()) == pytest.approx(w.mean() + w.std(), rel=1e-5)
    nan_w = sched(jnp.asarray([jnp.nan, 0.0, jnp.inf]), 150)
    assert np.all(np.isfinite(nan_w)) and np.all(np.asarray(nan_w) > 0)


def test_official_weights_bound_images_and_pixel_centres():
    sampler = official_sampler(alpha=0.6)
    domain = Domain.from_images([_square_image(), _square_image()])
    state = sampler.init(jax.random.key(0), domain, 100)
    # official: alpha_t = min(step / 1000, alpha)
    q = jnp.linspace(0.001, 1.0, 100)
    w = np.asarray(sampler.loss_weights(state.replace(step=jnp.asarray(300)), q))
    raw = (1 / np.maximum(np.asarray(q), 2.0**-10)) ** 0.3
    np.testing.assert_allclose(w, np.clip(raw, 0.2, raw.mean() + raw.std()), rtol=1e-5)
    assert sampler.target_rule == "pixel_centres"  # rounds to pixels: refused on other tasks
    smp = sampler.sample(state, jax.random.key(0))
    np.testing.assert_array_equal(smp.image_ids, np.repeat([0, 1], 50))
    fb = Feedback(smp, jnp.ones(100), jnp.ones(100), jnp.zeros((100, 2)))
    new = sampler.update(state, fb, jax.random.key(1))
    np.testing.assert_array_equal(new.image_ids, state.image_ids)  # bound to images for life
    assert float(sampler.diagnostics(new).get("reseeded", 0.1)) >= 0.1 - 1e-6
    with pytest.raises(ValueError, match="version"):
        official_sampler(version="2023")


def test_official_2024_divides_the_drift_by_the_weight():
    domain = Domain.from_images([np.zeros((64, 64), np.uint8)])
    n = 64
    q = jnp.linspace(0.01, 0.5, n)
    grads = (q**2)[:, None] * jnp.asarray([1e-3, 0.0])  # grad log err = (1e-3, 0) per pixel
    moved = {}
    for version in ("2024", "2025"):
        sampler = official_sampler(a=20.0, b=0.0, version=version)
        state = sampler.init(jax.random.key(0), domain, n)
        state = state.replace(positions=jnp.full((n, 2), 32.0), step=jnp.asarray(5000))
        fb = Feedback(sampler.sample(state, None), q**2, q, grads)
        moved[version] = np.asarray(sampler.update(state, fb, jax.random.key(1)).positions)
        weights = np.asarray(sampler.loss_weights(state, q))
    keep = slice(n // 10, n - n // 10)  # neither re-seeded (lowest 10%) nor in the index block
    drift = {v: p[keep, 0] - 32.0 for v, p in moved.items()}
    # 2025: a * grad log err / N on normalised positions: (a / N) * (W - 1) * 1e-3 pixels
    np.testing.assert_allclose(drift["2025"], 20.0 / n * 63.0 * 1e-3, rtol=1e-3)
    np.testing.assert_allclose(drift["2024"], drift["2025"] / weights[keep], rtol=1e-3)
    assert np.ptp(weights[keep]) > 1.0  # the weights differ, so the division shows


ALL_SAMPLERS = {
    "uniform": uniform_sampler,
    "soft_mining": soft_mining_sampler,
    "hard_mining": hard_mining_sampler,
    "importance": importance_sampler,
    "official": official_sampler,
    "official_2024": lambda: official_sampler(version="2024"),
    "error_map_dense": error_map_sampler,
    "error_map_feedback": lambda: error_map_sampler(cell_size=3, source="feedback",
                                                    rebuild_interval=1),
    "error_map_dense_feedback": lambda: error_map_sampler(source="dense+feedback", cell_size=1,
                                                          ema=1.0, rebuild_interval=2),
    "int": lambda: int_sampler(num_steps=50),
    "evos": evos_sampler,
    "expansive": lambda: expansive_sampler(num_steps=50),
    "hsm": hsm_sampler,
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
    n = 2 if name not in ("official", "official_2024") else 3  # fewer samples than images
    state = sampler.init(jax.random.key(0), domain, n)
    update, sample = jax.jit(sampler.update), jax.jit(sampler.sample)
    refresh = jax.jit(sampler.refresh) if sampler.refresh is not None else lambda s, maps: s
    feedbacks = [
        (jnp.zeros(n), jnp.zeros(n), jnp.zeros((n, 2))),  # zero error everywhere
        (jnp.ones(n).at[0].set(jnp.nan), jnp.ones(n).at[0].set(jnp.inf).at[1].set(jnp.nan),
         jnp.ones((n, 2)).at[0, 0].set(jnp.nan).at[1].set(jnp.asarray([jnp.inf, -jnp.inf]))),
        (jnp.ones(n), jnp.ones(n), jnp.zeros((n, 2))),
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
        lambda: soft_mining_sampler(max_drift=0.0),
        lambda: soft_mining_sampler(view_hop=2.0),
        lambda: error_map_sampler(source="stale"),
        lambda: error_map_sampler(source="feedback", cell_size=0),
        lambda: error_map_sampler(source="feedback", rebuild_interval=0),
        lambda: error_map_sampler(source="feedback", ema=0.0),
        lambda: int_sampler(start_ratio=0.0),
        lambda: evos_sampler(mutation_ratio=1.0),
        lambda: expansive_sampler(anchor_area=1.0),
        lambda: hsm_sampler(hard_fraction=0.0),
        lambda: official_sampler(b=-1.0),
        lambda: WeightSchedule(alpha=-1.0),
        lambda: uniform_sampler().init(jax.random.key(0), Domain.from_sizes([(4, 4)]), 0),
        lambda: official_sampler().init(jax.random.key(0), Domain.from_sizes([(4, 4)] * 3), 2),
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
    before = np.asarray(_redraw(sampler, state, jax.random.key(1)).positions)
    assert 0.2 < np.mean(before[:, 0] < 5) < 0.3
    dense = np.zeros(size, np.float32)
    dense[:, :5] = 1.0
    state = sampler.refresh(state, [jnp.asarray(dense)])
    after = np.asarray(_redraw(sampler, state, jax.random.key(1)).positions)
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
    grid = state.moves[0].density.errors  # the re-seeding move's density
    np.testing.assert_allclose(grid, [[0.3, 1.0], [1.0, 1.0]], rtol=1e-6)  # mean of the two
    state = sampler.update(state, fb._replace(l1=jnp.asarray([1.3, 1.3])), jax.random.key(2))
    grid = state.moves[0].density.errors
    np.testing.assert_allclose(grid[0, 0], 0.9 * 0.3 + 0.1 * 1.3, rtol=1e-6)  # then EMA


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
    sampler = soft_mining_sampler(prior="error_map", reinit_fraction=1.0, uniform_fraction=0.0)
    assert soft_mining_sampler().refresh is None and sampler.refresh is not None
    domain = Domain.from_images([np.zeros((*size, 3), np.uint8)])
    state = sampler.init(jax.random.key(0), domain, 2000)
    dense = np.zeros(size, np.float32)
    dense[:, 15:] = 1.0
    state = sampler.refresh(state, [jnp.asarray(dense)])
    x = np.asarray(_redraw(sampler, state, jax.random.key(2)).positions)[:, 0]
    assert np.all((x >= 15) & (x <= 20))  # every sample restarted inside the high-error band


def test_dense_and_feedback_map_is_replaced_by_refreshes_and_kept_fresh_by_samples():
    size = (6, 8)
    sampler = error_map_sampler(source="dense+feedback", cell_size=1, ema=1.0,
                                rebuild_interval=1, uniform_fraction=0.0)
    state = sampler.init(jax.random.key(0), Domain.from_sizes([size]), 3)
    dense = np.arange(48, dtype=np.float32).reshape(size) / 48
    state = sampler.refresh(state, [jnp.asarray(dense)])
    np.testing.assert_allclose(state.moves[0].density.errors, dense, rtol=1e-6)
    # Two samples in pixel (1, 2) and one in (5, 0): each pixel takes its latest mean error.
    smp = Samples(jnp.asarray([[1.2, 2.5], [1.9, 2.1], [5.5, 0.5]]), jnp.zeros(3, jnp.int32))
    fb = Feedback(smp, jnp.ones(3), jnp.asarray([0.9, 0.5, 0.0]), jnp.zeros((3, 2)))
    grid = np.asarray(sampler.update(state, fb, jax.random.key(1)).moves[0].density.errors)
    expected = dense.copy()
    expected[2, 1], expected[0, 5] = 0.7, 0.0
    np.testing.assert_allclose(grid, expected, rtol=1e-6)


def test_feedback_map_rebuilds_after_a_fraction_of_observations_per_cell():
    small = error_map_sampler(source="feedback", cell_size=1, rebuild_fraction=1 / 32)
    state = small.init(jax.random.key(0), Domain.from_sizes([(64, 64)]), 32)  # 4096 cells
    assert state.moves[0].density.rebuild_interval == 4  # 4096 / 32 / 32
    big = small.init(jax.random.key(0), Domain.from_sizes([(512, 512)]), 32)
    assert big.moves[0].density.rebuild_interval == 256
    fixed = error_map_sampler(source="feedback").init(jax.random.key(0),
                                                      Domain.from_sizes([(64, 64)]), 32)
    assert fixed.moves[0].density.rebuild_interval == 16
    with pytest.raises(ValueError, match="rebuild_fraction"):
        error_map_sampler(source="feedback", rebuild_fraction=0.0)
