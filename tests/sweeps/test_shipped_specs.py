"""Shipped sweep specs of models whose sweeps no other test runs, reduced to the first two
values of each grid axis (4 points), on the session's Ray."""

from __future__ import annotations

import pytest
import yaml

from hetspace.sweeps import SweepSpec, load_results, run_sweep

from .conftest import REPO_ROOT

SWEEPS = REPO_ROOT / "configs" / "sweeps"


@pytest.mark.parametrize("name", ["armington", "dynamic_spatial"])
def test_shipped_spec_runs_reduced(ray_session, tmp_path, name) -> None:
    path = SWEEPS / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    data["grid"] = {axis: values[:2] for axis, values in data["grid"].items()}
    spec = SweepSpec.from_dict(data, base_dir=path.parent, source=str(path))
    result = run_sweep(spec, tmp_path / "out", plots=False)
    assert result.n_evaluated == 4 and result.n_failed == 0
    rows = load_results(tmp_path / "out")
    for m in spec.moments:
        assert rows[f"m_{m}"].notna().all(), m
