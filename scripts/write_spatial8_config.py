"""Write configs/models/spatial8.yaml: an 8-location piece of the synthetic economy,
and configs/models/planner8.yaml: the planner's economy of the same fundamentals.

The eight locations are New England, New York and New Jersey (the region of
Donald, Fukui and Miyauchi's -1% Massachusetts experiment), with the fundamentals
that :func:`hetspace.core.incomplete_markets.synthetic.synthetic_params` gives
them (productivity, trade costs, moving costs, transfers from the state
centroids and populations; every number but those is made up: this is NOT US
data). The quickstart sweep (configs/sweeps/quickstart.yaml) uses spatial8,
configs/sweeps/planner_welfare.yaml planner8 (``planner.Params.from_status_quo``: the
same beta, omega, theta, chi, A, sigma_trade and alpha_agg).

    python scripts/write_spatial8_config.py
"""

from __future__ import annotations

from pathlib import Path

import yaml

from hetspace.core.config import atomic_write
from hetspace.core.incomplete_markets.synthetic import (
    state_codes,
    state_locations,
    synthetic_params,
)
from hetspace.core.planner import Params

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "configs/models/spatial8.yaml"
PLANNER = ROOT / "configs/models/planner8.yaml"
CODES = ("CT", "ME", "MA", "NH", "NJ", "NY", "RI", "VT")
HEADER = """\
# An 8-location piece of the synthetic 48-location economy (closure 'spatial'): New England,
# New York and New Jersey with the fundamentals of core/incomplete_markets/synthetic.py
# (made up from state centroids and populations: this is NOT US data). Written by:
#   python scripts/write_spatial8_config.py
# Locations (index: state): {locations}
# (`locations` at the end: their centres, for maps)
# One period is a year. A cold solve takes ~0.4 s once numba's cache is warm.
"""
PLANNER_HEADER = """\
# The Donald-Fukui-Miyauchi planner's economy of configs/models/spatial8.yaml (the same
# synthetic fundamentals: NOT US data), second best; allocation may be first_best or
# history_independent. Written by:
#   python scripts/write_spatial8_config.py
# Locations (index: state): {locations}
"""


def main() -> None:
    codes = state_codes(CODES)  # in the synthetic data's order: indices into A, chi
    params, numerics = synthetic_params(codes)
    body = {"model": "incomplete_markets",
            "description": "synthetic 8-location economy: " + ", ".join(codes),
            "params": {k: v for k, v in params.to_dict().items() if v is not None},
            "numerics": {"n_a": numerics.n_a, "a_max": numerics.a_max},
            "locations": state_locations(codes)}
    listing = ", ".join(f"{i}: {c}" for i, c in enumerate(codes))
    _write(TARGET, HEADER.format(locations=listing) + yaml.safe_dump(
        body, sort_keys=False, default_flow_style=None, width=100))
    planner = {"model": "planner",
               "description": "planner of the synthetic 8-location economy: " + ", ".join(codes),
               "params": {k: v for k, v in Params.from_status_quo(params).to_dict().items()
                          if v is not None},
               "locations": state_locations(codes)}
    _write(PLANNER, PLANNER_HEADER.format(locations=listing) + yaml.safe_dump(
        planner, sort_keys=False, default_flow_style=None, width=100))


def _write(path: Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode()))


if __name__ == "__main__":
    main()
