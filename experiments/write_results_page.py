"""Write ``docs/results.md`` from the suites' outputs: one table per task family, a few images.

Usage: ``python experiments/write_results_page.py`` after the suites have run
(``python experiments/reproduce.py NAME``). It reads ``experiments/results/<suite>/``:

* the photo benchmark (a ``photos`` suite): ``summary.json`` and each image's ``results.json``;
* NeRF scenes and other single-task suites (``compare_samplers``): ``results.json``;
* the step-cost benchmark, if it has run: ``bench_step.json`` (``python experiments/bench_step.py
  --nerf --dense --out experiments/results/bench_step.json``), and this checkout against an
  older one, ``bench_checkouts/`` (``python experiments/bench_checkouts.py --against COMMIT``).

Every number on the page comes from those files; the page says which suite, command and commit
produced each table. Suites without results are listed as not run. ``--suites`` picks and orders
them (default: every suite file that has results).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments import reproduce  # noqa: E402

RESULTS = ROOT / "experiments" / "results"


def _fmt(value: float | None, unit: str = "x", digits: int = 2) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    return f"{value:.{digits}f}{unit}"


def _ratio(value: float | None) -> str:
    """A speed-up ratio; 0 (the baseline's PSNR was never reached) reads "never"."""
    return "never" if value is not None and value == 0 else _fmt(value)


def _command(name: str) -> str:
    return f"`python experiments/reproduce.py {name}`"


def _image_ratios(per: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Step and wall-clock ratios of one sampler over images (a wall-clock ratio that could not
    be computed counts as 0)."""
    return (np.asarray([p["step_ratio"] for p in per], float),
            np.asarray([p["wallclock_ratio"] or 0.0 for p in per], float))


def _first_image_results(folder: pathlib.Path, rows: dict) -> dict:
    """The first image's ``results.json`` of a photo benchmark (its args and code version)."""
    return json.loads((folder / "images" / next(iter(rows)) / "results.json").read_text())


def _code(name: str, results: dict) -> str:
    """The code version of a comparison's ``results.json``, and of its timing if that was
    measured again (``--retime``)."""
    code, retimed = results.get("code", "?"), results.get("retimed")
    if retimed:
        code += (f" (per-step timing measured again at {retimed['code']}, "
                 f"{retimed['timing_rounds']} rounds of {retimed['timing_steps']} steps: "
                 f"`{_command(name)[1:-1]} -- --retime`)")
    return code


def _other_codes(folder: pathlib.Path, rows: dict, code: str) -> str:
    """``"; IMAGES: finished at code C ..."`` for images whose comparison finished at another
    code version than ``code`` (e.g. a sampler re-run after a change), else ``""``."""
    other: dict[str, list[str]] = {}
    for image in rows:
        done = json.loads((folder / "images" / image / "results.json").read_text())
        if done.get("code", "?") != code:
            other.setdefault(done.get("code", "?"), []).append(image)
    return "".join(f"; {', '.join(images)}: finished at code {c} (runs already there kept, "
                   "per-step timing measured there)" for c, images in other.items())


def photo_section(name: str, folder: pathlib.Path, img: pathlib.Path) -> list[str]:
    """The photo benchmark: samplers as rows (means and minima over images), then the default's
    row per image, and the mean PSNR-vs-seconds figure."""
    summary = json.loads((folder / "summary.json").read_text())
    labels, rows = summary["labels"], summary["images"]
    base = labels[0]
    first = _first_image_results(folder, rows)
    seeds = first["args"]["seeds"]
    code = _code(name, first) + _other_codes(folder, rows, first.get("code", "?"))
    lines = [f"### Photographs ({len(rows)} images; suite `{name}`)", "",
             f"Baseline `{base}`: {first['summary'].get('baseline_spec', base)}. Seeds {seeds}; "
             f"code {code}; {_command(name)}.", "",
             "| sampler | final PSNR, mean (dB) | step ratio, mean (min) | wall-clock ratio, mean "
             "(min) | lowest speed-up at any evaluation >= 1k steps (min over images) |",
             "|---|---|---|---|---|"]
    for lab in labels:
        per = [r["samplers"][lab] for r in rows.values()]
        psnr = np.mean([p["final_psnr"] for p in per])
        step, wall = _image_ratios(per)
        low = [p["min_speedup"] for p in per if p["min_speedup"] is not None]
        lines.append(f"| {lab} | {psnr:.2f} | {_ratio(np.mean(step))} ({_ratio(np.min(step))}) | "
                     f"{_ratio(np.mean(wall))} ({_ratio(np.min(wall))}) | "
                     f"{_ratio(min(low) if low else None)} |")
    default, others = labels[1], labels[2:]
    lines += ["", f"Per image, `{default}` against `{base}` (top-10%: the baseline's share of "
              "squared error in its worst 10% of pixels at the end)"
              + (", and the final PSNR of the others" if others else "") + ":", "",
              f"| image | {base} (dB) | {default} (dB) | step | wall-clock | lowest >= 1k | "
              "top-10% |" + "".join(f" {lab} (dB) |" for lab in others),
              "|---" * (7 + len(others)) + "|"]
    for image, r in rows.items():
        s, d = r["samplers"][base], r["samplers"][default]
        lines.append(f"| {image} | {s['final_psnr']:.2f} | {d['final_psnr']:.2f} | "
                     f"{_ratio(d['step_ratio'])} | {_ratio(d['wallclock_ratio'])} | "
                     f"{_ratio(d['min_speedup'])} | {r['baseline_top10_error_share']:.2f} |"
                     + "".join(f" {r['samplers'][lab]['final_psnr']:.2f} |" for lab in others))
    if others:
        lines.append("")
    for lab in others:
        margin = np.asarray([r["samplers"][default]["final_psnr"] - r["samplers"][lab]["final_psnr"]
                             for r in rows.values()])
        below = [image for image, m in zip(rows, margin, strict=True) if m < 0]
        lines.append(f"- `{default}` ends at or above `{lab}` on {len(rows) - len(below)} of "
                     f"{len(rows)} images (by {margin.min():+.2f} to {margin.max():+.2f} dB, mean "
                     f"{margin.mean():+.2f} dB)" + (f"; below on {', '.join(below)}" if below
                                                    else "") + ".")
    lines += share_line(rows, default)
    figure = photo_figure(folder, rows, labels, img / f"{name}_psnr_vs_seconds.png")
    if figure:
        lines += ["", f"![PSNR against seconds]({figure})"]
    return lines


def share_line(rows: dict, default: str) -> list[str]:
    """One line: how closely ``default``'s step ratio follows the baseline's top-10% error share
    over the Kodak crops (Pearson r and a least-squares line), and the other images against that
    line. Empty with fewer than three crops."""
    kodak = [r for image, r in rows.items() if image.startswith("kodim")]
    if len(kodak) < 3:
        return []
    share = np.asarray([r["baseline_top10_error_share"] for r in kodak], float)
    step = np.asarray([r["samplers"][default]["step_ratio"] for r in kodak], float)
    slope, intercept = np.polyfit(share, step, 1)
    others = [f"{image} (share {r['baseline_top10_error_share']:.2f}: "
              f"{_ratio(r['samplers'][default]['step_ratio'])}, the line says "
              f"{intercept + slope * r['baseline_top10_error_share']:.2f}x)"
              for image, r in rows.items() if not image.startswith("kodim")]
    return ["", f"- When mining pays: over the {len(kodak)} Kodak crops, `{default}`'s step ratio "
            f"follows the baseline's top-10% error share (Pearson r = "
            f"{np.corrcoef(share, step)[0, 1]:.2f}; least squares: step ratio = "
            f"{intercept:.2f} + {slope:.2f} x share)"
            + (f"; off that line: {', '.join(others)}" if others else "") + "."]


def photo_figure(folder, rows, labels, path: pathlib.Path) -> str | None:
    """Mean PSNR over the Kodak crops against CPU seconds (steps x interleaved time per step)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {lab: [] for lab in labels}
    for image in rows:
        if not image.startswith("kodim"):
            continue
        s = json.loads((folder / "images" / image / "results.json").read_text())["summary"]
        steps = np.asarray(s["steps"])
        for lab in labels:
            per_step = s["samplers"][lab]["time_per_step_s"] or np.nan
            curves[lab].append((steps * per_step, np.asarray(s["samplers"][lab]["psnr_mean"])))
    if not all(curves.values()):
        return None
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for lab, runs in curves.items():
        seconds = np.mean([c[0] for c in runs], axis=0)
        ax.plot(seconds, np.mean([c[1] for c in runs], axis=0), label=lab)
    ax.set_xlabel("seconds of training (2 CPU cores)")
    ax.set_ylabel("eval PSNR (dB), mean over Kodak")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"img/{path.name}"


def compare_section(name: str, folder: pathlib.Path, title: str) -> list[str]:
    """A single-task comparison: samplers as rows."""
    results = json.loads((folder / "results.json").read_text())
    s = results["summary"]
    lines = [f"### {title} (suite `{name}`)", "",
             f"Baseline `{s['baseline']}`: {s.get('baseline_spec', s['baseline'])};",
             f"its final PSNR {s['target_psnr']:.2f} dB is the target. "
             f"Seeds {results['args']['seeds']}, "
             f"{results['args']['num_steps']} steps; code {_code(name, results)}; "
             f"{_command(name)}.", "",
             "| sampler | final PSNR (dB) | step ratio (per seed) | time per step | wall-clock "
             "ratio |", "|---|---|---|---|---|"]
    for lab, r in s["samplers"].items():
        seeds = ", ".join(f"{x:.2f}" if x > 0 else "never" for x in r["step_ratio_per_seed"])
        step = _ratio(r["step_ratio"])
        lines.append(f"| {lab} | {r['final_psnr_mean']:.2f} | {step} ({seeds}) | "
                     f"{_fmt(r['time_ratio'])} | {_fmt(r['wallclock_ratio'])} |")
    return lines


def _member_rows(suite: dict, folder: pathlib.Path) -> tuple[dict[str, tuple], str]:
    """``(label -> (final PSNR dB, step ratio, wall-clock ratio, per-step time ratio, images
    where it never reached the baseline as "k/n" or ""), what ran)`` of one member suite of a
    group (photo benchmark: means over its images, a never-reached image counting 0); empty
    without results. ``what ran`` names the images or scene, seeds, steps and code."""
    out, ran = {}, ""
    if suite["script"] == "photos" and (folder / "summary.json").is_file():
        summary = json.loads((folder / "summary.json").read_text())
        rows = summary["images"]
        first = _first_image_results(folder, rows)
        for lab in summary["labels"]:
            per = [r["samplers"][lab] for r in rows.values()]
            times = [p["time_ratio"] for p in per if p.get("time_ratio")]
            step, wall = _image_ratios(per)
            out[lab] = (float(np.mean([p["final_psnr"] for p in per])), float(np.mean(step)),
                        float(np.mean(wall)), float(np.mean(times)) if times else float("nan"),
                        f"{int(np.sum(step == 0))}/{len(per)}" if 0 < np.sum(step == 0) < len(per)
                        else "")
        ran = (f"{len(rows)} images ({', '.join(rows)}), seeds {summary['args']['seeds']}, "
               f"{summary['args']['num_steps']} steps, code {first.get('code', '?')}")
    elif suite["script"] == "compare_samplers" and (folder / "results.json").is_file():
        results = json.loads((folder / "results.json").read_text())
        summary = results["summary"]
        for lab, r in summary["samplers"].items():
            out[lab] = (r["final_psnr_mean"], r["step_ratio"], r["wallclock_ratio"] or 0.0,
                        r["time_ratio"] or float("nan"), "")
        ran = (f"seeds {results['args']['seeds']}, {results['args']['num_steps']} steps, code "
               f"{results.get('code', '?')}")
    return out, ran


def _cell(row: tuple | None) -> str:
    if row is None:
        return "-"
    psnr, step, wall, time, never = row
    reach = f"{_fmt(step)}, {_fmt(wall)}" if step > 0 else "never"
    tail = f"; never on {never} images" if never else ""
    return f"{psnr:.2f} dB; {reach} ({_fmt(time)}){tail}"


def _claims(claims: dict, done: dict[str, dict]) -> list[str]:
    """One generated line per method with a published speed-up: the paper's claim, the wall-clock
    ratios measured here on the members it applies to, and by how much they fall short."""
    lines = []
    for lab, claim in claims.items():
        got = {m: done[m][lab][2] for m in claim["members"] if m in done and lab in done[m]}
        if not got:
            continue
        low = claim["wall_clock_speedup"]
        measured = ", ".join(f"{_fmt(v) if v > 0 else 'never reached'} on `{m}`"
                             for m, v in got.items())
        short = low - min(got.values())
        verdict = ("reproduced" if short <= 0 else "not reproduced (short by "
                   f"{_fmt(short) if short >= 0.005 else 'less than 0.01x'} at worst)")
        lines.append(f"- `{lab}`: the paper reports {claim['paper']} (>= {_fmt(low)} "
                     f"wall-clock); here {measured}: {verdict}. Setup differences: "
                     f"`{claim['differences']}` (docstring).")
    return lines


def group_section(name: str, group: dict, results: pathlib.Path) -> list[str] | None:
    """A group of suites as one table: methods as rows, one column per member suite, then
    generated lines: what each member ran, who wins where, and each paper's claim against it."""
    members = {m: _member_rows(reproduce.load_suite(m), results / m) for m in group["suites"]}
    done = {m: rows for m, (rows, _) in members.items() if rows}
    if not done:
        return None
    labels = list(dict.fromkeys(lab for rows in done.values() for lab in rows))
    lines = [f"### {group['about']} (group `{name}`)", "",
             "Each cell: final PSNR; step ratio, wall-clock ratio (per-step time ratio) against "
             "the member suite's first sampler, the strongest uniform (never: it did not reach "
             "that sampler's final PSNR); photographs: means over images. "
             f"{_command(name)}; not run: "
             + (", ".join(f"`{m}`" for m in members if m not in done) or "none") + ".", "",
             "| method | " + " | ".join(f"`{m}`" for m in done) + " |",
             "|---|" + "---|" * len(done)]
    for lab in labels:
        lines.append(f"| {lab} | " + " | ".join(_cell(r.get(lab)) for r in done.values()) + " |")
    lines.append("")
    for member, rows in done.items():  # the factual summary: who is fastest where
        base = next(iter(rows))
        best_steps = max(rows, key=lambda lab: rows[lab][1])
        best_wall = max(rows, key=lambda lab: rows[lab][2])
        beat = [lab for lab in rows if lab != base and rows[lab][2] > 1.0]
        lines.append(f"- `{member}` ({members[member][1]}): most steps saved by `{best_steps}` "
                     f"({_fmt(rows[best_steps][1])}), fastest in wall-clock `{best_wall}` "
                     f"({_fmt(rows[best_wall][2])}); faster than `{base}` in wall-clock: "
                     + (", ".join(f"`{lab}`" for lab in beat) or "none") + ".")
    return lines + _claims(group.get("claims", {}), done)


def headline(results: pathlib.Path) -> list[str] | None:
    """Five rows for the README: the default on the Kodak crops (means over images), Pluto and
    Albert, and soft mining on chair and mic, each against its strongest uniform."""
    rows = []
    photos = results / "photos_cpu" / "summary.json"
    if photos.is_file():
        summary = json.loads(photos.read_text())
        default = summary["labels"][1]
        kodak = [r["samplers"][default] for n, r in summary["images"].items()
                 if n.startswith("kodim")]
        if kodak:
            step, wall = _image_ratios(kodak)
            rows.append((f"{len(kodak)} Kodak crops (mean)", default, np.mean(step),
                         np.mean(wall), "photos_cpu"))
        for image in ("pluto", "albert"):
            if image in summary["images"]:
                r = summary["images"][image]["samplers"][default]
                rows.append((image.capitalize(), default, r["step_ratio"], r["wallclock_ratio"],
                             "photos_cpu"))
    for scene in ("chair", "mic"):
        path = results / f"{scene}_cpu" / "results.json"
        if path.is_file():
            r = json.loads(path.read_text())["summary"]["samplers"]["soft_mining"]
            rows.append((f"NeRF {scene} (CPU size)", "soft_mining", r["step_ratio"],
                         r["wallclock_ratio"], f"{scene}_cpu"))
    if not rows:
        return None
    lines = ["| task | sampler | steps vs the strongest uniform | wall-clock (2 CPU cores) | "
             "command |", "|---|---|---|---|---|"]
    for task, sampler, step, wall, suite in rows:
        lines.append(f"| {task} | `{sampler}` | {_fmt(step)} | {_fmt(wall)} | "
                     f"`python experiments/reproduce.py {suite}` |")
    return lines


def update_readme(readme: pathlib.Path, lines: list[str]) -> None:
    """Replace the block between ``<!-- headline:start -->`` and ``<!-- headline:end -->``."""
    text = readme.read_text()
    start, end = "<!-- headline:start -->", "<!-- headline:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"error: {readme} has no {start} ... {end} block.")
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    readme.write_text(before + start + "\n" + "\n".join(lines) + "\n" + end + after)


def bench_step_section(path: pathlib.Path) -> list[str]:
    """The framework's training step against a bare step of the same math: every cell of the
    grid (``experiments/bench_step.py``), the CPU-sized NeRF step and the dense render."""
    bench = json.loads(path.read_text())
    a = bench["args"]
    lines = ["### Step cost: the framework against a bare step of the same math", "",
             "`python experiments/bench_step.py "
             + "".join(f"--{flag} " for flag in ("nerf", "dense", "hash_backward")
                       if a.get(flag))
             + f"--rounds {a['rounds']} --out experiments/results/bench_step.json` "
             f"(code {bench.get('code', '?')}, {bench['device']}): CPU time per step "
             f"(`time.process_time`, all threads) in {a['rounds']} interleaved, shuffled rounds "
             f"of {a['steps']} steps; ratio framework / bare per round, median (range). Bundled "
             "512 px image, 16 levels x 2 features, MLP 2x64, Adam. Absolute times differ "
             "between machines and days by more than these ratios; compare only figures "
             "measured in one run. Host memory: "
             + ("reused (`softmining_jax.reuse_freed_host_memory()`, as the command line runs)"
                if bench.get("host_memory") == "reused" else
                f"{bench.get('host_memory', 'the C allocator defaults')}") + ".", "",
             "| batch | table | uniform: framework / bare | soft mining: framework / bare | "
             "ms per step (framework uniform, bare uniform, framework soft, bare soft) |",
             "|---|---|---|---|---|"]
    for row in bench.get("grid", []):
        ms = row["ms"]
        cells = [f"{row[k]['median']:.3f} ({row[k]['min']:.2f}-{row[k]['max']:.2f})"
                 for k in ("uniform", "soft")]
        lines.append(f"| {row['batch']} | 2^{row['log2_table']} | {cells[0]} | {cells[1]} | "
                     + ", ".join(f"{ms[k]:.2f}" for k in ("framework uniform", "bare uniform",
                                                          "framework soft", "bare soft"))
                     + " |")
    if "nerf_chair_cpu_ms" in bench:
        lines += ["", "NeRF chair at `chair_cpu.gin`'s size, CPU ms per step: " + ", ".join(
            f"{k} {v:.1f}" for k, v in bench["nerf_chair_cpu_ms"].items()) + "."]
    if "hash_backward" in bench:
        hb = bench["hash_backward"]
        parts = []
        for path, rows in hb["paths"].items():
            name = (f"{path} (2^{hb['image_log2_table']})" if path.startswith("image")
                    else path)
            for kind, row in rows.items():
                r = row["autodiff_over_custom_vjp"]
                parts.append(f"{name} {kind} {r['median']:.3f} ({r['min']:.2f}-{r['max']:.2f})")
        lines += ["", "The hash grid's backward pass (`--hash_backward`): step time with "
                      "autodiff of the corner loop over the hand-written VJP, median (range): "
                  + "; ".join(parts) + "."]
    if "dense" in bench:
        d = bench["dense"]
        lines += ["", f"One dense per-pixel L1 render of the {d['pixels']}-pixel image: "
                      f"{d['dense_render_s']:.3f} s CPU."]
    return lines


def bench_checkouts_section(folder: pathlib.Path) -> list[str]:
    """The NeRF step and dense render of this checkout against an older commit's
    (``experiments/bench_checkouts.py``): medians over runs and the ratios older / this."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for path in sorted(folder.glob("*.json")):
        checkout, tag, _ = path.stem.rsplit("_", 2)
        groups.setdefault((checkout, tag), []).append(json.loads(path.read_text()))
    older = sorted({c for c, _ in groups if c != "this"})
    if not older or not any(c == "this" for c, _ in groups):
        return []

    def median(runs, key):
        values = [r["nerf_chair_cpu_ms"][key] if key != "dense" else r["dense"]["dense_render_s"]
                  for r in runs]
        return float(np.median(values)), min(values), max(values)

    keys = ("uniform", "soft_mining", "dense")
    lines = ["### Step cost: this checkout against an older one", "",
             f"`python experiments/bench_checkouts.py --against {older[0]}`: `bench_step.py "
             "--no_grid --nerf --dense` run alternately in the two checkouts (one process per "
             "run), each with the C allocator's defaults and with the host-memory setting "
             "(this checkout: `reuse_freed_host_memory()`; the older one: the same settings as "
             "`GLIBC_TUNABLES`). chair_cpu CPU ms per step and one dense render of the 512 px "
             "image in CPU s; median (range) over runs.", "",
             "| checkout | host memory | runs | uniform ms | soft mining ms | dense render s |",
             "|---|---|---|---|---|---|"]
    stats = {}
    for (checkout, tag), runs in sorted(groups.items()):
        stats[checkout, tag] = {k: median(runs, k) for k in keys}
        code = runs[0].get("code", checkout)
        cells = []
        for k, (m, lo, hi) in stats[checkout, tag].items():
            digits = 3 if k == "dense" else 1
            cells.append(f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})")
        lines.append(f"| {code} | {'reused' if tag == 'reuse' else 'defaults'} | {len(runs)} | "
                     + " | ".join(cells) + " |")
    old = older[0]
    comparisons = [("as each runs from its command line (older: defaults; this: reused)",
                    (old, "default"), ("this", "reuse")),
                   ("both with the setting", (old, "reuse"), ("this", "reuse")),
                   ("both with the defaults (the code alone)", (old, "default"),
                    ("this", "default"))]
    lines.append("")
    for text, a, b in comparisons:
        if a in stats and b in stats:
            lines.append(f"- Older / this, {text}: " + ", ".join(
                f"{k.replace('_', ' ')} {stats[a][k][0] / stats[b][k][0]:.2f}x" for k in keys)
                + ".")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suites", default=None, help="comma-separated suite names, in order")
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--out", default=str(ROOT / "docs" / "results.md"))
    parser.add_argument("--readme", default=str(ROOT / "README.md"),
                        help="rewrite this README's headline table ('' : leave it)")
    args = parser.parse_args(argv)
    results = pathlib.Path(args.results)
    names = (args.suites.split(",") if args.suites else
             sorted(p.stem for p in reproduce.SUITES_DIR.glob("*.json")))
    out = pathlib.Path(args.out)
    img = out.parent / "img"
    img.mkdir(parents=True, exist_ok=True)
    lines = ["# Results", "",
             "Generated by `experiments/write_results_page.py` from the suites' outputs (each",
             "suite is a file under `experiments/suites/`, run by `experiments/reproduce.py`);",
             "nothing here is typed by hand. Ratios are against the first sampler of each table,",
             "the strongest uniform found: step ratio = the baseline's steps to reach its final",
             "PSNR / the sampler's steps to reach it (or never); wall-clock ratio = step ratio /",
             "the interleaved per-step time ratio, on 2 CPU cores. Ideas that were measured and",
             "dropped are in [negative_results.md](negative_results.md).", ""]
    missing = []
    for name in names:
        suite = reproduce.load_suite(name, group=True)
        folder = results / name
        if "suites" in suite:
            section = group_section(name, suite, results)
            if section:
                lines += ["", *section]
            else:
                missing.append(name)
        elif suite["script"] == "photos" and (folder / "summary.json").is_file():
            lines += ["", *photo_section(name, folder, img)]
        elif suite["script"] == "compare_samplers" and (folder / "results.json").is_file():
            lines += ["", *compare_section(name, folder, suite["about"])]
        else:
            missing.append(name)
    if (results / "bench_step.json").is_file():
        lines += ["", *bench_step_section(results / "bench_step.json")]
    if (results / "bench_checkouts").is_dir():
        lines += ["", *bench_checkouts_section(results / "bench_checkouts")]
    if missing:
        lines += ["", "Not run yet (no results here): " + ", ".join(f"`{m}`" for m in missing)
                  + "."]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out} ({len(lines)} lines)")
    table = headline(results)
    if args.readme and table:
        update_readme(pathlib.Path(args.readme), table)
        print(f"updated the headline table of {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
