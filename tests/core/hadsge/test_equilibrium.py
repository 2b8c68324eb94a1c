"""hadsge general-equilibrium steady state: households, Proposition 2, production (13-18)."""

import numpy as np
import pytest

from hetspace.core.errors import InvalidParamsError, SolverConvergenceError
from hetspace.core.hadsge import aggregate, solve_household
from hetspace.core.hadsge.equilibrium import solve_steady_state
from hetspace.core.hadsge.params import GENumerics
from hetspace.core.hadsge.production import Production

from .ge_economies import households, production

TOL = 1e-11  # GENumerics().tol: the largest log gap between implied and given returns


@pytest.fixture(scope="module")
def ss():
    prod = production(N=2, I=2)
    return solve_steady_state(households(4), prod)


def test_one_market_steady_state_is_cobb_douglas():
    """J = 1: at the solved returns, the household block (re-solved here) supplies L, K whose
    Cobb-Douglas marginal products (1 - xi) A (K/L)^xi and xi A (L/K)^(1 - xi), plus the
    undepreciated unit, are the returns themselves (derived by hand; solver tol 1e-11)."""
    xi, A = 0.35, 0.6
    prod = Production(gamma_va=np.ones((1, 1)), xi=[xi], vartheta=[4.0], zeta=[1.0], A=[[A]],
                      delta_h=0.05, delta_k=0.1)
    sol = solve_steady_state(households(1, n_ages=5), prod)
    ag = aggregate(sol.params, solve_household(sol.params))
    k = ag.K[0] / ag.L[0]
    np.testing.assert_allclose(sol.w, 0.95 + (1 - xi) * A * k**xi, rtol=1e-10)
    np.testing.assert_allclose(sol.r, 0.90 + xi * A * k ** (xi - 1), rtol=1e-10)
    assert sol.residuals["max_abs_log_return_gap"] <= TOL


def test_walras_law_and_factor_markets(ss):
    """At the steady state: final demand from the households' budgets (consumption plus net
    investment, at P^n) equals value added region by region and in total, and the firms'
    factor demands (17)-(18) at the households' returns (w~ = w - 1 + delta) equal the
    supplies of Proposition 2 (tolerance: 10 x the solver's log-return tolerance, relative)."""
    prod, st, ag = ss.production, ss.static, ss.aggregates
    va = (prod.gamma_va * st.R).sum(axis=1)
    np.testing.assert_allclose(ss.household_final_demand(), va, rtol=1e-9)
    np.testing.assert_allclose(ss.household_final_demand().sum(), 1.0, rtol=1e-9)
    N, I_ = prod.n_regions, prod.n_industries
    sales = np.einsum("imn,ni->mi", st.pi, st.X)
    Pc = np.exp(st.log_Pc)[:, None]
    w_real = (ss.w - 1 + prod.delta_h).reshape(N, I_)
    r_real = (ss.r - 1 + prod.delta_k).reshape(N, I_)
    L_dem = prod.gamma_va * (1 - prod.xi)[:, None] * sales / (Pc * w_real)
    K_dem = prod.gamma_va * prod.xi[:, None] * sales / (Pc * r_real)
    np.testing.assert_allclose(L_dem.ravel(), ag.L, rtol=1e-9)
    np.testing.assert_allclose(K_dem.ravel(), ag.K, rtol=1e-9)
    assert ss.residuals["max_abs_log_return_gap"] <= TOL


def test_symmetric_regions_give_symmetric_prices():
    """Two identical regions (same technology, symmetric trade costs and frictions that
    depend only on whether region and industry change) with unequal industries: from
    unequal starting returns, returns are equal across regions industry by industry."""
    N, I_ = 2, 2
    base = production(N=1, I=2, seed=4)
    kappa = np.ones((I_, N, N))
    kappa[:, 0, 1] = kappa[:, 1, 0] = [1.3, 1.6]
    prod = Production(gamma_va=np.repeat(base.gamma_va, 2, 0), io=np.repeat(base.io, 2, 0),
                      xi=np.full(2, 0.3), vartheta=base.vartheta, zeta=base.zeta,
                      A=np.repeat(base.A, 2, 0), kappa=kappa, delta_h=0.05, delta_k=0.1)
    reg, ind = np.divmod(np.arange(4), 2)
    same_r, same_i = reg[:, None] == reg[None, :], ind[:, None] == ind[None, :]
    tau = np.where(same_r & same_i, 1.0, np.where(same_r, 0.9, np.where(same_i, 0.85, 0.8)))
    chi = np.where(same_r, 1.0, 0.9)
    p = households(4, tau=tau, psi=tau, chi=chi, lam=np.tile([0.95, 1.0], 2),
                   w=[1.1, 1.2, 1.15, 1.05], r=[1.02, 1.04, 1.06, 1.03])
    sol = solve_steady_state(p, prod)
    np.testing.assert_allclose(sol.w[:2], sol.w[2:], rtol=1e-10)
    np.testing.assert_allclose(sol.r[:2], sol.r[2:], rtol=1e-10)
    assert abs(sol.w[0] - sol.w[1]) > 1e-4  # industries differ: the test is not trivial


def test_warm_start_gives_the_cold_answer(ss):
    prod = ss.production.with_(A=ss.production.A * 1.05)
    cold = solve_steady_state(households(4), prod)
    warm = solve_steady_state(households(4), prod, warm_start=ss)
    np.testing.assert_allclose(warm.w, cold.w, rtol=1e-10)
    np.testing.assert_allclose(warm.r, cold.r, rtol=1e-10)


def test_non_convergence_raises_with_residuals():
    with pytest.raises(SolverConvergenceError, match="max_abs_log_return_gap") as err:
        solve_steady_state(households(4, w=np.full(4, 2.0)), production(),
                           ge=GENumerics(max_iter=1))
    assert err.value.residuals["max_abs_log_return_gap"] > 1e-11


def test_market_count_mismatch_and_bad_numerics_raise():
    with pytest.raises(InvalidParamsError, match="N x I = 4"):
        solve_steady_state(households(3), production())
    with pytest.raises(InvalidParamsError, match="tol"):
        GENumerics(tol=0.0)
