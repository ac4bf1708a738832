"""A run a user can trust: corrupt checkpoints, crashes mid-rewrite, reruns, bad metrics lines,
TensorBoard after kills, configuration that is applied or refused, bad input with one clear
line. One regression test per hole found by an outside tester (docs/reliability.md)."""

from __future__ import annotations

import json
import logging
import os
import pathlib
import struct
import subprocess
import sys

import jax
import numpy as np
import pytest
from helpers import tiny_task

from softmining_jax import run_log, samplers
from softmining_jax.checkpoint import Checkpointer, StructureMismatch
from softmining_jax.optim import adam
from softmining_jax.train import NonFiniteError, train_and_evaluate

ROOT = pathlib.Path(__file__).resolve().parents[1]
QUIET = dict(progress=False, tensorboard=False, plots=False)
RUN = dict(batch_size=32, log_every=5, eval_every=10, checkpoint_every=10,
           optimizer=adam(num_steps=30), **QUIET)  # one schedule, however long a part runs


def _rows(workdir: pathlib.Path) -> list[dict]:
    drop = ("elapsed_s", "train_s")
    return [{k: v for k, v in r.items() if k not in drop}
            for r in run_log.read_records(workdir / "metrics.jsonl")]


def _largest_array_file(step_dir: pathlib.Path) -> pathlib.Path:
    files = [f for f in (step_dir / "state").rglob("*") if f.is_file() and "/d/" in str(f)]
    return max(files, key=lambda f: f.stat().st_size)


def test_a_flipped_bit_in_the_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, caplog):
    """XOR-ing 16 bytes of the largest data file is caught by the saved checksum: the run
    resumes from the previous checkpoint with a warning and ends as an uninterrupted run."""
    task = tiny_task()
    train_and_evaluate(tmp_path / "clean", task, num_steps=30, **RUN)
    run = tmp_path / "flipped"
    train_and_evaluate(run, task, num_steps=20, **RUN)
    target = _largest_array_file(run / "checkpoints" / "20")
    data = bytearray(target.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 16] = bytes(b ^ 0xFF for b in data[middle:middle + 16])
    target.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        train_and_evaluate(run, task, num_steps=30, **RUN)
    assert "step 20" in caplog.text and "unreadable" in caplog.text
    assert (run / "checkpoints_unreadable_20").is_dir()
    assert _rows(run) == _rows(tmp_path / "clean")


def test_a_checkpoint_holding_non_finite_values_is_unreadable(tmp_path):
    task, sampler = tiny_task(), samplers.soft_mining_sampler()
    from softmining_jax.step import init_train_state

    state = init_train_state(task, sampler, adam(num_steps=10), 16, 0)
    ckpt = Checkpointer(tmp_path / "c")
    ckpt.save(1, state, {})
    with pytest.raises(FloatingPointError, match="non-finite"):  # never written
        ckpt.save(2, state.replace(params=jax.tree_util.tree_map(lambda x: x * np.nan,
                                                                 state.params)), {})
    assert ckpt.steps() == [1]
    restored, _ = ckpt.restore_latest(state)
    assert int(restored.step) == 0


def test_a_crash_in_the_middle_of_the_metrics_rewrite_loses_no_row(tmp_path, monkeypatch):
    """On resume the file is rewritten (rows past the restored step dropped): a crash during
    the rewrite leaves the old file whole, and the rerun matches an uninterrupted run."""
    task = tiny_task()
    train_and_evaluate(tmp_path / "clean", task, num_steps=30, **RUN)
    run = tmp_path / "crashed"
    train_and_evaluate(run, task, num_steps=20, **RUN)
    with (run / "metrics.jsonl").open("a") as f:  # rows past the last checkpoint, as a kill
        f.write('{"step": 25, "loss": 1.0}\n')
    before = (run / "metrics.jsonl").read_text()

    def crash(src, dst):
        raise OSError("simulated crash between writing the new file and renaming it")

    monkeypatch.setattr(run_log.os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        train_and_evaluate(run, task, num_steps=30, **RUN)
    assert (run / "metrics.jsonl").read_text() == before
    monkeypatch.undo()
    train_and_evaluate(run, task, num_steps=30, **RUN)
    assert _rows(run) == _rows(tmp_path / "clean")


def test_rerunning_a_finished_run_changes_nothing(tmp_path):
    task = tiny_task()
    first = train_and_evaluate(tmp_path, task, num_steps=20, **RUN)
    files = {f: (tmp_path / f).read_bytes() for f in ("final_metrics.json", "metrics.jsonl")}
    assert {"loss", "eval_psnr", "eval_ssim", "train_psnr"} <= set(first)
    again = train_and_evaluate(tmp_path, task, num_steps=20, **RUN)
    assert again == json.loads(files["final_metrics.json"])
    assert {f: (tmp_path / f).read_bytes() for f in files} == files
    # Killed after its last checkpoint, before final_metrics.json: the rerun writes it whole.
    (tmp_path / "final_metrics.json").unlink()
    rebuilt = train_and_evaluate(tmp_path, task, num_steps=20, **RUN)
    assert {k: v for k, v in rebuilt.items() if k not in ("elapsed_s", "train_s")} == {
        k: v for k, v in first.items() if k not in ("elapsed_s", "train_s")}


def test_parameters_that_become_non_finite_stop_the_run_unsaved(tmp_path):
    """Finite gradients, an update that makes the parameters NaN: even with
    on_nonfinite='skip' the run stops, and no checkpoint or final metrics are written."""
    import optax

    task = tiny_task()
    with pytest.raises(NonFiniteError, match="parameters became non-finite"):
        train_and_evaluate(tmp_path, task, num_steps=20, **{
            **RUN, "optimizer": optax.scale(float("nan")), "on_nonfinite": "skip"})
    assert not (tmp_path / "final_metrics.json").exists()
    assert Checkpointer(tmp_path / "checkpoints").steps() == []
    with pytest.raises(ValueError, match="adam.learning_rate"):
        adam(learning_rate=float("inf"))


@pytest.mark.parametrize("bad", [b"42", b'{"step": "abc"}', b"\xff\xfe not utf-8",
                                 b'{"loss": 1.0}'])
def test_bad_metrics_lines_are_skipped_with_a_warning_naming_file_and_line(tmp_path, caplog,
                                                                           bad):
    task = tiny_task()
    train_and_evaluate(tmp_path, task, num_steps=10, **RUN)
    path = tmp_path / "metrics.jsonl"
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join([lines[0], bad, *lines[1:]]) + b"\n")
    with caplog.at_level(logging.WARNING):
        train_and_evaluate(tmp_path, task, num_steps=20, **RUN)
    assert f"{path} line 2 is unreadable" in caplog.text
    assert [r["step"] for r in _rows(tmp_path) if "eval_psnr" in r] == [0, 10, 20]


def _event_steps(folder: pathlib.Path) -> dict[str, list[int]]:
    """Every scalar's steps over all event files of ``folder`` (a TFRecord reader)."""
    from tensorboardX.proto import event_pb2

    steps: dict[str, list[int]] = {}
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = event_pb2.Event.FromString(data[at + 12:at + 12 + length])
            at += 12 + length + 4
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    steps.setdefault(value.tag, []).append(event.step)
    return steps


def test_tensorboard_shows_every_step_once_after_a_resume(tmp_path):
    task, run = tiny_task(), dict(RUN, tensorboard=True)
    train_and_evaluate(tmp_path / "clean", task, num_steps=30, **run)
    crashed = tmp_path / "crashed"
    train_and_evaluate(crashed, task, num_steps=20, **run)
    with (crashed / "metrics.jsonl").open("a") as f:
        f.write('{"step": 25, "loss": 1.0}\n')  # logged after the last checkpoint, then killed
    train_and_evaluate(crashed, task, num_steps=30, **run)
    clean, resumed = _event_steps(tmp_path / "clean" / "tensorboard"), _event_steps(
        crashed / "tensorboard")
    assert resumed == clean
    assert resumed["train/loss"] == [5, 10, 15, 20, 25, 30]
    assert resumed["eval/psnr"] == [0, 10, 20, 30]


def _cli(workdir, *bindings, env=None) -> subprocess.CompletedProcess:
    small = ["image_fitting_task.max_side = 32", "ImageField.num_levels = 4",
             "ImageField.log2_table_size = 10", "train_and_evaluate.num_steps = 10",
             "train_and_evaluate.eval_every = 10", "train_and_evaluate.plots = False",
             "train_and_evaluate.tensorboard = False"]
    return subprocess.run(
        [sys.executable, "-m", "softmining_jax", f"--workdir={workdir}", "--quiet",
         *(f"--gin_bindings={b}" for b in (*small, *bindings))],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})))


def test_adam_bindings_apply_without_binding_the_optimizer(tmp_path):
    out = _cli(tmp_path, "adam.learning_rate = 1e999")  # the tester's case: inf
    assert out.returncode == 2 and "adam.learning_rate must be a finite number" in out.stderr
    config = _cli(tmp_path / "b", "adam.learning_rate = 5e-3")
    assert config.returncode == 0, config.stderr
    operative = (tmp_path / "b" / "config.gin").read_text()
    assert "adam.learning_rate = 0.005" in operative
    assert "adam.num_steps = 10" in operative or "adam.num_steps" not in operative
    assert "error_map_sampler.source = 'dense+feedback'" in operative  # the sampler's too


@pytest.mark.parametrize("binding, names", [
    ("train_and_evaluate.seed = 'x'", "train_and_evaluate.seed"),
    ("train_and_evaluate.num_steps = 100.5", "train_and_evaluate.num_steps"),
    ("train_and_evaluate.num_steps = 'abc'", "train_and_evaluate.num_steps"),
    ("image_fitting_task.max_side = 0", "image_fitting_task.max_side"),
    ("image_fitting_task.max_side = -3", "image_fitting_task.max_side"),
    ("train_and_evaluate.max_checkpoints = 0", "train_and_evaluate.max_checkpoints"),
])
def test_bad_values_give_one_line_naming_the_parameter_and_write_nothing(tmp_path, binding,
                                                                          names):
    out = _cli(tmp_path / "w", binding)
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert out.returncode == 2 and len(lines) == 1 and names in lines[0], out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "w").exists()


def test_bad_images_name_the_file(tmp_path):
    import zlib

    from PIL import Image

    tiny = tmp_path / "one.png"
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tiny)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    deep = tmp_path / "rgb16.png"  # 16-bit RGB: Pillow would read 8 bits per channel
    rows = b"".join(b"\x00" + bytes(4 * 6) for _ in range(3))
    deep.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 3, 16, 2,
                                                                        0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    for path, what in ((tiny, "1x1 pixels"), (deep, "16-bit colour PNG")):
        out = _cli(tmp_path / "w", f"image_fitting_task.path = '{path}'")
        assert out.returncode == 2 and str(path) in out.stderr and what in out.stderr
    from softmining_jax.data import load_image

    with pytest.warns(UserWarning, match="16-bit colour"):
        assert load_image(deep, allow_8bit_of_16bit_colour=True).dtype == np.uint8


def test_all_checkpoints_unreadable_one_message_then_a_fresh_start(tmp_path):
    task = tiny_task()
    train_and_evaluate(tmp_path, task, num_steps=20, **RUN)
    for step in ("10", "20"):
        for f in (tmp_path / "checkpoints" / step / "state").rglob("*"):
            if f.is_file() and f.stat().st_size > 0:
                f.write_bytes(b"\x00garbage")
    with pytest.raises(RuntimeError) as info:
        train_and_evaluate(tmp_path, task, num_steps=30, **RUN)
    message = str(info.value)
    assert "step 20" in message and "step 10" in message and "checkpoints_unreadable_20" in message
    assert "run the same command again" in message and len(message) < 1200
    assert train_and_evaluate(tmp_path, task, num_steps=30, **RUN)["step"] == 30


def test_an_interrupted_deletion_of_an_old_checkpoint_is_cleaned_up_silently(tmp_path, caplog):
    task, run = tiny_task(), dict(RUN, checkpoint_every=5, max_checkpoints=3)
    train_and_evaluate(tmp_path, task, num_steps=10, **run)
    old = tmp_path / "checkpoints" / "5"
    (old / "_CHECKPOINT_METADATA").unlink()  # as a kill in the middle of its deletion leaves it
    with caplog.at_level(logging.WARNING):
        train_and_evaluate(tmp_path, task, num_steps=15, **run)
    assert not old.exists() and "Metadata file does not exist" not in caplog.text


def test_another_sampler_in_a_workdir_says_so_with_the_config_diff(tmp_path):
    task = tiny_task()
    train_and_evaluate(tmp_path, task, num_steps=10, operative_config="sampler = soft\n", **RUN)
    with pytest.raises(StructureMismatch, match="different sampler") as info:
        train_and_evaluate(tmp_path, task, sampler=samplers.error_map_sampler(), num_steps=20,
                           operative_config="sampler = error_map\n", **RUN)
    assert "-sampler = soft" in str(info.value) and "+sampler = error_map" in str(info.value)
    assert not (tmp_path / "config.1.gin").exists()  # a refused start writes no config
    # A start with another (compatible) configuration keeps the earlier config files.
    train_and_evaluate(tmp_path, task, num_steps=20, operative_config="sampler = soft\n# b\n",
                       **RUN)
    assert (tmp_path / "config.gin").read_text() == "sampler = soft\n"
    assert (tmp_path / "config.1.gin").read_text() == "sampler = soft\n# b\n"


def test_the_cli_announces_a_resume_and_explains_a_missing_module(tmp_path):
    assert _cli(tmp_path).returncode == 0
    out = _cli(tmp_path, "train_and_evaluate.num_steps = 20")
    assert out.returncode == 0 and "Resumed from step 10" in out.stderr + out.stdout
    missing = subprocess.run([sys.executable, "-m", "softmining_jax", "--import", "no_such_mod",
                              f"--workdir={tmp_path / 'x'}"], capture_output=True, text=True,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert missing.returncode == 2 and "no_such_mod" in missing.stderr
    assert "Traceback" not in missing.stderr
    help_text = subprocess.run([sys.executable, "-m", "softmining_jax", "--help"],
                               capture_output=True, text=True, timeout=120,
                               env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout
    assert "``" not in help_text and "--import" in help_text
