"""Dense error maps rendered at one pixel per block: which pixels, what fills the blocks, the
tasks' ``dense_l1`` and the ``DenseRefresh`` hook's ``stride``."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from helpers import tiny_task

from softmining_jax import samplers
from softmining_jax.hooks import DenseRefresh
from softmining_jax.tasks import dense


def test_stride_one_renders_every_pixel_whatever_the_phase():
    for phase in (0, 3):
        rows, cols = dense.block_pixels(5, 7, 1, phase)
        np.testing.assert_array_equal(rows, np.arange(5))
        np.testing.assert_array_equal(cols, np.arange(7))


@pytest.mark.parametrize("stride", [2, 3])
def test_phases_visit_every_offset_of_a_block_once(stride):
    offsets = []
    for phase in range(stride * stride):
        rows, cols = dense.block_pixels(12, 12, stride, phase)
        assert len(rows) == len(cols) == 12 // stride
        # Every block gets the same offset within it.
        assert len(set(rows - np.arange(0, 12, stride))) == 1
        assert len(set(cols - np.arange(0, 12, stride))) == 1
        offsets.append((int(rows[0]), int(cols[0])))
    assert sorted(offsets) == [(i, j) for i in range(stride) for j in range(stride)]
    # Consecutive refreshes always move to another row, and the cycle repeats.
    assert all(a[0] != b[0] for a, b in zip(offsets, offsets[1:], strict=False))
    for later, first in zip(dense.block_pixels(12, 12, stride, stride * stride + 1),
                            dense.block_pixels(12, 12, stride, 1), strict=True):
        np.testing.assert_array_equal(later, first)


def test_partial_last_block_stays_inside_the_image():
    rows, cols = dense.block_pixels(5, 7, 3, phase=2)  # offset (2, 2) in each block
    np.testing.assert_array_equal(rows, [2, 4])  # 5 rows: blocks 0-2, 3-4 (5 clipped to 4)
    np.testing.assert_array_equal(cols, [2, 5, 6])  # 7 columns: 0-2, 3-5, 6 (8 clipped to 6)


@pytest.mark.parametrize("bad", [0, -2])
def test_bad_stride_is_refused(bad):
    with pytest.raises(ValueError, match="stride"):
        dense.block_pixels(4, 4, bad)
    with pytest.raises(ValueError, match="DenseRefresh.stride"):
        DenseRefresh(stride=bad)
    with pytest.raises(ValueError, match="DenseRefresh.stride"):
        DenseRefresh(stride=1.5)
    with pytest.raises(ValueError, match="DenseRefresh.every"):
        DenseRefresh(every=bad)


def _fake_render(centres: np.ndarray) -> np.ndarray:
    """A 'field' whose colour is x / 10 in every channel."""
    return np.repeat(centres[:, :1] / 10.0, 3, axis=1)


def test_strided_l1_fills_each_block_with_its_rendered_pixels_error():
    rng = np.random.default_rng(0)
    target = rng.uniform(size=(7, 9, 3)).astype(np.float32)
    xs = (np.arange(9) + 0.5) / 10.0
    exact = np.abs(xs[None, :, None] - target).mean(-1)
    np.testing.assert_allclose(dense.strided_l1(_fake_render, target, 1), exact, rtol=1e-6)
    for phase in range(4):
        got = dense.strided_l1(_fake_render, target, 2, phase)
        assert got.shape == (7, 9) and got.dtype == np.float32
        rows, cols = dense.block_pixels(7, 9, 2, phase)
        for bi, r in enumerate(rows):
            for bj, c in enumerate(cols):
                block = got[2 * bi : 2 * bi + 2, 2 * bj : 2 * bj + 2]
                np.testing.assert_allclose(block, exact[r, c], rtol=1e-6)


def test_render_in_chunks_pads_the_last_chunk_and_keeps_the_order():
    calls = []

    def render_chunk(part):
        calls.append(len(part))
        return np.asarray(part) * 2.0

    centres = np.arange(14, dtype=np.float32).reshape(7, 2)
    np.testing.assert_array_equal(dense.render_in_chunks(render_chunk, centres, 3), centres * 2)
    assert calls == [3, 3, 3]  # one compiled shape
    calls.clear()
    dense.render_in_chunks(render_chunk, centres, 100)
    assert calls == [7]  # fewer positions than a chunk: no padding


def test_image_task_dense_l1_strided_equals_the_full_map_at_the_rendered_pixels():
    task = tiny_task()
    params = task.init_params(jax.random.key(0))
    full = np.asarray(task.dense_l1(params)[0])
    target = np.asarray(task.targets_data.image(0))
    np.testing.assert_allclose(full, np.abs(task.render(params) - target).mean(-1), atol=1e-6)
    h, w = full.shape
    strided = np.asarray(task.dense_l1(params, stride=2, phase=1)[0])
    assert strided.shape == (h, w)
    rows, cols = dense.block_pixels(h, w, 2, 1)
    expected = np.repeat(np.repeat(full[np.ix_(rows, cols)], 2, 0), 2, 1)[:h, :w]
    np.testing.assert_allclose(strided, expected, atol=1e-5)


def test_train_loop_passes_stride_and_a_rotating_phase(tmp_path):
    from softmining_jax.optim import adam
    from softmining_jax.train import train_and_evaluate

    task = tiny_task()
    seen = []
    original = task.dense_l1

    def recording(params, stride=1, phase=0):
        seen.append((stride, phase))
        return original(params, stride=stride, phase=phase)

    task.dense_l1 = recording
    train_and_evaluate(tmp_path / "run", task=task,
                       sampler=samplers.error_map_sampler(),
                       dense_refresh=DenseRefresh(every=5, stride=2),
                       batch_size=32, num_steps=21, optimizer=adam(num_steps=21), seed=0,
                       log_every=7, eval_every=21, checkpoint_every=21, progress=False,
                       tensorboard=False, plots=False)
    assert seen == [(2, 0), (2, 1), (2, 2), (2, 3)]  # refreshes at steps 5, 10, 15, 20
    seen.clear()  # a sampler without dense maps never renders one
    train_and_evaluate(tmp_path / "plain", task=task, sampler=samplers.soft_mining_sampler(),
                       batch_size=32, num_steps=10, optimizer=adam(num_steps=10), seed=0,
                       dense_refresh=DenseRefresh(every=5), eval_every=10, progress=False,
                       tensorboard=False, plots=False)
    assert seen == []


def test_refresh_every_epoch_of_samples_scales_with_the_image(tmp_path):
    """DenseRefresh(epochs=e): a refresh after the samples have covered the pixels e times."""
    from softmining_jax.optim import adam
    from softmining_jax.train import train_and_evaluate

    task = tiny_task()  # 24 x 32 = 768 pixels
    hook = DenseRefresh(epochs=1.0)
    assert hook.interval(task, batch_size=32) == 24 and hook.interval(task, 64) == 12
    assert DenseRefresh(epochs=0.001).interval(task, 32) == 1
    with pytest.raises(ValueError, match="batch size"):
        hook.interval(task)
    with pytest.raises(ValueError, match="DenseRefresh.epochs"):
        DenseRefresh(epochs=0.0)
    seen = []
    original = task.dense_l1
    task.dense_l1 = lambda params, stride=1, phase=0: seen.append(phase) or original(params)
    train_and_evaluate(tmp_path, task=task, sampler=samplers.error_map_sampler(), batch_size=32,
                       num_steps=50, optimizer=adam(num_steps=50), dense_refresh=hook,
                       eval_every=50, progress=False, tensorboard=False, plots=False)
    assert seen == [0, 1]  # before steps 24 and 48


def test_auto_stride_renders_every_pixel_unless_the_image_outgrows_the_samples():
    """stride 'auto': every pixel up to COVER_STEPS batches of pixels, then the smallest stride
    that renders no more; DenseRefresh's epochs count rendered pixels (a strided refresh comes
    stride^2 times as often)."""
    cover = dense.COVER_STEPS
    assert dense.auto_stride([(500, 500)], 1024) == 1  # a Kodak crop
    assert dense.auto_stride([(8, cover * 512 // 8)], 512) == 1
    assert dense.auto_stride([(8, cover * 512 // 8 + 1)], 512) == 2
    edge = dense.auto_stride([(2018, 2048)], 512)  # Pluto at 2048 px
    assert (2018 * 2048) / edge**2 <= cover * 512 < (2018 * 2048) / (edge - 1) ** 2
    assert dense.auto_stride([(2018, 2048)], 16384) == 1
    for bad in (0, 1.5, "big", True):
        with pytest.raises(ValueError, match="DenseRefresh.stride"):
            DenseRefresh(stride=bad)

    task = tiny_task()  # 24 x 32 = 768 pixels
    hook = DenseRefresh(epochs=1.0, stride="auto")
    assert hook.pixel_stride(task, 32) == 1 and hook.interval(task, 32) == 24
    assert cover < 768 and hook.pixel_stride(task, 1) == 2
    with pytest.raises(ValueError, match="batch size"):
        hook.pixel_stride(task)
    strided = DenseRefresh(epochs=1.0, stride=2)
    assert strided.interval(task, 32) == 6  # a quarter of the pixels rendered: 4x as often
    assert hook.interval(task, 64, num_devices=2) == 12
    from softmining_jax.optim import adam
    from softmining_jax.step import init_train_state

    seen = []
    original = task.dense_l1
    task.dense_l1 = lambda params, stride=1, phase=0: seen.append(stride) or original(params)
    sampler = samplers.error_map_sampler()
    refresh = hook.bind(task, sampler, batch_size=1)
    state = init_train_state(task, sampler, adam(num_steps=10), 1, seed=0)
    refresh(refresh.every, state)
    assert refresh.every == 192 and seen == [2]  # 768 pixels / 2^2 / 1 sample a step
