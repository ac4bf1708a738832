"""Assemble docs/results.md from compare_samplers.py outputs (tables and plots copied verbatim).

Usage::

    python experiments/write_results_page.py --notes docs/results_notes.md \\
        experiments/results/chair_cpu experiments/results/pluto_error_map_ablations_cpu ...

Each folder must hold a finished ``results.json`` / ``results.md``; plots are copied to
``docs/img/<folder name>_*.png``. For the baseline and the second variant (the first mining
sampler), the page shows their seed-0 error map and sample positions at three moments of the run
(from each run's ``plots/history``). ``--notes`` is a hand-written analysis placed, marked as such,
above the generated sections; everything else on the page comes from the result files. Result
folders are not versioned: ``--keep_existing`` renews only the sections of the folders given and
keeps the page's other generated sections (and their pictures) as they are.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import shlex
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# The recorded compare_samplers.py arguments that define a section's runs, in command-line order.
_SUITE_KEYS = ("gin_configs", "gin_bindings", "samplers", "variant", "seeds", "num_steps",
               "eval_every", "timing_rounds", "timing_steps", "reference")


def command_of(folder: pathlib.Path, args: dict) -> str:
    """The compare_samplers.py command that produced ``folder`` (from its recorded arguments)."""
    argv = []
    for key in _SUITE_KEYS:  # list-valued options repeat their flag
        # --variant and --reference are optional (and absent from results older than them).
        value = args.get(key) if key in ("variant", "reference") else args[key]
        if value is None:
            continue
        for v in value if isinstance(value, list) else [value]:
            argv += [f"--{key}", str(v)]
    try:
        out = str(folder.resolve().relative_to(ROOT))
    except ValueError:
        out = str(folder)
    return "python experiments/compare_samplers.py " + shlex.join([*argv, "--outdir", out])


def how_it_differs(name: str, args: dict) -> list[str] | None:
    """How the recorded ``args`` differ from ``reproduce.py name``'s settings.

    Returns None when there is no such suite, else one ``key: recorded (suite: default)`` entry
    per differing setting (empty when the section is exactly what the suite runs).
    """
    from experiments import compare_samplers, reproduce

    if not (reproduce.SUITES_DIR / f"{name}.json").is_file():
        return None
    script, argv, _ = reproduce.command(name, [])
    if script != "compare_samplers":
        return None
    parser = compare_samplers.build_parser()
    suite, defaults = (vars(parser.parse_args(a)) for a in (argv, ["--outdir", "-"]))
    recorded = {key: args.get(key, defaults[key]) for key in _SUITE_KEYS}
    return [f"`{key}` {recorded[key]!r} (the suite's: {suite[key]!r})" for key in _SUITE_KEYS
            if str(recorded[key]) != str(suite[key])]


def snapshots(folder: pathlib.Path, label: str, img: pathlib.Path) -> list[str]:
    """Copy the first (after step 0), middle and last history pictures of ``label``'s seed 0."""
    history = folder / "runs" / label / "seed0" / "plots" / "history"
    shots = sorted(history.glob("step*.png")) if history.is_dir() else []
    shots = [s for s in shots if s.stem != "step0000000"] or shots
    if not shots:
        return []
    chosen = sorted({shots[0], shots[len(shots) // 2], shots[-1]})
    out = []
    for shot in chosen:
        dst = img / f"{folder.name}_{label}_{shot.name}"
        shutil.copy(shot, dst)
        out.append(f"![{label} {shot.stem}](img/{dst.name})")
    return out


def section(folder: pathlib.Path, img: pathlib.Path) -> str:
    results = json.loads((folder / "results.json").read_text())
    args = results["args"]
    name = folder.name
    for plot in ("psnr_vs_steps.png", "psnr_vs_seconds.png"):
        shutil.copy(folder / plot, img / f"{name}_{plot}")
    labels = list(results["summary"]["samplers"])
    lines = [f"## {name}", ""]
    differs = how_it_differs(name, args)
    if differs == []:
        lines += [f"`python experiments/reproduce.py {name}` runs:", ""]
    elif differs:
        lines += [f"Run as below, which differs from `python experiments/reproduce.py {name}` in "
                  + "; ".join(differs) + ":", ""]
    lines += ["```bash", command_of(folder, args), "```", "",
              f"Device: {results.get('device', '?')}; code: "
              f"{results.get('code', 'not recorded (before commit recording was added)')}.", "",
              (folder / "results.md").read_text().strip(), "",
              f"![PSNR vs steps](img/{name}_psnr_vs_steps.png) "
              f"![PSNR vs seconds](img/{name}_psnr_vs_seconds.png)", ""]
    for label in labels[:2]:
        shots = snapshots(folder, label, img)
        if shots:
            lines += [f"**{label}**, seed 0: error map (left) and sample positions (right) early, "
                      "mid-way and at the end of the run:", "", " ".join(shots), ""]
    return "\n".join(lines)


ANALYSIS_HEADING = "## Analysis (hand-written from the tables below)"


def generated_sections(page: str) -> dict[str, str]:
    """The generated ``## <suite>`` sections of an existing page, by suite name, in page order."""
    sections: dict[str, str] = {}
    name = None
    for line in page.splitlines():
        if line.startswith("## "):
            name = None if line == ANALYSIS_HEADING else line[3:].strip()
            if name is not None:
                sections[name] = ""
        if name is not None:
            sections[name] += line + "\n"
    return {k: v.strip() for k, v in sections.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="*", help="compare_samplers.py output folders")
    parser.add_argument("--notes", help="hand-written analysis (markdown) to put on top")
    parser.add_argument("--out", default=str(ROOT / "docs" / "results.md"))
    parser.add_argument("--keep_existing", action="store_true",
                        help="keep the generated sections of --out whose suites are not among "
                             "the folders (results folders are not versioned, so this updates a "
                             "page one suite at a time); given folders replace their section in "
                             "place, new ones are appended")
    parser.add_argument("--drop", action="append", default=[], metavar="SUITE",
                        help="with --keep_existing: remove this kept section (e.g. one that a "
                             "renamed suite supersedes); repeatable")
    args = parser.parse_args(argv)
    if args.drop and not args.keep_existing:
        parser.error("--drop only applies with --keep_existing")
    if not args.folders and not args.keep_existing:
        parser.error("give at least one results folder (or --keep_existing to only renew notes)")
    out = pathlib.Path(args.out)
    kept: dict[str, str] = {}
    if args.keep_existing:
        if not out.is_file():
            parser.error(f"--keep_existing: no existing page at {out}")
        kept = generated_sections(out.read_text())
        unknown = sorted(set(args.drop) - set(kept))
        if unknown:
            parser.error(f"--drop: no such section on {out}: {unknown} (sections: {list(kept)})")
        kept = {k: v for k, v in kept.items() if k not in args.drop}
    img = out.parent / "img"
    img.mkdir(parents=True, exist_ok=True)
    parts = [
        "# Results", "",
        "Tables, curves and pictures below are produced by `experiments/compare_samplers.py` "
        "(one command per section, also runnable as `experiments/reproduce.py <section>`) and "
        "assembled by `experiments/write_results_page.py`; none of them is edited by hand.", "",
        f"Machine: {platform.machine()}, CPU only, Python {platform.python_version()}. "
        "Time ratios come from an interleaved timing phase (samplers alternate in shuffled order "
        "and the per-round ratios are summarised by their median).", "",
    ]
    if args.notes:
        parts += [ANALYSIS_HEADING, "", pathlib.Path(args.notes).read_text().strip(), ""]
    fresh = {}
    for f in args.folders:
        folder = pathlib.Path(f)
        folder = folder if folder.is_absolute() else pathlib.Path.cwd() / folder
        fresh[folder.name] = section(folder, img)
    for name in [*kept, *[n for n in fresh if n not in kept]]:
        parts += [fresh.get(name, kept.get(name)), ""]
    out.write_text("\n".join(parts))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
