"""notebooks/05_transitions.ipynb runs top to bottom (three locations, T = 100, a
three-point theta sweep with transitions)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np

from hetspace.sweeps import load_results
from hetspace.sweeps.effects import add_shock_effects

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "05_transitions.ipynb"


def test_transitions_notebook_executes(tmp_path, run_notebook) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    outputs = run_notebook(nb, tmp_path)
    assert "6 points solved, 0 failed" in outputs
    plots = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if "image/png" in o.get("data", {})]
    assert len(plots) == 1
    rows = add_shock_effects(load_results(tmp_path / "transitions"), ["theta"])
    shocked = rows[rows["shock"] != "none"].sort_values("theta")
    assert len(shocked) == 3 and shocked["error"].isna().all()
    long_run = shocked["m_shock_population_change"].to_numpy()
    after_10 = shocked["m_dyn_population_change_t10"].to_numpy()
    # what the notebook says: people leave, more so with a larger migration elasticity,
    # and gradually (ten years in, part of the way)
    assert np.all(long_run < 0) and np.all(np.diff(long_run) < 0)
    assert np.all((long_run < after_10) & (after_10 < 0))
    assert np.isfinite(shocked["m_dyn_population_half_life"]).all()
