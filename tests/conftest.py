"""Shared test fixtures."""

from __future__ import annotations

import os
import pathlib

import pytest

# Keep XLA from grabbing every core on small CI machines; tests are tiny.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> pathlib.Path:
    """The real third-party data folder; tests using it skip cleanly where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA
