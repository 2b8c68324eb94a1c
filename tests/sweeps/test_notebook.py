"""notebooks/01_robustness_sweep.ipynb runs top to bottom on a small grid."""

from __future__ import annotations

import nbformat

from .conftest import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "01_robustness_sweep.ipynb"


def test_robustness_notebook_executes(tmp_path, run_notebook) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel is a fresh process that starts its own local Ray; a 2-point grid keeps it short
    nb.cells[1].source = nb.cells[1].source.replace(
        '{"sigma": [1.5, 2.0, 3.0, 4.0], "kappa": [0.5, 1.0, 2.0]}',
        '{"sigma": [1.5, 2.0], "kappa": [0.5, 1.0]}')
    outputs = run_notebook(nb, tmp_path)
    assert "4 points solved, 0 failed" in outputs
    assert "welfare by sigma (rows) and kappa (columns)" in outputs
    image = [o for o in nb.cells[8].outputs if "image/png" in o.get("data", {})]
    assert image, "the plot cell shows a PNG"
    assert (tmp_path / "robustness" / "mlflow.db").exists()
