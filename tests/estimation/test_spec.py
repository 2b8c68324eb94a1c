"""Estimation specs: a valid spec builds; every user error names its path and says why."""

from __future__ import annotations

import numpy as np
import pytest

from hetspace.core.errors import InvalidConfigError
from hetspace.estimation import EstimationSpec, load_estimation_spec
from hetspace.estimation.transforms import Parameter

from .conftest import MPC_TARGET, R_TARGET, huggett_spec


def build(**overrides) -> EstimationSpec:
    return EstimationSpec.from_dict(huggett_spec(**overrides))


def test_valid_spec_builds_objective_and_parameters():
    spec = build()
    assert spec.names == ("beta", "a_low")
    assert spec.objective.names == ("r", "mpc_mean")
    np.testing.assert_array_equal(spec.objective.data, [R_TARGET, MPC_TARGET])
    np.testing.assert_array_equal(spec.objective.W, np.eye(2))
    assert spec.simulation is None and spec.covariance is None
    assert spec.params_at([0.99, -3.0]).a_low == -3.0


def test_unknown_parameter_name():
    params = {"betta": {"lower": 0.97, "upper": 0.99}}
    with pytest.raises(InvalidConfigError, match=r"estimation\.parameters\.betta: unknown "
                       r"parameter.*did you mean 'beta'"):
        build(parameters=params)


def test_bound_outside_valid_range():
    # the bond closure needs a_low < 0 (bonds in zero net supply): the upper bound is invalid
    params = {"a_low": {"lower": -3.0, "upper": 0.5}}
    with pytest.raises(InvalidConfigError, match=r"estimation\.parameters\.a_low\.upper: bound "
                       r"0\.5 is outside the valid range of a_low.*must be < 0"):
        build(parameters=params)


def test_bound_outside_range_of_discount_factor():
    params = {"beta": {"lower": 0.9, "upper": 1.2}}  # beta * omega < 1 is required
    with pytest.raises(InvalidConfigError, match=r"parameters\.beta\.upper: bound 1\.2"):
        build(parameters=params)


def test_target_not_produced_by_the_model():
    with pytest.raises(InvalidConfigError, match=r"targets\.moments\.top_share: is not a moment "
                       r"of incomplete_markets; known: r, aggregate_assets, mpc_mean, "):
        build(targets={"moments": {"r": 0.003, "top_share": 0.3}})
    with pytest.raises(InvalidConfigError, match=r"targets\.moments\.mpc_men: is not a moment "
                       r"of incomplete_markets \(did you mean 'mpc_mean'\?\)"):
        build(targets={"moments": {"r": 0.003, "mpc_men": 0.3}})


def test_target_nan_at_baseline():
    # the wealth Gini is undefined (nan) when bonds are in zero net supply
    with pytest.raises(InvalidConfigError, match=r"targets\.moments\.wealth_gini: is not finite"):
        build(targets={"moments": {"r": 0.003, "wealth_gini": 0.3}})


def test_singular_weighting_matrix():
    targets = {"moments": {"r": R_TARGET, "mpc_mean": MPC_TARGET}, "weighting": "matrix",
               "matrix": [[1.0, 2.0], [2.0, 4.0]]}
    with pytest.raises(InvalidConfigError, match=r"targets\.matrix: is singular or not "
                       r"positive definite"):
        build(targets=targets)


def test_singular_covariance_with_optimal_weighting():
    targets = {"moments": {"r": R_TARGET, "mpc_mean": MPC_TARGET}, "weighting": "optimal",
               "covariance": [[1e-6, 0.0], [0.0, 0.0]]}
    with pytest.raises(InvalidConfigError, match=r"targets\.covariance: is singular"):
        build(targets=targets)


def test_covariance_gives_inverse_and_diagonal_weights():
    cov = [[4e-6, 1e-6], [1e-6, 1e-4]]
    targets = {"moments": {"r": R_TARGET, "mpc_mean": MPC_TARGET}, "covariance": cov}
    optimal = build(targets={**targets, "weighting": "optimal"})
    np.testing.assert_allclose(optimal.objective.W @ np.array(cov), np.eye(2), atol=1e-10)
    diagonal = build(targets={**targets, "weighting": "diagonal"})
    np.testing.assert_allclose(diagonal.objective.W, np.diag([1 / 4e-6, 1 / 1e-4]))


def test_all_problems_reported_together_with_lines(tmp_path):
    text = """name: bad
model: incomplete_markets
baseline:
  params: {gamma: 1.5, beta: 0.99, e_grid: [1.0, 0.1], Pi: [[0.9, 0.1], [0.5, 0.5]],
           a_low: -2.0, limit_on_face_value: true, closure: bond}
  numerics: {n_a: 100, a_max: 12.0, grid: power}
parameters:
  gama: [1.0, 3.0]
  a_low: {lower: -3.0, upper: -1.0, transform: log}
targets:
  moments: {r: 0.003}
method: gmm
optimizer: {n_trials: 0, sampler: random, depth: 0}
"""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InvalidConfigError) as info:
        load_estimation_spec(path)
    problems = "\n".join(info.value.problems)
    assert "line 8: estimation.parameters.gama: unknown parameter" in problems
    assert "line 9: estimation.parameters.a_low: transform log needs lower > 0" in problems
    assert "line 12: estimation.method: must be one of smm, indirect_inference" in problems
    assert "estimation.optimizer.n_trials: must be an integer >= 1, got 0" in problems
    assert "estimation.optimizer.sampler: must be one of tpe, cmaes" in problems
    assert "estimation.optimizer.depth: must be an integer >= 1, got 0" in problems


def test_indirect_inference_needs_simulation():
    with pytest.raises(InvalidConfigError, match=r"estimation\.simulation: is required"):
        build(method="indirect_inference")


def test_shipped_configs_load():
    from hetspace.estimation.earnings_spec import EarningsSpec
    from hetspace.estimation.spec import load_spec

    from .conftest import REPO_CONFIGS

    kinds = set()
    for path in sorted(REPO_CONFIGS.glob("*.yaml")):
        spec = load_spec(path)  # what `hetspace estimate` loads
        kinds.add(type(spec))
        if isinstance(spec, EarningsSpec):
            assert spec.truth is not None and spec.panel.u.shape[0] > 0
        else:
            assert spec.parameters
    assert kinds == {EstimationSpec, EarningsSpec}


@pytest.mark.parametrize("transform,lo,hi", [("none", -6.0, -1.5), ("log", 0.5, 4.0),
                                             ("logit", 0.9, 0.999)])
def test_transforms_round_trip(transform, lo, hi):
    par = Parameter.from_mapping("x", {"lower": lo, "upper": hi, "transform": transform})
    for x in np.linspace(lo, hi, 7):
        assert par.from_z(par.to_z(x)) == pytest.approx(x, rel=1e-14, abs=1e-14)


def test_non_numeric_debug_sleep_is_a_config_error():
    # used to escape as a bare ValueError from float("x")
    with pytest.raises(InvalidConfigError, match=r"estimation\.debug\.sleep: must be a number "
                       r"of seconds in \[0, 60\], got 'x'"):
        build(debug={"sleep": "x"})
