"""The README's main job: configs/sweeps/quickstart.yaml loads, and a reduced version of
it runs through run_sweep on the session's Ray with a temporary MLflow store."""

from __future__ import annotations

import numpy as np
from mlflow.tracking import MlflowClient

from hetspace.core.incomplete_markets import region_shock, solve
from hetspace.sweeps import SweepSpec, load_sweep_spec, run_sweep

from .conftest import REPO_ROOT

QUICKSTART = REPO_ROOT / "configs" / "sweeps" / "quickstart.yaml"


def test_quickstart_spec_is_the_spatial_economy() -> None:
    spec = load_sweep_spec(QUICKSTART)
    assert spec.model.name == "incomplete_markets" and spec.params.closure == "spatial"
    assert np.asarray(spec.params.A).shape == (8, 8)
    assert set(spec.axes) == {"theta", "gamma"}
    assert [(s.location, s.size) for s in spec.shocks] == [(2, -0.01)]
    assert len(spec.points) == 4 * 3 * 2
    assert load_sweep_spec(REPO_ROOT / "configs/sweeps/huggett.yaml").periods_per_year == 6


def test_reduced_quickstart_reports_shock_effects_in_display_units(ray_session,
                                                                  tmp_path) -> None:
    raw = dict(load_sweep_spec(QUICKSTART).raw)
    raw.update(grid={"theta": [0.3, 0.5]}, numerics={"n_a": 60},
               baseline={"config": str(REPO_ROOT / "configs/models/spatial8.yaml")})
    spec = SweepSpec.from_dict(raw, source="quickstart-reduced")
    result = run_sweep(spec, tmp_path / "out")
    df = result.results
    assert len(df) == 4 and set(df["status"]) == {"ok"}

    # the effects equal the model's own region-shock comparison, solved directly (cold
    # there, warm in the sweep: levels agree to the spatial tolerance 1e-6, so changes of
    # -3% (population) and -0.3% (welfare) agree to about 1e-4 and 1e-3 relative)
    shocked = df[df["shock"] != "none"].set_index("theta")
    base = solve(spec.params.with_(theta=0.5), spec.numerics)
    direct = region_shock(base, 2, -0.01)
    np.testing.assert_allclose(shocked.at[0.5, "m_shock_population_change"],
                               direct.after.population_shares()[2]
                               / base.population_shares()[2] - 1, rtol=1e-3)
    np.testing.assert_allclose(shocked.at[0.5, "m_shock_welfare_change"],
                               direct.welfare_change[2], rtol=5e-3)
    np.testing.assert_allclose(shocked.at[0.5, "m_welfare_change"],
                               direct.welfare_change_total, rtol=5e-3)
    assert (shocked["m_shock_population_change"] < 0).all()  # people leave the shocked place

    md = (result.out_dir / "tables/robustness.md").read_text()
    assert "| Migration elasticity θ | Interest rate (annual %) | Out-migration rate " \
           "(% per period) | Population change, shocked location (%) |" in md
    assert "shock: MA, -1% productivity" in md  # spatial8: CT ME MA ...
    assert {p.name for p in result.plots} >= {"r_vs_theta.png",
                                              "shock_population_change_vs_theta.png"}
    assert (result.out_dir / "plots/r_vs_theta.pdf").exists()
    run = MlflowClient(result.tracking_uri).get_run(result.run_id)
    assert run.info.status == "FINISHED"
