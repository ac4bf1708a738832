"""Where each shipped sampler puts its samples on a synthetic error field, to check that a
refactoring keeps the samplers' behaviour in distribution.

Every sampler is fed the same synthetic feedback for a number of updates: the error of a sample
at ``(x, y)`` is a floor plus two Gaussian bumps (an analytic gradient comes with it), on a
``32 x 48`` image whose edge prior is a bright square. A dense error map of the same field is
handed to ``refresh`` once. The final positions of several seeds are pooled into a histogram of
``4 x 4``-pixel cells. ``python tests/sampler_histograms.py`` records the histograms to
``tests/data/sampler_histograms.json``; ``tests/test_sampler_behaviour.py`` compares the
current code's with the recording (total variation distance). The script only uses names that
existed before and after the samplers became chains of moves.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

from softmining_jax import samplers
from softmining_jax.samplers import Domain, Feedback

ROOT = pathlib.Path(__file__).resolve().parents[1]
RECORD = ROOT / "tests" / "data" / "sampler_histograms.json"
H, W, N, UPDATES, SEEDS, CELL = 32, 48, 4096, 40, 6, 4
BUMPS = ((30.0, 10.0, 4.0, 0.2), (12.0, 24.0, 6.0, 0.1))  # (x, y, sigma px, height)


def error_field(p: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``err (N,)`` and ``d err / d p (N, 2)`` at positions ``p (N, 2)``."""
    err, grad = jnp.full(p.shape[:1], 1e-3), jnp.zeros_like(p)
    for x, y, s, a in BUMPS:
        d = p - jnp.asarray([x, y])
        g = a * jnp.exp(-0.5 * jnp.sum(d * d, -1) / s**2)
        err, grad = err + g, grad - g[:, None] * d / s**2
    return err, grad


def image() -> np.ndarray:
    im = np.zeros((H, W), np.uint8)
    im[8:20, 20:36] = 200
    return im


def dense_map() -> jax.Array:
    ys, xs = np.mgrid[0:H, 0:W] + 0.5
    err, _ = error_field(jnp.asarray(np.stack([xs.ravel(), ys.ravel()], -1), jnp.float32))
    return jnp.sqrt(err).reshape(H, W)


def configs() -> dict:
    """name -> sampler factory (names of the shipped sampler configs)."""
    return {
        "soft_mining": lambda: samplers.soft_mining_sampler(),
        "hard_mining": lambda: samplers.hard_mining_sampler(),
        "soft_mining_error_map": lambda: samplers.soft_mining_sampler(prior="error_map"),
        "official": lambda: samplers.official_sampler(),
        "error_map": lambda: samplers.error_map_sampler(source="dense"),
        "error_map_feedback": lambda: samplers.error_map_sampler(source="feedback",
                                                                 cell_size=16),
        "uniform": lambda: samplers.uniform_sampler(),
    }


def histogram(name: str) -> np.ndarray:
    """``(H / CELL, W / CELL)`` share of the pooled final positions in each cell."""
    sampler = configs()[name]()
    domain = Domain.from_images([image()])

    @jax.jit
    def update(state, key):
        k_sample, k_update = jax.random.split(key)
        s = sampler.sample(state, k_sample)
        centres = jnp.floor(s.positions) + 0.5
        err, grad = error_field(centres)
        fb = Feedback(s, err, jnp.sqrt(err), grad)
        return sampler.update(state, fb, k_update)

    counts = np.zeros((H // CELL, W // CELL))
    for seed in range(SEEDS):
        key = jax.random.key(seed)
        state = sampler.init(key, domain, N)
        for t in range(UPDATES):
            if t == UPDATES // 2 and sampler.refresh is not None:
                state = sampler.refresh(state, [dense_map()])
            state = update(state, jax.random.fold_in(key, t))
        p = np.asarray(sampler.sample(state, jax.random.fold_in(key, UPDATES)).positions)
        c, _, _ = np.histogram2d(np.minimum(p[:, 1], H - 1e-3), np.minimum(p[:, 0], W - 1e-3),
                                 bins=(H // CELL, W // CELL), range=((0, H), (0, W)))
        counts += c
    return counts / counts.sum()


def main() -> int:
    hists = {name: histogram(name).tolist() for name in configs()}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                            capture_output=True).stdout.strip()
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps({"commit": commit, "samples": N * SEEDS, "updates": UPDATES,
                                  "histograms": hists}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
