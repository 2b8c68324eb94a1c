"""The second best as a transition block (core/planner/transition.py): its steady state
is a fixed point of the dated steps, and its fake-news Jacobians, with and without the
contingent date-0 promises (DFM section 5, B.51 with p -> 0), equal differences of
nonlinear paths (an independent computation: whole backward and forward passes)."""

from __future__ import annotations

import numpy as np
import pytest

from hetspace.core import InvalidParamsError
from hetspace.core.incomplete_markets import examples
from hetspace.core.incomplete_markets import solve as solve_workhorse
from hetspace.core.incomplete_markets.transition import HouseholdBlock
from hetspace.core.planner import Numerics, solve
from hetspace.core.planner.transition import PlannerBlock
from hetspace.core.planner.transition_ge import permanent_shock, shocked_params
from hetspace.core.transitions import fake_news_jacobian, nonlinear_path

from .test_planner import asymmetric

T = 12


@pytest.fixture(scope="module")
def block():
    sol = solve(asymmetric(), Numerics(n_v=40))
    return PlannerBlock(sol)


@pytest.fixture(scope="module")
def jacobians(block):
    return fake_news_jacobian(block, T), fake_news_jacobian(block, T, initial=True)


def test_the_steady_state_is_a_fixed_point_of_the_dated_steps(block) -> None:
    x = np.tile(block.steady_inputs(), (T, 1))
    y_ss = block.aggregate(block.steady_distribution(), block._policy_ss)
    for initial in (None, block.initial):
        path = nonlinear_path(block, x, initial=initial)
        np.testing.assert_allclose(path.outputs, np.tile(y_ss, (T, 1)), rtol=0, atol=1e-12)
    # the contingent promises at the unshocked surplus are the steady state's own
    np.testing.assert_allclose(block.initial(block.steady_backward()),
                               block.steady_distribution(), rtol=0, atol=1e-13)
    J = block.J
    assert np.isclose(y_ss[J:].sum(), 1.0) and np.isclose(y_ss[:J].sum(), block.sol.spending)


@pytest.mark.parametrize("initial", [False, True])
def test_fake_news_columns_equal_differences_of_nonlinear_paths(block, jacobians,
                                                                initial) -> None:
    """Columns (input, date s) of the Jacobian against central differences (step 1e-5)
    of nonlinear paths. Measured: gaps below 1e-8 against entries up to 0.03; a missing
    date-0 term (initial=True compared with the Jacobian without it) is off by 0.03."""
    jac = jacobians[int(initial)]
    x = np.tile(block.steady_inputs(), (T, 1))
    h = 1e-5
    for name, s in (("P_1", 3), ("w_0", 2), ("P_2", 0)):
        i = block.inputs.index(name)
        up, down = x.copy(), x.copy()
        up[s, i] += h
        down[s, i] -= h
        init = block.initial if initial else None
        dy = (nonlinear_path(block, up, initial=init).outputs
              - nonlinear_path(block, down, initial=init).outputs) / (2 * h)
        col = np.stack([jac.get(o, name)[:, s] for o in block.outputs], axis=1)
        scale = np.abs(col).max()
        assert scale > 1e-4  # the multiplier moves something
        np.testing.assert_allclose(col, dy, rtol=0, atol=1e-6 * scale)
    without, with_initial = jacobians
    assert np.abs(with_initial.J - without.J).max() > 1e-3  # the date-0 promises matter


def test_population_is_conserved_along_every_column(block, jacobians) -> None:
    for jac in jacobians:
        total = sum(jac.J[jac.outputs.index(f"L_{j}")] for j in range(block.J))
        assert np.abs(total).max() < 1e-7


def test_bad_uses_are_refused() -> None:
    fb = solve(asymmetric().with_(allocation="first_best"), Numerics(n_v=40))
    with pytest.raises(InvalidParamsError, match="second_best"):
        PlannerBlock(fb)
    params, num = examples.aiyagari_1994(n_a=40)
    with pytest.raises(InvalidParamsError, match="initial_jvp"):
        fake_news_jacobian(HouseholdBlock(solve_workhorse(params, num)), 5, initial=True)


# ---- general equilibrium (transition_ge) ----------------------------------------------

@pytest.fixture(scope="module")
def before():
    return solve(asymmetric(), Numerics(n_v=40))


def test_linear_and_nonlinear_paths_agree_to_second_order(before) -> None:
    """A permanent -s% productivity shock to location 1 (96% of the population): the
    linear path against the nonlinear perfect-foresight one, whose targets are met to
    1e-10; their gap scales like s^2 (measured: 7.0e-8 and 2.9e-7 at s = 0.2% and 0.4%,
    ratio 4.1), and both head for the new steady state."""
    gaps = []
    for size in (-0.002, -0.004):
        lin = permanent_shock(before, 1, size, 30)
        non = permanent_shock(before, 1, size, 30, after=lin.after, nonlinear=True)
        assert non.gap <= 1e-10 and non.steps <= 6
        gaps.append(np.abs(lin.population - non.population).max())
        change = lin.population_change(1)
        long_run = lin.after.population[1] / before.population[1] - 1.0
        assert long_run < 0 and change[0] < 0  # people leave at once, and in the long run
        assert abs(change[-1] - long_run) < 0.1 * abs(long_run)
        assert abs(change[-1] - long_run) < abs(change[0] - long_run)
        np.testing.assert_allclose(lin.population.sum(axis=1), 1.0, rtol=0, atol=1e-10)
    assert 3.0 < gaps[1] / gaps[0] < 5.0
    assert gaps[1] < 1e-2 * abs(lin.population_change(1)).max() * before.population[1]


def test_no_shock_no_transition(before) -> None:
    lin = permanent_shock(before, 1, 0.0, 10, after=before)
    np.testing.assert_allclose(lin.population, np.tile(before.population, (10, 1)),
                               rtol=0, atol=1e-11)
    np.testing.assert_allclose(lin.w, np.tile(before.w, (10, 1)), rtol=1e-9)


def test_bad_transition_requests_are_refused(before) -> None:
    with pytest.raises(InvalidParamsError, match="T"):
        permanent_shock(before, 1, -0.01, 1, after=before)
    with pytest.raises(InvalidParamsError, match="location"):
        shocked_params(before.params, 3, -0.01)
    other = solve(asymmetric(), Numerics(n_v=30))
    with pytest.raises(InvalidParamsError, match="grid sizes"):
        permanent_shock(before, 1, -0.01, 10, after=other)
