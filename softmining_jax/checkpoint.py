"""Orbax checkpoints of the whole training state (params, optimizer, step, RNG, sampler state)."""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Callable
from typing import Any

import jax
import orbax.checkpoint as ocp

log = logging.getLogger(__name__)

# The layout of the saved training state. 2: samplers are chains of moves (softmining_jax 0.2);
# checkpoints without a format were written by 0.1, whose sampler states had another structure.
CHECKPOINT_FORMAT = 2


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _keys_to_data(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _data_to_keys(tree: Any, template: Any) -> Any:
    return jax.tree_util.tree_map(
        lambda x, t: jax.random.wrap_key_data(x, impl=jax.random.key_impl(t)) if _is_key(t) else x,
        tree, template,
    )


class Checkpointer:
    """Saves and restores a training-state pytree plus a JSON metadata dict.

    Saves are synchronous and atomic (Orbax writes to a temporary folder and renames it), so a crash
    mid-save leaves the previous checkpoint loadable. Restore falls back to older checkpoints if
    the newest cannot be read, with a warning.

    Args:
      directory: the checkpoint folder (created).
      max_to_keep: number of checkpoints kept.
    """

    def __init__(self, directory: str | pathlib.Path, max_to_keep: int = 3):
        self.directory = pathlib.Path(directory).absolute()
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True,
                cleanup_tmp_directories=True,
            ),
            item_names=("state", "meta"),
        )

    def save(self, step: int, state: Any, meta: dict[str, Any]) -> None:
        """Save ``state`` (any pytree; typed PRNG keys allowed) at ``step``."""
        meta = {**meta, "format": CHECKPOINT_FORMAT}
        self.manager.save(
            int(step),
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(_keys_to_data(state)), meta=ocp.args.JsonSave(meta)
            ),
            force=True,
        )
        self.manager.wait_until_finished()

    def steps(self) -> list[int]:
        self.manager.reload()
        return sorted(self.manager.all_steps())

    def latest_meta(self) -> dict[str, Any] | None:
        """The metadata of the newest checkpoint whose metadata is readable (None if none)."""
        for step in reversed(self.steps()):
            try:
                restored = self.manager.restore(step, args=ocp.args.Composite(
                    meta=ocp.args.JsonRestore()))
            except Exception:  # noqa: BLE001 - unreadable: restore_latest will report it
                continue
            return dict(restored.meta)
        return None

    def restore_latest(self, template: Any) -> tuple[Any, dict[str, Any]] | None:
        """Restore the newest readable checkpoint into the structure of ``template``.

        Returns ``(state, meta)``, or None if there is no checkpoint.

        Raises:
          RuntimeError: checkpoints exist but none can be read.
        """
        steps = self.steps()
        abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, _keys_to_data(template))
        errors = []
        for step in reversed(steps):
            try:
                restored = self.manager.restore(
                    step,
                    args=ocp.args.Composite(
                        state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
                    ),
                )
            except Exception as e:  # noqa: BLE001 - any failure means: try the previous one
                log.warning("Checkpoint at step %d in %s is unreadable (%s); trying an older one.",
                            step, self.directory, e)
                errors.append(f"step {step}: {e}")
                continue
            self._quarantine([s for s in steps if s > step])
            return _data_to_keys(restored.state, template), dict(restored.meta)
        if steps:
            raise RuntimeError(
                f"No readable checkpoint in {self.directory}: " + "; ".join(errors)
            )
        return None

    def _quarantine(self, steps: list[int]) -> None:
        """Move unreadable checkpoints aside (kept for inspection) so training can overwrite
        their steps."""
        for step in steps:
            src = self.directory / str(step)
            if src.exists():
                dst = self.directory.parent / f"{self.directory.name}_unreadable_{step}"
                n = 0
                while dst.exists():
                    n += 1
                    dst = self.directory.parent / f"{self.directory.name}_unreadable_{step}_{n}"
                src.rename(dst)
                log.warning("Moved unreadable checkpoint %s to %s.", src, dst)
        if steps:
            self.manager.reload()

    def close(self) -> None:
        self.manager.close()


def restore_run(
    checkpointer: Checkpointer,
    layout: dict[str, Any],
    fresh: Callable[[int, bool], Any],
    on_device_change: str = "error",
    place: Callable[[Any], Any] = lambda state: state,
) -> tuple[Any, dict[str, Any]] | None:
    """Restore a run's newest readable checkpoint, reconciling its device layout.

    Args:
      checkpointer: the run's checkpoints.
      layout: this run's ``{"layout": "single" | "stacked", "num_devices": n}`` (saved in every
        checkpoint's metadata).
      fresh: ``fresh(num_devices, stacked) -> state``, a fresh state of a layout (host arrays;
        the restore template).
      on_device_change: when the checkpoint was written with another layout: ``"error"`` (a
        ``ValueError`` saying what to do) or ``"reset_sampler"`` (keep step, parameters and
        optimizer state; fresh sampler states for this layout).
      place: puts a state of this layout on its devices.

    Returns:
      ``(state, meta)``, or None when there is no checkpoint.
    """
    saved = checkpointer.latest_meta()
    if saved is not None and saved.get("format", 1) != CHECKPOINT_FORMAT:
        raise ValueError(
            f"The checkpoints in {checkpointer.directory} have format {saved.get('format', 1)} "
            f"(written by softmining_jax {'0.1' if 'format' not in saved else 'another version'});"
            f" this version reads format {CHECKPOINT_FORMAT} (since 0.2 a mining sampler's state "
            "is a chain of move states, so older sampler states cannot be restored). Use a new "
            "--workdir, or continue this run with the version that wrote it.")
    saved_layout = {k: saved.get(k, v) for k, v in layout.items()} if saved else layout
    if saved_layout == layout:
        return checkpointer.restore_latest(place(fresh(layout["num_devices"],
                                                       layout["layout"] == "stacked")))
    if on_device_change == "error":
        raise ValueError(
            f"The checkpoint in {checkpointer.directory.parent} was written with "
            f"{saved_layout['num_devices']} device(s) ({saved_layout['layout']} layout); this "
            f"run has {layout['num_devices']} ({layout['layout']}). Resume with the same device "
            "count and parallel mode, or set train_and_evaluate.on_device_change="
            "'reset_sampler' to keep the parameters and restart the sampler states, or use a "
            "new workdir.")
    old, meta = checkpointer.restore_latest(
        fresh(saved_layout["num_devices"], saved_layout["layout"] == "stacked"))
    state = fresh(layout["num_devices"], layout["layout"] == "stacked")
    log.warning("Device layout changed (%s -> %s): parameters kept, sampler states reset.",
                saved_layout, layout)
    return place(state.replace(step=old.step, params=old.params, opt_state=old.opt_state)), meta
