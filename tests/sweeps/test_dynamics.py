"""A sweep's ``dynamics`` section and the actors' transition query: each shocked point
also reports the transition from its unshocked economy (ModelSpec.dynamics), checked
against the same statistics computed directly; the spec is validated at load."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hetspace.core import get_model
from hetspace.core.errors import InvalidConfigError
from hetspace.core.incomplete_markets import shock_dynamics, solve
from hetspace.core.protocol import REGISTRY, register_model
from hetspace.sweeps import SweepSpec, load_results, run_sweep
from hetspace.sweeps.actors import SteadyStateActor, Task
from hetspace.sweeps.display import Display

from .conftest import armington_spec

DYN = {"horizon": 60, "at": [0, 1, 10]}
# the three-location economy of tests/core/incomplete_markets/test_transition_spatial.py,
# whose transitions are determinate (H_U's condition 5e3 at T = 100); spatial8 at n_a = 30
# is not (1.4e9 at T = 40: the quasi-Newton steps leave the admissible prices)
THREE = {"gamma": 1.0, "beta": 0.988, "omega": 0.987, "e_grid": [1.0], "Pi": [[1.0]],
         "a_low": -0.6, "chi": [[1.0, 0.03, 0.02], [0.04, 1.0, 0.03], [0.02, 0.05, 1.0]],
         "theta": 0.5, "closure": "spatial", "alpha_agg": 0.04, "sigma_trade": 5.0,
         "A": [[1.0, 0.6, 0.5], [0.6, 1.05, 0.6], [0.5, 0.6, 0.95]],
         "kappa_transfer": [0.1, -0.05, 0.0]}


def _spec(**changes) -> dict:
    spec = {"name": "dyn3", "model": "incomplete_markets",
            "baseline": {"params": THREE, "numerics": {"n_a": 40, "a_max": 30.0}},
            "grid": {"theta": [0.5]},
            "shocks": {"locations": [1], "sizes": [-0.01], "include_unshocked": True},
            "dynamics": DYN,
            "moments": ["r", "shock_population_change", "dyn_population_change_t10",
                        "dyn_population_half_life"],
            "resources": {"num_actors": 1}}
    spec.update(changes)
    return spec


def _direct(params, numerics, location, size):
    model = get_model("incomplete_markets")
    old = solve(params, numerics)
    new = solve(model.region_shock(params, location, size), numerics, warm_start=old)
    return shock_dynamics(old, new, location, DYN["horizon"], tuple(DYN["at"]))


@pytest.fixture(scope="module")
def direct():
    spec = SweepSpec.from_dict(_spec(), source="dyn3")
    params = spec.points[0].params
    return spec, _direct(params, spec.numerics, 1, -0.01)


def test_shocked_points_report_the_transition(ray_session, tmp_path, direct) -> None:
    spec, expected = direct
    result = run_sweep(spec, tmp_path / "out", plots=False)
    rows = load_results(tmp_path / "out").set_index("shock")
    shocked, unshocked = rows.loc["loc 1 -0.01"], rows.loc["none"]
    assert shocked["error"] is None and result.n_failed == 0
    for name, value in expected.items():
        assert np.isnan(unshocked[f"m_{name}"])  # only shocked points have a transition
        # the sweep's unshocked economy is solved warm from the shocked one, the direct one
        # cold (and which of the two points the actor solves first depends on the tour):
        # equal up to the steady states' tolerances. Measured: populations differ by up
        # to 3e-9 between cold and warm solves, which moves the gap left at the horizon (a
        # ratio of gaps of ~1e-4 and ~1e-2) by 1e-5 relative, and r along the path
        # (changes of ~2e-6) by 2e-8
        atol = 1e-7 if name.startswith("dyn_r_change") else 1e-9
        np.testing.assert_allclose(shocked[f"m_{name}"], value, rtol=1e-4, atol=atol,
                                   err_msg=name)
    assert expected["dyn_population_change_t10"] < 0.0  # people leave location 1


def test_the_actor_answers_transition_queries_from_its_steady_state(direct) -> None:
    # a plain actor object (no Ray): what a SteadyStatePool.transition call runs
    spec, expected = direct
    point = spec.points[0]
    assert point.shock is None
    actor = SteadyStateActor("incomplete_markets")
    actor.evaluate(Task(point.key, point.params, spec.numerics, 0))
    got = actor.transition(1, -0.01, DYN["horizon"], tuple(DYN["at"]))
    assert got["key"] == point.key and got["horizon"] == DYN["horizon"]
    for name, value in expected.items():
        # solved the same way (unshocked cold, shocked warm from it): equal to rounding
        np.testing.assert_allclose(got["statistics"][name], value, rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    assert actor.held_key == point.key  # the shocked economy is not kept


def test_dynamics_change_only_the_shocked_points_keys() -> None:
    with_dyn = SweepSpec.from_dict(_spec(), source="a")
    without = SweepSpec.from_dict(_spec(dynamics=None, moments=["r"]), source="b")
    keys = {p.shock is None: p.key for p in with_dyn.points}
    keys_without = {p.shock is None: p.key for p in without.points}
    assert keys[True] == keys_without[True] and keys[False] != keys_without[False]
    assert with_dyn.points[1].dynamics.base == with_dyn.points[0].params


def test_dynamics_statistics_display_with_their_period() -> None:
    display = Display.for_model(get_model("incomplete_markets"))
    info = display.moment("dyn_population_change_t10")
    assert info.label.endswith(", t = 10") and info.unit == "%"
    assert display.value("dyn_population_change_t10", -0.012) == pytest.approx(-1.2)


@pytest.mark.parametrize(("changes", "message"), [
    ({"shocks": None}, "sweep.dynamics: needs a shocks section"),
    ({"dynamics": {"horizon": 1}}, "sweep.dynamics.horizon: must be an integer from 2"),
    ({"dynamics": {"horizon": 10, "at": [3, 10]}},
     "sweep.dynamics.at[1]: must be a period from 0 to horizon - 1 = 9, got 10"),
    ({"dynamics": {"horizon": 10, "at": [3, 3]}}, "sweep.dynamics.at[1]: repeats period 3"),
    ({"dynamics": {"horizon": 10, "at": 5}}, "sweep.dynamics.at: must be a non-empty list"),
    ({"dynamics": {"horizon": 10, "at": [1], "T": 3}}, "sweep.dynamics.T: unknown key"),
    ({"dynamics": None}, "'dyn_population_change_t10' is not a moment of incomplete_markets"),
])
def test_bad_dynamics_sections_are_config_errors(changes, message) -> None:
    with pytest.raises(InvalidConfigError) as err:
        SweepSpec.from_dict(_spec(**changes), source="bad")
    assert message in str(err.value)


def test_models_without_transitions_refuse_the_section(monkeypatch) -> None:
    # armington with a region-shock hook but no dynamics, registered for this test only
    monkeypatch.setattr(REGISTRY, "_paths", dict(REGISTRY._paths))
    monkeypatch.setattr(REGISTRY, "_loaded", dict(REGISTRY._loaded))
    register_model(dataclasses.replace(get_model("armington"), name="no_dynamics",
                                       region_shock=lambda params, location, size: params))
    spec = armington_spec(shocks={"locations": [0], "sizes": [-0.01]}, dynamics={"horizon": 5})
    spec["model"] = "no_dynamics"
    with pytest.raises(InvalidConfigError, match=r"sweep\.dynamics: transitions are not "
                                                 r"supported by the model 'no_dynamics'"):
        SweepSpec.from_dict(spec, source="arm")
