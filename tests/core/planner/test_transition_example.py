"""examples/planner_transition.py (DFM Figure 4) on the 8-location economy with coarse
grids and a short horizon: its table, figure and summary say what they claim."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "planner_transition.py"


def test_figure4_example_writes_both_paths(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("planner_transition", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(tmp_path), "--T", "6", "--n-v", "40", "--n-a", "40"])
    paths = pd.read_csv(tmp_path / "paths.csv")
    assert list(paths["year"]) == list(range(6))
    for name in ("status_quo", "planner"):
        change = paths[f"{name}_pct"].to_numpy()
        assert change[0] == 0.0  # before anyone could move
        assert np.all(np.diff(change) < 0)  # MA loses people, year after year, at first
        long_run = paths[f"{name}_new_ss_pct"].iloc[0]
        assert long_run < change[-1] < 0  # on the way to the new steady state
    summary = (tmp_path / "summary.md").read_text()
    assert "| status quo (%) |" in summary and "| planner (%) |" in summary
    assert (tmp_path / "figure4.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
