"""Image metrics: PSNR, SSIM (against a direct computation), the error-concentration share."""

from __future__ import annotations

import numpy as np
import pytest

from softmining_jax import metrics


def _ssim_direct(a: np.ndarray, b: np.ndarray, size: int = 11, sigma: float = 1.5) -> float:
    """SSIM by explicit windows (float64): the Gaussian-weighted statistics of every valid
    ``size x size`` window, averaged over windows and channels."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-0.5 * (r / sigma) ** 2)
    win = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01**2, 0.03**2
    out = []
    for c in range(a.shape[2]):
        for i in range(a.shape[0] - size + 1):
            for j in range(a.shape[1] - size + 1):
                x, y = a[i:i + size, j:j + size, c], b[i:i + size, j:j + size, c]
                mx, my = (win * x).sum(), (win * y).sum()
                vx, vy = (win * x * x).sum() - mx**2, (win * y * y).sum() - my**2
                cov = (win * x * y).sum() - mx * my
                out.append((2 * mx * my + c1) * (2 * cov + c2)
                           / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(out))


def test_ssim_matches_the_windowed_definition_and_small_images_stay_finite():
    rng = np.random.default_rng(0)
    a = rng.random((20, 24, 3))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    assert float(metrics.ssim(a, b)) == pytest.approx(_ssim_direct(a, b), abs=1e-5)
    assert float(metrics.ssim(a, a)) == pytest.approx(1.0, abs=1e-6)
    for h in (1, 2, 8, 9, 10):  # shorter than the 11-pixel window: a fitted odd window
        small_a, small_b = a[:h, :12], b[:h, :12]
        value = float(metrics.ssim(small_a, small_b))
        assert np.isfinite(value) and -1.0 <= value < 1.0
        assert float(metrics.ssim(small_a, small_a)) == pytest.approx(1.0, abs=1e-6)
    size = 9  # the fitted window of a 9- or 10-pixel side, sigma scaled by 9/11
    assert float(metrics.ssim(a[:9], b[:9])) == pytest.approx(
        _ssim_direct(a[:9], b[:9], size, 1.5 * 9 / 11), abs=1e-5)


def test_psnr_and_top_error_share():
    assert float(metrics.psnr(np.zeros((4, 4)), np.full((4, 4), 0.1))) == pytest.approx(20.0)
    even = np.ones((10, 10))
    assert metrics.top_error_share(even, 0.1) == pytest.approx(0.1)
    spot = np.zeros((10, 10))
    spot[0, :5] = 1.0
    assert metrics.top_error_share(spot, 0.1) == pytest.approx(1.0)
    assert metrics.top_error_share(np.zeros((3, 3, 3)), 0.1) == pytest.approx(0.1)
