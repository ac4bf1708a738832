"""The photo benchmark: image fitting on photographs nobody tuned on, against the strongest uniform.

One command::

    python experiments/benchmarks/photos.py --outdir experiments/results/photos

fits every image of the benchmark (the 20 Kodak crops in ``../shared/data/images/kodak24_crops``,
then Pluto and Albert at 2048 px) with every sampler and seed, one
``experiments/compare_samplers.py`` comparison per image (same task config for all:
``gin_configs/image/photo.gin``, only the path changes; the first sampler is the baseline), and
prints one table: per image the final PSNR of each sampler, its step ratio and wall-clock ratio
against the baseline, the lowest speed-up at any evaluation from ``--min_milestone`` steps on,
the baseline's share of squared error in its worst 10% of pixels (where mining can gain), and
the mean and minimum over images. It writes ``summary.md`` and ``summary.json`` to ``--outdir``.

An interrupted benchmark continues where it stopped (finished images are read back, the others
resumed); ``--retime`` measures the per-step timing of finished images again (more rounds, a
quieter machine) and recomputes their summaries without retraining. ``--images`` picks a subset
(names or ``kodak``/``large``), ``--dry_run`` runs a seconds-long version of the same pipeline
(2 tiny images, a few steps) for tests.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from experiments import compare_samplers  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "images"
KODAK = DATA / "kodak24_crops"
LARGE = {"pluto": DATA / "pluto" / "pluto.jpg", "albert": DATA / "albert" / "albert.jpg"}
TASK_CONFIG = ROOT / "gin_configs" / "image" / "photo.gin"
BUNDLED = "pluto_512.jpg"

# The strongest uniform found by the learning-rate and loss-scale sweep (photo_screen_cpu, see
# docs/negative_results.md) and the image default.
SAMPLERS = ("uniform", "pixel_error_map")


def image_paths(selection: str) -> dict[str, pathlib.Path]:
    """``name -> path`` of the selected benchmark images (``all``, ``kodak``, ``large`` or a
    comma-separated list of names such as ``kodim05,pluto``), in benchmark order."""
    kodak = {p.stem: p for p in sorted(KODAK.glob("*.png"))}
    every = {**kodak, **LARGE}
    if selection == "all":
        chosen = list(every)
    elif selection == "kodak":
        chosen = list(kodak)
    elif selection == "large":
        chosen = list(LARGE)
    else:
        chosen = [name.strip() for name in selection.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in every or not every[name].is_file()]
    if unknown:
        raise SystemExit(f"error: benchmark image(s) not found: {', '.join(unknown)} (looked in "
                         f"{KODAK} and for {', '.join(map(str, LARGE.values()))}).")
    return {name: every[name] for name in chosen}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--task_config", default=str(TASK_CONFIG),
                        help="gin file of the task (every image; only the path changes)")
    parser.add_argument("--images", default="all",
                        help="all, kodak, large, or names such as kodim05,pluto")
    parser.add_argument("--samplers", default=",".join(SAMPLERS),
                        help="comma-separated variants (compare_samplers syntax); the first is "
                             "the baseline")
    parser.add_argument("--variant", action="append", default=[],
                        help="extra variant 'label=name:binding;binding' (repeatable)")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--num_steps", type=int, default=10000)
    parser.add_argument("--eval_every", type=int, default=500)
    parser.add_argument("--large_steps", type=int, default=10000,
                        help="step budget of Pluto and Albert (2048 px)")
    parser.add_argument("--large_eval_every", type=int, default=1000)
    parser.add_argument("--large_max_side", type=int, default=2048)
    parser.add_argument("--large_bindings", action="append",
                        default=["image_fitting_task.eval_pixels = 262144"],
                        help="bindings for Pluto and Albert only (default: evaluate on a fixed "
                             "subset of 2^18 pixels during training, every pixel at the end)")
    parser.add_argument("--min_milestone", type=int, default=1000,
                        help="the lowest speed-up is read at evaluations from this step on")
    parser.add_argument("--timing_rounds", type=int, default=12)
    parser.add_argument("--timing_steps", type=int, default=50)
    parser.add_argument("--gin_bindings", action="append", default=[],
                        help="bindings for every run (after the task config)")
    parser.add_argument("--dry_run", action="store_true",
                        help="seconds-long: 2 images at 48 px (the bundled image without the "
                             "data), 20 steps, seed 0, tiny field")
    parser.add_argument("--summarise_only", action="store_true",
                        help="write and print the table from the finished comparisons in "
                             "--outdir (images without one are left out)")
    parser.add_argument("--retime", action="store_true",
                        help="measure the per-step timing of the finished comparisons in "
                             "--outdir again (e.g. on a quiet machine) and rewrite their "
                             "summaries; the training runs are kept")
    return parser


def _dry_settings(args) -> dict[str, pathlib.Path | str]:
    """Shrink ``args`` in place to the dry run's size; return its images."""
    args.seeds, args.num_steps, args.eval_every = "0", 20, 10
    args.large_steps, args.large_eval_every, args.min_milestone = 20, 10, 10
    args.timing_rounds, args.timing_steps = 1, 2
    args.gin_bindings = [*args.gin_bindings, "ImageField.num_levels = 4",
                         "ImageField.log2_table_size = 10", "image_fitting_task.max_side = 48",
                         "WeightSchedule.warmup_steps = 5"]
    kodak = sorted(KODAK.glob("*.png"))[:2]
    return {p.stem: p for p in kodak} if kodak else {"bundled": BUNDLED}


def run_image(args, name: str, path, outdir: pathlib.Path, large: bool) -> dict:
    """One comparison (all samplers and seeds on one image); returns its results.json."""
    folder = outdir / "images" / name
    done = folder / "results.json"
    if done.is_file():
        return json.loads(done.read_text())
    compare_samplers.main(_compare_argv(args, path, folder, large))
    return json.loads(done.read_text())


def retime_image(args, name: str, path, outdir: pathlib.Path, large: bool) -> dict:
    """Measure a finished comparison's interleaved per-step timing again (``--timing_rounds``
    rounds, this version of the timing) and recompute its summary from its recorded runs, which
    are kept; ``results.json`` records the timing's code version and rounds."""
    folder = outdir / "images" / name
    compare_samplers.main([*_compare_argv(args, path, folder, large), "--retime"])
    return json.loads((folder / "results.json").read_text())


def _compare_argv(args, path, folder: pathlib.Path, large: bool) -> list[str]:
    """``compare_samplers`` arguments of one image's comparison."""
    steps = args.large_steps if large else args.num_steps
    every = args.large_eval_every if large else args.eval_every
    bindings = [f"image_fitting_task.path = '{path}'", *args.gin_bindings]
    if large:
        bindings += [f"image_fitting_task.max_side = {args.large_max_side}",
                     *args.large_bindings]
    argv = ["--gin_configs", args.task_config, "--samplers", args.samplers,
            "--seeds", args.seeds, "--num_steps", str(steps), "--eval_every", str(every),
            "--timing_rounds", str(args.timing_rounds), "--timing_steps", str(args.timing_steps),
            "--outdir", str(folder), "--resume"]
    for variant in args.variant:
        argv += ["--variant", variant]
    for binding in bindings:
        argv += ["--gin_bindings", binding]
    return argv


def image_row(results: dict, min_milestone: int) -> dict:
    """Per-sampler figures of one finished comparison, read against its first label."""
    summary, runs = results["summary"], results["runs"]
    base = summary["baseline"]
    steps = np.asarray(summary["steps"], float)
    base_curve = np.asarray(summary["samplers"][base]["psnr_mean"])
    base_final = [per_seed[-1] for per_seed in runs[base].values()]
    row = {"baseline": base, "samplers": {},
           "baseline_top10_error_share": float(np.mean(
               [r.get("eval_top10_error_share", np.nan) for r in base_final]))}
    for label, s in summary["samplers"].items():
        curve = np.asarray(s["psnr_mean"])
        speedups = []
        for i, m in enumerate(steps):
            if m < min_milestone:
                continue
            got = compare_samplers.steps_to_reach(steps, curve, float(base_curve[i]))
            speedups.append(m / got if np.isfinite(got) and got > 0 else 0.0)
        wall = s["wallclock_ratio"] if s["step_ratio"] else 0.0  # never reached: 0, not blank
        row["samplers"][label] = {
            "final_psnr": s["final_psnr_mean"], "step_ratio": s["step_ratio"],
            "wallclock_ratio": wall, "time_ratio": s["time_ratio"],
            "min_speedup": min(speedups) if speedups else None,
        }
    return row


def table(rows: dict[str, dict], labels: list[str], args) -> str:
    """The benchmark's markdown table (one row per image, then mean and minimum)."""
    base, others = labels[0], labels[1:]
    head = ["image", f"{base} (dB)", "top-10% error share"]
    for lab in others:
        head += [f"{lab} (dB)", f"{lab} step", f"{lab} wall", f"{lab} min@>={args.min_milestone}"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    columns: dict[str, list[float]] = {h: [] for h in head[1:]}

    def cell(key, value, fmt):
        columns[key].append(np.nan if value is None else value)
        if value is None:
            return "-"
        return "never" if fmt.endswith("x") and value == 0 else fmt.format(value)

    for name, row in rows.items():
        s = row["samplers"]
        cells = [name, cell(head[1], s[base]["final_psnr"], "{:.2f}"),
                 cell(head[2], row["baseline_top10_error_share"], "{:.2f}")]
        for lab in others:
            r = s[lab]
            cells += [cell(f"{lab} (dB)", r["final_psnr"], "{:.2f}"),
                      cell(f"{lab} step", r["step_ratio"], "{:.2f}x"),
                      cell(f"{lab} wall", r["wallclock_ratio"], "{:.2f}x"),
                      cell(f"{lab} min@>={args.min_milestone}", r["min_speedup"], "{:.2f}x")]
        lines.append("| " + " | ".join(cells) + " |")
    for what, fn in (("mean", np.nanmean), ("minimum", np.nanmin)):
        cells = [f"**{what}**"]
        for key in head[1:]:
            values = np.asarray(columns[key], float)
            unit = "x" if key.split()[-1] in ("step", "wall") or "min@" in key else ""
            cells.append("-" if np.all(np.isnan(values)) else f"{fn(values):.2f}{unit}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    images = _dry_settings(args) if args.dry_run else image_paths(args.images)
    outdir = pathlib.Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    labels = [compare_samplers.parse_variant(v)[0] for v in args.samplers.split(",") if v]
    labels += [compare_samplers.parse_variant(v)[0] for v in args.variant]
    rows, started = {}, time.perf_counter()
    for k, (name, path) in enumerate(images.items()):
        if args.summarise_only:
            done = outdir / "images" / name / "results.json"
            if not done.is_file():
                continue
            results = json.loads(done.read_text())
        else:
            elapsed = time.perf_counter() - started
            eta = f", about {elapsed / k * (len(images) - k) / 60:.0f} min left" if k else ""
            print(f"[image {k + 1}/{len(images)}] {name}{eta}", flush=True)
            run = retime_image if args.retime else run_image
            results = run(args, name, path, outdir, large=name in LARGE)
        rows[name] = image_row(results, args.min_milestone)
    text = (f"Photo benchmark: {len(rows)} images, samplers {', '.join(labels)} (ratios against "
            f"the first, {labels[0]}), seeds {args.seeds}, {args.num_steps} steps "
            f"({args.large_steps} for Pluto and Albert at {args.large_max_side} px), task config "
            f"{args.task_config}.\n\n" + table(rows, labels, args) + "\n"
            "dB: final eval PSNR, mean over seeds. step: the baseline's steps to its final PSNR / "
            "the sampler's steps to reach it. wall: step ratio / interleaved per-step time ratio. "
            f"min@>={args.min_milestone}: the lowest speed-up (m / steps to reach the baseline's "
            f"PSNR at m) over the evaluations m from {args.min_milestone} steps on (never: it "
            "was not reached; means count it as 0). top-10% error share: the baseline's share "
            "of squared error in its worst 10% of pixels at the end (0.1: even; high: "
            "concentrated, where mining can gain).\n")
    (outdir / "summary.md").write_text(text)
    (outdir / "summary.json").write_text(json.dumps(
        {"args": vars(args), "labels": labels, "images": rows}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
