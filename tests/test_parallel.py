"""Data parallelism on CPU: several host devices (XLA flag) and a real 2-process run.

Each check runs in a fresh subprocess because the device count is fixed when JAX starts.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
SCRIPT = HERE / "parallel_checks.py"


def _env(devices: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _run(args: list[str], devices: int, timeout: int = 600, **extra: str) -> str:
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], env=_env(devices, **extra),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout


def _last_json(text: str) -> dict:
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


def test_pmap_shard_map_and_single_device_agree():
    out = _last_json(_run(["equivalence"], devices=4))
    assert out["max_param_diff_1_vs_4"] < 1e-4


def test_parallel_errors_and_device_change(tmp_path):
    _run(["errors", str(tmp_path)], devices=4)


def test_sharded_checkpoint_round_trip(tmp_path):
    _run(["checkpoint", str(tmp_path / "ckpt")], devices=4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_processes(workdir: pathlib.Path, steps: int) -> list[dict]:
    port = _free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, str(SCRIPT), "train", str(workdir), str(steps)],
            env=_env(2, SOFTMINING_COORDINATOR=f"127.0.0.1:{port}",
                     SOFTMINING_NUM_PROCESSES="2", SOFTMINING_PROCESS_ID=str(i)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    outs = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        assert p.returncode == 0, stdout[-2000:] + stderr[-5000:]
        outs.append(_last_json(stdout))
    return outs


@pytest.mark.slow
def test_two_process_run_saves_restores_and_matches_single_process(tmp_path):
    single = _last_json(_run(["train", str(tmp_path / "single"), "20"], devices=4))
    first = _two_processes(tmp_path / "multi", 10)
    assert [o["devices"] for o in first] == [4, 4]
    resumed = _two_processes(tmp_path / "multi", 20)  # restores the step-10 checkpoint
    for o in resumed:
        assert o["eval_psnr"] == pytest.approx(single["eval_psnr"], abs=1e-3)
        assert o["loss"] == pytest.approx(single["loss"], rel=1e-4)
    multi = tmp_path / "multi"
    assert (multi / "final_metrics.json").exists() and (multi / "plots" / "psnr.png").exists()
    steps = [json.loads(line)["step"] for line in (multi / "metrics.jsonl").open()]
    assert steps == sorted(steps) and steps[-1] == 20  # written once, by process 0
