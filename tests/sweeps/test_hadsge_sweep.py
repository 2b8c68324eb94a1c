"""`hetspace sweep` on the shipped hadsge sweep (configs/sweeps/hadsge_frictions.yaml),
on a 2 x 2 grid with its region shock: each stored moment is the model's own solve at
that point (the sweep adds nothing), and mobility rises with the transfer share tau."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from typer.testing import CliRunner

from hetspace.cli import app
from hetspace.core import get_model
from hetspace.core.config import load_model_config
from hetspace.sweeps import load_results

from .conftest import REPO_ROOT

SPEC = REPO_ROOT / "configs" / "sweeps" / "hadsge_frictions.yaml"


def test_hadsge_sweep_through_the_cli(ray_session, tmp_path: Path) -> None:
    data = yaml.safe_load(SPEC.read_text())
    data["grid"] = {"alpha": [15.0, 20.0], "tau": [0.80, 0.86]}
    data["baseline"]["config"] = str(SPEC.parent / data["baseline"]["config"])
    spec = tmp_path / "hadsge.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out), "--num-actors", "2"])
    assert result.exit_code == 0, result.output
    assert "8 points: 8 evaluated, 0 already stored, 0 failed" in result.output
    # labelled with the model's registry (units in the header)
    assert ("Market switching rate (% per period) by Fréchet shape α (rows) and Human "
            "capital carried on switching τ (columns)") in " ".join(result.output.split())

    rows = load_results(out)
    base = load_model_config(REPO_ROOT / "configs" / "models" / "hadsge_example.yaml")
    model = get_model("hadsge")
    unshocked = rows[rows["shock"] == "none"]
    assert len(unshocked) == 4
    for _, row in unshocked.iterrows():
        params = base.params.with_(alpha=float(row["alpha"]), tau=float(row["tau"]))
        expected = model.solve(params, numerics=base.numerics).moments()
        for name in ("mobility", "theta_work", "wealth_retire"):
            np.testing.assert_allclose(row[f"m_{name}"], expected[name], rtol=1e-12, err_msg=name)
    for alpha in (15.0, 20.0):
        mob = unshocked[unshocked["alpha"] == alpha].sort_values("tau")["m_mobility"].to_numpy()
        assert mob[1] > mob[0]
