"""The host-memory setting: freed runtime buffers are reused instead of faulted in again."""

from __future__ import annotations

import subprocess
import sys

import jax.numpy as jnp
import pytest

from softmining_jax import reuse_freed_host_memory
from softmining_jax.host_memory import on_glibc

# A fresh process: apply the setting (or not), then take NeRF training steps at chair_cpu's size
# (1024 rays, 32 + 32 samples, chair_cpu's grid) on a small procedural scene, and print the minor
# page faults per step after the first twenty (the step's temporaries are about 90 MB; the heap
# takes a few steps to hold free blocks that fit them, more when the machine is busy: 6 were
# not enough beside another training process).
_SCRIPT = """
import functools, resource, sys, tempfile
from softmining_jax import reuse_freed_host_memory
applied = reuse_freed_host_memory() if sys.argv[1] == "reuse" else False
import jax
from softmining_jax import adam, init_train_state, make_train_step, uniform_sampler
from softmining_jax.data.blender import load_blender
from softmining_jax.data.procedural import write_sphere_scene
from softmining_jax.fields import RadianceField
from softmining_jax.tasks import NerfTask
root = write_sphere_scene(tempfile.mkdtemp(), size=24, num_train=4, num_test=1)
field = functools.partial(RadianceField, num_levels=8, log2_table_size=15, max_resolution=512)
task = NerfTask(load_blender(root, near=1.5, far=4.5), field=field, num_proposal_samples=32,
                num_samples=32, video_frames=0, lpips=None, edge_prior=False)
sampler, opt = uniform_sampler(), adam(num_steps=10)
step = jax.jit(make_train_step(task, sampler, opt), donate_argnums=0)
state = init_train_state(task, sampler, opt, 1024, 0)
for _ in range(20):
    state, out = step(state)
jax.block_until_ready(out)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    state, out = step(state)
jax.block_until_ready(out)
print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def _faults_per_call(mode: str) -> tuple[str, float]:
    out = subprocess.run([sys.executable, "-c", _SCRIPT, mode], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    return out[-2], float(out[-1])


@pytest.mark.skipif(not on_glibc(), reason="the setting applies to glibc's malloc")
def test_freed_buffers_are_reused_without_page_faults(monkeypatch):
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    applied, reused = _faults_per_call("reuse")
    _, default = _faults_per_call("default")
    assert applied == "True"
    assert default > 10_000  # tens of MB of fresh 4 KiB pages per step without it ...
    assert reused < 0.05 * default  # ... and almost none with it


def test_a_late_call_changes_nothing_and_says_so(caplog):
    jnp.zeros(2).block_until_ready()  # JAX's backends have started
    assert reuse_freed_host_memory() is False
    if on_glibc():
        assert "before the first JAX computation" in caplog.text
