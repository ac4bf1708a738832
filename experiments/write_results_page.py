"""Assemble docs/results.md from compare_samplers.py outputs (tables and plots copied verbatim).

Usage::

    python experiments/write_results_page.py experiments/results/pluto experiments/results/albert \\
        experiments/results/chair_cpu

Each folder must hold a finished ``results.json`` / ``results.md``; plots are copied to
``docs/img/<folder name>_*.png``. Pictures of error maps and sample positions come from the seed-0
run of the baseline and of the second variant (the first mining sampler).
"""

from __future__ import annotations

import json
import pathlib
import platform
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def section(folder: pathlib.Path, img: pathlib.Path) -> str:
    results = json.loads((folder / "results.json").read_text())
    args = results["args"]
    name = folder.name
    for plot in ("psnr_vs_steps.png", "psnr_vs_seconds.png"):
        shutil.copy(folder / plot, img / f"{name}_{plot}")
    labels = list(results["summary"]["samplers"])
    pictures = []
    for label in labels[:2]:
        for pic in ("error_map.png", "samples.png"):
            src = folder / "runs" / label / "seed0" / "plots" / pic
            if src.exists():
                dst = img / f"{name}_{label}_{pic}"
                shutil.copy(src, dst)
                pictures.append(f"![{label} {pic[:-4]}](img/{dst.name})")
    command = ("python experiments/compare_samplers.py " + " ".join(
        f"--gin_configs {c}" for c in args["gin_configs"]) + " " + " ".join(
        f"--gin_bindings '{b}'" for b in args["gin_bindings"]) +
        f" --samplers {args['samplers']} --seeds {args['seeds']} --num_steps {args['num_steps']}"
        f" --eval_every {args['eval_every']} --outdir {folder.relative_to(ROOT)}")
    return "\n".join([
        f"## {name}", "", "```bash", command, "```", "",
        (folder / "results.md").read_text().strip(), "",
        f"![PSNR vs steps](img/{name}_psnr_vs_steps.png) "
        f"![PSNR vs seconds](img/{name}_psnr_vs_seconds.png)", "",
        "Error maps and sample positions at the end of training (seed 0), "
        f"{labels[0]} then {labels[1] if len(labels) > 1 else ''}:", "", " ".join(pictures), "",
    ])


def main(folders: list[str]) -> int:
    img = ROOT / "docs" / "img"
    img.mkdir(parents=True, exist_ok=True)
    parts = [
        "# Results", "",
        "Produced by `experiments/compare_samplers.py` and assembled by "
        "`experiments/write_results_page.py`; nothing here is edited by hand.", "",
        f"Machine: {platform.machine()}, 2 CPU cores (the project's standard CPU machine), "
        f"Python {platform.python_version()}. Several benchmarks ran at once on these 2 cores, "
        "so absolute times are inflated; time ratios are measured in an interleaved phase, so "
        "machine noise hits every sampler alike, but they still carry a few percent of noise.",
        "",
    ]
    parts += [section(ROOT / f if not pathlib.Path(f).is_absolute() else pathlib.Path(f), img)
              for f in folders]
    (ROOT / "docs" / "results.md").write_text("\n".join(parts))
    print(f"wrote {ROOT / 'docs' / 'results.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
