"""The train loop's periodic work as hooks.

A hook is called after a training step with the :class:`Run` (what the loop knows) and the
number of completed steps; it acts when its ``every`` divides that number (and after the last
step). The loop runs :class:`LogMetrics`, :class:`Evaluate` and :class:`SaveCheckpoint`, in that
order, plus any hooks a caller adds. :class:`DenseRefresh` runs *before* a step: it renders the
per-pixel error maps a sampler's ``refresh`` consumes. It is the one implementation used by the
single-device loop, the data-parallel loop, the timing harness and a loop of your own::

    refresh = DenseRefresh(every=100).bind(task, sampler)
    for step in range(num_steps):
        state = refresh(step, state)
        state, metrics = train_step(state)
"""

from __future__ import annotations

import dataclasses
import numbers
import pathlib
import time
from collections.abc import Callable
from typing import Any, Protocol

import jax

from softmining_jax import parallel
from softmining_jax.plots import save_run_plots
from softmining_jax.run_log import MetricsLog
from softmining_jax.samplers import Sampler
from softmining_jax.step import TrainState
from softmining_jax.tasks import dense
from softmining_jax.tasks.base import Task


def _check_every(owner: str, every: int) -> int:
    if isinstance(every, bool) or int(every) != every or int(every) < 1:
        raise ValueError(f"{owner}.every must be a positive whole number of steps, got {every!r}.")
    return int(every)


@dataclasses.dataclass(frozen=True)
class DenseRefresh:
    """Every ``every`` steps (before the step), render each training image's per-pixel L1 error
    and pass it to the sampler's ``refresh``.

    Attributes:
      every: steps between refreshes (the first is at step ``every``).
      epochs: if set, refresh every ``epochs * pixels / (stride^2 * batch_size)`` steps instead
        (rounded, at least 1), i.e. after the training samples have made as many field
        evaluations as ``epochs`` refreshes' renders: a refresh then costs about ``epochs``
        epochs' worth of training forward passes, whatever the image size.
      stride: render one pixel per ``stride x stride`` block, whose error fills the block
        (``stride^2`` times cheaper; which pixel rotates from one refresh to the next; 1: every
        pixel), or ``"auto"``: 1 unless the images have more pixels than ``COVER_STEPS`` steps'
        samples (per device), then the smallest stride that renders no more
        (:func:`~softmining_jax.tasks.dense.auto_stride`). See :mod:`softmining_jax.tasks.dense`.
    """

    every: int = 1000
    stride: int | str = 1
    epochs: float | None = None

    def __post_init__(self):
        _check_every("DenseRefresh", self.every)
        if self.epochs is not None and not (isinstance(self.epochs, (int, float))
                                            and self.epochs > 0):
            raise ValueError(f"DenseRefresh.epochs must be a number > 0 or None, got "
                             f"{self.epochs!r}.")
        if self.stride != "auto" and (isinstance(self.stride, bool)
                                      or not isinstance(self.stride, numbers.Real)
                                      or int(self.stride) != self.stride or self.stride < 1):
            raise ValueError("DenseRefresh.stride must be a positive whole number of pixels or "
                             f"'auto', got {self.stride!r}.")

    def pixel_stride(self, task: Task, batch_size: int | None = None,
                     num_devices: int | None = None) -> int:
        """The stride in pixels for ``task`` trained with ``batch_size`` samples per step over
        ``num_devices`` devices (``"auto"`` needs the batch size: it is set per device)."""
        if self.stride != "auto":
            return int(self.stride)
        if batch_size is None:
            raise ValueError("DenseRefresh.stride = 'auto' needs the batch size "
                             "(bind(..., batch_size=)).")
        return dense.auto_stride(task.domain.sizes, batch_size // (num_devices or 1))

    def interval(self, task: Task, batch_size: int | None = None,
                 num_devices: int | None = None) -> int:
        """Steps between refreshes for ``task`` trained with ``batch_size`` samples per step
        (over ``num_devices`` devices)."""
        if self.epochs is None:
            return int(self.every)
        if batch_size is None:
            raise ValueError("DenseRefresh.epochs needs the batch size (bind(..., batch_size=)).")
        stride = self.pixel_stride(task, batch_size, num_devices)
        return max(1, round(self.epochs * task.domain.num_pixels / (stride**2 * batch_size)))

    def bind(self, task: Task, sampler: Sampler, num_devices: int | None = None,
             batch_size: int | None = None) -> Callable[[int, TrainState], TrainState]:
        """``refresh(step, state) -> state`` for this task and sampler: a no-op unless due (and
        always for a sampler with no ``refresh``). With ``num_devices`` the state is a
        data-parallel one (:mod:`softmining_jax.parallel`) and every device gets the maps.
        ``batch_size`` (global) is needed with ``epochs`` or ``stride = "auto"``. The
        function's ``every`` attribute is the interval in steps."""
        every = self.interval(task, batch_size, num_devices)
        if sampler.refresh is None:
            def nothing(step, state, force=False):
                return state

            nothing.every = every
            return nothing
        stride = self.pixel_stride(task, batch_size, num_devices)
        apply = (jax.jit(sampler.refresh) if num_devices is None
                 else parallel.make_parallel_refresh(sampler))

        def refresh(step: int, state: TrainState, force: bool = False) -> TrainState:
            if not (force or (step > 0 and step % every == 0)):
                return state
            maps = task.dense_l1(parallel.local_copy(state.params), stride=stride,
                                 phase=max(step // every - 1, 0))
            if num_devices is not None:
                maps = parallel.replicate(maps, num_devices)
            return state.replace(sampler_state=apply(state.sampler_state, maps))

        refresh.every = every
        return refresh


@dataclasses.dataclass
class Run:
    """What the loop knows after a step; hooks read it (and :class:`Evaluate` adds to it).

    Attributes:
      workdir: the output folder. task, sampler: what is trained and how.
      state: the current :class:`~softmining_jax.step.TrainState`.
      record: the metrics of the last step (host floats), with ``step``, ``elapsed_s`` and
        ``train_s``; :class:`Evaluate` adds ``eval_*``.
      log: the run's :class:`~softmining_jax.run_log.MetricsLog`.
      num_steps: the run's length. lead: whether this process writes files.
      stacked: whether ``state`` is a data-parallel one.
      started: ``time.perf_counter()`` at the run's (virtual) start, resumed runs included.
      last: the latest record written (an evaluation's once there is one).
      progress: a tqdm bar or None.
    """

    workdir: pathlib.Path
    task: Task
    sampler: Sampler
    state: TrainState
    log: MetricsLog
    num_steps: int
    lead: bool = True
    stacked: bool = False
    started: float = 0.0
    record: dict[str, Any] = dataclasses.field(default_factory=dict)
    last: dict[str, Any] = dataclasses.field(default_factory=dict)
    progress: Any = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class Hook(Protocol):
    """Periodic work after a step: ``hook(run, step)`` when ``step % hook.every == 0`` or the run
    ends."""

    every: int

    def __call__(self, run: Run, step: int) -> None: ...


@dataclasses.dataclass
class LogMetrics:
    """Write the step's metrics to ``metrics.jsonl`` (and TensorBoard) every ``every`` steps."""

    every: int = 100

    def __call__(self, run: Run, step: int) -> None:
        run.log.write(run.record)
        run.last = dict(run.record)
        if run.progress is not None:
            run.progress.set_postfix(loss=f"{run.record['loss']:.4g}",
                                     psnr=f"{run.record['train_psnr']:.2f}")


@dataclasses.dataclass
class Evaluate:
    """Evaluate the task (``eval_*`` in ``metrics.jsonl``) and, with ``plots``, redraw
    ``plots/`` every ``every`` steps."""

    every: int = 500
    plots: bool = True

    def __call__(self, run: Run, step: int) -> None:
        scores, pictures = run.task.evaluate(parallel.local_copy(run.state.params),
                                             final=step >= run.num_steps)
        record = {"step": step, "elapsed_s": run.elapsed(),
                  "train_s": run.record.get("train_s", 0.0)}
        record.update({f"eval_{k}": v for k, v in scores.items()})
        run.log.write(record)
        run.last = {**run.record, **record} if run.record.get("step") == step else record
        if run.lead:
            run.log.images(step, pictures)
        if not self.plots or "reconstruction" not in pictures:
            return
        pooled = "samples_pooled_background" in pictures
        positions = sample_positions(run.state.sampler_state, run.sampler, run.stacked, pooled)
        if run.lead:
            save_run_plots(run.workdir / "plots", run.log.records, pictures, positions,
                           f"{run.task.name}: {run.workdir.parent.name}/{run.workdir.name}",
                           step=step)


@dataclasses.dataclass
class SaveCheckpoint:
    """Save the whole training state every ``every`` steps (``checkpointer``: a
    :class:`~softmining_jax.checkpoint.Checkpointer`; ``meta``: extra metadata saved with it)."""

    checkpointer: Any
    every: int = 1000
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __call__(self, run: Run, step: int) -> None:
        run.log.flush()  # every row up to a checkpoint is on disk before the checkpoint is
        self.checkpointer.save(step, run.state, {
            "elapsed_s": run.elapsed(), "train_s": run.record.get("train_s", 0.0), "step": step,
            **self.meta})


def sample_positions(sampler_state: Any, sampler: Sampler, stacked: bool,
                     pooled: bool) -> Any:
    """``(N, 2)`` current sample positions of every device, for plots: on image 0 only, or
    (``pooled``) on every image, all in one pixel frame (views of one scene, same size)."""
    import numpy as np

    sample = jax.vmap(sampler.sample, in_axes=(0, None)) if stacked else sampler.sample
    samples = parallel.gather_to_host(sample(sampler_state, jax.random.key(0)))
    positions = np.asarray(samples.positions).reshape(-1, 2)
    if pooled:
        return positions
    return positions[np.asarray(samples.image_ids).reshape(-1) == 0]

