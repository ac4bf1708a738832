"""The other data-selection methods (INT, EVOS, Expansive Supervision, online hard-sample mining):
each one's defining behaviour, and training through the Python API on an image and a scene."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softmining_jax import samplers
from softmining_jax.data.blender import load_blender
from softmining_jax.data.procedural import write_sphere_scene
from softmining_jax.fields import ProposalField, RadianceField
from softmining_jax.hooks import DenseRefresh
from softmining_jax.optim import adam
from softmining_jax.samplers import Domain, Feedback
from softmining_jax.samplers.ranked import pixel_positions
from softmining_jax.step import init_train_state, make_train_step
from softmining_jax.tasks import NerfTask
from softmining_jax.train import train_and_evaluate
from tests.helpers import tiny_image, tiny_task

SIZES = ((6, 10), (4, 5))  # 80 pixels over two images


def _flat(samples) -> np.ndarray:
    """Flat pixel index (images concatenated, row-major) of each sample."""
    ids = np.asarray(samples.image_ids)
    p = np.floor(np.asarray(samples.positions)).astype(int)
    starts = np.cumsum([0] + [h * w for h, w in SIZES])[:-1]
    widths = np.asarray([w for _, w in SIZES])
    return starts[ids] + p[:, 1] * widths[ids] + p[:, 0]


def _scores() -> list[jax.Array]:
    """A dense error map whose ranking is known: pixel ``i`` has score ``(i * 37) % 80``."""
    flat = (np.arange(80) * 37) % 80
    return [jnp.asarray(flat[:60].reshape(6, 10), jnp.float32),
            jnp.asarray(flat[60:].reshape(4, 5), jnp.float32)]


def _draws(sampler, state, rounds: int = 20) -> np.ndarray:
    out = []
    for i in range(rounds):
        out.append(_flat(sampler.sample(state, None)))
        state = sampler.update(state, None, jax.random.key(100 + i))
    return np.concatenate(out)


def test_pixel_positions_inverts_the_flat_index():
    flat = jnp.arange(80, dtype=jnp.int32)
    samples = pixel_positions(SIZES, flat, jnp.full((80, 2), 0.5))
    np.testing.assert_array_equal(_flat(samples), np.arange(80))


def test_int_picks_exactly_the_top_error_pixels_and_widens_by_stage():
    sampler = samplers.int_sampler(start_ratio=0.25, num_stages=3, num_steps=30)
    state = sampler.init(jax.random.key(0), Domain.from_sizes(SIZES), 256)
    before = _draws(sampler, state, rounds=4)
    assert len(np.unique(before)) > 60  # uniform until the first dense refresh
    state = sampler.refresh(state, _scores())
    score = (np.arange(80) * 37) % 80
    drawn = _draws(sampler, state, rounds=10)  # steps 0-9: stage 0, the top 20 of 80
    assert set(np.unique(drawn)) == set(np.nonzero(score >= 60)[0])
    state = state.replace(step=jnp.asarray(10, jnp.int32))  # stage 1: 0.25 + 0.25 = half
    assert set(np.unique(_draws(sampler, state, 10))) == set(np.nonzero(score >= 40)[0])
    state = state.replace(step=jnp.asarray(30, jnp.int32))  # after the last stage: everything
    assert len(np.unique(_draws(sampler, state, 10))) == 80
    np.testing.assert_array_equal(sampler.loss_weights(state, jnp.ones(256)), np.ones(256))


@pytest.mark.parametrize("make", [
    lambda steps=None: samplers.int_sampler(start_ratio=0.25, num_stages=3, num_steps=steps),
    lambda steps=None: samplers.expansive_sampler(num_steps=steps)])
def test_a_schedule_left_unset_spans_the_run(make):
    """Unset, the schedule is the run's (the train loop applies ``for_run``); a step built by
    hand refuses to start with one line naming the parameter."""
    images = [np.asarray(_scores()[0] * 3, np.uint8), np.asarray(_scores()[1] * 3, np.uint8)]
    domain = Domain.from_images(images)  # the sizes of SIZES, with edge priors
    with pytest.raises(ValueError, match=r"_sampler\.num_steps is unset"):
        make().init(jax.random.key(0), domain, 64)
    explicit = make(30)
    assert samplers.for_run(explicit, 999) is explicit  # a value set by hand is kept
    seen = []
    for sampler in (samplers.for_run(make(), 30), explicit):
        state = sampler.init(jax.random.key(0), domain, 64)
        if sampler.refresh is not None:  # INT ranks by the dense error map
            state = sampler.refresh(state, _scores())
        state = state.replace(step=jnp.asarray(12, jnp.int32))  # mid-schedule
        seen.append((_draws(sampler, state, 5), sampler.loss_weights(state, jnp.ones(64))))
    np.testing.assert_array_equal(seen[0][0], seen[1][0])
    np.testing.assert_array_equal(seen[0][1], seen[1][1])


def test_evos_keeps_the_fittest_and_mutates_at_the_stated_rate():
    sampler = samplers.evos_sampler(use_ratio=0.5, mutation_ratio=0.5)
    state = sampler.refresh(sampler.init(jax.random.key(1), Domain.from_sizes(SIZES), 512),
                            _scores())
    drawn = _draws(sampler, state, rounds=20)
    score = ((np.arange(80) * 37) % 80)[drawn]
    fittest = score >= 60  # the top 0.5 * (1 - 0.5) = 25% = 20 pixels
    assert abs(fittest.mean() - 0.5) < 0.03  # selection: half the batch; mutation: the other half
    assert len(np.unique(drawn[~fittest])) == 60  # mutation reaches every unselected pixel
    assert len(np.unique(drawn[fittest])) == 20  # selection keeps every one of the fittest


def test_expansive_draws_anchors_on_edges_and_weighs_sources_down_over_time():
    image = np.zeros((16, 16), np.uint8)
    image[:, 8:] = 255  # one vertical edge: the Sobel prior is non-zero on columns 7 and 8
    domain = Domain.from_images([image])
    sampler = samplers.expansive_sampler(anchor_area=0.125, anchor_share=0.5, num_steps=100)
    state = sampler.init(jax.random.key(2), domain, 4000)
    smp = sampler.sample(state, None)
    cols = np.floor(np.asarray(smp.positions)[:, 0]).astype(int)
    on_edge = np.isin(cols, [7, 8])  # 32 pixels = 12.5%: exactly the anchor set
    assert abs(on_edge.mean() - 0.5) < 0.04
    w = np.asarray(sampler.loss_weights(state, jnp.ones(4000)))
    np.testing.assert_allclose(w[on_edge], 2.0)  # 1 / anchor_share
    np.testing.assert_allclose(w[~on_edge], 7.0 / 0.5)  # ((1 - a) / a) / (1 - share) at step 0
    late = state.replace(step=jnp.asarray(100, jnp.int32))
    w = np.asarray(sampler.loss_weights(late, jnp.ones(4000)))
    cols = np.floor(np.asarray(sampler.sample(late, None).positions)[:, 0]).astype(int)
    np.testing.assert_allclose(w[~np.isin(cols, [7, 8])], 2.0)  # c(T) = 1
    with pytest.raises(ValueError, match="priors"):
        sampler.init(jax.random.key(0), Domain.from_sizes([(4, 4)]), 8)


def test_hsm_selection_is_unbiased_and_prefers_hard_samples():
    sampler = samplers.hsm_sampler(hard_fraction=0.25)
    errors = jnp.asarray(np.random.default_rng(0).exponential(size=64) ** 2, jnp.float32)
    select = jax.jit(lambda key: sampler.select(None, errors, key))
    estimates, picks = [], []
    for i in range(2000):
        chosen, w = select(jax.random.key(i))
        assert chosen.shape == w.shape == (16,)
        estimates.append(float(jnp.mean(w * errors[chosen])))
        picks.append(np.asarray(chosen))
    mean, sem = np.mean(estimates), np.std(estimates) / np.sqrt(len(estimates))
    assert abs(mean - float(jnp.mean(errors))) < 4 * sem + 1e-6
    counts = np.bincount(np.concatenate(picks), minlength=64)
    order = np.argsort(np.asarray(errors))
    assert counts[order[-8:]].sum() > 3 * counts[order[:8]].sum()
    root = np.sqrt(np.asarray(errors, np.float64))  # picked with probability ~ sqrt(err)
    want = root / root.sum() * counts.sum()
    assert np.all(np.abs(counts - want) < 5 * np.sqrt(want) + 1)


def test_hsm_step_back_propagates_only_the_selected_samples():
    task = tiny_task()
    sampler = samplers.hsm_sampler(hard_fraction=0.25)
    optimizer = adam(learning_rate=1e-2, num_steps=10)
    state = init_train_state(task, sampler, optimizer, 64, 0)
    step = jax.jit(make_train_step(task, sampler, optimizer))
    seen = []
    real_update = sampler.update

    def spy(sampler_state, feedback, key):
        seen.append(feedback.errors.shape)
        return real_update(sampler_state, feedback, key)

    spied = jax.jit(make_train_step(task, sampler._replace(update=spy), optimizer))
    spied(state)
    assert seen == [(16,)]  # the update (and the backward) saw K = 16 of the 64 candidates
    for _ in range(5):
        state, metrics = step(state)
    assert int(state.step) == 5 and np.isfinite(float(metrics["mse"]))


METHODS = {  # INT's and Expansive's schedules span the run (train_and_evaluate sets num_steps)
    "int": samplers.int_sampler,
    "evos": samplers.evos_sampler,
    "expansive": samplers.expansive_sampler,
    "hsm": samplers.hsm_sampler,
}


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_trains_an_image_through_the_python_api(name, tmp_path):
    task = tiny_task()
    out = train_and_evaluate(tmp_path, task, sampler=METHODS[name](), batch_size=128,
                             num_steps=60, eval_every=60, log_every=30, checkpoint_every=60,
                             optimizer=adam(learning_rate=1e-2, num_steps=60),
                             dense_refresh=DenseRefresh(every=20), progress=False,
                             tensorboard=False, plots=False)
    assert out["step"] == 60 and out["eval_psnr"] > 12.0


@pytest.fixture(scope="module")
def sphere(tmp_path_factory):
    root = write_sphere_scene(tmp_path_factory.mktemp("sphere"), size=16, num_train=8,
                              num_test=1)
    return load_blender(root, near=1.5, far=4.5)


@pytest.mark.parametrize("name", ["evos", "expansive", "hsm"])  # int ranks like evos
def test_every_method_trains_a_scene(name, sphere, tmp_path):
    task = NerfTask(sphere, num_proposal_samples=8, num_samples=8, eval_views=1, video_frames=0,
                    field=functools.partial(RadianceField, num_levels=4, log2_table_size=10,
                                            max_resolution=32, width=16,
                                            direction_frequencies=1),
                    proposal=functools.partial(ProposalField, num_levels=2, log2_table_size=8,
                                               max_resolution=16))
    out = train_and_evaluate(tmp_path, task, sampler=METHODS[name](), batch_size=64,
                             num_steps=10, eval_every=10, log_every=5, checkpoint_every=10,
                             optimizer=adam(learning_rate=1e-2, num_steps=10),
                             dense_refresh=DenseRefresh(every=5), progress=False,
                             tensorboard=False, plots=False)
    assert out["step"] == 10 and np.isfinite(out["eval_psnr"])


def test_feedback_is_ignored_by_the_ranked_samplers():
    """The ranked samplers draw from their ranking only: any feedback leaves the draw alone."""
    sampler = samplers.evos_sampler()
    domain = Domain.from_images([tiny_image(8, 8)])
    state = sampler.init(jax.random.key(0), domain, 16)
    smp = sampler.sample(state, None)
    nan = Feedback(smp, jnp.full(16, jnp.nan), jnp.full(16, jnp.nan), jnp.zeros((16, 2)))
    a = sampler.update(state, nan, jax.random.key(5))
    b = sampler.update(state, nan._replace(errors=jnp.ones(16)), jax.random.key(5))
    np.testing.assert_array_equal(sampler.sample(a, None).positions,
                                  sampler.sample(b, None).positions)


@pytest.mark.parametrize("name", ["int_sampler", "evos_sampler", "expansive_sampler",
                                  "hsm_sampler"])
def test_every_method_trains_through_the_cli_with_one_binding(name, tmp_path):
    import gin

    from softmining_jax import cli

    try:
        code = cli.main([f"--gin_bindings=train_and_evaluate.sampler = @{name}()",
                         "--gin_bindings=train_and_evaluate.num_steps = 4",
                         "--gin_bindings=train_and_evaluate.eval_every = 4",
                         "--gin_bindings=train_and_evaluate.plots = False",
                         "--gin_bindings=train_and_evaluate.tensorboard = False",
                         "--gin_bindings=image_fitting_task.max_side = 48",
                         "--gin_bindings=ImageField.num_levels = 4",
                         "--gin_bindings=ImageField.log2_table_size = 10",
                         f"--workdir={tmp_path}", "--quiet"])
    finally:
        gin.clear_config()
    assert code == 0
    assert f"train_and_evaluate.sampler = @{name}()" in (tmp_path / "config.gin").read_text()
