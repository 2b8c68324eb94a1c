"""hadsge production and trade (eqs. 13-18): the temporary equilibrium given L and K."""

import numpy as np
import pytest

from hetspace.core.errors import InvalidParamsError
from hetspace.core.hadsge.production import Production, solve_static

from .ge_economies import production


def test_one_market_gives_cobb_douglas_marginal_products():
    """N = I = 1 without materials: (13)-(14) give A = B r~^xi w~^(1-xi), so w~ and r~ are
    the marginal products (1 - xi) A (K/L)^xi and xi A (L/K)^(1-xi) (derived by hand)."""
    xi, A, L, K = 0.3, 0.2, 2.0, 3.0
    prod = Production(gamma_va=np.ones((1, 1)), xi=[xi], vartheta=[4.0], zeta=[1.0],
                      A=[[A]], delta_h=0.1, delta_k=0.2)
    st = solve_static(prod, [L], [K])
    np.testing.assert_allclose(st.w_real, (1 - xi) * A * (K / L) ** xi, rtol=1e-12)
    np.testing.assert_allclose(st.r_real, xi * A * (L / K) ** (1 - xi), rtol=1e-12)
    np.testing.assert_allclose(st.w, 0.9 + st.w_real, rtol=1e-14)
    np.testing.assert_allclose(st.r, 0.8 + st.r_real, rtol=1e-14)


def test_goods_market_clearing_and_factor_demands():
    """Recomputed from the solution's arrays: (15) shares sum to one by destination, (16)
    X^{ni} = sum_k gamma^{nk,ni} R^{nk} + zeta^i VA^n with R^{ni} = sum_m pi^{ni->m} X^{mi},
    (17)-(18) give back the supplied L and K, and every region's trade is balanced
    (final demand = value added, the chosen closure)."""
    prod = production(N=3, I=2)
    rng = np.random.default_rng(5)
    L, K = rng.uniform(0.5, 2.0, 6), rng.uniform(0.5, 2.0, 6)
    st = solve_static(prod, L, K)
    N, I_ = 3, 2
    np.testing.assert_allclose(st.pi.sum(axis=1), 1.0, rtol=1e-13)
    R = np.einsum("imn,ni->mi", st.pi, st.X)
    np.testing.assert_allclose(R, st.R, rtol=1e-11)
    va = prod.gamma_va * st.R
    X = np.einsum("nki,nk->ni", prod.io, st.R) + prod.zeta[None, :] * va.sum(1)[:, None]
    np.testing.assert_allclose(X, st.X, rtol=1e-11)
    Pc = np.exp(st.log_Pc)[:, None]
    L_dem = prod.gamma_va * (1 - prod.xi)[:, None] / (Pc * st.w_real.reshape(N, I_)) * R
    K_dem = prod.gamma_va * prod.xi[:, None] / (Pc * st.r_real.reshape(N, I_)) * R
    np.testing.assert_allclose(L_dem.ravel(), L, rtol=1e-11)
    np.testing.assert_allclose(K_dem.ravel(), K, rtol=1e-11)
    np.testing.assert_allclose(st.R.sum(1), st.X.sum(1), rtol=1e-10)  # sales = spending
    np.testing.assert_allclose(st.final_demand.sum(), 1.0, rtol=1e-13)


def test_price_index_is_cobb_douglas_and_real_prices_homogeneous():
    """P^n = prod_i (P^{ni}/zeta^i)^zeta^i (section 3.3); with constant returns real factor
    prices are homogeneous of degree zero in (L, K) jointly."""
    prod = production(N=2, I=3, seed=3)
    L, K = np.linspace(1, 2, 6), np.linspace(2, 1, 6)
    st = solve_static(prod, L, K)
    np.testing.assert_allclose(
        st.log_Pc, np.sum(prod.zeta * (st.log_P - np.log(prod.zeta)), axis=1), rtol=1e-13)
    st2 = solve_static(prod, 2 * L, 2 * K)
    np.testing.assert_allclose(st2.w_real, st.w_real, rtol=1e-10)
    np.testing.assert_allclose(st2.r_real, st.r_real, rtol=1e-10)


def test_bad_production_and_supplies_raise():
    with pytest.raises(InvalidParamsError, match="constant returns"):
        Production(gamma_va=np.full((1, 2), 0.5), xi=[0.3], vartheta=[4, 4], zeta=[.5, .5],
                   A=np.ones((1, 2)))
    with pytest.raises(InvalidParamsError, match="zeta: must sum to one"):
        Production(gamma_va=np.ones((1, 2)), xi=[0.3], vartheta=[4, 4], zeta=[.5, .6],
                   A=np.ones((1, 2)))
    with pytest.raises(InvalidParamsError, match="kappa"):
        production(kappa=np.full((2, 2, 2), 0.5))
    with pytest.raises(InvalidParamsError, match="xi"):
        production(xi=[0.0, 0.3])
    with pytest.raises(InvalidParamsError, match="L: must be finite and > 0"):
        solve_static(production(), [1, 1, 0, 1], [1, 1, 1, 1])


def test_far_starts_reach_the_same_temporary_equilibrium(caplog):
    """N = 10, I = 4 from log-output starts a log point or more off, where the CDP block's
    Newton alone stalls (the fallback's log line is checked): the damped fixed point then
    Newton give the equilibrium found from a good start."""
    prod = production(N=10, I=4, seed=2)
    rng = np.random.default_rng(3)
    L, K = rng.uniform(0.5, 2.0, 40), rng.uniform(0.5, 2.0, 40)
    ref = solve_static(prod, L, K, log_R0=np.log(prod.A))
    with caplog.at_level("DEBUG", logger="hetspace.core.hadsge.production"):
        for seed in range(3):
            start = np.random.default_rng(seed).normal(0.0, 1.5, (10, 4))
            st = solve_static(prod, L, K, log_R0=start)
            np.testing.assert_allclose(st.R, ref.R, rtol=1e-10)
            np.testing.assert_allclose(st.w_real, ref.w_real, rtol=1e-10)
    assert "damped fixed point" in caplog.text
