"""Data moments computed by the package: household panel files and SpatialData sources.

Data and model statistics must come from the same code: a panel written to disk
and read back gives bit-identical statistics to the objective's in-memory
panel, and location moments of SpatialData equal the model's moments at the
fundamentals that generated the data. Bad files give errors naming the file
and the problem.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hetspace.core import get_model, incomplete_markets
from hetspace.core.errors import InvalidConfigError
from hetspace.core.incomplete_markets import (
    Numerics,
    Params,
    SpatialData,
    examples,
    load_synthetic,
    panel_from_simulation,
    simulate_panel,
    solve,
)
from hetspace.core.incomplete_markets.moments import LOCATION_MOMENTS
from hetspace.core.incomplete_markets.observed import load_spatial, observed_moments
from hetspace.estimation import EstimationSpec, estimate
from hetspace.estimation.data import (
    PanelError,
    bootstrap_covariance,
    read_panel,
    write_panel,
)
from hetspace.estimation.objective import (
    STATISTICS,
    Simulation,
    model_moments,
)

from .conftest import huggett_spec

TRUTH = {"beta": 0.99, "a_low": -3.5}  # as in test_estimate
IM = get_model("incomplete_markets")
PANEL_SIM = {"statistics": "panel_moments", "n_households": 300, "n_periods": 8, "seed": 3}


@pytest.fixture(scope="module")
def huggett():
    """Huggett (1993) on 120 nodes (the specs' baseline; 0.4% of households at the limit)."""
    params, numerics = examples.huggett_1993(n_a=120)
    return solve(params, numerics)


@pytest.fixture(scope="module")
def truth():
    """Huggett (1993) on 120 nodes at TRUTH."""
    params, numerics = examples.huggett_1993(n_a=120)
    return solve(params.with_(**TRUTH), numerics)


def _panel(sol, seed=3, households=300, periods=8):
    return panel_from_simulation(sol, simulate_panel(sol, households, periods, seed))


def _write(tmp_path, frame: pd.DataFrame, name: str = "panel.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False, float_format="%.17g")
    return path


@pytest.fixture
def panel_csv(tmp_path, huggett):
    """A small valid panel file and its table."""
    path = write_panel(_panel(huggett, households=20, periods=5), tmp_path / "panel.csv")
    return path, pd.read_csv(path)


# ---------------------------------------------------------------- panels: same code


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_panel_file_gives_the_objectives_statistics_exactly(tmp_path, huggett, fmt):
    # the objective simulates with seed `seed` (n_sims = 1); the same panel written to disk
    # (rows shuffled: the reader orders them) and read back must give identical statistics
    path = write_panel(_panel(huggett), tmp_path / f"panel.{fmt}")
    frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path)
    frame.sample(frac=1.0, random_state=0).to_csv(tmp_path / "shuffled.csv", index=False,
                                                   float_format="%.17g")
    for source in (path, tmp_path / "shuffled.csv"):
        for name in STATISTICS:
            data = read_panel(source, name)
            in_memory = model_moments(huggett, Simulation(**{**PANEL_SIM, "statistics": name}),
                                      IM)
            assert STATISTICS[name](data) == in_memory, (source, name)
    back = read_panel(path, "panel_moments")
    assert back.consumption.shape == (8, 300)
    np.testing.assert_array_equal(back.location, 0)
    assert back.at_limit.dtype == bool and back.at_limit.any()  # share_at_limit is not trivial


def test_spec_panel_source_equals_the_models_simulated_statistics(tmp_path, huggett):
    # data panel drawn from the model with the estimation's own seed (n_sims = 1): the data
    # moments are m(theta) there exactly, so Q = 0; simulated panels default to the data's
    # size; Omega is the bootstrap covariance and W its inverse (weighting: optimal)
    write_panel(_panel(huggett), tmp_path / "panel.parquet")
    names = ["consumption_log_sd", "share_at_limit", "assets_sd"]
    spec = EstimationSpec.from_dict(huggett_spec(
        targets={"moments": names, "panel": {"path": "panel.parquet", "seed": 4},
                 "weighting": "optimal"},
        simulation={"statistics": "panel_moments", "seed": 3}), base_dir=tmp_path)
    assert (spec.simulation.n_households, spec.simulation.n_periods) == (300, 8)
    model = model_moments(huggett, spec.simulation, spec.model)
    assert spec.objective.value(model) == 0.0
    data = read_panel(tmp_path / "panel.parquet", "panel_moments")
    omega = bootstrap_covariance(data, "panel_moments", names, 500, seed=4)
    np.testing.assert_array_equal(spec.covariance, omega)
    np.testing.assert_allclose(spec.objective.W @ omega, np.eye(3), atol=1e-8)


def test_bootstrap_covariance_matches_monte_carlo_over_independent_panels(truth):
    # independent method: the covariance of the statistics across 200 independent panels of
    # the same size drawn from the model. The household bootstrap on ONE panel must match it
    # for the smooth statistics (the s.d. of a s.d. estimate from 200 draws is ~5%, and one
    # data panel adds its own noise: band [0.75, 1.33]); resampling single observations
    # instead of households gives ratios near 0.4 here (assets are persistent), so this
    # fails if the clusters are broken. share_at_limit (a rare event, ~0.4% of
    # household-periods) is too noisy to compare on a panel this size.
    names = ["assets_sd", "consumption_mean"]
    H, T = 1000, 10
    draws = np.array([[STATISTICS["panel_moments"](_panel(truth, 100 + s, H, T))[n]
                       for n in names] for s in range(200)])
    mc_sd = draws.std(axis=0, ddof=1)
    data = _panel(truth, 1, H, T)
    boot = bootstrap_covariance(data, "panel_moments", names, 500, seed=0)
    ratio = np.sqrt(np.diag(boot)) / mc_sd
    assert np.all((ratio > 0.75) & (ratio < 1.33)), ratio
    again = bootstrap_covariance(data, "panel_moments", names, 500, seed=0)
    np.testing.assert_array_equal(boot, again)  # fixed seed: deterministic
    assert not np.array_equal(boot, bootstrap_covariance(data, "panel_moments", names, 500,
                                                         seed=1))


@pytest.mark.usefixtures("ray_session")
def test_estimation_from_a_panel_file_recovers_the_truth(tmp_path, truth):
    # the "data" are a panel file drawn at TRUTH with a seed the estimation never simulates
    # with (777), so the estimate differs from the truth by sampling error, which the
    # standard errors (bootstrap Omega of the data statistics, times 1 + 1/S) must describe
    write_panel(_panel(truth, 777, 1000, 10), tmp_path / "panel.csv")
    spec = EstimationSpec.from_dict(huggett_spec(
        "panel_smm", targets={"moments": ["consumption_log_sd", "share_at_limit", "assets_sd"],
                              "panel": {"path": "panel.csv"}, "weighting": "optimal"},
        simulation={"statistics": "panel_moments", "n_sims": 2, "seed": 0},
        optimizer={"n_trials": 12, "n_startup_trials": 6}), base_dir=tmp_path)
    result = estimate(spec, tmp_path / "out", track=False)
    inf = result.inference
    assert np.all(np.isfinite(inf.se)) and np.all(inf.se > 0)
    for i, name in enumerate(inf.names):
        assert abs(inf.estimates[i] - TRUTH[name]) < 4.0 * inf.se[i], (name, inf)
    assert inf.df == 1 and np.isfinite(inf.J)
    assert result.objective <= result.best_trial_objective


# ---------------------------------------------------------------- SpatialData


def test_spatial_source_on_the_shipped_data_equals_the_model_at_its_fundamentals():
    # the shipped synthetic data were generated by the model at fundamentals.json (spatial
    # solve to tol_spatial = 1e-6 relative); solving the model there again (warm-started
    # from the household block at the observed prices, which only sets the starting
    # point) must give the data's location moments to that precision
    data = load_spatial({"dataset": "synthetic_us48"})
    from_files = load_spatial({"directory": "."}, base_dir=_synthetic_dir())
    np.testing.assert_array_equal(from_files.migration, data.migration)
    _, fund = load_synthetic()
    truth, numerics = Params.from_dict(fund["params"]), Numerics.from_dict(fund["numerics"])
    w, P, T = data.normalised_prices()
    start = solve(truth.with_(closure="partial", r=fund["r"], w=w, P=P, T=T), numerics)
    sol = solve(truth, numerics, warm_start=start)
    model, found = sol.moments(), observed_moments({"dataset": "synthetic_us48"})
    assert set(found) == set(LOCATION_MOMENTS)
    for name in LOCATION_MOMENTS:
        assert found[name] == pytest.approx(model[name], rel=1e-6, abs=1e-7), name
    # out-migration through the migration matrix (the shared definition) equals the mass
    # that leaves, counted directly from the stay probabilities and pre-migration mass
    leaving = float(np.sum(sol.out_migration() * sol.population))
    assert model["out_migration_rate"] == pytest.approx(leaving, rel=1e-12)


def _synthetic_dir() -> Path:
    return Path(incomplete_markets.__file__).parent / "data" / "synthetic_us48"


CHI = np.array([[1.0, 0.03, 0.02], [0.04, 1.0, 0.03], [0.02, 0.05, 1.0]])
A3 = np.array([[1.0, 0.6, 0.5], [0.6, 1.05, 0.6], [0.5, 0.6, 0.95]])


def _three_locations(**changes) -> Params:
    base = dict(gamma=1.0, beta=0.988, omega=0.987, e_grid=(1.0,), Pi=((1.0,),), a_low=-0.6,
                chi=CHI, theta=0.5, closure="spatial", A=A3, alpha_agg=0.04,
                sigma_trade=5.0, kappa_transfer=(0.1, -0.05, 0.0))
    return Params(**{**base, **changes})


@pytest.fixture(scope="module")
def three():
    """A 3-location spatial economy on 60 nodes and the tidy data it generates."""
    return solve(_three_locations(), Numerics(n_a=60, a_max=30.0))


def _spatial_spec(params, targets, **overrides) -> dict:
    spec = {"name": "spatial", "model": "incomplete_markets",
            "baseline": {"params": params, "numerics": {"n_a": 60, "a_max": 30.0}},
            "parameters": {"theta": {"lower": 0.3, "upper": 0.8}}, "targets": targets}
    return {**spec, **overrides}


def test_spec_spatial_source_gives_the_models_location_moments(tmp_path, three):
    # data written by the model's steady state (trade flows, migration, prices, population)
    # and read back: targets equal the model's moments there; the data side goes through
    # trade column sums and wage / price_index, the model side through the distribution
    SpatialData.from_solution(three).to_tidy(tmp_path / "data", fmt="parquet")
    names = list(LOCATION_MOMENTS)
    spec = EstimationSpec.from_dict(_spatial_spec(
        _three_locations(), {"moments": names, "spatial": {"directory": "data"}}),
        base_dir=tmp_path)
    model = model_moments(three, None)
    np.testing.assert_allclose(spec.objective.data, [model[n] for n in names], rtol=1e-12)
    assert spec.objective.value(model) < 1e-26


@pytest.mark.usefixtures("ray_session")
def test_estimation_from_spatial_data_files_recovers_the_fundamentals(tmp_path):
    # exact recovery: the data are what the 3-location economy generates at the truth, so
    # Q = 0 there; the estimate must reach it to solver tolerance (tol_spatial = 1e-6 on
    # goods and population residuals moves the moments by ~1e-8: parameters to 1e-6)
    truth = {"theta": 0.6, "alpha_agg": 0.06}
    sol = solve(_three_locations(**truth), Numerics(n_a=60, a_max=30.0))
    SpatialData.from_solution(sol).to_tidy(tmp_path / "data")
    spec = EstimationSpec.from_dict(_spatial_spec(
        _three_locations(),
        {"moments": ["out_migration_rate", "population_share_max", "real_wage_log_sd"],
         "spatial": {"directory": "data"}},
        parameters={"theta": {"lower": 0.3, "upper": 0.9},
                    "alpha_agg": {"lower": 0.0, "upper": 0.1}},
        optimizer={"n_trials": 8, "n_startup_trials": 4}, resources={"num_actors": 2}),
        base_dir=tmp_path)
    result = estimate(spec, tmp_path / "out", track=False)
    assert result.estimates["theta"] == pytest.approx(truth["theta"], abs=1e-6)
    assert result.estimates["alpha_agg"] == pytest.approx(truth["alpha_agg"], abs=1e-6)
    assert result.objective < 1e-12
    assert result.inference.identification.weak == ()


# ---------------------------------------------------------------- errors


def _problems(path, statistics="panel_moments") -> str:
    with pytest.raises(PanelError) as info:
        read_panel(path, statistics)
    assert info.value.source == str(path)
    return "\n".join(info.value.problems)


def test_missing_columns_name_the_file(tmp_path, panel_csv):
    _, frame = panel_csv
    bad = _write(tmp_path, frame.drop(columns=["consumption"]), "bad.csv")
    assert "missing column(s) ['consumption']" in _problems(bad)
    no_limit = _write(tmp_path, frame.drop(columns=["at_limit"]), "no_limit.csv")
    with pytest.raises(PanelError, match=r"no_limit\.csv:\n  - missing column\(s\) "
                       r"\['at_limit'\] \(statistics panel_moments reads"):
        read_panel(no_limit, "panel_moments")
    # a statistic that does not read at_limit does not need it
    assert read_panel(no_limit, "ar1_log_consumption").at_limit is None


def test_wrong_types_and_values_name_column_and_line(tmp_path, panel_csv):
    _, frame = panel_csv
    text = frame.assign(consumption=frame["consumption"].astype(str))
    text.loc[3, "consumption"] = "n/a?"
    assert "column consumption: must hold real numbers, got dtype " in _problems(
        _write(tmp_path, text))  # dtype object or str, by pandas version
    assert "column period: must hold integers, got dtype float64" in _problems(
        _write(tmp_path, frame.assign(period=frame["period"] + 0.5)))
    negative = frame.copy()
    negative.loc[7, "consumption"] = -1.0
    assert "column consumption: must be finite and > 0, got -1.0 at line 9" in _problems(
        _write(tmp_path, negative))
    limit = frame.assign(at_limit=frame["at_limit"].astype(int))
    limit.loc[2, "at_limit"] = 2
    assert "column at_limit: must be true/false (or 1/0), got 2 at line 4" in _problems(
        _write(tmp_path, limit))
    gap = frame.copy()
    gap.loc[0, "location"] = np.nan
    assert "column location: missing value at line 2" in _problems(_write(tmp_path, gap))


def test_shape_problems(tmp_path, panel_csv):
    _, frame = panel_csv
    short = frame[frame["period"] < 2]
    assert "too few periods: 2 (the statistics need at least 3)" in _problems(
        _write(tmp_path, short))
    unbalanced = frame.drop(index=frame.index[(frame["household"] == 5)
                                              & (frame["period"] == 3)])
    assert ("unbalanced panel: household 5 is observed in 4 of the 5 periods"
            in _problems(_write(tmp_path, unbalanced)))
    twice = pd.concat([frame, frame.iloc[[4]]])
    assert "household 4 appears twice in period 0" in _problems(_write(tmp_path, twice))
    holes = frame[frame["period"] != 2]
    assert "periods must be consecutive integers; 1 is followed by 3" in _problems(
        _write(tmp_path, holes))


def test_unreadable_files(tmp_path):
    assert "no such file" in _problems(tmp_path / "absent.csv")
    assert "unknown format" in _problems(tmp_path / "panel.xlsx")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not a parquet file")
    assert "cannot be read as PARQUET" in _problems(junk)


def test_spec_errors_name_the_spec_path_and_the_file(tmp_path, panel_csv):
    path, frame = panel_csv
    _write(tmp_path, frame.drop(columns=["assets"]), "bad.csv")
    names = ["consumption_log_sd", "assets_sd"]
    sim = {"statistics": "panel_moments"}
    with pytest.raises(InvalidConfigError, match=r"estimation\.targets\.panel\.path: .*bad\.csv: "
                       r"missing column\(s\) \['assets'\]"):
        EstimationSpec.from_dict(huggett_spec(targets={"moments": names, "panel": "bad.csv"},
                                              simulation=sim), base_dir=tmp_path)
    with pytest.raises(InvalidConfigError, match=r"estimation\.targets\.panel: needs a "
                       r"simulation section"):
        EstimationSpec.from_dict(huggett_spec(targets={"moments": names, "panel": str(path)}))
    with pytest.raises(InvalidConfigError, match=r"targets\.panel: give one source of data "
                       r"values; data and panel both are"):
        EstimationSpec.from_dict(huggett_spec(
            targets={"moments": names, "panel": str(path), "data": {"params": TRUTH}},
            simulation=sim))
    with pytest.raises(InvalidConfigError, match=r"targets\.moments: must be a list of moment "
                       r"names \(the values come from targets\.panel\)"):
        EstimationSpec.from_dict(huggett_spec(
            targets={"moments": {"assets_sd": 1.0}, "panel": str(path)}, simulation=sim))
    with pytest.raises(InvalidConfigError, match=r"targets\.covariance: is estimated from the "
                       r"panel"):
        EstimationSpec.from_dict(huggett_spec(
            targets={"moments": names, "panel": str(path), "covariance": np.eye(2).tolist()},
            simulation=sim))


def test_constant_data_statistic_gives_a_singular_bootstrap_covariance(tmp_path, panel_csv):
    # no household of the data is ever at the limit: share_at_limit is 0 in every resample
    _, frame = panel_csv
    path = _write(tmp_path, frame.assign(at_limit=False))
    with pytest.raises(InvalidConfigError, match=r"targets\.panel\.covariance: the bootstrap "
                       r"covariance of \['share_at_limit', 'assets_sd'\] on .*panel\.csv is "
                       r"singular"):
        EstimationSpec.from_dict(huggett_spec(
            targets={"moments": ["share_at_limit", "assets_sd"], "panel": str(path),
                     "weighting": "optimal"}, simulation={"statistics": "panel_moments"}))


def test_spatial_source_errors(tmp_path, three):
    files = SpatialData.from_solution(three).to_tidy(tmp_path / "data")
    names = ["out_migration_rate", "real_wage_log_sd"]
    cases = [
        ({"moments": names, "spatial": {"directory": "nowhere"}},
         r"targets\.spatial\.directory: .*nowhere is not a directory"),
        ({"moments": ["r", *names], "spatial": {"directory": "data"}},
         r"targets\.moments\.r: is not a location moment spatial data give"),
        ({"moments": names, "spatial": {"dataset": "us50"}},
         r"targets\.spatial\.dataset: the shipped dataset is 'synthetic_us48'"),
    ]
    for targets, message in cases:
        with pytest.raises(InvalidConfigError, match=message):
            EstimationSpec.from_dict(_spatial_spec(_three_locations(), targets),
                                     base_dir=tmp_path)
    pd.read_csv(files["locations"]).drop(columns="wage").to_csv(files["locations"], index=False)
    with pytest.raises(InvalidConfigError, match=r"targets\.spatial\.directory: .*data: "
                       r".*locations\.csv.*missing \['wage'\]"):
        EstimationSpec.from_dict(_spatial_spec(
            _three_locations(), {"moments": names, "spatial": {"directory": "data"}}),
            base_dir=tmp_path)
    with pytest.raises(InvalidConfigError, match=r"targets\.spatial: location moments are "
                       r"analytic"):
        EstimationSpec.from_dict(_spatial_spec(
            _three_locations(), {"moments": ["out_migration_rate"],
                                 "spatial": {"dataset": "synthetic_us48"}},
            simulation={"statistics": "panel_moments", "n_households": 10}))
