"""Shared test fixtures."""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile

import pytest

# Keep XLA from grabbing every core on small CI machines; tests are tiny.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

_CACHE_ENV = "JAX_COMPILATION_CACHE_DIR"
_CACHE_KEY = pytest.StashKey[str]()


def pytest_configure(config):
    """One persistent XLA compilation cache for the whole run, shared by the xdist workers and by
    the training processes the tests start (they inherit the environment): the same steps are
    compiled again and again (resume checks, re-runs, SIGKILL rounds), and a cache hit skips the
    compile. A fresh folder per run, removed at the end; one set by the caller is kept as is.
    Each process (the xdist workers too) first takes the host-memory setting the command line
    uses, so in-process training runs on the same allocator as the training processes."""
    from softmining_jax import reuse_freed_host_memory

    reuse_freed_host_memory()
    if os.environ.get(_CACHE_ENV):
        return
    folder = tempfile.mkdtemp(prefix="softmining_jax_xla_cache_")
    os.environ[_CACHE_ENV] = folder
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    config.stash[_CACHE_KEY] = folder
    if "jax" in sys.modules:  # imported already (a plugin): JAX read its settings at import
        sys.modules["jax"].config.update("jax_compilation_cache_dir", folder)
        sys.modules["jax"].config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        sys.modules["jax"].config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
    folder = config.stash.get(_CACHE_KEY, None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> pathlib.Path:
    """The real third-party data folder; tests using it skip cleanly where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA
