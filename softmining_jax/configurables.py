"""Gin wiring. The core API never needs gin: this module only registers constructors.

Registered names (usable in ``.gin`` files and ``--gin_bindings``): ``train_and_evaluate``,
``adam``, ``DenseRefresh``, ``image_fitting_task``, ``ImageField``, ``blender_task``, ``llff_task``,
``RadianceField``, ``ProposalField``, ``load_image``, ``lpips_metric``, ``WeightSchedule``,
``official_weight_schedule`` and the samplers ``uniform_sampler``, ``soft_mining_sampler``,
``hard_mining_sampler``, ``importance_sampler``, ``official_sampler``, ``error_map_sampler``,
``int_sampler``, ``evos_sampler``, ``expansive_sampler``, ``hsm_sampler``.
"""

from __future__ import annotations

import importlib.resources
import inspect
import pathlib

import gin

from softmining_jax import optim, samplers, train
from softmining_jax.data.blender import load_blender
from softmining_jax.data.images import load_image
from softmining_jax.data.llff import load_llff
from softmining_jax.fields.image_field import ImageField
from softmining_jax.fields.radiance_field import ProposalField, RadianceField
from softmining_jax.hooks import DenseRefresh
from softmining_jax.lpips import lpips_metric
from softmining_jax.tasks.image_fitting import ImageFittingTask
from softmining_jax.tasks.nerf import NerfTask

DEFAULT_IMAGE = "pluto_512.jpg"


def bundled_path(name: str) -> pathlib.Path:
    """Path of a file shipped in ``softmining_jax/assets``."""
    p = importlib.resources.files("softmining_jax") / "assets" / name
    if not p.is_file():
        raise FileNotFoundError(f"No bundled file named {name!r}.")
    return pathlib.Path(str(p))


def image_fitting_task(
    path: str | None = None,
    max_side: int | None = None,
    allow_large: bool = False,
    field=None,
    edge_prior: bool = True,
    eval_chunk: int = 2**16,
    edge_power: float = 1.0,
    target_rule: str = "pixel_centres",
    eval_pixels: int | None = None,
) -> ImageFittingTask:
    """Load an image file (default: the bundled Pluto, 512 px) into an image-fitting task.

    ``target_rule``: ``"pixel_centres"`` (train and evaluate at pixel centres) or
    ``"continuous"`` (train and evaluate at sub-pixel positions against the bilinear image).

    A relative ``path`` is resolved against the working directory first, then the bundled assets.
    """
    if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, int)
                                 or max_side < 2):
        raise ValueError(f"image_fitting_task.max_side must be a whole number of pixels >= 2 "
                         f"(or None: full size), got {max_side!r}.")
    if path is None:
        resolved = bundled_path(DEFAULT_IMAGE)
    else:
        resolved = pathlib.Path(path)
        if not resolved.exists():
            try:
                resolved = bundled_path(str(path))
            except FileNotFoundError:
                pass
    image = gin.get_configurable("load_image")(resolved, max_side=max_side,
                                               allow_large=allow_large)
    if min(image.shape[:2]) < 2:
        raise ValueError(f"{resolved}: the image is {image.shape[1]}x{image.shape[0]} pixels; "
                         "image fitting needs at least 2x2.")
    field = field or gin.get_configurable("ImageField")
    return ImageFittingTask(image, field=field, edge_prior=edge_prior, eval_chunk=eval_chunk,
                            name=pathlib.Path(resolved).stem, edge_power=edge_power,
                            target_rule=target_rule, eval_pixels=eval_pixels)


def _nerf_task(scene, field, proposal, **kwargs) -> NerfTask:
    # Unbound factories default to the gin-wrapped ones, so bindings such as
    # 'RadianceField.width = 128' apply without also binding 'blender_task.field'.
    field = field or gin.get_configurable("RadianceField")
    proposal = proposal or gin.get_configurable("ProposalField")
    return NerfTask(scene, field=field, proposal=proposal, **kwargs)


def blender_task(
    root: str = "../shared/data/nerf_synthetic/chair",
    factor: int = 8,
    max_train_images: int | None = None,
    max_test_images: int | None = None,
    field=None,
    proposal=None,
    **task_options,
) -> NerfTask:
    """A NeRF Synthetic scene (see :func:`~softmining_jax.data.blender.load_blender`) as a
    :class:`NerfTask`; ``task_options`` go to the task (samples per ray, eval views, ...)."""
    scene = load_blender(root, factor=factor, max_train_images=max_train_images,
                         max_test_images=max_test_images)
    return _nerf_task(scene, field, proposal, **task_options)


def llff_task(
    root: str = "../shared/data/nerf_llff_data/fern",
    factor: int = 8,
    max_train_images: int | None = None,
    field=None,
    proposal=None,
    **task_options,
) -> NerfTask:
    """An LLFF scene (see :func:`~softmining_jax.data.llff.load_llff`) as a :class:`NerfTask`."""
    scene = load_llff(root, factor=factor, max_train_images=max_train_images)
    return _nerf_task(scene, field, proposal, **task_options)


def radiance_field(**kwargs) -> RadianceField:
    """Gin-configurable :class:`RadianceField` constructor."""
    return RadianceField(**kwargs)


def proposal_field(**kwargs) -> ProposalField:
    """Gin-configurable :class:`ProposalField` constructor."""
    return ProposalField(**kwargs)


def image_field(**kwargs) -> ImageField:
    """Gin-configurable :class:`ImageField` constructor."""
    return ImageField(**kwargs)


def _bound(name: str) -> bool:
    """Whether ``configurable.parameter`` ``name`` has a gin binding."""
    try:
        gin.query_parameter(name)
    except ValueError:
        return False
    return True


def train_and_evaluate(*args, num_steps: int = 2000, optimizer=None, dense_refresh=None,
                       **kwargs):
    """:func:`softmining_jax.train.train_and_evaluate` whose defaults are the gin-configured
    ones: the optimizer is ``adam`` with its bindings (its schedule spans ``num_steps`` unless
    ``adam.num_steps`` is bound), the dense refresh is ``DenseRefresh`` with its bindings."""
    num_steps = train.whole_number("num_steps", num_steps, 0)
    if optimizer is None:
        make_adam = gin.get_configurable("adam")
        optimizer = make_adam() if _bound("adam.num_steps") else make_adam(
            num_steps=max(int(num_steps), 1))
    if dense_refresh is None:
        dense_refresh = gin.get_configurable("DenseRefresh")()
    return train.train_and_evaluate(*args, num_steps=num_steps, optimizer=optimizer,
                                    dense_refresh=dense_refresh, **kwargs)


# gin reads the parameter names from the signature: the loop's own, so unknown names are refused.
train_and_evaluate.__signature__ = inspect.signature(train.train_and_evaluate)


# Registration happens once, when this module is first imported (the usual gin pattern).
gin.external_configurable(train_and_evaluate, "train_and_evaluate")
gin.external_configurable(optim.adam, "adam")
gin.external_configurable(DenseRefresh, "DenseRefresh")
gin.external_configurable(image_fitting_task, "image_fitting_task")
gin.external_configurable(image_field, "ImageField")
gin.external_configurable(blender_task, "blender_task")
gin.external_configurable(llff_task, "llff_task")
gin.external_configurable(radiance_field, "RadianceField")
gin.external_configurable(proposal_field, "ProposalField")
gin.external_configurable(load_image, "load_image")
gin.external_configurable(lpips_metric, "lpips_metric")
gin.external_configurable(samplers.WeightSchedule, "WeightSchedule")
gin.external_configurable(samplers.official_weight_schedule, "official_weight_schedule")
for _name in ("uniform_sampler", "soft_mining_sampler", "hard_mining_sampler",
              "importance_sampler", "official_sampler", "error_map_sampler", "int_sampler",
              "evos_sampler", "expansive_sampler", "hsm_sampler"):
    gin.external_configurable(getattr(samplers, _name), _name)
