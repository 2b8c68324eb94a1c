"""Fixtures of the sweep tests: one Ray instance per session, small sweep specs.

Ray starts once (``num_cpus=2``, token authentication disabled, dashboard off)
and is shut down at the end of the session; ``run_sweep`` reuses it. MLflow
stores live in each test's temporary output folder (the default store of a
sweep is ``<out>/mlflow.db``). Specs use the Armington model, whose points
solve in milliseconds, so the tests exercise the machinery, not the numerics.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # before Ray starts; subprocesses inherit it

ARMINGTON_BASELINE = {
    "sigma": 2.0,
    "tau": [[1.0, 2.0, 3.0], [3.0, 1.0, 2.0], [2.0, 3.0, 1.0]],
    "A": [2.0, 1.0, 1.0],
    "L": [1.0, 1.0, 1.0],
    "kappa": 1.0,
}


def armington_spec(name: str = "arm", **overrides) -> dict:
    """A 4 x 3 Armington sweep over sigma and kappa (12 points) as a spec mapping."""
    spec = {
        "name": name,
        "model": "armington",
        "baseline": {"params": dict(ARMINGTON_BASELINE)},
        "grid": {"sigma": [1.5, 2.0, 3.0, 4.0], "kappa": [0.5, 1.0, 2.0]},
        "moments": ["welfare", "real_wage_min"],
        "resources": {"num_actors": 2},
    }
    spec.update(overrides)
    return spec


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """A local Ray with 2 CPUs for the whole session."""
    import ray

    started = False
    if not ray.is_initialized():  # another package's tests may have started it already
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level="WARNING")
        started = True
    yield
    if started:
        ray.shutdown()


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
