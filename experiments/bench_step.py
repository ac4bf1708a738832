"""The framework's training step against a bare step of the same math, in one process.

``python experiments/bench_step.py`` times, for every cell of the grid batch {512, 2048, 8192} x
hash table {2^14, 2^16, 2^19} on the bundled 512 px image (16 levels, 2 features, MLP 2x64,
Adam), four jitted steps in interleaved, shuffled rounds:

* ``framework uniform`` / ``framework soft``: ``softmining_jax.step.make_train_step`` with
  ``uniform_sampler()`` / ``soft_mining_sampler()``;
* ``bare uniform`` / ``bare soft``: the same math written below with nothing from the framework
  (hash grid with its corners summed one at a time and autodiff, MLP, ``optax.adam``, uniform
  pixel centres; for soft mining, ``Q^-alpha`` weights, the Langevin drift clipped to 8 px,
  noise, the lowest-error half re-seeded from the Sobel-edge density by an inverse CDF, 10%
  uniform restarts).

It prints each cell's CPU time per step (``time.process_time``, all threads) and the
framework/bare ratio per round: median and range over rounds. ``--nerf`` times the CPU-sized chair
step (``gin_configs/blender/chair_cpu.gin``, uniform and soft mining) and ``--dense`` one dense
error-map render of the 512 px image; both use only names that also existed before the samplers
became moves, so the same file can be run in an older checkout for a before/after comparison.
The process first applies the framework's host-memory setting
(``softmining_jax.reuse_freed_host_memory``, as the command line does; ``--host_memory default``
leaves the C allocator alone); the JSON records which held.
``--hash_backward`` times the framework's steps (image at each batch with a 2^16 table,
chair_cpu; uniform and soft mining) with each of the hash grid's two backward passes, autodiff of
the corner loop and the hand-written VJP, side by side (``fields.hash_grid.hash_encode`` uses
the hand-written one).
Writes ``--out`` (JSON; ``experiments/results/bench_step.json`` is the one
``experiments/write_results_page.py`` puts on the results page). ``--dry_run``: one small cell,
two rounds (seconds; for the tests).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LEVELS, FEATURES, WIDTH, BASE = 16, 2, 64, 16
PRIMES = np.asarray([1, 2654435761], np.uint32)


# -- the bare step: nothing from softmining_jax ------------------------------------------------

def bare_layout(log2_table: int, max_res: int):
    growth = np.exp((np.log(max_res) - np.log(BASE)) / (LEVELS - 1))
    res = np.floor(BASE * growth ** np.arange(LEVELS) + 1e-6).astype(np.int64)
    dense = (res + 1) ** 2 <= 2**log2_table
    sizes = np.where(dense, (res + 1) ** 2, 2**log2_table)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return res, dense, offsets, int(sizes.sum())


def bare_encode(table, uv, layout, log2_table):
    res, dense, offsets, _ = layout
    r = jnp.asarray(res, jnp.float32)
    scaled = uv[:, None, :] * r[None, :, None]
    base = jnp.clip(jnp.floor(scaled), 0.0, r[None, :, None] - 1.0)
    frac = scaled - base
    c = base.astype(jnp.uint32)
    out = 0.0
    for dx, dy in itertools.product((0, 1), repeat=2):
        cx, cy = c[..., 0] + dx, c[..., 1] + dy
        idx_dense = cx + cy * jnp.asarray(res + 1, jnp.uint32)
        idx_hash = ((cx * PRIMES[0]) ^ (cy * PRIMES[1])) & jnp.uint32(2**log2_table - 1)
        idx = jnp.where(jnp.asarray(dense), idx_dense, idx_hash).astype(jnp.int32)
        idx = idx + jnp.asarray(offsets, jnp.int32)
        w = (frac[..., 0] if dx else 1 - frac[..., 0]) * (frac[..., 1] if dy else 1 - frac[..., 1])
        out = out + w[..., None] * table[idx]
    return out.reshape(uv.shape[0], -1)


def bare_apply(params, uv, layout, log2_table):
    h = bare_encode(params["table"], uv, layout, log2_table)
    for k in range(2):
        h = jax.nn.relu(h @ params[f"w{k}"] + params[f"b{k}"])
    return jax.nn.sigmoid(h @ params["w2"] + params["b2"])


def bare_init(key, layout, channels):
    k = jax.random.split(key, 4)
    dims = [LEVELS * FEATURES, WIDTH, WIDTH, channels]
    params = {"table": jax.random.uniform(k[0], (layout[3], FEATURES), minval=-1e-4,
                                          maxval=1e-4)}
    for i in range(3):
        params[f"w{i}"] = jax.random.normal(k[i + 1], (dims[i], dims[i + 1])) / np.sqrt(dims[i])
        params[f"b{i}"] = jnp.zeros((dims[i + 1],))
    return params


def make_bare_step(image: np.ndarray, edge: np.ndarray, batch: int, log2_table: int,
                   soft: bool):
    """``step(state) -> (state, loss)`` with ``state = (params, opt_state, positions, step,
    key)``; uniform pixel centres, or (``soft``) a Langevin population."""
    h, w, ch = image.shape
    target = jnp.asarray(image, jnp.float32) / 255.0
    layout = bare_layout(log2_table, max(h, w))
    opt = optax.adam(optax.exponential_decay(1e-2, 10_000, 0.1), b1=0.9, b2=0.99, eps=1e-15)
    cdf = jnp.asarray(np.cumsum(edge.ravel() / edge.sum()), jnp.float32)
    wh = jnp.asarray([w, h], jnp.float32)

    def loss_fn(params, x, alpha):
        c = jnp.clip(jnp.floor(x) + 0.5, 0.5, wh - 0.5)
        c = jax.lax.stop_gradient(c) + (x - jax.lax.stop_gradient(x))
        pred = bare_apply(params, c / wh, layout, log2_table)
        ij = jnp.floor(jax.lax.stop_gradient(c)).astype(jnp.int32)
        err = jnp.mean((pred - target[ij[:, 1], ij[:, 0]]) ** 2, -1)
        q = jax.lax.stop_gradient(jnp.sqrt(err))
        wts = jax.lax.stop_gradient(jnp.maximum(q, 1e-3) ** -alpha)
        return jnp.mean(wts * err), (err, wts)

    grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)

    def step(state):
        params, opt_state, x, t, key = state
        key, k1, k2, k3, k4 = jax.random.split(key, 5)
        if not soft:
            x = jax.random.uniform(k1, (batch, 2)) * wh
        alpha = 0.6 * jnp.minimum(t / 1000.0, 1.0) if soft else 0.0
        (loss, (err, wts)), (g, gx) = grad_fn(params, x, alpha)
        finite = jnp.isfinite(loss)
        updates, opt_state = opt.update(g, opt_state, params)
        params = optax.apply_updates(params, updates)
        if soft:
            drift = 4.0 * gx * (batch / wts)[:, None] / jnp.maximum(err, 1e-12)[:, None]
            length = jnp.linalg.norm(drift, axis=-1, keepdims=True)
            drift = drift * jnp.minimum(1.0, 8.0 / jnp.maximum(length, 1e-30))
            moved = x + drift + 2.0 * jax.random.normal(k2, x.shape)
            out = jnp.any((moved < 0) | (moved > wh), -1)
            _, low = jax.lax.top_k(-err, batch // 2)
            restart = out.at[low].set(True)
            pix = jnp.searchsorted(cdf, jax.random.uniform(k3, (batch,)))
            seeded = jnp.stack([pix % w, pix // w], -1) + jax.random.uniform(k4, (batch, 2))
            uni = jax.random.uniform(k1, (batch, 3))
            x = jnp.where(restart[:, None], seeded, moved)
            x = jnp.where((uni[:, 0] < 0.1)[:, None], uni[:, 1:] * wh, x)
            x = jnp.clip(x, 0.0, wh)
        return (params, opt_state, x, t + finite, key), loss

    def init(seed: int):
        params = bare_init(jax.random.key(seed), layout, ch)
        x = jax.random.uniform(jax.random.key(seed + 1), (batch, 2)) * wh
        return (params, opt.init(params), x, jnp.zeros((), jnp.float32), jax.random.key(seed))

    return jax.jit(step, donate_argnums=0), init


# -- the framework's steps --------------------------------------------------------------------

def _framework():
    """``(make_train_step, init_train_state, adam)`` of this checkout (``step.py`` since the
    samplers became moves, ``train.py`` before)."""
    try:
        from softmining_jax.optim import adam
        from softmining_jax.step import init_train_state, make_train_step
    except ImportError:
        from softmining_jax.train import adam, init_train_state, make_train_step
    return make_train_step, init_train_state, adam


def framework_step(image: np.ndarray, batch: int, log2_table: int, soft: bool):
    from softmining_jax import samplers
    from softmining_jax.fields import ImageField
    from softmining_jax.tasks import ImageFittingTask

    make_train_step, init_train_state, adam = _framework()
    field = functools.partial(ImageField, num_levels=LEVELS, features_per_level=FEATURES,
                              log2_table_size=log2_table, mlp_width=WIDTH, mlp_depth=2)
    task = ImageFittingTask(image, field=field)
    sampler = samplers.soft_mining_sampler() if soft else samplers.uniform_sampler()
    opt = adam(learning_rate=1e-2, num_steps=10_000)
    step = jax.jit(make_train_step(task, sampler, opt), donate_argnums=0)
    return step, lambda seed: init_train_state(task, sampler, opt, batch, seed)


def _code_version() -> str:
    """This checkout's commit (``compare_samplers.code_version``), or ``unknown`` in an older
    checkout without it."""
    try:
        from experiments.compare_samplers import code_version
    except ImportError:
        return "unknown"
    return code_version()


# -- timing -----------------------------------------------------------------------------------

def interleaved(steps: dict, rounds: int, per_round: int) -> dict[str, list[float]]:
    """CPU seconds per step of each named ``(step, state)`` in shuffled, interleaved rounds."""
    states = {k: s[1] for k, s in steps.items()}
    for name, (fn, _) in steps.items():  # compile
        states[name], out = fn(states[name])
        jax.block_until_ready(out)
    times = {k: [] for k in steps}
    for r in range(rounds):
        for name in np.random.default_rng(r).permutation(list(steps)):
            fn = steps[name][0]
            t = time.process_time()
            for _ in range(per_round):
                states[name], out = fn(states[name])
            jax.block_until_ready(out)
            times[name].append((time.process_time() - t) / per_round)
    return times


def ratio(a: list[float], b: list[float]) -> dict[str, float]:
    r = np.asarray(a) / np.asarray(b)
    return {"median": float(np.median(r)), "min": float(r.min()), "max": float(r.max())}


def grid(args, image, edge) -> list[dict]:
    rows = []
    for batch, log2_table in itertools.product(args.batches, args.tables):
        steps = {}
        for soft in (False, True):
            kind = "soft" if soft else "uniform"
            fn, init = framework_step(image, batch, log2_table, soft)
            steps[f"framework {kind}"] = (fn, init(0))
            fn, init = make_bare_step(image, edge, batch, log2_table, soft)
            steps[f"bare {kind}"] = (fn, init(0))
        times = interleaved(steps, args.rounds, args.steps)
        row = {"batch": batch, "log2_table": log2_table,
               "ms": {k: 1e3 * float(np.median(v)) for k, v in times.items()},
               "uniform": ratio(times["framework uniform"], times["bare uniform"]),
               "soft": ratio(times["framework soft"], times["bare soft"]),
               "soft_over_uniform": ratio(times["framework soft"], times["framework uniform"])}
        rows.append(row)
        print(f"batch {batch:5d} table 2^{log2_table}: framework/bare uniform "
              f"{row['uniform']['median']:.3f} ({row['uniform']['min']:.2f}-"
              f"{row['uniform']['max']:.2f}), soft {row['soft']['median']:.3f} "
              f"({row['soft']['min']:.2f}-{row['soft']['max']:.2f}); ms/step "
              + ", ".join(f"{k} {v:.2f}" for k, v in row["ms"].items()), flush=True)
    return rows


def chair_step(sampler_name: str):
    """``(step, state)`` of the chair_cpu config with ``gin_configs/samplers/<sampler_name>.gin``
    (batch 1024), the step jitted but not yet traced."""
    import gin

    from softmining_jax import cli, configurables  # noqa: F401

    make_train_step, init_train_state, adam = _framework()
    cli.parse_gin([str(ROOT / "gin_configs" / "blender" / "chair_cpu.gin"),
                   str(ROOT / "gin_configs" / "samplers" / f"{sampler_name}.gin")],
                  ["blender_task.video_frames = 0"])
    bound = gin.get_bindings("train_and_evaluate")
    task, sampler = bound["task"], bound["sampler"]
    opt = adam(learning_rate=1e-2, num_steps=2000)
    return (jax.jit(make_train_step(task, sampler, opt), donate_argnums=0),
            init_train_state(task, sampler, opt, 1024, 0))


def nerf(args) -> dict:
    """CPU ms per step of the chair_cpu config's uniform and soft-mining steps."""
    steps = {name: chair_step(name) for name in ("uniform", "soft_mining")}
    times = interleaved(steps, args.rounds, max(2, args.steps // 10))
    out = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
    print("chair_cpu ms/step (CPU time): " + ", ".join(f"{k} {v:.1f}" for k, v in out.items()))
    return out


def _with_encoder(encode, build):
    """``build()``'s ``(step, state)`` with the hash grid's encoder replaced by ``encode`` while the
    step is traced (one step is run to trace it; its state is returned)."""
    from softmining_jax.fields import hash_grid

    original = hash_grid.hash_encode
    hash_grid.hash_encode = encode
    try:
        fn, state = build()
        state, out = fn(state)
        jax.block_until_ready(out)
    finally:
        hash_grid.hash_encode = original
    return fn, state


def hash_backward(args, image) -> dict:
    """CPU ms per step of the image and chair steps with each hash-grid backward pass, and the
    per-round ratio autodiff / custom VJP (median, range)."""
    from softmining_jax.fields import hash_grid

    encoders = {"autodiff": hash_grid.hash_encode_autodiff,
                "custom_vjp": hash_grid.hash_encode_custom_vjp}
    log2_table = args.tables[0] if args.dry_run else 16

    def image_step(batch: int, soft: bool):
        fn, init = framework_step(image, batch, log2_table, soft)
        return fn, init(0)

    # (name, build(soft) -> (step, state), steps per round)
    paths = [(f"image b{b}", functools.partial(image_step, b), args.steps)
             for b in args.batches]
    if not args.dry_run:
        paths.append(("chair_cpu", lambda soft: chair_step("soft_mining" if soft else "uniform"),
                      max(2, args.steps // 10)))
    out = {"image_log2_table": log2_table, "paths": {}}
    for path, build, per_round in paths:
        steps = {f"{kind} {name}": _with_encoder(
                     encode, functools.partial(build, kind == "soft"))
                 for kind in ("uniform", "soft") for name, encode in encoders.items()}
        times = interleaved(steps, args.rounds, per_round)
        rows = {}
        for kind in ("uniform", "soft"):
            rows[kind] = {"ms": {name: 1e3 * float(np.median(times[f"{kind} {name}"]))
                                 for name in encoders},
                          "autodiff_over_custom_vjp": ratio(times[f"{kind} autodiff"],
                                                            times[f"{kind} custom_vjp"])}
            r = rows[kind]["autodiff_over_custom_vjp"]
            print(f"{path} {kind}: autodiff / custom VJP {r['median']:.3f} ({r['min']:.2f}-"
                  f"{r['max']:.2f}); ms " + ", ".join(f"{k} {v:.2f}" for k, v in
                                                       rows[kind]["ms"].items()), flush=True)
        out["paths"][path] = rows
    return out


def dense(args, image) -> dict:
    """CPU seconds of one dense per-pixel L1 render of the 512 px image (median of rounds)."""
    from softmining_jax.fields import ImageField
    from softmining_jax.tasks import ImageFittingTask

    field = functools.partial(ImageField, num_levels=LEVELS, features_per_level=FEATURES,
                              log2_table_size=16, mlp_width=WIDTH, mlp_depth=2)
    task = ImageFittingTask(image, field=field)
    params = task.init_params(jax.random.key(0))
    jax.block_until_ready(task.dense_l1(params))
    times = []
    for _ in range(args.rounds):
        t = time.process_time()
        jax.block_until_ready(task.dense_l1(params))
        times.append(time.process_time() - t)
    out = {"dense_render_s": float(np.median(times)), "pixels": int(image.shape[0] *
                                                                    image.shape[1])}
    print(f"dense render of {out['pixels']} pixels: {out['dense_render_s']:.3f} s CPU")
    return out


def _host_memory(choice: str) -> str:
    """Apply ``--host_memory`` and say what holds: ``"reused"`` (the framework's allocator
    settings), ``"default"``, or the ``GLIBC_TUNABLES`` the process was started with (how an
    older checkout, without the setting, is timed with the same allocator)."""
    import os

    if choice == "reuse":
        try:
            from softmining_jax.host_memory import reuse_freed_host_memory
        except ImportError:  # an older checkout
            reuse_freed_host_memory = None
        if reuse_freed_host_memory is not None and reuse_freed_host_memory():
            return "reused"
    tunables = os.environ.get("GLIBC_TUNABLES")
    return f"GLIBC_TUNABLES={tunables}" if tunables else "default"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=lambda s: [int(x) for x in s.split(",")],
                        default=[512, 2048, 8192])
    parser.add_argument("--tables", type=lambda s: [int(x) for x in s.split(",")],
                        default=[14, 16, 19])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="steps per round")
    parser.add_argument("--nerf", action="store_true", help="also time chair_cpu's step")
    parser.add_argument("--dense", action="store_true", help="also time a dense render")
    parser.add_argument("--hash_backward", action="store_true",
                        help="also compare the hash grid's two backward passes")
    parser.add_argument("--no_grid", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--dry_run", action="store_true")
    parser.add_argument("--host_memory", choices=("reuse", "default"), default="reuse",
                        help="reuse: softmining_jax.reuse_freed_host_memory() first, as the "
                        "command line does; default: the C allocator's defaults")
    args = parser.parse_args(argv)
    host_memory = _host_memory(args.host_memory)  # before JAX's first computation
    if args.dry_run:
        args.batches, args.tables, args.rounds, args.steps = [256], [12], 2, 2
    from softmining_jax.data import load_image
    from softmining_jax.samplers import sobel_prior

    image = load_image(ROOT / "softmining_jax" / "assets" / "pluto_512.jpg")
    if args.dry_run:
        image = image[:64, :64]
    edge = sobel_prior(image)
    results = {"device": str(jax.devices()[0]), "code": _code_version(), "args": vars(args),
               "host_memory": host_memory}
    if not args.no_grid:
        results["grid"] = grid(args, image, edge)
    if args.nerf:
        results["nerf_chair_cpu_ms"] = nerf(args)
    if args.dense:
        results["dense"] = dense(args, image)
    if args.hash_backward:
        results["hash_backward"] = hash_backward(args, image)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
