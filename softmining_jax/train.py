"""The training loop: the jitted step (:mod:`softmining_jax.step`), a dense refresh before each
step where due, and the periodic work after it as hooks (:mod:`softmining_jax.hooks`): log,
evaluate and plot, checkpoint. ``train_and_evaluate`` is the whole run; the CLI
(``softmining-train``) wires it with gin.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import os
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
import optax

from softmining_jax import parallel as par
from softmining_jax.checkpoint import Checkpointer, StructureMismatch, restore_run
from softmining_jax.hooks import DenseRefresh, Evaluate, Hook, LogMetrics, Run, SaveCheckpoint
from softmining_jax.optim import adam
from softmining_jax.run_log import MetricsLog, write_atomically
from softmining_jax.samplers import Sampler, for_run, soft_mining_sampler
from softmining_jax.step import TrainState, all_finite, init_train_state, make_train_step
from softmining_jax.tasks import target_rule
from softmining_jax.tasks.base import Task

log = logging.getLogger(__name__)

__all__ = ["NonFiniteError", "train_and_evaluate"]


class NonFiniteError(FloatingPointError):
    """A training step produced a non-finite loss or gradient."""


def whole_number(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int, or a ``ValueError`` naming ``train_and_evaluate.<name>``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"train_and_evaluate.{name} must be a whole number >= {minimum}, got "
                         f"{value!r}.")
    return int(value)


def _check_args(values: dict[str, Any], on_nonfinite: str, on_device_change: str) -> None:
    if on_device_change not in ("error", "reset_sampler"):
        raise ValueError(f"on_device_change must be 'error' or 'reset_sampler', got "
                         f"{on_device_change!r}.")
    if on_nonfinite not in ("stop", "skip"):
        raise ValueError(f"on_nonfinite must be 'stop' or 'skip', got {on_nonfinite!r}.")
    minimum = {"seed": 0, "num_steps": 0, "max_checkpoints": 1}
    for name, value in values.items():
        whole_number(name, value, minimum.get(name, 1))


def _writable(workdir: pathlib.Path) -> pathlib.Path:
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        # One probe file per process: processes of a multi-host run share the workdir.
        probe = workdir / f".write_test_{os.getpid()}_{jax.process_index()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise PermissionError(f"workdir {workdir} is not writable: {e}") from e
    return workdir


def train_and_evaluate(
    workdir: str | pathlib.Path,
    task: Task,
    sampler: Sampler | None = None,
    batch_size: int = 512,
    num_steps: int = 2000,
    seed: int = 0,
    optimizer: optax.GradientTransformation | None = None,
    log_every: int = 100,
    eval_every: int = 500,
    checkpoint_every: int = 1000,
    max_checkpoints: int = 3,
    plots: bool = True,
    progress: bool = True,
    tensorboard: bool = True,
    on_nonfinite: str = "stop",
    operative_config: str | Callable[[], str] | None = None,
    parallel: str = "none",
    num_devices: int | None = None,
    on_device_change: str = "error",
    dense_refresh: DenseRefresh | None = None,
    hooks: Sequence[Hook] = (),
) -> dict[str, Any]:
    """Train ``task`` with ``sampler``; resume from ``workdir`` if it has checkpoints.

    Writes to ``workdir``: ``metrics.jsonl`` (``step``, ``loss``, ``mse``, ``train_psnr``, the
    sampler's diagnostics, ``elapsed_s`` wall seconds, ``train_s`` seconds spent in training steps
    and dense refreshes; ``eval_*`` on evaluation lines), ``checkpoints/``, ``plots/``,
    ``tensorboard/``, ``final_metrics.json`` and ``config.gin`` (when ``operative_config`` is
    given).

    Args:
      workdir: output folder; running again with the same folder resumes.
      task: what to fit. sampler: how to sample (default: soft mining).
      batch_size: samples per step (global). num_steps: total steps.
      seed: seeds parameters, sampler and every step's randomness.
      optimizer: default :func:`~softmining_jax.optim.adam` decaying over ``num_steps``.
      log_every, eval_every, checkpoint_every: intervals in steps (the last step does all three).
      max_checkpoints: checkpoints kept.
      plots, progress, tensorboard: write plots, show a progress bar, write TensorBoard events.
      on_nonfinite: ``"stop"`` (raise :class:`NonFiniteError` naming the step; the checkpoint of
        that interval is not written) or ``"skip"`` (skip such steps and carry on).
      operative_config: the run's configuration (text, or a function returning it once the
        objects are built, e.g. ``gin.operative_config_str``), saved as ``config.gin`` when a
        run starts; a later start with another configuration adds ``config.1.gin``, ...
      parallel: ``"none"`` (one device, plain ``jit``), ``"pmap"`` or ``"shard_map"`` (data
        parallel over ``num_devices`` devices, default all; ``batch_size`` is global and must
        divide evenly). See :mod:`softmining_jax.parallel`.
      on_device_change: when resuming a checkpoint written with another device count or layout:
        ``"error"`` (stop with instructions) or ``"reset_sampler"`` (keep params, optimizer state
        and step, start fresh sampler states for the new device count).
      dense_refresh: when and how the dense error maps of a sampler with a ``refresh`` are
        rendered (default ``DenseRefresh()``: every 1000 steps, every pixel).
      hooks: extra periodic work after the built-in hooks (see :class:`softmining_jax.hooks.Hook`).

    Returns:
      The final metrics record (with ``eval_psnr``).
    """
    par.check_mode(parallel)
    _check_args({"seed": seed, "num_steps": num_steps, "batch_size": batch_size,
                 "log_every": log_every, "eval_every": eval_every,
                 "checkpoint_every": checkpoint_every, "max_checkpoints": max_checkpoints},
                on_nonfinite, on_device_change)
    workdir = _writable(pathlib.Path(workdir))
    sampler = for_run(sampler if sampler is not None else soft_mining_sampler(),
                      max(num_steps, 1))
    target_rule.check_sampler_rule(task, sampler)
    optimizer = optimizer if optimizer is not None else adam(num_steps=max(num_steps, 1))
    dense_refresh = dense_refresh if dense_refresh is not None else DenseRefresh()
    config = operative_config() if callable(operative_config) else operative_config

    stacked = parallel != "none"
    ndev = par.resolve_num_devices(num_devices) if stacked else 1

    def fresh(devices: int, stacked_layout: bool) -> TrainState:  # host arrays, not placed
        if not stacked_layout:
            return init_train_state(task, sampler, optimizer, batch_size, seed)
        return par.init_parallel_state(task, sampler, optimizer, batch_size, seed, devices)

    def place(state: TrainState) -> TrainState:
        return par.place_state(state, parallel, ndev) if stacked else state

    if stacked:
        step_fn = par.make_parallel_step(task, sampler, optimizer, parallel, ndev)
    else:
        step_fn = jax.jit(make_train_step(task, sampler, optimizer), donate_argnums=0)
    refresh = dense_refresh.bind(task, sampler, ndev if stacked else None, batch_size)
    params_finite = jax.jit(all_finite)

    layout = {"layout": "stacked" if stacked else "single", "num_devices": ndev}
    ckpt = Checkpointer(workdir / "checkpoints", max_to_keep=max_checkpoints)
    try:
        restored = restore_run(ckpt, layout, fresh, on_device_change, place)
    except StructureMismatch as e:
        ckpt.close()
        raise StructureMismatch(f"{e}{_config_diff(workdir, config)}") from None
    except BaseException:
        ckpt.close()
        raise
    start_wall, train_s = 0.0, 0.0
    if restored is None:
        state = place(fresh(ndev, stacked))
    else:
        state, meta = restored
        start_wall, train_s = float(meta.get("elapsed_s", 0.0)), float(meta.get("train_s", 0.0))
        log.info("Resumed from step %d in %s", int(state.step), workdir)
    first_step = int(state.step)
    lead = jax.process_index() == 0
    finished = workdir / "final_metrics.json"
    if restored is not None and first_step >= num_steps and finished.is_file():
        ckpt.close()  # a finished run: rerunning it changes nothing
        log.info("The run in %s is already finished (step %d).", workdir, first_step)
        return json.loads(finished.read_text())
    if config is not None and lead:
        _save_config(workdir, config)
    run = Run(workdir=workdir, task=task, sampler=sampler, state=state, num_steps=num_steps,
              log=MetricsLog(workdir, first_step if restored is not None else None, tensorboard,
                             enabled=lead),
              lead=lead, stacked=stacked, started=time.perf_counter() - start_wall)
    evaluate = Evaluate(eval_every, plots)
    periodic: list[Hook] = [LogMetrics(log_every), evaluate,
                            SaveCheckpoint(ckpt, checkpoint_every, layout), *hooks]
    if restored is None:
        evaluate(run, 0)

    if progress:
        from tqdm.auto import tqdm

        run.progress = tqdm(total=num_steps, initial=first_step, desc=task.name,
                            dynamic_ncols=True)
    try:
        tick = time.perf_counter()
        for step in range(first_step, num_steps):
            run.state = refresh(step, run.state)
            run.state, step_metrics = step_fn(run.state)
            done = step + 1
            if run.progress is not None:
                run.progress.update(1)
            due = [h for h in periodic if done % h.every == 0 or done == num_steps]
            if not due:
                continue
            step_metrics = jax.device_get(step_metrics)
            train_s += time.perf_counter() - tick
            bad = int(run.state.nonfinite_steps)
            if not bool(params_finite(run.state.params)):
                raise NonFiniteError(
                    f"The parameters became non-finite by step {done} although the step skips "
                    "non-finite gradients (is adam.learning_rate too large?); stopping without "
                    "checkpointing.")
            if bad and on_nonfinite == "stop":
                raise NonFiniteError(
                    f"Non-finite loss or gradient at step {int(run.state.first_nonfinite_step)} "
                    f"(loss={float(step_metrics['loss'])}); stopping without checkpointing. Set "
                    "train_and_evaluate.on_nonfinite='skip' to skip such steps instead."
                )
            run.record = {"step": done, "elapsed_s": run.elapsed(), "train_s": train_s,
                          **{k: float(v) for k, v in step_metrics.items()}}
            if bad:
                run.record["nonfinite_steps"] = bad
            for hook in due:
                hook(run, done)
            tick = time.perf_counter()
    finally:
        if run.progress is not None:
            run.progress.close()
        run.log.close()
        ckpt.close()
    return _finish(run)


def _config_files(workdir: pathlib.Path) -> list[pathlib.Path]:
    """``config.gin``, ``config.1.gin``, ... of a workdir, oldest first."""
    files = [p for p in workdir.glob("config*.gin")
             if p.name == "config.gin" or p.name[7:-4].isdigit()]
    return sorted(files, key=lambda p: 0 if p.name == "config.gin" else int(p.name[7:-4]))


def _save_config(workdir: pathlib.Path, config: str) -> None:
    """Save ``config`` as ``config.gin``, or as the next ``config.N.gin`` when it differs from
    the latest one kept (earlier ones are never overwritten)."""
    files = _config_files(workdir)
    if files and files[-1].read_text() == config:
        return
    name = "config.gin" if not files else f"config.{len(files)}.gin"
    (workdir / name).write_text(config)


def _config_diff(workdir: pathlib.Path, config: str | None) -> str:
    """The lines that differ between the latest saved config and ``config`` (for errors)."""
    files = _config_files(workdir)
    if config is None or not files:
        return ""
    lines = [line for line in difflib.unified_diff(
        files[-1].read_text().splitlines(), config.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    if not lines:
        return ""
    return (f" Its config ({files[-1].name}, -) against this run's (+):\n  "
            + "\n  ".join(lines[:40]))


def _finish(run: Run) -> dict[str, Any]:
    """Write the final outputs (``final_metrics.json``, the task's own) and return the last
    record: every metric logged at the last step (training and evaluation)."""
    last = run.last
    if "eval_psnr" not in last and run.log.records:  # nothing ran: e.g. killed after the save
        final = max(r["step"] for r in run.log.records)
        last = {}
        for record in run.log.records:
            if record["step"] == final:
                last.update(record)
    if run.lead:
        last = {**last, **(run.task.write_outputs(par.local_copy(run.state.params),
                                                  run.workdir) or {})}
        write_atomically(run.workdir / "final_metrics.json", json.dumps(last, indent=2))
    if math.isfinite(last.get("eval_psnr", math.nan)):
        log.debug("final eval PSNR %.2f dB", last["eval_psnr"])
    return last
