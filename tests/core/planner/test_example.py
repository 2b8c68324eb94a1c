"""examples/planner_allocations.py on the 8-location economy with a coarse promise grid:
its tables and figure are written and say what they claim."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "planner_allocations.py"


def test_planner_example_writes_the_welfare_table_and_figures(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("planner_allocations", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(tmp_path), "--n-v", "80"])
    welfare = pd.read_csv(tmp_path / "welfare.csv").set_index("allocation")
    assert list(welfare.index) == ["status_quo", *module.ALLOCATIONS]
    assert welfare.loc["status_quo", "relative_to_status_quo"] == 1.0
    np.testing.assert_allclose(welfare["relative_to_status_quo"],
                               welfare["welfare_ce"] / welfare.loc["status_quo", "welfare_ce"])
    assert "| second_best |" in (tmp_path / "welfare.md").read_text()
    places = pd.read_csv(tmp_path / "locations.csv")
    assert list(places["location"]) == ["CT", "ME", "MA", "NH", "NJ", "NY", "RI", "VT"]
    for name in welfare.index:  # shares sum to one; consumption relative to its mean
        pop = places[f"population_{name}"]
        assert abs(pop.sum() - 1.0) < 1e-9
        assert abs(pop @ places[f"consumption_{name}"] - 1.0) < 1e-9
    assert (tmp_path / "figures.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
