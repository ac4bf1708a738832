"""Image loading (modes, bit depths, bad files) and the bilinear target lookup."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from softmining_jax.data import ImageTargets, load_image


@pytest.mark.parametrize(
    "mode,shape,dtype",
    [("L", (9, 7, 1), np.uint8), ("LA", (9, 7, 2), np.uint8), ("RGB", (9, 7, 3), np.uint8),
     ("RGBA", (9, 7, 4), np.uint8), ("I;16", (9, 7, 1), np.uint16), ("P", (9, 7, 3), np.uint8),
     ("1", (9, 7, 1), np.uint8)],
)
def test_load_modes(tmp_path, mode, shape, dtype):
    rng = np.random.default_rng(0)
    if mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65535, (9, 7), dtype=np.uint16))
    else:
        img = Image.fromarray(rng.integers(0, 255, (9, 7, 3), dtype=np.uint8)).convert(mode)
    path = tmp_path / "im.png"
    img.save(path)
    arr = load_image(path)
    assert arr.shape == shape and arr.dtype == dtype
    if mode == "I;16":
        np.testing.assert_array_equal(arr[..., 0], np.asarray(img))


def test_load_downscale(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((40, 100, 3), np.uint8)).save(path)
    assert load_image(path, max_side=50).shape == (20, 50, 3)
    assert load_image(path, max_side=500).shape == (40, 100, 3)


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_image(tmp_path / "missing.png")
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.png"):
        load_image(truncated)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="garbage.jpg"):
        load_image(garbage)
    cmyk = tmp_path / "f.tif"
    Image.new("F", (4, 4)).save(cmyk)
    with pytest.raises(ValueError, match="unsupported image mode"):
        load_image(cmyk)


def test_decompression_bomb_needs_explicit_option(tmp_path, monkeypatch):
    path = tmp_path / "wide.png"
    Image.fromarray(np.zeros((60, 60), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValueError, match="allow_large"):
        load_image(path)
    assert load_image(path, allow_large=True).shape == (60, 60, 1)
    assert Image.MAX_IMAGE_PIXELS == 1000  # restored


def test_bilinear_lookup_values_and_gradient():
    img = np.arange(12, dtype=np.uint8).reshape(3, 4, 1) * 20
    t = ImageTargets.from_arrays([img])
    ids = jnp.zeros((4,), jnp.int32)
    centres = jnp.asarray([[0.5, 0.5], [3.5, 2.5], [1.0, 0.5], [1.5, 1.0]])
    got = np.asarray(t.lookup(centres, ids))[:, 0] * 255
    np.testing.assert_allclose(got, [0, 220, 10, 60], atol=1e-3)
    # Border clamps; gradient is the local slope (20/px along x, 80/px along y).
    g = jax.grad(lambda p: jnp.sum(t.lookup(p, ids[:1])))(jnp.asarray([[1.2, 1.2]]))
    np.testing.assert_allclose(np.asarray(g)[0] * 255, [20, 80], rtol=1e-4)
    outside = np.asarray(t.lookup(jnp.asarray([[-5.0, -5.0], [99.0, 99.0]]), ids[:2]))[:, 0]
    np.testing.assert_allclose(outside * 255, [0, 220], atol=1e-3)


def test_multi_image_targets_and_errors():
    a = np.full((2, 3, 3), 255, np.uint8)
    b = np.zeros((4, 1, 3), np.uint8)
    t = ImageTargets.from_arrays([a, b])
    vals = t.lookup(jnp.asarray([[1.0, 1.0], [0.5, 3.0]]), jnp.asarray([0, 1]))
    np.testing.assert_allclose(vals, [[1, 1, 1], [0, 0, 0]])
    np.testing.assert_allclose(t.image(1), np.zeros((4, 1, 3)))
    with pytest.raises(ValueError, match="channels"):
        ImageTargets.from_arrays([a, np.zeros((2, 2, 1), np.uint8)])
    with pytest.raises(ValueError, match="finite"):
        ImageTargets.from_arrays([np.full((2, 2, 1), np.nan, np.float32)])
    wide = ImageTargets.from_arrays([np.full((2, 2, 1), 65535, np.uint16)])
    np.testing.assert_allclose(wide.lookup(jnp.ones((1, 2)), jnp.zeros(1, jnp.int32)), [[1.0]])
