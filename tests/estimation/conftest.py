"""Fixtures of the estimation tests: small specs (Ray: ``ray_session`` in tests/conftest.py).

Specs use Huggett (1993) on a 120-node grid, where a warm solve takes tens of
milliseconds.
"""

from __future__ import annotations

import copy
from pathlib import Path

HUGGETT = {  # = examples.huggett_1993(n_a=120)
    "params": {"gamma": 1.5, "beta": 0.96 ** (1.0 / 6.0), "e_grid": [1.0, 0.1],
               "Pi": [[0.925, 0.075], [0.5, 0.5]], "a_low": -2.0,
               "limit_on_face_value": True, "closure": "bond"},
    "numerics": {"n_a": 120, "a_max": 12.0, "grid": "power", "curvature": 2.0},
}
REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_CONFIGS = REPO_ROOT / "configs" / "estimation"
R_TARGET = 1.02 ** (1.0 / 6.0) - 1.0
MPC_TARGET = 0.06


def huggett_spec(name: str = "est", **overrides) -> dict:
    """Exactly identified (beta, a_low) for (r, mpc_mean), as a spec mapping."""
    spec = {
        "name": name,
        "model": "incomplete_markets",
        "baseline": copy.deepcopy(HUGGETT),
        "parameters": {"beta": {"lower": 0.97, "upper": 0.996, "transform": "logit"},
                       "a_low": {"lower": -6.0, "upper": -1.5}},
        "targets": {"moments": {"r": R_TARGET, "mpc_mean": MPC_TARGET}},
        "optimizer": {"n_trials": 12, "n_startup_trials": 6},
        "resources": {"num_actors": 2},
        "seed": 0,
    }
    spec.update(overrides)
    return spec
