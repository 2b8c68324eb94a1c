"""Every registered model sweeps: each has a spec in configs/sweeps/, and the specs of the
models no other test sweeps run here (tiny sizes) with values checked against an
independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from hetspace.core import get_model
from hetspace.core.errors import InvalidConfigError
from hetspace.core.protocol import builtin_models
from hetspace.sweeps import SweepSpec, load_results, load_sweep_spec, run_sweep

from .conftest import REPO_ROOT

SWEEPS = REPO_ROOT / "configs" / "sweeps"


def test_every_registered_model_has_a_shipped_sweep_spec() -> None:
    swept = {load_sweep_spec(path).model.name for path in SWEEPS.glob("*.yaml")}
    # (the shipped models: tests register toy models of their own)
    assert set(builtin_models()) <= swept, sorted(set(builtin_models()) - swept)


def test_the_cdp_spec_sweeps_fields_of_the_nested_structure(ray_session, tmp_path) -> None:
    # two values of structure.nu at one beta, each point solved as a direct solve of the
    # baseline with that structure (the same numerics) gives it
    path = SWEEPS / "dynamic_spatial_cdp.yaml"
    data = yaml.safe_load(path.read_text())
    data["grid"] = {"structure.nu": [1.0, 2.0]}
    spec = SweepSpec.from_dict(data, base_dir=path.parent, source=str(path))
    assert [p.params.structure.nu for p in spec.points] == [1.0, 2.0]
    assert all(p.params.structure.beta == spec.params.structure.beta for p in spec.points)
    result = run_sweep(spec, tmp_path / "out", plots=False)
    assert result.n_evaluated == 2 and result.n_failed == 0
    rows = load_results(tmp_path / "out").set_index("structure.nu")
    model = get_model("dynamic_spatial_cdp")
    for nu in (1.0, 2.0):
        params = spec.params.with_(structure=spec.params.structure.with_(nu=nu))
        direct = model.solve(params, numerics=spec.numerics).moments()
        for m in spec.moments:
            assert rows.loc[nu, f"m_{m}"] == pytest.approx(direct[m], rel=1e-8, abs=1e-12), m
    # nu changes the migration response: the points differ
    assert rows.loc[1.0, "m_employment_half_life"] != rows.loc[2.0, "m_employment_half_life"]


def test_a_nested_axis_value_the_record_refuses_names_the_axis() -> None:
    path = SWEEPS / "dynamic_spatial_cdp.yaml"
    data = yaml.safe_load(path.read_text())
    data["grid"] = {"structure.nope": [1.0]}
    with pytest.raises(InvalidConfigError, match=r"sweep\.grid\.structure\.nope: is not a "
                       r"field of dynamic_spatial_cdp Params \(did you mean 'structure\.nu'"):
        SweepSpec.from_dict(data, base_dir=path.parent, source=str(path))
    data["grid"] = {"structure.nu": [1.0, -2.0]}  # Structure's own check, on its own field
    with pytest.raises(InvalidConfigError, match=r"sweep\.grid\.structure\.nu\[1\]: must be "
                       r"> 0, got -2\.0"):
        SweepSpec.from_dict(data, base_dir=path.parent, source=str(path))


def test_the_human_capital_closed_form_spec_matches_the_closed_form(ray_session,
                                                                      tmp_path) -> None:
    # Huggett-Kaplan section 2.4: with q = exp(-rho s^2) / (1 + r), v_1 = sum_{n=1}^{J-1}
    # q^n and the mean return on human capital is (1 + r) exp(rho s^2) - 1 (the issue's
    # reference values: s = 0.2 gives v_1 = 10.4392 and 9.412%)
    path = SWEEPS / "human_capital_closed_form.yaml"
    data = yaml.safe_load(path.read_text())
    data["zip"] = {axis: values[1:3] for axis, values in data["zip"].items()}  # s 0.1, 0.2
    spec = SweepSpec.from_dict(data, base_dir=path.parent, source=str(path))
    result = run_sweep(spec, tmp_path / "out", plots=False)
    assert result.n_evaluated == 2 and result.n_failed == 0
    rows = load_results(tmp_path / "out").set_index("sigma_z")
    p = spec.params
    rho, r, J = p.gamma, p.r, p.n_ages
    for s in (0.1, 0.2):
        q = math.exp(-rho * s * s) / (1.0 + r)
        v1 = sum(q ** n for n in range(1, J))
        assert rows.loc[s, "m_value_1"] == pytest.approx(v1, rel=1e-6)
        assert rows.loc[s, "m_mean_return_h_1"] == pytest.approx(
            (1.0 + r) * math.exp(rho * s * s) - 1.0, rel=1e-6)
    assert rows.loc[0.2, "m_value_1"] == pytest.approx(10.4392, abs=1e-4)
    values = rows.sort_index()["m_value_1"].to_numpy()
    assert np.all(np.diff(values) < 0)  # Figure 1: the value falls with earnings risk


@pytest.mark.parametrize("name", builtin_models())
def test_every_moment_a_model_names_has_a_label_and_a_unit(name) -> None:
    model = get_model(name)
    assert model.moment_info is not None and model.param_info is not None
    missing = set(model.moment_names or ()) - set(model.moment_info)
    assert not missing, sorted(missing)
    for info in (*model.moment_info.values(), *model.param_info.values()):
        assert info.label.strip()
