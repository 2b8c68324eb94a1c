"""hadsge perfect-foresight transitions after a permanent change in fundamentals."""

import numpy as np
import pytest

from hetspace.core.errors import InvalidParamsError, SolverConvergenceError
from hetspace.core.hadsge import GENumerics, Numerics
from hetspace.core.hadsge.equilibrium import solve_steady_state
from hetspace.core.hadsge.path import initial_from_steady_state, path_supplies
from hetspace.core.hadsge.production import make_pricer
from hetspace.core.hadsge.transition import solve_transition, transition_at

from .ge_economies import households, production

T = 16  # four lifetimes of A = 4: the path settles well within it


@pytest.fixture(scope="module")
def ss0():
    return solve_steady_state(households(4), production())


@pytest.fixture(scope="module")
def shocked(ss0):
    """Productivity of (region 0, industry 0) up 10% and trade costs of industry 1 down 5%."""
    pr = ss0.production
    A1 = pr.A.copy()
    A1[0, 0] *= 1.1
    kappa1 = 1.0 + (pr.kappa - 1.0) * 0.95
    kappa1[1] = pr.kappa[1]
    kappa1[0] = 1.0 + (pr.kappa[0] - 1.0) * 0.95
    return solve_transition(ss0, pr.with_(A=A1, kappa=kappa1), T)


def test_constant_returns_reproduce_the_steady_state(ss0):
    """Along the steady state's constant returns, the path's supplies and t = 0 choice
    shares are the steady state's (cohort by cohort bookkeeping vs the cross-section)."""
    ini = initial_from_steady_state(ss0.aggregates, ss0.household)
    ps = path_supplies(ss0.params, Numerics(), ini, np.tile(ss0.w, (6, 1)),
                       np.tile(ss0.r, (6, 1)))
    np.testing.assert_allclose(ps.L, np.tile(ss0.aggregates.L, (6, 1)), rtol=1e-13)
    np.testing.assert_allclose(ps.K, np.tile(ss0.aggregates.K, (6, 1)), rtol=1e-13)
    np.testing.assert_allclose(ps.mu0[1:], ss0.household.mu_bar[1:], atol=1e-14)


def test_no_change_stays_at_the_steady_state(ss0):
    tr = solve_transition(ss0, ss0.production, 8)
    np.testing.assert_allclose(tr.w, np.tile(ss0.w, (8, 1)), rtol=1e-10)
    np.testing.assert_allclose(tr.r, np.tile(ss0.r, (8, 1)), rtol=1e-10)


def test_transition_clears_markets_and_walras_each_period(shocked):
    """Every period: returns equal those implied by the firms' real factor prices
    (1e-11 in logs, the solver's tol) and final demand from the households' budgets,
    P^n (C + W' - (1 - delta)(L + K)) with W' = beta / (1 - beta) C, equals value added
    region by region; the path ends at the new steady state."""
    tr, pr = shocked, shocked.ss1.production
    np.testing.assert_allclose(np.log(tr.w), np.log(1 - pr.delta_h + tr.w_real), atol=1e-10)
    np.testing.assert_allclose(np.log(tr.r), np.log(1 - pr.delta_k + tr.r_real), atol=1e-10)
    beta = tr.ss1.params.beta
    net = tr.C / (1 - beta) - (1 - pr.delta_h) * tr.L - (1 - pr.delta_k) * tr.K
    demand = np.exp(tr.log_Pc) * net.reshape(T, 2, 2).sum(-1)
    va = (pr.gamma_va[None] * tr.R).sum(-1)
    np.testing.assert_allclose(demand, va, rtol=1e-9)
    np.testing.assert_allclose(tr.w[-1], tr.ss1.w, rtol=1e-9)
    assert np.max(np.abs(tr.w[0] / tr.ss0.w - 1)) > 1e-3  # the change matters


def test_bad_horizon_and_mismatched_params_raise(ss0):
    with pytest.raises(InvalidParamsError, match="T: must be an integer"):
        solve_transition(ss0, ss0.production, 1)
    with pytest.raises(InvalidParamsError, match="ages and markets"):
        solve_transition(ss0, ss0.production, 8, params1=households(4, n_ages=5))


def test_too_short_horizon_and_non_convergence_raise(ss0):
    """T = 3 < A = 4: the path cannot have settled (the workers alive at t = 0 are still
    there), so the last period's gap to the new steady state is reported; one Newton
    step is not enough either."""
    pr = ss0.production
    A1 = pr.A.copy()
    A1[0, 0] *= 1.1
    with pytest.raises(SolverConvergenceError, match="terminal_gap") as err:
        solve_transition(ss0, pr.with_(A=A1), 3)
    assert err.value.residuals["terminal_gap"] > 1e-6
    ss1 = solve_steady_state(ss0.params, pr.with_(A=A1))
    ini = initial_from_steady_state(ss0.aggregates, ss0.household)
    with pytest.raises(SolverConvergenceError, match="max_abs_log_return_gap"):
        transition_at(ss0.params, make_pricer(pr.with_(A=A1)), ini, ss1, 12, Numerics(),
                      GENumerics(max_iter=1), 1e-6)
