"""Life histories and transfers under the second best (``planner.histories``), on the
three-location economy of test_planner.py's test of the three allocations (n_v = 100)."""

from __future__ import annotations

import numpy as np
import pytest

from hetspace.core import InvalidParamsError, get_model
from hetspace.core.planner import Numerics, Params
from hetspace.core.planner.histories import life_cycle, simulate

from .test_planner import BETA, OMEGA, THETA

N, PERIODS = 400, 150


def _params(allocation: str = "second_best") -> Params:
    A = [[1.0, 0.3, 0.2], [0.3, 1.1, 0.3], [0.2, 0.3, 0.95]]
    chi = [[1, 0.02, 0.01], [0.03, 1, 0.02], [0.01, 0.02, 1]]
    return Params(allocation=allocation, beta=BETA, omega=OMEGA, theta=THETA, chi=chi, A=A,
                  alpha_agg=0.04)


@pytest.fixture(scope="module")
def sol():
    return get_model("planner").solve(_params(), Numerics(n_v=100))


@pytest.fixture(scope="module")
def histories(sol):
    return simulate(sol, N, PERIODS, seed=7)


def test_promise_keeping_holds_at_every_visited_state(histories) -> None:
    # v = ln C + beta omega IV(v'), solved exactly off the nodes (B.46)
    assert histories.promise_keeping < 1e-8
    assert histories.off_grid == 0.0


def test_the_cross_section_is_the_stationary_distribution(sol, histories) -> None:
    # Monte Carlo (newborn and migration draws) against the stationary distribution
    # solved by a sparse LU (second_best.stationary_distribution): 4 standard errors
    shares = np.bincount(histories.location[:, -1], minlength=3) / N
    se = np.sqrt(sol.population * (1 - sol.population) / N)
    assert np.all(np.abs(shares - sol.population) < 4 * se), (shares, sol.population)


def test_transfers_balance_and_reproduce_consumption(sol, histories) -> None:
    # A.38: sum_l int (P C - w) dphi = spending - labour income = 0; per household the
    # budget P C = w + T holds with the allocation's consumption
    last = histories.transfer[:, -1]
    assert abs(last.mean()) < 4 * last.std() / np.sqrt(N)
    assert last.std() > 0.0  # a real redistribution, not zero transfers
    w, P = sol.w[histories.location], sol.P[histories.location]
    np.testing.assert_allclose(P * histories.consumption, w + histories.transfer, rtol=1e-12)


def test_a_stayers_promise_and_consumption_move_one_way(sol) -> None:
    # v -> v'_ii(v) is increasing, so a stayer's promises are a monotone sequence, and
    # consumption rises with the promise: both paths are monotone (front-loaded or back-
    # loaded, DFM Figure 2), and not constant here
    for i in range(3):
        lc = life_cycle(sol, i, 80)
        assert lc.off_grid == 0  # a path held at the grid's edge would be flat there
        for path in (lc.promise, lc.consumption):
            steps = np.diff(path)
            assert np.all(steps >= -1e-12) or np.all(steps <= 1e-12), (i, steps[:5])
        assert abs(lc.consumption[-1] / lc.consumption[0] - 1) > 1e-4
        assert np.sign(lc.consumption[-1] - lc.consumption[0]) == \
            np.sign(lc.promise[-1] - lc.promise[0])
        np.testing.assert_allclose(lc.transfer, sol.P[i] * lc.consumption - lc.income)


def test_bad_requests_are_listed(sol) -> None:
    with pytest.raises(InvalidParamsError, match="location"):
        life_cycle(sol, 3, 10)
    with pytest.raises(InvalidParamsError, match="periods"):
        simulate(sol, 5, 0, seed=0)
    fb = get_model("planner").solve(_params("first_best"))
    with pytest.raises(InvalidParamsError, match="second-best"):
        life_cycle(fb, 0, 10)
