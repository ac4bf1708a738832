"""Orbax checkpoints of the whole training state (params, optimizer, step, RNG, sampler state)."""

from __future__ import annotations

import hashlib
import logging
import pathlib
import shutil
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
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


class StructureMismatch(ValueError):
    """The checkpoint holds a state of another structure (another sampler or task config)."""


def structure_fingerprint(state: Any) -> str:
    """A hash of the state's tree structure, shapes and dtypes (not its values)."""
    leaves, treedef = jax.tree_util.tree_flatten(_keys_to_data(state))
    text = str(treedef) + "".join(f"{np.shape(x)}{getattr(x, 'dtype', type(x))}" for x in leaves)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def state_checksum(state: Any) -> str | None:
    """SHA-256 of every array of ``state`` (shapes, dtypes and bytes), or None when some array
    is not fully on this process (a multi-host state: its bytes are not all here)."""
    digest = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(_keys_to_data(state)):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            return None
        array = np.asarray(jax.device_get(leaf))
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _non_finite(state: Any) -> bool:
    """Whether any floating-point array of ``state`` holds NaN or inf.

    Arrays spread over several processes (multi-host) are checked with one jitted reduction
    that every process runs (saving is collective), so all processes reach the same answer."""
    spread, local = [], []
    for leaf in jax.tree_util.tree_leaves(_keys_to_data(state)):
        if not np.issubdtype(leaf.dtype if isinstance(leaf, jax.Array)
                             else np.asarray(leaf).dtype, np.floating):
            continue
        on_many = isinstance(leaf, jax.Array) and not leaf.is_fully_addressable
        (spread if on_many else local).append(leaf)
    if spread and int(np.asarray(_count_non_finite(spread).addressable_data(0))) > 0:
        return True
    return any(not np.all(np.isfinite(np.asarray(jax.device_get(leaf)))) for leaf in local)


@jax.jit
def _count_non_finite(arrays: list[jax.Array]) -> jax.Array:
    """Number of NaN or inf entries over ``arrays`` (a scalar, replicated on every device)."""
    return sum(jnp.sum(~jnp.isfinite(a)) for a in arrays)


def _complete(folder: pathlib.Path) -> bool:
    """Whether a step folder holds a whole checkpoint (Orbax's metadata and both items)."""
    return ((folder / "_CHECKPOINT_METADATA").is_file() and (folder / "state").is_dir()
            and (folder / "meta").is_dir())


def remove_interrupted_deletions(directory: pathlib.Path) -> list[int]:
    """Remove step folders that are incomplete while a newer complete one exists: the rest of an
    old checkpoint whose deletion (``max_to_keep``) was interrupted. Returns their steps."""
    if not directory.is_dir():
        return []
    steps = sorted(int(p.name) for p in directory.iterdir() if p.is_dir() and p.name.isdigit())
    complete = [s for s in steps if _complete(directory / str(s))]
    removed = [s for s in steps if complete and s < complete[-1] and s not in complete]
    for step in removed:
        shutil.rmtree(directory / str(step), ignore_errors=True)
        log.info("Removed %s: the rest of an interrupted deletion of an old checkpoint.",
                 directory / str(step))
    return removed


class Checkpointer:
    """Saves and restores a training-state pytree plus a JSON metadata dict.

    Saves are synchronous and atomic (Orbax writes to a temporary folder and renames it), so a crash
    mid-save leaves the previous checkpoint loadable. Each checkpoint's metadata holds a SHA-256
    of the saved arrays and a fingerprint of the state's structure; restore verifies both and
    refuses non-finite values, and falls back to older checkpoints (with a warning) if the
    newest cannot be read.

    Args:
      directory: the checkpoint folder (created).
      max_to_keep: number of checkpoints kept (at least 1).
    """

    def __init__(self, directory: str | pathlib.Path, max_to_keep: int = 3):
        if isinstance(max_to_keep, bool) or int(max_to_keep) != max_to_keep or max_to_keep < 1:
            raise ValueError(f"max_checkpoints must be a whole number >= 1 (the run must keep "
                             f"its latest checkpoint), got {max_to_keep!r}.")
        self.directory = pathlib.Path(directory).absolute()
        remove_interrupted_deletions(self.directory)
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
        if _non_finite(state):
            raise FloatingPointError(f"refusing to checkpoint a non-finite state at step {step}.")
        meta = {**meta, "format": CHECKPOINT_FORMAT, "checksum": state_checksum(state),
                "structure": structure_fingerprint(state)}
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

        A checkpoint is unreadable when Orbax cannot read it, its arrays do not match the
        checksum saved with them, or they hold NaN or inf. Unreadable checkpoints newer than the
        one restored are moved aside (``checkpoints_unreadable_<step>``).

        Returns ``(state, meta)``, or None if there is no checkpoint.

        Raises:
          RuntimeError: checkpoints exist but none can be read (all are moved aside; the message
            says where, and that running again starts afresh).
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
                self._verify(restored.state, dict(restored.meta))
            except Exception as e:  # noqa: BLE001 - any failure means: try the previous one
                reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else repr(e)
                log.warning("Checkpoint at step %d in %s is unreadable (%s); trying an older one.",
                            step, self.directory, reason)
                errors.append(f"step {step}: {reason}")
                continue
            self._quarantine([s for s in steps if s > step])
            return _data_to_keys(restored.state, template), dict(restored.meta)
        if steps:
            moved = self._quarantine(steps)
            raise RuntimeError(
                f"No readable checkpoint in {self.directory} (tried {'; '.join(errors)}). They "
                f"were moved to {', '.join(str(m) for m in moved)}; run the same command again "
                "to start afresh, or use a new --workdir.")
        return None

    @staticmethod
    def _verify(state: Any, meta: dict[str, Any]) -> None:
        checksum = meta.get("checksum")
        if checksum is not None and state_checksum(state) != checksum:
            raise ValueError("its arrays do not match the checksum saved with them (corrupt)")
        if _non_finite(state):
            raise ValueError("it holds non-finite values")

    def _quarantine(self, steps: list[int]) -> list[pathlib.Path]:
        """Move unreadable checkpoints aside (kept for inspection) so training can overwrite
        their steps; returns where they went."""
        moved = []
        for step in steps:
            src = self.directory / str(step)
            if src.exists():
                dst = self.directory.parent / f"{self.directory.name}_unreadable_{step}"
                n = 0
                while dst.exists():
                    n += 1
                    dst = self.directory.parent / f"{self.directory.name}_unreadable_{step}_{n}"
                src.rename(dst)
                moved.append(dst)
                log.warning("Moved unreadable checkpoint %s to %s.", src, dst)
        if steps:
            self.manager.reload()
        return moved

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
        template = fresh(layout["num_devices"], layout["layout"] == "stacked")
        if saved is not None and saved.get("structure", structure_fingerprint(template)) != (
                structure_fingerprint(template)):
            raise StructureMismatch(
                f"The checkpoints in {checkpointer.directory} hold a training state of another "
                "structure: this workdir was trained with a different sampler or task config. "
                "Use a new --workdir (or the config it was trained with).")
        return checkpointer.restore_latest(place(template))
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
