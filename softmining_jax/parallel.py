"""Data parallelism: the per-device step run under ``jax.pmap`` or ``jax.jit(jax.shard_map(...))``.

Layout of a data-parallel :class:`~softmining_jax.train.TrainState`: ``step``, ``params``,
``opt_state`` and the non-finite counters are replicated (no device axis); ``sampler_state`` and
``key`` are stacked with a leading device axis of length ``num_devices``: each device owns its
share of the sample population (``batch_size / num_devices`` samples) and its own RNG stream.
Parameter gradients are averaged across devices. The layout is the same for ``pmap`` and
``shard_map``, so checkpoints are interchangeable between the two.

Multi-host: call :func:`initialize_distributed` first; every process then runs the same program,
``jax.devices()`` spans all hosts and each process feeds its local devices.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from softmining_jax.samplers import Sampler
from softmining_jax.step import TrainState, make_train_step
from softmining_jax.tasks.base import Task

AXIS = "data"
MODES = ("none", "pmap", "shard_map")


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"parallel must be one of {MODES}, got {mode!r}.")


def resolve_num_devices(num_devices: int | None) -> int:
    """``num_devices`` (default: all devices of all processes), validated."""
    available = jax.device_count()
    n = available if num_devices is None else int(num_devices)
    if not 1 <= n <= available:
        raise ValueError(f"num_devices={n} but {available} devices are available "
                         f"({jax.devices()[0].platform}).")
    if jax.process_count() > 1 and n != available:
        raise ValueError("Multi-host runs use every device: leave num_devices unset.")
    return n


def local_batch_size(batch_size: int, num_devices: int) -> int:
    """Samples per device; the global ``batch_size`` must divide evenly."""
    if batch_size % num_devices:
        raise ValueError(
            f"batch_size={batch_size} does not divide across {num_devices} devices; use a "
            f"multiple of {num_devices} (e.g. {num_devices * max(1, batch_size // num_devices)})."
        )
    return batch_size // num_devices


def data_mesh(num_devices: int) -> Mesh:
    """A 1-D mesh named ``"data"`` over the first ``num_devices`` devices."""
    return Mesh(np.asarray(jax.devices()[:num_devices]), (AXIS,))


def _stack(trees: list[Any]) -> Any:
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *trees)


def state_specs(sharded: Any, replicated: Any) -> TrainState:
    """A :class:`TrainState`-shaped prefix tree: ``sharded`` for per-device fields, else
    ``replicated``."""
    return TrainState(step=replicated, params=replicated, opt_state=replicated,
                      sampler_state=sharded, key=sharded, nonfinite_steps=replicated,
                      first_nonfinite_step=replicated)


def init_parallel_state(
    task: Task, sampler: Sampler, optimizer: optax.GradientTransformation, batch_size: int,
    seed: int, num_devices: int, params: Any = None, opt_state: Any = None,
) -> TrainState:
    """Fresh data-parallel state (host arrays; see :func:`place_state`).

    Parameters come from ``seed`` exactly as in a single-device run; device ``d`` initialises its
    sampler from ``fold_in(sampler_key, d)`` and steps with ``fold_in(loop_key, d)``. Pass
    ``params``/``opt_state`` to keep trained ones (e.g. after a change of device count).
    """
    local = local_batch_size(batch_size, num_devices)
    k_params, k_sampler, k_loop = jax.random.split(jax.random.key(seed), 3)
    if params is None:
        params = task.init_params(k_params)
        opt_state = optimizer.init(params)
    sampler_states = [sampler.init(jax.random.fold_in(k_sampler, d), task.domain, local)
                      for d in range(num_devices)]
    keys = jnp.stack([jax.random.fold_in(k_loop, d) for d in range(num_devices)])
    return TrainState(
        step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state,
        sampler_state=_stack(sampler_states), key=keys,
        nonfinite_steps=jnp.zeros((), jnp.int32), first_nonfinite_step=jnp.full((), -1, jnp.int32),
    )


def place_state(state: TrainState, mode: str, num_devices: int) -> TrainState:
    """Put a data-parallel state on its devices (replicated / split along the device axis).

    The same placement serves ``pmap`` (which JAX implements on ``shard_map`` over a mesh named
    after the axis) and ``shard_map``.
    """
    check_mode(mode)
    mesh = data_mesh(num_devices)
    shardings = state_specs(NamedSharding(mesh, P(AXIS)), NamedSharding(mesh, P()))
    return jax.tree_util.tree_map(
        lambda spec, sub: jax.tree_util.tree_map(lambda x: _place(x, spec), sub),
        shardings, state, is_leaf=lambda x: isinstance(x, NamedSharding),
    )


def replicate(tree: Any, num_devices: int) -> Any:
    """Replicate host values (the same on every process) over the data mesh."""
    sharding = NamedSharding(data_mesh(num_devices), P())
    return jax.tree_util.tree_map(lambda x: _place(x, sharding), tree)


def _place(x: Any, sharding: NamedSharding) -> jax.Array:
    """Global array from a value every process holds in full (works across hosts)."""
    if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        impl = jax.random.key_impl(x)
        return jax.random.wrap_key_data(_place(jax.random.key_data(x), sharding), impl=impl)
    host = np.asarray(jax.device_get(x))
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def make_parallel_step(
    task: Task, sampler: Sampler, optimizer: optax.GradientTransformation, mode: str,
    num_devices: int,
):
    """The jitted data-parallel step ``state -> (state, metrics)`` for ``mode`` ``"pmap"`` or
    ``"shard_map"``. Metrics are averaged over devices (replicated)."""
    per_device = make_train_step(task, sampler, optimizer, axis_name=AXIS)
    if mode == "pmap":
        specs = state_specs(0, None)
        return jax.pmap(per_device, axis_name=AXIS, in_axes=(specs,), out_axes=(specs, None),
                        devices=jax.devices()[:num_devices], donate_argnums=0)
    if mode != "shard_map":
        raise ValueError(f"make_parallel_step needs 'pmap' or 'shard_map', got {mode!r}.")

    def local(state: TrainState):
        squeeze = state.replace(
            sampler_state=jax.tree_util.tree_map(lambda x: x[0], state.sampler_state),
            key=state.key[0])
        new, out = per_device(squeeze)
        return new.replace(
            sampler_state=jax.tree_util.tree_map(lambda x: x[None], new.sampler_state),
            key=new.key[None]), out

    specs = state_specs(P(AXIS), P())
    # check_vma=False: like pmap, replicated inputs are not auto-psummed in the backward pass;
    # the step averages parameter gradients itself (pmean), so both modes compute the same thing.
    mapped = jax.shard_map(local, mesh=data_mesh(num_devices), in_specs=(specs,),
                           out_specs=(specs, P()), check_vma=False)
    return jax.jit(mapped, donate_argnums=0)


def make_parallel_refresh(sampler: Sampler):
    """``refresh`` applied to every device's sampler state with the same dense error maps."""
    return jax.jit(jax.vmap(sampler.refresh, in_axes=(0, None)))


def local_copy(tree: Any) -> Any:
    """Replicated global arrays as this process's own copy (for host work such as evaluation in
    a multi-host run); the tree itself in a single-process run."""
    if jax.process_count() == 1:
        return tree
    return jax.tree_util.tree_map(lambda x: x.addressable_data(0), tree)


def gather_to_host(tree: Any) -> Any:
    """Every process's share of ``tree`` as host arrays (a collective in a multi-host run: every
    process must call it)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        tree = multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> None:
    """Join a multi-host run (``jax.distributed.initialize``).

    Arguments default to the environment variables ``SOFTMINING_COORDINATOR`` (host:port),
    ``SOFTMINING_NUM_PROCESSES`` and ``SOFTMINING_PROCESS_ID``; if none is set either, JAX's own
    cluster detection (SLURM, Open MPI, Cloud TPU, ...) is used. On CPU the gloo collectives are
    enabled so several processes on one machine can train together (tests, debugging).
    """
    env = os.environ
    coordinator_address = coordinator_address or env.get("SOFTMINING_COORDINATOR")
    if num_processes is None and "SOFTMINING_NUM_PROCESSES" in env:
        num_processes = int(env["SOFTMINING_NUM_PROCESSES"])
    if process_id is None and "SOFTMINING_PROCESS_ID" in env:
        process_id = int(env["SOFTMINING_PROCESS_ID"])
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except Exception:  # noqa: BLE001 - option absent in some builds; only matters on CPU
        pass
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id)
