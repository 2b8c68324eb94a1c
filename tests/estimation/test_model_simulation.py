"""Estimation on a model's own simulation hook (ModelSpec.simulate; ``statistics: model``),
with hadsge, and the indirect-inference recovery exercise of configs/estimation/ii_hadsge.yaml.

The recovery test runs the shipped spec on smaller cohorts (4,000 workers instead of
20,000): the "data" are the statistics of one cohort simulated at the truth with a seed
the estimation never uses, so the estimate differs from the truth by sampling error,
which the standard errors (Omega from 100 cohorts at the estimate, times 1 + 1/S) must
describe: the truth lies within 4 of them for each parameter (as in test_estimate's
SMM test). When this test was written, the full-size spec (hetspace estimate
configs/estimation/ii_hadsge.yaml) gave alpha 20.07 (se 0.22), tau 0.8585 (0.0019),
psi 0.8688 (0.0018), chi 0.975 (0.026) against 20, 0.86, 0.87, 0.95.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

from hetspace.core import get_model
from hetspace.core.errors import InvalidConfigError
from hetspace.core.panel import PanelArrays
from hetspace.estimation import EstimationSpec, estimate
from hetspace.estimation.objective import (
    STATISTICS,
    Simulation,
    model_moments,
    statistic_names,
)

from .conftest import REPO_CONFIGS, huggett_spec

SPEC_PATH = REPO_CONFIGS / "ii_hadsge.yaml"
TRUTH = {"alpha": 20.0, "tau": 0.86, "psi": 0.87, "chi": 0.95}


def ii_spec(**changes) -> dict:
    data = yaml.safe_load(SPEC_PATH.read_text())
    for key, value in changes.items():
        data[key] = value
    return data


def build(data: dict) -> EstimationSpec:
    return EstimationSpec.from_dict(data, base_dir=SPEC_PATH.parent)


def test_shipped_spec_simulates_the_model_itself():
    spec = build(ii_spec())
    assert spec.simulation.statistics == "model" and spec.method == "indirect_inference"
    assert spec.names == ("alpha", "tau", "psi", "chi")
    # the data are the hook's statistics at the truth, seed 777, one cohort of 20,000
    model = get_model("hadsge")
    truth = spec.params.with_(**TRUTH)
    stats = model.simulate(model.solve(truth, numerics=spec.numerics), 20_000, 777)
    np.testing.assert_array_equal(spec.objective.data, [stats[n] for n in spec.objective.names])
    # a free scalar tau is the symmetric matrix
    assert spec.params_at([20.0, 0.8, 0.9, 1.0]).tau[0, 1] == 0.8


def test_model_moments_average_the_hook_over_common_random_numbers():
    model = get_model("hadsge")
    spec = build(ii_spec())
    sol = model.solve(spec.params, numerics=spec.numerics)
    sim = Simulation(statistics="model", n_households=300, n_sims=3, seed=5)
    got = model_moments(sol, sim, model)
    runs = [model.simulate(sol, 300, 5 + s) for s in range(3)]
    assert list(got) == statistic_names("model", model) == list(model.simulated_names)
    for name in got:
        np.testing.assert_allclose(got[name], np.mean([r[name] for r in runs]), rtol=1e-14,
                                   err_msg=name)


def test_statistics_default_to_the_model_hook_and_its_names_are_checked():
    data = ii_spec(simulation={"n_households": 500})
    assert build(data).simulation.statistics == "model"
    data["targets"] = {**data["targets"], "moments": [*data["targets"]["moments"][:7],
                                                      "mobilty"]}
    with pytest.raises(InvalidConfigError, match=r"targets\.moments\.mobilty: is not a simulated "
                       r"statistic of hadsge \(did you mean 'mobility'\?\)"):
        build(data)


@pytest.mark.parametrize("change, match", [
    ({"simulation": {"statistics": "model", "n_periods": 5}},
     r"simulation\.n_periods: is set by the model with statistics: model"),
    ({"simulation": {"statistics": "model", "burn_in": 2}},
     r"simulation\.burn_in: is set by the model"),
    ({"simulation": {"statistics": "panels"}},
     r"simulation\.statistics: must be one of panel_moments, .*, model, got 'panels'"),
])
def test_bad_model_simulation_sections(change, match):
    with pytest.raises(InvalidConfigError, match=match):
        build(ii_spec(**change))


def test_a_model_without_the_hook_cannot_use_model_statistics():
    spec = huggett_spec(method="indirect_inference",
                        simulation={"statistics": "model", "n_households": 100})
    with pytest.raises(InvalidConfigError, match=r"simulation\.statistics: model "
                       r"'incomplete_markets' does not simulate itself"):
        EstimationSpec.from_dict(spec)


def test_panel_statistics_need_the_models_panel_hook():
    # hadsge simulates its own statistics but no household panel (ModelSpec.panel)
    data = ii_spec(simulation={"statistics": "panel_moments", "n_households": 100,
                               "n_sims": 1, "seed": 0})
    with pytest.raises(InvalidConfigError, match=r"simulation\.statistics: panel_moments "
                       r"needs a simulated household panel, and model 'hadsge' has none"):
        build(data)


def test_observed_data_need_the_models_observed_hook():
    # spatial data are read by the model's hook (incomplete_markets has it; hadsge not)
    data = ii_spec(targets={"moments": ["mobility", "theta_work", "theta_retire",
                                       "wealth_retire"],
                           "spatial": {"dataset": "synthetic_us48"}})
    data.pop("simulation", None)
    data["method"] = "smm"
    with pytest.raises(InvalidConfigError, match=r"targets\.spatial: model 'hadsge' reads no "
                       r"observed data \(no ModelSpec\.observed hook\)"):
        build(data)


def test_panel_statistics_summarise_whatever_panel_the_hook_draws():
    # estimation asks the model for its panel (no model is special-cased): a model whose
    # hook draws a given panel gets the statistics of exactly that panel, at each seed
    im = get_model("incomplete_markets")
    rng = np.random.default_rng(0)
    drawn = {}

    def panel(sol, n_households, n_periods, seed):
        c = np.exp(rng.normal(size=(n_periods, n_households)))
        drawn[seed] = PanelArrays(consumption=c, income=c, assets=c, at_limit=c > 2.0)
        return drawn[seed]

    toy = dataclasses.replace(im, name="panel_toy", panel=panel)
    sim = Simulation(statistics="panel_moments", n_households=50, n_periods=6, burn_in=2,
                     n_sims=2, seed=10)
    got = model_moments(None, sim, toy)
    assert sorted(drawn) == [10, 11]
    expected = [STATISTICS["panel_moments"](drawn[s].after(2)) for s in (10, 11)]
    for name, value in got.items():
        assert value == pytest.approx(np.mean([e[name] for e in expected]), rel=1e-12)
    assert drawn[10].consumption.shape == (8, 50)  # periods + burn_in drawn, burn_in dropped


def test_a_data_panel_is_not_summarised_by_the_model_hook():
    spec = huggett_spec(targets={"moments": ["assets_mean", "consumption_mean"],
                                 "panel": "nowhere.parquet"},
                        simulation={"statistics": "model"})
    with pytest.raises(InvalidConfigError, match=r"targets\.panel: a data panel is summarised "
                       r"by a panel statistics function"):
        EstimationSpec.from_dict(spec)


def test_an_array_field_that_takes_no_scalar_is_not_a_free_parameter():
    spec = huggett_spec(parameters={"e_grid": {"lower": 0.5, "upper": 1.5}})
    with pytest.raises(InvalidConfigError, match=r"parameters\.e_grid: must be a scalar "
                       r"parameter, but e_grid is an array of shape \(2,\)"):
        EstimationSpec.from_dict(spec)


@pytest.mark.usefixtures("ray_session")
def test_indirect_inference_recovers_the_truth_within_its_standard_errors(tmp_path):
    data = ii_spec(simulation={"statistics": "model", "n_households": 4000, "n_sims": 1,
                               "seed": 0},
                   optimizer={"n_trials": 16, "n_startup_trials": 8, "polish": True})
    spec = build(data)
    result = estimate(spec, tmp_path / "out")
    inf = result.inference
    assert np.all(np.isfinite(inf.se)) and np.all(inf.se > 0), inf
    for i, name in enumerate(inf.names):
        assert abs(inf.estimates[i] - TRUTH[name]) < 4.0 * inf.se[i], (name, inf)
    assert inf.df == 4 and np.isfinite(inf.J)
    assert result.objective <= result.best_trial_objective
    assert (tmp_path / "out" / "study.journal").exists()
    run = MlflowClient(result.tracking_uri).get_run(result.run_id)
    assert run.info.status == "FINISHED"
    for name in TRUTH:
        assert run.data.metrics[f"est_{name}"] == pytest.approx(result.estimates[name])


@pytest.mark.usefixtures("ray_session")
def test_hetspace_estimate_runs_the_shipped_spec(tmp_path):
    """The CLI on the shipped spec with a tiny budget (the recovery is tested above)."""
    from typer.testing import CliRunner

    from hetspace.cli import app

    data = ii_spec(simulation={"statistics": "model", "n_households": 500, "seed": 0},
                   optimizer={"n_trials": 3, "n_startup_trials": 3, "polish": False})
    data["baseline"] = {"config": str(SPEC_PATH.parent / data["baseline"]["config"])}
    path = tmp_path / "ii.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["estimate", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "estimate ii_hadsge (hadsge, indirect_inference): alpha, tau, psi, chi" \
        in result.output
    for name in TRUTH:
        assert f"| {name} | " in result.output
    assert (tmp_path / "out" / "estimates.csv").exists()
