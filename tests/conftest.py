"""Shared fixtures: the real data in ../shared/data (or $MEDZERO_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """Where the shared real data lives: $MEDZERO_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("MEDZERO_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root} (set MEDZERO_DATA)")
    return root


@pytest.fixture(scope="session")
def orphanet_path(shared_data: Path) -> Path:
    return shared_data / "rarearena" / "orphanet_hypernym.json"


@pytest.fixture(scope="session")
def rarebench_dir(shared_data: Path) -> Path:
    return shared_data / "rarebench"


@pytest.fixture(scope="session")
def ehrsql_dir(shared_data: Path) -> Path:
    return shared_data / "ehrsql2024"
