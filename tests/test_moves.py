"""Moves and their composition: each move's defining behaviour, chains, and the shipped samplers'
behaviour kept in distribution across the change to moves (recorded histograms)."""

from __future__ import annotations

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from softmining_jax.samplers import (
    Domain,
    Feedback,
    Move,
    Samples,
    ViewCameras,
    WeightSchedule,
    chain,
    dense_error_density,
    langevin,
    population_sampler,
    reseed,
    soft_mining_sampler,
    uniform_density,
    uniform_restart,
    view_hop,
)
from softmining_jax.samplers.official import index_block_restart, official_sampler

SIZE = (32, 32)
CENTRE = jnp.asarray([20.0, 12.0])


def _analytic_error(x: jax.Array) -> jax.Array:
    """A smooth error field on a 32x32 image: a bump on a floor (colour^2 units)."""
    d2 = jnp.sum((x - CENTRE) ** 2)
    return 0.05 + jnp.exp(-d2 / (2 * 6.0**2))


def _feedback(samples, fn=_analytic_error, points=None) -> Feedback:
    err, grad = jax.vmap(jax.value_and_grad(fn))(samples.positions)
    return Feedback(samples, err, jnp.sqrt(err), grad, points)


def _hist(positions: np.ndarray, size: tuple[int, int], cell: int) -> np.ndarray:
    h, w = size
    counts, _, _ = np.histogram2d(positions[:, 1], positions[:, 0], bins=(h // cell, w // cell),
                                  range=((0, h), (0, w)))
    return counts / counts.sum()


def _tv(p: np.ndarray, q: np.ndarray) -> float:
    return 0.5 * float(np.abs(p - q).sum())


def _exact_density(beta: float, cell: int, fine: int = 8) -> np.ndarray:
    h, w = SIZE
    ys, xs = (np.arange(h * fine) + 0.5) / fine, (np.arange(w * fine) + 0.5) / fine
    grid = jnp.stack(jnp.meshgrid(jnp.asarray(xs), jnp.asarray(ys)), -1).reshape(-1, 2)
    dens = np.asarray(jax.vmap(_analytic_error)(grid)).reshape(h * fine, w * fine) ** beta
    dens = dens.reshape(h // cell, cell * fine, w // cell, cell * fine).sum(axis=(1, 3))
    return dens / dens.sum()


@pytest.mark.parametrize("beta", [1.0, 3.0])
def test_langevin_converges_to_err_power_beta(beta):
    """The Langevin move alone samples ``err^beta`` (what steps over the border is clipped back
    onto it by the population; re-seeding it elsewhere would bias the density near the border)."""
    sampler = population_sampler(langevin(0.5, beta, max_drift=None), WeightSchedule())
    state = sampler.init(jax.random.key(0), Domain.from_sizes([SIZE]), 4096)

    def body(state, key):
        return sampler.update(state, _feedback(sampler.sample(state, key)), key), None

    keys = jax.random.split(jax.random.key(1), 3000)
    state, _ = jax.jit(lambda s: jax.lax.scan(body, s, keys))(state)
    cell = 4
    tv = _tv(_hist(np.asarray(state.positions), SIZE, cell), _exact_density(beta, cell))
    assert tv < 0.08, tv  # 4096 samples over 64 cells: sampling noise alone gives TV ~0.04
    uniform = np.full((SIZE[0] // cell, SIZE[1] // cell), 1.0 / 64)
    assert _tv(uniform, _exact_density(beta, cell)) > 0.25  # so the test can fail


def _samples(positions):
    return Samples(positions, jnp.zeros(positions.shape[0], jnp.int32))


def _move_once(move: Move, positions, feedback: Feedback, key, sizes=((200, 200),)):
    from softmining_jax.samplers.population import MoveInputs, Population

    n = positions.shape[0]
    inputs = MoveInputs(feedback=feedback, errors=feedback.errors, valid=jnp.ones(n, bool),
                        step=jnp.zeros((), jnp.int32), sizes=sizes)
    state = move.init(Domain.from_sizes(sizes), n)
    return move.update(state, Population(positions, jnp.zeros(n, jnp.int32),
                                         jnp.zeros(n, bool)), inputs, key)


def test_drift_is_eps_beta_grad_log_err_within_the_trust_region():
    positions = 5.0 + 10.0 * jax.random.uniform(jax.random.key(0), (256, 2))
    fb = _feedback(_samples(positions))
    key = jax.random.key(5)
    (state, moved), (_, still) = (_move_once(langevin(1.0, 10.0, 2.0), positions, fb, key),
                                  _move_once(langevin(1.0, 0.0, 2.0), positions, fb, key))
    drift = np.asarray(moved.positions - still.positions)  # same noise: the difference is drift
    expected = 10.0 * np.asarray(fb.error_grads) / np.asarray(fb.errors)[:, None]
    expected *= np.minimum(1.0, 2.0 / np.linalg.norm(expected, axis=-1))[:, None]
    np.testing.assert_allclose(drift, expected, rtol=1e-4, atol=1e-4)
    assert np.linalg.norm(drift, axis=-1).max() > 1.0
    assert float(state.drift_clipped) > 0.0 and float(state.mean_drift) <= 2.0 + 1e-5


def test_langevin_marks_what_leaves_the_image_and_non_finite_feedback():
    positions = jnp.asarray([[0.1, 5.0], [100.0, 100.0], [50.0, 50.0]])
    fb = Feedback(_samples(positions), jnp.ones(3), jnp.ones(3),
                  jnp.asarray([[-1e6, 0.0], [0.0, 0.0], [0.0, 0.0]]))
    _, moved = _move_once(langevin(1e-6, 2.0, 8.0), positions, fb, jax.random.key(0))
    np.testing.assert_array_equal(moved.restart, [True, False, False])  # drifted out at x < 0


def test_reseed_restarts_the_lowest_fraction_and_the_marked_ones():
    n = 100
    positions = jnp.full((n, 2), 50.0)
    err = jnp.arange(n, dtype=jnp.float32) + 1.0  # sample 0 has the lowest error
    fb = Feedback(_samples(positions), err, jnp.sqrt(err), jnp.zeros((n, 2)))
    from softmining_jax.samplers.population import MoveInputs, Population

    move = reseed(0.2, uniform_density())
    inputs = MoveInputs(fb, err, jnp.ones(n, bool), jnp.zeros((), jnp.int32), ((200, 200),))
    marked = jnp.zeros(n, bool).at[99].set(True)
    state, out = move.update(move.init(Domain.from_sizes([(200, 200)]), n),
                             Population(positions, jnp.zeros(n, jnp.int32), marked),
                             inputs, jax.random.key(0))
    moved = np.any(np.asarray(out.positions) != 50.0, axis=-1)
    np.testing.assert_array_equal(np.nonzero(moved)[0], [*range(20), 99])
    assert float(state.reseeded) == pytest.approx(0.21) and not np.any(out.restart)


def test_uniform_restart_rate_and_index_block():
    n = 20_000
    positions = jnp.full((n, 2), 50.0)
    fb = Feedback(_samples(positions), jnp.ones(n), jnp.ones(n), jnp.zeros((n, 2)))
    state, out = _move_once(uniform_restart(0.1), positions, fb, jax.random.key(0))
    moved = np.any(np.asarray(out.positions) != 50.0, axis=-1)
    assert abs(moved.mean() - 0.1) < 0.01 and float(state.restarted) == pytest.approx(moved.mean())
    _, out = _move_once(index_block_restart(0.1), positions, fb, jax.random.key(0))
    moved = np.any(np.asarray(out.positions) != 50.0, axis=-1)
    np.testing.assert_array_equal(np.nonzero(moved)[0], np.arange(n - n // 10, n))


def _three_views(size: int = 32, focal: float = 40.0) -> Domain:
    def look_at(position):
        z = position / np.linalg.norm(position)
        x = np.cross([0.0, 0.0, 1.0], z)
        x /= np.linalg.norm(x)
        return np.stack([x, np.cross(z, x), z, position], axis=1)

    c2w = np.stack([look_at(np.asarray(p)) for p in ([4.0, 0, 1], [0, 4.0, 1], [-4.0, 0.5, 1])])
    return Domain(sizes=((size, size),) * 3, cameras=ViewCameras(c2w=c2w, focal=focal))


def test_view_camera_projection_hand_computed():
    # A camera at (0, 0, 4) looking down -z, focal 10 px, image 20 x 10: the point (1, 0.5, 0)
    # is 4 units ahead, so it lands at (10 + 10 * 1/4, 5 - 10 * 0.5/4) = (12.5, 3.75).
    cams = ViewCameras(c2w=np.asarray([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 4]]]), focal=10.0)
    pos, visible = cams.project(jnp.asarray([[1.0, 0.5, 0.0], [0.0, 0.0, 5.0]]),
                                jnp.zeros(2, jnp.int32), ((10, 20),))
    np.testing.assert_allclose(pos[0], [12.5, 3.75], rtol=1e-6)
    np.testing.assert_array_equal(visible, [True, False])  # the second is behind the camera


def test_chains_hop_to_the_pixel_where_another_view_sees_their_point():
    domain, n = _three_views(), 64
    sampler = population_sampler(view_hop(1.0, step_size=1e-8), WeightSchedule())
    state = sampler.init(jax.random.key(0), domain, n)
    points = 0.3 * jax.random.normal(jax.random.key(1), (n, 3))  # near the origin: seen by all
    points = points.at[:4].set(jnp.nan)
    smp = sampler.sample(state, None)
    fb = Feedback(smp, jnp.ones(n), jnp.ones(n), jnp.zeros((n, 2)), points)
    new = sampler.update(state, fb, jax.random.key(3))
    ids, new_ids = np.asarray(state.image_ids), np.asarray(new.image_ids)
    np.testing.assert_array_equal(new_ids[:4], ids[:4])  # no point (background): no hop
    np.testing.assert_allclose(new.positions[:4], state.positions[:4])
    assert np.all(new_ids[4:] != ids[4:])
    expect, visible = domain.cameras.project(points[4:], jnp.asarray(new_ids[4:]), domain.sizes)
    assert np.all(np.asarray(visible))
    np.testing.assert_allclose(new.positions[4:], expect, atol=1e-3)
    assert float(sampler.diagnostics(new)["view_hops"]) == pytest.approx((n - 4) / n)
    assert len(set(zip(ids[4:].tolist(), new_ids[4:].tolist(), strict=True))) == 6
    with pytest.raises(ValueError, match="cameras"):
        sampler.init(jax.random.key(0), Domain.from_sizes(domain.sizes), 8)
    with pytest.raises(ValueError, match="Feedback.points"):
        sampler.update(state, fb._replace(points=None), jax.random.key(2))


@struct.dataclass
class _CountState:
    count: jax.Array


def _counting_move() -> Move:
    """A user's move: counts its updates and nudges every sample right by one pixel."""

    def update(state, pop, inputs, key):
        return (_CountState(state.count + 1),
                pop._replace(positions=pop.positions + jnp.asarray([1.0, 0.0])))

    return Move(init=lambda domain, n: _CountState(jnp.zeros((), jnp.int32)), update=update,
                diagnostics=lambda state: {"count": state.count})


def test_chain_keeps_a_tuple_of_move_states_and_merges_diagnostics():
    base = soft_mining_sampler().init(jax.random.key(0), Domain.from_sizes([SIZE]), 8)
    extended = population_sampler(
        chain(langevin(), reseed(), uniform_restart(), _counting_move()), WeightSchedule())
    state = extended.init(jax.random.key(0), Domain.from_sizes([SIZE]), 8)
    assert len(state.moves) == 4 and len(base.moves) == 3
    # Adding a move leaves the other moves' state structure (and so their checkpoints) alone.
    for a, b in zip(base.moves, state.moves[:3], strict=True):
        assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    state = extended.update(state, _feedback(extended.sample(state, None)), jax.random.key(1))
    diag = extended.diagnostics(state)
    assert int(diag["count"]) == 1 and {"mean_drift", "reseeded", "uniform_restarts"} <= set(diag)
    assert extended.refresh is None
    with_map = population_sampler(chain(langevin(), reseed(0.5, dense_error_density())),
                                  WeightSchedule())
    assert with_map.refresh is not None


def test_official_reseeds_low_loss_block_samples_on_edges_as_the_authors_code_does():
    """The authors copy the uniform block first and re-seed low-loss samples on edges after, so
    a block sample with one of the lowest losses lands on the edge prior, not uniformly."""
    img = np.zeros((40, 40), np.uint8)
    img[10:30, 10:30] = 255
    domain, n = Domain.from_images([img]), 1000
    sampler = official_sampler()
    state = sampler.init(jax.random.key(0), domain, n)
    err = jnp.ones(n).at[n - 50:].set(1e-6)  # the 50 lowest losses all sit in the block
    fb = Feedback(sampler.sample(state, None), err, jnp.sqrt(err), jnp.zeros((n, 2)))
    new = np.asarray(sampler.update(state, fb, jax.random.key(1)).positions)
    on_edge = lambda p: np.any(np.abs(p[:, :, None] - np.asarray([10.0, 30.0])) <= 2, axis=(1, 2))
    assert on_edge(new[n - 50:]).mean() > 0.9
    assert on_edge(new[n - 100:n - 50]).mean() < 0.6  # the rest of the block: uniform


RECORD = pathlib.Path(__file__).parent / "data" / "sampler_histograms.json"


@pytest.mark.parametrize("name", ["soft_mining", "hard_mining", "soft_mining_error_map",
                                  "error_map", "error_map_feedback", "uniform"])
def test_shipped_samplers_keep_their_recorded_distribution(name):
    """Recorded before the samplers became chains of moves (``tests/sampler_histograms.py`` at
    4da0147): where each puts its samples on a synthetic error field. The random streams
    changed, so the comparison is statistical: two independent runs of one sampler differ by a
    total variation of 0.02-0.04 here. (``official`` changed on purpose: the test above.)"""
    import sampler_histograms

    recorded = np.asarray(json.loads(RECORD.read_text())["histograms"][name])
    tv = _tv(recorded, sampler_histograms.histogram(name))
    assert tv < 0.06, tv
    if name == "uniform":  # its random stream did not change: the same samples
        assert tv == 0.0


def test_the_move_written_in_the_extending_guide_chains_with_soft_mining():
    """The example of docs/extending.md, run as written."""
    import re

    text = (pathlib.Path(__file__).parents[1] / "docs" / "extending.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", text, re.S)
                if "def pull_to_centre" in b]
    scope = {"jax": jax, "jnp": jnp}
    exec(block, scope)  # noqa: S102 - our own documentation
    sampler = scope["sampler"]
    state = sampler.init(jax.random.key(0), Domain.from_sizes([SIZE]), 64)
    for i in range(3):
        state = sampler.update(state, _feedback(sampler.sample(state, None)), jax.random.key(i))
    assert int(sampler.diagnostics(state)["pulls"]) == 1  # at step 0 only
    assert len(state.moves) == 4
