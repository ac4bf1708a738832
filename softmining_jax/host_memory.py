"""Host memory: let the C allocator reuse the CPU runtime's per-step buffers.

XLA's CPU runtime allocates the temporaries of each execution of a compiled step as one block
(on the CPU-sized NeRF config, about 90 MB) and frees it when the step ends. glibc's ``malloc``
serves a block that large with a fresh ``mmap`` every time (always above 32 MB, and a runtime
thread's own arena cannot hold more than 64 MB), so every step faults all of its temporaries
in again, page by page: tens of thousands of page faults, a large share of a CPU step's time
(``experiments/bench_step.py --nerf``; ``docs/results.md``). Accelerator steps keep their
temporaries in device memory and are not affected.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import sys

TRIM_THRESHOLD_BYTES = 1 << 30

# (mallopt parameter from malloc.h, its GLIBC_TUNABLES name, value)
_SETTINGS = ((-8, "arena_max", 1), (-4, "mmap_max", 0),
             (-1, "trim_threshold", TRIM_THRESHOLD_BYTES))

#: The same settings for a process started with them (``GLIBC_TUNABLES=...``), e.g. an older
#: checkout without :func:`reuse_freed_host_memory` (``experiments/bench_checkouts.py``).
GLIBC_TUNABLES = ":".join(f"glibc.malloc.{name}={value}" for _, name, value in _SETTINGS)


def on_glibc() -> bool:
    """Whether this process runs on Linux with glibc's ``malloc`` (where the settings apply)."""
    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def reuse_freed_host_memory() -> bool:
    """Make glibc keep freed memory for reuse instead of returning large blocks to the kernel.

    Three ``mallopt`` settings for this process: one malloc arena for all threads (a thread's own
    arena would still ``mmap`` every block over 64 MB), no ``mmap`` for large blocks (they come
    from the heap), and up to :data:`TRIM_THRESHOLD_BYTES` of free memory at the top of the heap
    kept rather than released. A freed step's block is then handed to the next step with its
    pages already mapped (after the first steps, a few or a few tens when the machine is busy,
    while the heap grows to hold free blocks that fit the runtime's requests). The cost: the
    process keeps the freed memory it has used (its peak) instead of giving it back, and threads
    share one arena (the runtime allocates a few large blocks per step, not many small ones).

    Call it before JAX's first computation: the runtime's threads choose their arena when they
    start, so a later call has no effect on them (this logs a warning and returns False). The
    command line (``python -m softmining_jax``) calls it first thing.

    Returns:
      True if the settings were applied; False where they cannot be (not Linux with glibc, or
      JAX's backends already started).
    """
    if not on_glibc():
        return False
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        logging.getLogger(__name__).warning(
            "reuse_freed_host_memory: JAX's backends already started; call it before the first "
            "JAX computation (host memory settings left unchanged).")
        return False
    mallopt = ctypes.CDLL("libc.so.6").mallopt
    return all(mallopt(option, value) == 1 for option, _, value in _SETTINGS)
