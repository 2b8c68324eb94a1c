"""Statistics of the transition after a permanent region shock (``shock_dynamics``), on
the three-location economy of test_transition_spatial.py (n_a = 40, T = 100)."""

import numpy as np
import pytest

from hetspace.core.errors import InvalidParamsError
from hetspace.core.incomplete_markets import solve
from hetspace.core.incomplete_markets.dynamics import dynamics_names, shock_dynamics
from hetspace.core.incomplete_markets.transition_spatial import SpatialTransition
from hetspace.core.incomplete_markets.transition_welfare import transition_welfare

from .test_transition_spatial import A3, NUM, _params

T = 100
AT = (0, 1, 5, 20, T - 1)


@pytest.fixture(scope="module")
def old():
    return solve(_params(), NUM)


@pytest.fixture(scope="module")
def new(old):
    A = A3.copy()
    A[1] *= 0.99
    return solve(_params(A), NUM, warm_start=old)


@pytest.fixture(scope="module")
def stats(old, new):
    return shock_dynamics(old, new, 1, T, AT)


def test_names_are_the_documented_ones(stats) -> None:
    assert tuple(stats) == dynamics_names(AT)


def test_population_path_starts_at_the_old_and_ends_at_the_new_steady_state(old, new, stats):
    long_run = new.population[1] / old.population[1] - 1.0
    assert long_run < -0.01  # people leave the shocked location
    assert stats["dyn_population_change_t0"] == 0.0  # date 0: the old distribution
    assert stats["dyn_population_gap_end"] < 1e-3
    np.testing.assert_allclose(stats[f"dyn_population_change_t{T - 1}"], long_run, rtol=1e-3)
    path = [stats[f"dyn_population_change_t{h}"] for h in AT]
    assert np.all(np.diff(path) < 0) and path[-2] > long_run  # gradual, toward it


def test_half_life_and_welfare_agree_with_the_path_itself(old, new, stats) -> None:
    impulse = SpatialTransition(old, T, outputs=("L_1",)).nonlinear(terminal=new)
    gap = np.abs(impulse.get("L_1") + old.population[1] - new.population[1])
    h = int(stats["dyn_population_half_life"])
    assert gap[h] <= gap[0] / 2 < gap[h - 1]
    welfare = transition_welfare(old, impulse, new)
    assert stats["dyn_welfare_change_initial"] == pytest.approx(welfare.initial[1], abs=1e-12)
    assert stats["dyn_welfare_change_initial"] < stats["dyn_welfare_change_total"] < 0.0
    np.testing.assert_allclose(stats["dyn_r_change_t5"], impulse.get("r")[5], atol=1e-12)


def test_no_shock_is_no_transition(old) -> None:
    # the path's periods are household solves at the steady state's prices: equal to the
    # steady state up to the household's tolerances (1e-12)
    stats = shock_dynamics(old, old, 1, 20, (0, 5))
    assert np.isnan(stats.pop("dyn_population_half_life"))  # no gap to halve
    assert stats.pop("dyn_population_gap_end") == 0.0
    assert max(abs(v) for v in stats.values()) < 1e-10, stats


def test_bad_location_and_periods_are_listed(old) -> None:
    with pytest.raises(InvalidParamsError) as err:
        shock_dynamics(old, old, 3, 20, (0, 20, -1))
    text = str(err.value)
    assert "location" in text and "[0, 3)" in text and "at" in text and "[20, -1]" in text
