"""Fixtures of the sweep tests: small sweep specs.

Ray starts once per session (``ray_session`` in tests/conftest.py: ``num_cpus=2``,
token authentication disabled, dashboard off); ``run_sweep`` reuses it. MLflow
stores live in each test's temporary output folder (the default store of a
sweep is ``<out>/mlflow.db``). Specs use the Armington model, whose points
solve in milliseconds, so the tests exercise the machinery, not the numerics.
"""

from __future__ import annotations

import socket
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

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


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
