"""Short runs of every shipped sampler config, to check that a refactoring keeps their behaviour.

``python tests/sampler_behaviour.py`` trains each config below for a few hundred steps on a tiny
task (the bundled image at 48 px; a procedural NeRF scene for the view hops), on several seeds,
through gin (so the same names work before and after a change of the Python API), and writes the
final eval PSNRs to ``tests/data/sampler_behaviour.json`` with the commit they came from.
``tests/test_sampler_behaviour.py`` runs the same configs on the current code and compares.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile

import gin

from softmining_jax import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
RECORD = ROOT / "tests" / "data" / "sampler_behaviour.json"
SEEDS = (0, 1, 2, 3)
STEPS = 200
_IMAGE = ["train_and_evaluate.batch_size = 128", f"train_and_evaluate.num_steps = {STEPS}",
          f"train_and_evaluate.eval_every = {STEPS}", "image_fitting_task.max_side = 48",
          "image_fitting_task.field = @ImageField", "ImageField.num_levels = 4",
          "ImageField.log2_table_size = 10", "ImageField.mlp_width = 16",
          "WeightSchedule.warmup_steps = 50"]
_NERF = ["train_and_evaluate.task = @blender_task()", "blender_task.factor = 1",
         "blender_task.num_samples = 8", "blender_task.num_proposal_samples = 8",
         "blender_task.video_frames = 0", "RadianceField.num_levels = 4",
         "RadianceField.log2_table_size = 10", "RadianceField.max_resolution = 32",
         "RadianceField.width = 16", "ProposalField.num_levels = 2",
         "ProposalField.log2_table_size = 8", "train_and_evaluate.batch_size = 128",
         "train_and_evaluate.num_steps = 100", "train_and_evaluate.eval_every = 100",
         "WeightSchedule.warmup_steps = 25", "soft_mining_sampler.view_hop = 1.0",
         "soft_mining_sampler.step_size = 8.0"]
# name -> (sampler config, bindings); "nerf_" configs run on the procedural scene.
CONFIGS = {
    "uniform": ("uniform", []),
    "soft_mining": ("soft_mining", []),
    "hard_mining": ("hard_mining", []),
    "importance": ("importance", []),
    "official": ("official", []),
    "error_map": ("error_map", []),
    "error_map_hard": ("error_map_hard", []),
    "error_map_feedback": ("error_map_feedback", []),
    "soft_mining_error_map": ("soft_mining_error_map", []),
    "nerf_soft_mining_hops": ("soft_mining", _NERF),
}


def run(name: str, seed: int, scene_root: pathlib.Path) -> float:
    """Final eval PSNR of config ``name`` at ``seed`` (a fresh workdir)."""
    sampler, extra = CONFIGS[name]
    bindings = [f"train_and_evaluate.seed = {seed}"]
    if name.startswith("nerf_"):
        bindings += [*extra, f"blender_task.root = '{scene_root}'"]
    else:
        bindings += ["train_and_evaluate.task = @image_fitting_task()", *_IMAGE, *extra]
    cli.parse_gin([str(ROOT / "gin_configs" / "samplers" / f"{sampler}.gin")],
                  [*bindings, *_refresh_every(50)])
    train = gin.get_configurable("train_and_evaluate")
    with tempfile.TemporaryDirectory() as workdir:
        record = train(workdir=workdir, progress=False, tensorboard=False, plots=False)
    return float(record["eval_psnr"])


def _refresh_every(steps: int) -> list[str]:
    """Bindings for a dense refresh every ``steps`` steps (a hook since the samplers became
    chains of moves; a sampler parameter before)."""
    try:
        gin.get_configurable("DenseRefresh")
    except ValueError:
        return [f"error_map_sampler.refresh_interval = {steps}",
                f"soft_mining_sampler.refresh_interval = {steps}"]
    return [f"DenseRefresh.every = {steps}"]


def scene(folder: pathlib.Path) -> pathlib.Path:
    from softmining_jax.data.procedural import write_sphere_scene

    return write_sphere_scene(folder, size=16, num_train=8, num_test=2)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = scene(pathlib.Path(tmp) / "sphere")
        psnr = {name: [run(name, seed, root) for seed in SEEDS] for name in CONFIGS}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                            capture_output=True).stdout.strip()
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps({"commit": commit, "seeds": SEEDS, "psnr": psnr}, indent=1))
    print(json.dumps(psnr, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
