"""Compare samplers side by side on one task config: same seeds, same step budget.

Example (the paper's 2D setting, 3 seeds)::

    python experiments/compare_samplers.py --gin_configs gin_configs/image/pluto.gin \\
        --samplers uniform,soft_mining,official,hard_mining,importance,error_map \\
        --seeds 0,1,2 --num_steps 20000 --outdir experiments/results/pluto

Writes to ``--outdir``: ``results.json`` (every eval record of every run, and the summary),
``results.md`` (eval PSNR at milestones, steps to reach uniform's final PSNR and the ratio, time
per step and its ratio, wall-clock ratio), ``psnr_vs_steps.png``, ``psnr_vs_seconds.png`` and one
workdir per run (plots of seed 0 included).

Time per step is measured in a separate interleaved phase (``--timing_rounds``): each sampler's
jitted step runs ``--timing_steps`` steps per round, samplers alternate in a shuffled order, and
the per-round ratios to uniform are summarised by their median, so machine noise hits every
sampler alike. A sampler with a dense error-map refresh also times one refresh per round (the
dense render and the rebuild of its map) and adds that time divided by its refresh interval to
the round's per-step time, so the amortised refresh counts however few steps a round has. Every
step and refresh is compiled (run once) before the first round.

Budget comparison (``--reference DIR``): the variants here train at their own, shorter step budget
(their learning-rate schedule spans it), and the target is the final PSNR of the baseline of a
finished comparison in ``DIR`` (mean and per seed) at its longer budget. The reference ratio is
that budget / the steps each variant needs to reach the target on its own curve: "trained for a
quarter of the steps, it matches uniform's full run" reads as 4x. With the learning-rate schedule
of the reference bound instead (e.g. ``adam.num_steps``), the runs here are the start of the
reference's and the ratio is read off the shared schedule on a shorter run. The usual table,
against this comparison's own baseline, is written as well.

A variant is ``name`` (``gin_configs/samplers/name.gin``) or ``label=name:binding;binding``
(e.g. ``soft_a0.3=soft_mining:WeightSchedule.alpha=0.3``) for ablations.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import time

import gin
import jax
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from softmining_jax import cli, configurables  # noqa: E402
from softmining_jax.samplers import for_run, soft_mining_sampler  # noqa: E402
from softmining_jax.step import init_train_state, make_train_step  # noqa: E402

del configurables  # imported for its gin registrations


def parse_variant(spec: str) -> tuple[str, str, list[str]]:
    """``label=name:b1;b2`` -> (label, sampler gin path, bindings)."""
    label, _, rest = spec.partition("=")
    if not rest:
        rest = label
    name, _, bindings = rest.partition(":")
    path = pathlib.Path(name)
    if not path.suffix:
        path = ROOT / "gin_configs" / "samplers" / f"{name}.gin"
    if not path.is_file():
        raise SystemExit(f"error: sampler config not found for variant {spec!r}: {path}")
    return label, str(path), [b for b in bindings.split(";") if b.strip()]


def configure(args, sampler_gin: str, extra: list[str], seed: int) -> None:
    bindings = [
        f"train_and_evaluate.seed = {seed}",
        f"train_and_evaluate.num_steps = {args.num_steps}",
        f"adam.num_steps = {args.num_steps}",
        f"train_and_evaluate.eval_every = {args.eval_every}",
        f"train_and_evaluate.log_every = {args.eval_every}",
        f"train_and_evaluate.checkpoint_every = {args.num_steps}",
        *args.gin_bindings,
        *extra,
    ]
    cli.parse_gin([*args.gin_configs, sampler_gin], bindings)


def describe_variant(variant: tuple[str, str, list[str]]) -> str:
    """``sampler.gin; binding; ...`` of a parsed variant (for table headers)."""
    _, sampler_gin, extra = variant
    return "; ".join([pathlib.Path(sampler_gin).name, *extra])


def code_version() -> str:
    """The git commit of this checkout (``+dirty`` with uncommitted changes), or ``unknown``."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def steps_to_reach(steps: np.ndarray, psnr: np.ndarray, target: float) -> float:
    """First step where the (linearly interpolated) PSNR curve reaches ``target``; inf if never."""
    above = np.nonzero(psnr >= target)[0]
    if len(above) == 0:
        return float("inf")
    i = above[0]
    if i == 0:
        return float(steps[0])
    s0, s1, p0, p1 = steps[i - 1], steps[i], psnr[i - 1], psnr[i]
    return float(s0 + (target - p0) / max(p1 - p0, 1e-12) * (s1 - s0))


def time_steps(args, variants) -> dict[str, dict[str, float]]:
    """Interleaved per-step timing of every variant (seed 0), ratios to the first variant."""
    steps = {}
    for label, sampler_gin, extra in variants:
        configure(args, sampler_gin, extra, seed=0)
        bound = gin.get_bindings("train_and_evaluate")  # constructs task, sampler, optimizer
        task, batch = bound["task"], bound.get("batch_size", 512)
        sampler = for_run(bound.get("sampler") or soft_mining_sampler(), args.num_steps)
        optimizer = bound.get("optimizer") or gin.get_configurable("adam")(
            num_steps=args.num_steps)
        hook = bound.get("dense_refresh") or gin.get_configurable("DenseRefresh")()
        state = init_train_state(task, sampler, optimizer, batch, 0)
        fn = jax.jit(make_train_step(task, sampler, optimizer), donate_argnums=0)
        state, m = fn(state)
        jax.block_until_ready(m)
        refresh = hook.bind(task, sampler, batch_size=batch)
        if sampler.refresh is not None:  # compile the refresh too, outside the timed rounds
            state = refresh(refresh.every, state, force=True)
            jax.block_until_ready(state.sampler_state)
        steps[label] = dict(fn=fn, state=state, sampler=sampler, every=refresh.every,
                            refresh=refresh)
    times = {label: [] for label in steps}
    refresh_times = {label: [] for label in steps}
    order = np.random.default_rng(0)
    for _ in range(args.timing_rounds):
        # A fresh order each round, so no variant always runs right after the same other one.
        for label in order.permutation(list(steps)):
            s = steps[label]
            t = time.perf_counter()
            for _ in range(args.timing_steps):
                s["state"], m = s["fn"](s["state"])
            jax.block_until_ready(m)
            per_step = (time.perf_counter() - t) / args.timing_steps
            if s["sampler"].refresh is not None:  # one refresh per round, charged to its steps
                t = time.perf_counter()
                s["state"] = s["refresh"](s["every"], s["state"], force=True)
                jax.block_until_ready(s["state"].sampler_state)
                refresh_times[label].append(time.perf_counter() - t)
                per_step += refresh_times[label][-1] / s["every"]
            times[label].append(per_step)
    timing = {label: {"rounds_s": t} for label, t in times.items()}
    for label, seconds in refresh_times.items():
        if seconds:
            timing[label]["refresh_median_s"] = float(np.median(seconds))
    return rebase_timing(timing, variants[0][0])


def rebase_timing(timing: dict, base: str) -> dict:
    """Per-label medians and per-round ratios against ``base`` (the rounds were interleaved, so
    any label can be the reference)."""
    if not timing or "rounds_s" not in timing.get(base, {}):
        return timing
    ref = np.asarray(timing[base]["rounds_s"])
    out = {}
    for label, t in timing.items():
        rounds = np.asarray(t["rounds_s"])
        out[label] = {**t, "median_s": float(np.median(rounds)),
                      "ratio_median": float(np.median(rounds / ref)),
                      "ratio_min": float(np.min(rounds / ref)),
                      "ratio_max": float(np.max(rounds / ref))}
    return out


def strongest_uniform(runs: dict, labels: list[str]) -> list[str]:
    """``labels`` reordered so that the uniform variant (``uniform`` or ``uniform_*``) with the
    highest final PSNR (mean over seeds) comes first: the strongest uniform as the baseline."""
    uniform = [lab for lab in labels if lab == "uniform" or lab.startswith("uniform_")]
    if not uniform:
        return labels
    best = max(uniform, key=lambda lab: np.mean([r[-1]["eval_psnr"] for r in runs[lab].values()]))
    return [best, *(lab for lab in labels if lab != best)]


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script (also used by tests to check suites without running)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gin_configs", action="append", default=[])
    parser.add_argument("--gin_bindings", action="append", default=[])
    parser.add_argument("--samplers", default="uniform,soft_mining,official",
                        help="comma-separated variants; the first is the baseline")
    parser.add_argument("--variant", action="append", default=[],
                        help="extra variant 'label=name:binding;binding' (repeatable)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--num_steps", type=int, default=2000)
    parser.add_argument("--eval_every", type=int, default=250)
    parser.add_argument("--timing_rounds", type=int, default=10)
    parser.add_argument("--timing_steps", type=int, default=100)
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--plots_all_seeds", action="store_true")
    parser.add_argument("--strongest_uniform", action="store_true",
                        help="the baseline is the uniform variant ('uniform' or 'uniform_*') "
                             "with the highest final PSNR, whatever its place in the list")
    parser.add_argument("--reference", default=None,
                        help="a finished comparison's folder: its baseline's final PSNR (per seed "
                             "and mean) at its step budget is the target of a budget comparison")
    parser.add_argument("--timing_only", action="store_true",
                        help="only the interleaved per-step timing (writes timing.json)")
    parser.add_argument("--retime", action="store_true",
                        help="measure a finished comparison's interleaved per-step timing again "
                             "(this version of the timing, --timing_rounds of --timing_steps) "
                             "and recompute its summary; its runs are kept and results.json "
                             "records the timing's code version")
    parser.add_argument("--summarise_only", action="store_true",
                        help="rewrite results.md/json and plots from --outdir/results.json "
                             "(its recorded runs and timing) with this version of the summary")
    parser.add_argument("--baseline", default=None,
                        help="with --summarise_only: print the table read against this recorded "
                             "label instead of the first (e.g. a fairness control), writing "
                             "nothing; the interleaved time ratios, measured against the first, "
                             "are left out")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true",
                          help="continue runs already in --outdir (e.g. after an interruption)")
    existing.add_argument("--fresh", action="store_true",
                          help="delete runs already in --outdir and start them again")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.baseline is not None and not args.summarise_only:
        parser.error("--baseline reads a finished comparison: use it with --summarise_only")
    if args.summarise_only:
        return resummarise(pathlib.Path(args.outdir), args.baseline)
    if not args.gin_configs:
        parser.error("--gin_configs is required (a task config, e.g. gin_configs/image/pluto.gin)")
    variants = [parse_variant(v) for v in args.samplers.split(",") if v] + [
        parse_variant(v) for v in args.variant]
    seeds = [int(s) for s in args.seeds.split(",")]
    outdir = pathlib.Path(args.outdir)
    if args.retime and not (outdir / "results.json").is_file():
        raise SystemExit(f"error: --retime: no finished comparison in {outdir} (results.json).")
    outdir.mkdir(parents=True, exist_ok=True)
    stale = [outdir / "runs" / label / f"seed{seed}" for label, _, _ in variants for seed in seeds]
    stale = [w for w in stale if w.exists()]
    if stale and not (args.timing_only or args.retime):
        if args.fresh:
            for w in stale:
                shutil.rmtree(w)
        elif not args.resume:
            # A finished run would silently "resume" at its last step and report old numbers.
            raise SystemExit(f"error: {len(stale)} run folder(s) already exist, e.g. {stale[0]}; "
                             "pass --resume to continue them or --fresh to start again.")

    reference = load_reference(pathlib.Path(args.reference), seeds) if args.reference else None
    code = code_version()  # at the start: a run lasts long enough for commits to land meanwhile
    timing = time_steps(args, variants) if args.timing_rounds > 0 else {}
    if args.timing_only:
        (outdir / "timing.json").write_text(json.dumps(
            {"args": vars(args), "device": str(jax.devices()[0]), "code": code,
             "timing": timing}, indent=1))
        for label, t in timing.items():
            print(f"{label:24s} {1e3 * t['median_s']:8.2f} ms/step  ratio {t['ratio_median']:.3f} "
                  f"(rounds: {t['ratio_min']:.3f} .. {t['ratio_max']:.3f})")
        return 0
    if args.retime:
        results = json.loads((outdir / "results.json").read_text())
        results["timing"] = timing
        results["retimed"] = {"code": code, "timing_rounds": args.timing_rounds,
                              "timing_steps": args.timing_steps}
        (outdir / "results.json").write_text(json.dumps(results, indent=1))
        return resummarise(outdir)
    runs: dict[str, dict[int, list[dict]]] = {}
    total, started, index = len(variants) * len(seeds), time.perf_counter(), 0
    for label, sampler_gin, extra in variants:
        runs[label] = {}
        for seed in seeds:
            workdir = outdir / "runs" / label / f"seed{seed}"
            elapsed = time.perf_counter() - started
            eta = f", about {elapsed / index * (total - index) / 60:.0f} min left" if index else ""
            index += 1
            print(f"  [run {index}/{total}] {label} seed {seed}{eta}", flush=True)
            configure(args, sampler_gin, extra, seed)
            train = gin.get_configurable("train_and_evaluate")
            t = time.perf_counter()
            train(workdir=workdir, progress=False, tensorboard=False,
                  plots=seed == seeds[0] or args.plots_all_seeds,
                  operative_config=gin.config_str())
            records = [json.loads(line) for line in (workdir / "metrics.jsonl").open()]
            runs[label][seed] = eval_records(records, args.eval_every, args.num_steps)
            print(f"{label} seed {seed}: final eval PSNR {runs[label][seed][-1]['eval_psnr']:.2f}"
                  f" dB ({time.perf_counter() - t:.0f} s)", flush=True)

    labels = [v[0] for v in variants]
    if args.strongest_uniform:
        labels = strongest_uniform(runs, labels)
        timing = rebase_timing(timing, labels[0])
    summary = summarise(runs, timing, labels, seeds, reference)
    summary["baseline_spec"] = describe_variant(next(v for v in variants if v[0] == labels[0]))
    (outdir / "results.json").write_text(json.dumps(
        {"args": vars(args), "device": str(jax.devices()[0]), "code": code,
         "timing": timing,
         "summary": summary, "runs": {k: {str(s): r for s, r in v.items()}
                                      for k, v in runs.items()}}, indent=1))
    (outdir / "results.md").write_text(markdown(summary, args, seeds))
    plot(runs, summary, outdir)
    print((outdir / "results.md").read_text())
    return 0


def load_reference(folder: pathlib.Path, seeds: list[int]) -> dict:
    """The target of a budget comparison: the baseline of the finished comparison in ``folder``
    (``{"folder", "baseline", "num_steps", "target_psnr", "per_seed": {seed: final PSNR}}``)."""
    path = folder / "results.json"
    if not path.is_file():
        raise SystemExit(f"error: --reference {folder}: no results.json there; run that "
                         "comparison first (e.g. python experiments/reproduce.py "
                         f"{folder.name}).")
    results = json.loads(path.read_text())
    base = results["summary"]["baseline"]
    finals = {int(seed): records[-1]["eval_psnr"]
              for seed, records in results["runs"][base].items()}
    missing = sorted(set(seeds) - set(finals))
    if missing:
        raise SystemExit(f"error: --reference {folder} has no {base} run for seed(s) {missing}.")
    return {"folder": str(folder), "baseline": base, "num_steps": int(results["args"]["num_steps"]),
            "target_psnr": float(np.mean([finals[s] for s in seeds])),
            "per_seed": {str(s): float(finals[s]) for s in seeds}}


def milestones(steps: list[float]) -> list[float]:
    """The quarter, half and last evaluation steps."""
    return sorted({steps[len(steps) // 4], steps[len(steps) // 2], steps[-1]})


def resummarise(outdir: pathlib.Path, baseline: str | None = None) -> int:
    """Recompute the summary, table and plots of a finished comparison from its results.json.

    With ``baseline`` (a recorded label), only print the table read against that label instead
    of the first: the files stay as they are, and the interleaved time ratios (measured against
    the first label) are left out.
    """
    results = json.loads((outdir / "results.json").read_text())
    runs = {label: {int(seed): records for seed, records in per_seed.items()}
            for label, per_seed in results["runs"].items()}
    seeds = sorted(next(iter(runs.values())))
    labels, timing = list(runs), results["timing"]
    if results["args"].get("strongest_uniform") and baseline is None:
        labels = strongest_uniform(runs, labels)
        timing = rebase_timing(timing, labels[0])
    if baseline is not None:
        if baseline not in runs:
            raise SystemExit(f"error: --baseline {baseline!r} is not a label of {outdir} "
                             f"(its labels: {', '.join(runs)}).")
        labels, timing = [baseline, *(label for label in runs if label != baseline)], {}
    summary = summarise(runs, timing, labels, seeds, results["summary"].get("reference"))
    if baseline is None and "baseline_spec" in results["summary"]:
        summary["baseline_spec"] = results["summary"]["baseline_spec"]
    table = markdown(summary, argparse.Namespace(**results["args"]), seeds)
    if baseline is None:
        results["summary"] = summary
        (outdir / "results.json").write_text(json.dumps(results, indent=1))
        (outdir / "results.md").write_text(table)
        plot(runs, summary, outdir)
    print(table)
    return 0


def eval_records(records: list[dict], eval_every: int, num_steps: int) -> list[dict]:
    """The evaluation records of one run on this comparison's grid, in step order.

    A run copied in from another suite and resumed here may have been evaluated on a finer grid
    before (e.g. every 500 steps up to 7000, every 1000 after): only steps that are multiples of
    ``eval_every``, and the final ``num_steps``, are kept, so every run's curve has the same
    steps. A step evaluated twice (a resumed run re-evaluates its last step) keeps its last record.
    """
    by_step = {}
    for r in records:
        if "eval_psnr" in r and (r["step"] % eval_every == 0 or r["step"] == num_steps):
            by_step[r["step"]] = r
    return [by_step[step] for step in sorted(by_step)]


def summarise(runs, timing, labels, seeds, reference: dict | None = None) -> dict:
    base = labels[0]
    steps = np.asarray([r["step"] for r in runs[base][seeds[0]]], float)
    marks = milestones(steps.tolist())

    def train_seconds_per_step(lab):  # from the runs themselves (sequential, so machine noise)
        per = [runs[lab][s][-1].get("train_s", 0.0) / max(runs[lab][s][-1]["step"], 1)
               for s in seeds]
        return float(np.mean(per))

    base_train = train_seconds_per_step(base)
    curves = {lab: np.asarray([[r["eval_psnr"] for r in runs[lab][s]] for s in seeds])
              for lab in labels}
    target = float(curves[base][:, -1].mean())
    base_steps = steps_to_reach(steps, curves[base].mean(0), target)
    out = {"baseline": base, "target_psnr": target, "steps": steps.tolist(), "samplers": {}}
    for lab in labels:
        c = curves[lab]
        reach = steps_to_reach(steps, c.mean(0), target)
        per_seed = []
        for i in range(len(seeds)):
            own = steps_to_reach(steps, curves[base][i], curves[base][i, -1])
            other = steps_to_reach(steps, c[i], curves[base][i, -1])
            per_seed.append(own / other if np.isfinite(other) else 0.0)
        # Speed-up at milestone m: m / the steps this sampler needs to reach the baseline's PSNR
        # at m (mean curves); 0 = never reached.
        at_milestone = {}
        for m in marks:
            got = steps_to_reach(steps, c.mean(0), float(curves[base][:, list(steps).index(m)]
                                                           .mean()))
            at_milestone[f"{m:.0f}"] = m / got if np.isfinite(got) and got > 0 else 0.0
        t = timing.get(lab, {})
        ratio = base_steps / reach if np.isfinite(reach) else 0.0
        train_ratio = train_seconds_per_step(lab) / base_train if base_train > 0 else None
        out["samplers"][lab] = {
            "psnr_mean": c.mean(0).tolist(), "psnr_std": c.std(0).tolist(),
            "final_psnr_mean": float(c[:, -1].mean()), "final_psnr_std": float(c[:, -1].std()),
            "steps_to_target": reach, "step_ratio": ratio,
            "step_ratio_per_seed": per_seed, "speedup_at_milestones": at_milestone,
            "time_per_step_s": t.get("median_s"), "time_ratio": t.get("ratio_median"),
            "wallclock_ratio": ratio / t["ratio_median"] if t and ratio else None,
            "train_time_per_step_s": train_seconds_per_step(lab),
            "train_time_ratio": train_ratio,
            "train_wallclock_ratio": ratio / train_ratio if train_ratio and ratio else None,
        }
        if reference is not None:
            ref_steps = reference["num_steps"]
            got = steps_to_reach(steps, c.mean(0), reference["target_psnr"])
            own = [steps_to_reach(steps, c[i], reference["per_seed"][str(seed)])
                   for i, seed in enumerate(seeds)]
            out["samplers"][lab].update(
                reference_steps=got,
                reference_ratio=ref_steps / got if np.isfinite(got) and got > 0 else 0.0,
                reference_ratio_per_seed=[ref_steps / g if np.isfinite(g) and g > 0 else 0.0
                                          for g in own])
    if reference is not None:
        out["reference"] = reference
    return out


def markdown(summary, args, seeds) -> str:
    steps = summary["steps"]
    marks = milestones(steps)
    idx = [steps.index(m) for m in marks]
    lines = [
        f"Config: {', '.join(args.gin_configs)}; {args.num_steps} steps; seeds {seeds}; "
        f"device {jax.devices()[0].platform}.",
        f"Baseline (every ratio is against it): {summary['baseline']}"
        + (f" = {summary['baseline_spec']}" if summary.get("baseline_spec") else "") + ".",
        f"Target: {summary['baseline']}'s final eval PSNR (mean over seeds) = "
        f"{summary['target_psnr']:.2f} dB.",
        "",
        "| sampler | " + " | ".join(f"PSNR @{m:.0f}" for m in marks)
        + " | steps to target | step ratio (per-seed) | speed-up @" + "/".join(
            f"{m:.0f}" for m in marks) + " | time/step (ms) | time ratio | in-run time ratio "
        "| wall-clock ratio (in-run) |",
        "|---|" + "---|" * (len(marks) + 7),
    ]
    for lab, s in summary["samplers"].items():
        psnrs = " | ".join(f"{s['psnr_mean'][i]:.2f} ± {s['psnr_std'][i]:.2f}" for i in idx)
        reach = "never" if not np.isfinite(s["steps_to_target"]) else f"{s['steps_to_target']:.0f}"
        seeds_txt = ", ".join(f"{r:.2f}" for r in s["step_ratio_per_seed"])
        tps = f"{1e3 * s['time_per_step_s']:.2f}" if s["time_per_step_s"] else "-"
        tr = f"{s['time_ratio']:.3f}" if s["time_ratio"] else "-"
        wc = f"{s['wallclock_ratio']:.2f}" if s["wallclock_ratio"] else "-"
        run_tr = f"{s['train_time_ratio']:.3f}" if s.get("train_time_ratio") else "-"
        if s.get("train_wallclock_ratio"):
            wc += f" ({s['train_wallclock_ratio']:.2f})"
        speedups = " / ".join(f"{r:.2f}" for r in s["speedup_at_milestones"].values())
        lines.append(f"| {lab} | {psnrs} | {reach} | {s['step_ratio']:.2f} ({seeds_txt}) | "
                     f"{speedups} | {tps} | {tr} | {run_tr} | {wc} |")
    lines += ["", "PSNR: eval on every pixel, mean ± std over seeds. Step ratio: baseline's steps "
              "to reach its own final PSNR / this sampler's steps to reach it (mean curves; per "
              "seed in brackets, 0 = never). Speed-up @m: m / the steps this sampler needs to "
              "reach the baseline's mean PSNR at m. Time ratio: median of interleaved per-round "
              "ratios, timed from freshly initialised states (a dense refresh, timed once per "
              "round, adds its seconds / its interval). In-run time ratio: training seconds "
              "per step of the runs themselves (mean over seeds; includes dense refreshes and any "
              "cost that grows as training proceeds, but the runs ran one after another, so "
              "machine noise does not cancel). Wall-clock ratio = step ratio / time ratio "
              "(in brackets: step ratio / in-run time ratio)."]
    ref = summary.get("reference")
    if ref is not None:
        lines += [
            "", f"Against a reference: target {ref['baseline']}'s final PSNR at {ref['num_steps']} "
            f"steps in `{ref['folder']}` = {ref['target_psnr']:.2f} dB (per seed: "
            + ", ".join(f"{v:.2f}" for v in ref["per_seed"].values()) + f" dB); the runs here "
            f"train for {steps[-1]:.0f} steps.", "",
            "| sampler | final PSNR | steps to the reference target | reference ratio (per seed) |",
            "|---|---|---|---|"]
        for lab, s in summary["samplers"].items():
            got = s["reference_steps"]
            reach = "never" if not np.isfinite(got) else f"{got:.0f}"
            seeds_txt = ", ".join(f"{r:.2f}" for r in s["reference_ratio_per_seed"])
            lines.append(f"| {lab} | {s['final_psnr_mean']:.2f} ± {s['final_psnr_std']:.2f} | "
                         f"{reach} | {s['reference_ratio']:.2f} ({seeds_txt}) |")
        lines += ["", f"Reference ratio: {ref['num_steps']} / the steps this sampler needs to "
                  "reach the target on its own mean curve (per seed: against that seed's "
                  "reference PSNR; 0 = never)."]
    return "\n".join(lines) + "\n"


def plot(runs, summary, outdir: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.asarray(summary["steps"])
    for xaxis in ("steps", "seconds"):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for lab, s in summary["samplers"].items():
            mean, std = np.asarray(s["psnr_mean"]), np.asarray(s["psnr_std"])
            x = steps if xaxis == "steps" else steps * (s["time_per_step_s"] or np.nan)
            ax.plot(x, mean, label=lab)
            ax.fill_between(x, mean - std, mean + std, alpha=0.2)
        ax.axhline(summary["target_psnr"], color="gray", ls="--", lw=0.8)
        lo = min(np.asarray(s["psnr_mean"])[len(steps) // 8] for s in summary["samplers"].values())
        ax.set_ylim(bottom=lo)
        ax.set_xlabel("training steps" if xaxis == "steps" else "seconds (steps x time per step)")
        ax.set_ylabel("eval PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(outdir / f"psnr_vs_{xaxis}.png", dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
