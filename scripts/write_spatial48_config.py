"""Write configs/models/spatial48.yaml from the shipped synthetic dataset's fundamentals.

Run after scripts/generate_spatial_synthetic.py so that `hetspace solve` and the
robustness sweep use exactly the economy that generated the shipped data.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from hetspace.core.incomplete_markets.synthetic import state_locations

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "core/incomplete_markets/data/synthetic_us48/fundamentals.json"
TARGET = ROOT / "configs/models/spatial48.yaml"
HEADER = """\
# The synthetic 48-location economy (closure 'spatial'): the fundamentals that generated
# the shipped dataset core/incomplete_markets/data/synthetic_us48/ (see
# scripts/generate_spatial_synthetic.py and core/incomplete_markets/synthetic.py; the
# centroids and populations of the 48 contiguous US states are inputs, every other number
# is made up: this is NOT US data). Written from fundamentals.json by:
#   python scripts/write_spatial48_config.py
# locations: each state's centre (latitude, longitude), for maps.
# One cold solve takes ~10-15 s on one core (S = 1, 200 asset points).
"""


def main() -> None:
    fundamentals = json.loads(SOURCE.read_text())
    body = {"model": "incomplete_markets",
            "description": "synthetic 48-location DFM status-quo economy (spatial closure)",
            "params": {k: v for k, v in fundamentals["params"].items() if v is not None},
            "numerics": fundamentals["numerics"],
            "locations": state_locations()}  # the data's order: CSV rows, params' axes
    text = HEADER + yaml.safe_dump(body, sort_keys=False, default_flow_style=None, width=100)
    tmp = TARGET.with_suffix(".yaml.tmp")
    tmp.write_text(text)
    tmp.replace(TARGET)


if __name__ == "__main__":
    main()
