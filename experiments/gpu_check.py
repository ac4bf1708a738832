"""The GPU check: paper-sized chair, uniform against soft mining for the same wall-clock budget.

Run by ``experiments/gpu_check.sh`` on a machine with an accelerator (it fits a 10-minute device
budget). For each sampler (uniform, then soft mining; ``gin_configs/blender/chair.gin``: 800x800
views, 4096 rays per step, the sampler configs as shipped) it compiles the step (timed apart),
trains for ``--budget_s`` seconds of training time, evaluates the test PSNR on ``--eval_views``
views every ``--eval_every_s`` training seconds (not counted), and reports rays/s, ms/step, the
device's peak memory, test PSNR against seconds, and the seconds soft mining needs to reach
uniform's final PSNR. It also times the dense error-map render of ``--dense_views`` training
views at full size (and the full refresh it implies). Writes ``gpu_check.json`` and
``gpu_check.md`` to ``--out``. ``--dry_run``: a procedural scene on the CPU, seconds (tests).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(sampler_name: str, bindings: list[str]):
    """Task, sampler, optimizer and dense-refresh hook of chair.gin + a sampler config."""
    import gin

    from softmining_jax import cli, configurables  # noqa: F401 - registers the gin names

    cli.parse_gin([str(ROOT / "gin_configs" / "blender" / "chair.gin"),
                   str(ROOT / "gin_configs" / "samplers" / f"{sampler_name}.gin")], bindings)
    bound = gin.get_bindings("train_and_evaluate")
    num_steps = bound.get("num_steps", 20_000)
    optimizer = gin.get_configurable("adam")(num_steps=num_steps)
    return (bound["task"], bound["sampler"], optimizer, bound.get("batch_size", 4096),
            gin.get_configurable("DenseRefresh")())


def train_for(task, sampler, optimizer, batch: int, hook, budget_s: float, eval_every_s: float,
              chunk: int) -> dict:
    """Train until ``budget_s`` training seconds; the evaluation curve and the step's costs."""
    import jax

    from softmining_jax.step import init_train_state, make_train_step

    state = init_train_state(task, sampler, optimizer, batch, 0)
    step = jax.jit(make_train_step(task, sampler, optimizer), donate_argnums=0)
    refresh = hook.bind(task, sampler, batch_size=batch)
    t = time.perf_counter()
    state, metrics = step(state)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - t
    steps, train_s, next_eval = 1, 0.0, 0.0
    curve = []
    while True:
        if train_s >= next_eval or train_s >= budget_s:
            scores, _ = task.evaluate(state.params)
            curve.append({"train_s": train_s, "step": steps, "psnr": scores["psnr"]})
            print(f"  {train_s:7.1f} s  step {steps:6d}  test PSNR {scores['psnr']:.2f} dB",
                  flush=True)
            next_eval += eval_every_s
        if train_s >= budget_s:
            break
        t = time.perf_counter()
        for _ in range(chunk):
            state = refresh(steps, state)
            state, metrics = step(state)
            steps += 1
        jax.block_until_ready(metrics)
        train_s += time.perf_counter() - t
    device = jax.devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    ms = 1e3 * train_s / max(steps - 1, 1)
    return {"compile_s": compile_s, "steps": steps, "train_s": train_s, "ms_per_step": ms,
            "rays_per_s": batch / (ms / 1e3), "curve": curve,
            "peak_bytes": (stats or {}).get("peak_bytes_in_use"), "params": state.params}


def seconds_to(curve: list[dict], target: float) -> float | None:
    """Training seconds at which the PSNR curve first reaches ``target`` (interpolated)."""
    for a, b in zip(curve, curve[1:], strict=False):
        if b["psnr"] >= target:
            if a["psnr"] >= target:
                return a["train_s"]
            return a["train_s"] + (target - a["psnr"]) / (b["psnr"] - a["psnr"]) * (
                b["train_s"] - a["train_s"])
    return None


def dense_timing(task, params, views: int) -> dict:
    """Seconds to render the per-pixel L1 error of ``views`` training views (after a warm-up),
    and the full refresh of every training view it implies."""
    import jax

    from softmining_jax.tasks import dense

    targets = [np.asarray(im, np.float32) / 255.0 for im in task.scene.train_images[:views]]
    c2ws = task.scene.train_c2w[:views]

    def render(i):
        return dense.strided_l1(lambda c: task._render_centres(params, c, c2ws[i]), targets[i],
                                1, 0)

    jax.block_until_ready(render(0))
    t = time.perf_counter()
    for i in range(views):
        jax.block_until_ready(render(i))
    per_view = (time.perf_counter() - t) / views
    total = len(task.scene.train_images)
    return {"views_timed": views, "seconds_per_view": per_view, "training_views": total,
            "full_refresh_s": per_view * total,
            "pixels_per_view": int(targets[0].shape[0] * targets[0].shape[1])}


def markdown(results: dict) -> str:
    lines = [f"GPU check on {results['device']} ({results['config']}); budget "
             f"{results['budget_s']:.0f} training seconds per sampler.", "",
             "| sampler | compile (s) | steps | ms/step | rays/s | peak memory (GiB) | final test "
             "PSNR (dB) |", "|---|---|---|---|---|---|---|"]
    for name, r in results["samplers"].items():
        peak = f"{r['peak_bytes'] / 2**30:.1f}" if r["peak_bytes"] else "-"
        lines.append(f"| {name} | {r['compile_s']:.1f} | {r['steps']} | {r['ms_per_step']:.2f} | "
                     f"{r['rays_per_s']:.0f} | {peak} | {r['curve'][-1]['psnr']:.2f} |")
    reach = results["soft_mining_seconds_to_uniform_final"]
    d = results["dense"]
    lines += ["", "Soft mining reaches uniform's final PSNR after "
              + (f"{reach:.1f} s of its {results['budget_s']:.0f} s." if reach is not None
                 else "never within the budget."),
              f"Dense error-map render: {d['seconds_per_view']:.3f} s per {d['pixels_per_view']}"
              f"-pixel view, a full refresh of {d['training_views']} views about "
              f"{d['full_refresh_s']:.1f} s.", "",
              "PSNR against training seconds (test views evaluated, not counted):", ""]
    for name, r in results["samplers"].items():
        lines.append(f"- {name}: " + ", ".join(f"{p['train_s']:.0f} s {p['psnr']:.2f}"
                                               for p in r["curve"]))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data/nerf_synthetic/chair")
    parser.add_argument("--out", default="gpu_check_out")
    parser.add_argument("--budget_s", type=float, default=120.0)
    parser.add_argument("--eval_every_s", type=float, default=15.0)
    parser.add_argument("--eval_views", type=int, default=4)
    parser.add_argument("--dense_views", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=50, help="steps between clock reads")
    parser.add_argument("--dry_run", action="store_true")
    args = parser.parse_args(argv)
    import jax

    bindings = [f"blender_task.root = '{pathlib.Path(args.data).absolute()}'",
                f"blender_task.eval_views = {args.eval_views}", "blender_task.video_frames = 0"]
    if args.dry_run:  # a procedural scene on the CPU: the same pipeline in seconds
        from softmining_jax.data.procedural import write_sphere_scene

        root = write_sphere_scene(pathlib.Path(tempfile.mkdtemp()) / "sphere", size=32,
                                  num_train=4, num_test=2)
        bindings = [f"blender_task.root = '{root}'", "blender_task.factor = 1",
                    "blender_task.eval_views = 1", "blender_task.video_frames = 0",
                    "blender_task.num_samples = 8", "blender_task.num_proposal_samples = 8",
                    "RadianceField.num_levels = 4", "RadianceField.log2_table_size = 10",
                    "ProposalField.num_levels = 2", "ProposalField.log2_table_size = 8",
                    "train_and_evaluate.batch_size = 64"]
        args.budget_s, args.eval_every_s, args.chunk, args.dense_views = 1.0, 0.5, 5, 1
    print(f"devices: {jax.devices()}", flush=True)
    results = {"device": str(jax.devices()[0].device_kind), "budget_s": args.budget_s,
               "config": "gin_configs/blender/chair.gin" + (" (dry run)" if args.dry_run else ""),
               "samplers": {}}
    for name in ("uniform", "soft_mining"):
        print(f"{name}:", flush=True)
        task, sampler, optimizer, batch, hook = build(name, bindings)
        run = train_for(task, sampler, optimizer, batch, hook, args.budget_s,
                        args.eval_every_s, args.chunk)
        params = run.pop("params")
        results["samplers"][name] = run
    results["soft_mining_seconds_to_uniform_final"] = seconds_to(
        results["samplers"]["soft_mining"]["curve"],
        results["samplers"]["uniform"]["curve"][-1]["psnr"])
    results["dense"] = dense_timing(task, params, args.dense_views)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(results, indent=1))
    (out / "gpu_check.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
