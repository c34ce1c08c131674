"""Shared fixtures: the real-data folder (skip when absent, fail under CI=true) and small helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path | None:
    for cand in (os.environ.get("TOKENOMY_DATA"), REPO.parent / "shared" / "data"):
        if cand and Path(cand).is_dir():
            return Path(cand).resolve()
    return None


def need_data(*parts: str) -> Path:
    """Path to ``../shared/data/<parts>``; skip (locally) or fail (CI=true) when it is absent."""
    base = _data_dir()
    path = base.joinpath(*parts) if base else None
    if path is None or not path.exists():
        reason = f"real data not found: {'/'.join(parts) or 'data folder'} (set TOKENOMY_DATA or place ../shared/data)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — CI=true requires it")
        pytest.skip(reason)
    return path


@pytest.fixture(name="need_data")
def need_data_fixture() -> object:
    """The ``need_data(*parts)`` function as a fixture (tests/ is not a package)."""
    return need_data


@pytest.fixture
def data_dir() -> Path:
    """The real-data folder (``../shared/data`` or ``$TOKENOMY_DATA``)."""
    return need_data()


# Property tests: random exploration locally; a fixed, derandomised search under CI so a run is reproducible.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("deep", max_examples=2000, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI", "").lower() == "true" else "default")
)


@pytest.fixture(scope="module")
def ray_session() -> Iterator[Any]:
    """One local Ray session (1 CPU) for the module; skip without Ray, fail under CI=true."""
    if not _ray_available():
        reason = "ray not installed (the 'ray' extra: pip install -c constraints.txt -e '.[ray]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — CI=true requires it")
        pytest.skip(reason)
    import ray

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 2**20)
    yield ray
    ray.shutdown()


def _ray_available() -> bool:
    from tokenomy.interfaces.sweep import ray_available

    return ray_available()
