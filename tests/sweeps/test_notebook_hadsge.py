"""notebooks/03_hadsge_event_study.ipynb runs top to bottom (small sweep grid) and shows the
example, Figure 2 and the sweep."""

from __future__ import annotations

import nbformat

from .conftest import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "03_hadsge_event_study.ipynb"


def test_hadsge_notebook_executes(tmp_path, run_notebook) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    grid = '{"alpha": [15.0, 20.0, 25.0], "tau": [0.80, 0.86, 0.92]}'
    assert grid in nb.cells[1].source
    nb.cells[1].source = nb.cells[1].source.replace(
        grid, '{"alpha": [15.0, 20.0], "tau": [0.80, 0.86]}')
    outputs = run_notebook(nb, tmp_path)
    # the example's shares and mobility (configs/models/hadsge_example.yaml's comment)
    assert "theta at retirement 0.296, workers 0.284; mobility 10.4% per period" in outputs
    assert "| horizon | b1 earnings | se | b1 assets | se |" in outputs
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any("image/png" in o.get("data", {}) for o in code[2].outputs), "Figure 2 is shown"
    assert "es_employment_3" in outputs and "switch_earnings_gap" in outputs
    assert "8 points solved, 0 failed" in outputs
    assert "mobility by alpha (rows) and tau (columns)" in outputs
    assert (tmp_path / "hadsge" / "sweep" / "mlflow.db").exists()
