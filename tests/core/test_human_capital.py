"""human_capital: the Huggett-Kaplan valuation of human capital (papers/004).

Closed forms (section 2.4 and its Epstein-Zin extension in closed_form.py), the
Merton share, Euler equations, valuation invariants and homogeneity.
"""

import dataclasses
import importlib

import numpy as np
import pytest
from scipy.interpolate import PchipInterpolator
from scipy.optimize import brentq

from hetspace.core import InvalidParamsError, SolverConvergenceError, get_model
from hetspace.core.human_capital import (
    MOMENTS,
    MarkovParams,
    Numerics,
    Params,
    gauss_hermite_normal,
    hand_to_mouth_values,
    kernels,
    make_shocks,
    simulate_panel,
    simulate_profiles,
    solve,
)
from hetspace.core.human_capital import shocks as shocks_module
from hetspace.core.human_capital.shocks import NATURAL_SHARE, borrowing_limits

# the package exports the function solve, which hides the module of the same name
solve_module = importlib.import_module("hetspace.core.human_capital.solve")

J = 46  # section 2.4: ages 20-65
R = 0.01
SMALL = Numerics(n_savings=30, n_quad=5)
# Gauss-Hermite with n nodes misses E[exp(k s eps)] by about (k s)^(2n) / (2^n n!): 4e-9 per
# age at n = 5, s = .3, k = 1 (the naive value), below 1e-16 at n = 9.
CLOSED = Numerics(n_savings=30, n_quad=9)


def example(rho: float, s: float, **kw) -> Params:
    """Section 2.4: CRRA rho, ln z ~ N(-s^2/2, s^2), r = .01, beta from the restriction."""
    kw = {"gamma": rho, "alpha": rho, **kw}
    return Params(n_ages=J, beta=None, r=R, mu_z=-s * s / 2, sigma_z=s, **kw)


def stock_economy(**kw) -> Params:
    base = {"n_ages": 12, "beta": 0.95, "gamma": 1 / 1.17, "alpha": 5.0, "r": R,
            "mu_z": -0.005, "sigma_z": 0.1, "stock": True, "mu_s": 0.045, "sigma_s": 0.18,
            "corr": 0.2}
    return Params(**{**base, **kw})


# --- section 2.4 ------------------------------------------------------------------------


@pytest.mark.parametrize(("rho", "s", "v1"), [(2.0, 0.2, 10.4392), (1.0, 0.3, 9.4074)])
def test_closed_form_matches_published_values(rho, s, v1):
    # Reference values: issue 16, from the section-2.4 closed form v_1 = sum_{n<J} q^n,
    # q = exp(-rho s^2)/(1+r) (re-derived and re-evaluated for this test); naive 36.0945.
    cf = hand_to_mouth_values(example(rho, s))
    np.testing.assert_allclose(cf["value"][0], v1, atol=5e-5)
    np.testing.assert_allclose(cf["naive"][0], 36.0945, atol=5e-5)
    if rho == 2.0:
        np.testing.assert_allclose(cf["value"][0] / cf["naive"][0], 0.2892, atol=5e-5)
        np.testing.assert_allclose(cf["mean_return"] - 1.0, 0.09412, atol=5e-6)


@pytest.mark.parametrize(("rho", "s"), [(2.0, 0.2), (1.0, 0.3), (2.0, 0.0)])
def test_solver_reproduces_section_2_4(rho, s):
    # With 9 Gauss-Hermite nodes E[z^k] is exact to rounding, so the discrete economy has
    # the continuous closed form; 1e-9 leaves room for rounding over 45 ages.
    p = example(rho, s)
    sol = solve(p, CLOSED)
    cf = hand_to_mouth_values(p)
    pt = sol.at(1)
    np.testing.assert_allclose(pt.consumption, 1.0, rtol=1e-12)  # c = e is optimal
    np.testing.assert_allclose(pt.value, cf["value"][0], rtol=1e-9)
    np.testing.assert_allclose(pt.naive, cf["naive"][0], rtol=1e-9)
    np.testing.assert_allclose(pt.value / pt.naive, cf["value"][0] / cf["naive"][0], rtol=1e-9)
    np.testing.assert_allclose(pt.mean_return, (1 + R) * np.exp(rho * s * s), rtol=1e-9)
    for age in (2, 20, 45):  # xhat = 1 at every age along c = e
        np.testing.assert_allclose(sol.at(age, 1.0).value, cf["value"][age - 1], rtol=1e-9)
    if s == 0.0:
        np.testing.assert_allclose(pt.value, pt.naive, rtol=1e-12)


def test_value_falls_and_return_rises_with_risk():
    # Figure 1 of papers/004: v_1 falls and the mean return rises in s; rho amplifies both.
    rows = {rho: [solve(example(rho, s), CLOSED).at(1) for s in (0.1, 0.2, 0.3)]
            for rho in (1.0, 2.0)}
    for pts in rows.values():
        assert pts[0].value > pts[1].value > pts[2].value
        assert pts[0].mean_return < pts[1].mean_return < pts[2].mean_return
    assert rows[2.0][2].value < rows[1.0][2].value
    assert rows[2.0][2].mean_return > rows[1.0][2].mean_return


@pytest.mark.parametrize(("ies", "alpha"), [(1.17, 2.0), (0.5, 4.0), (2.0, 6.0)])
def test_epstein_zin_closed_form(ies, alpha):
    # closed_form.py: with c = e, q = exp(mu + (1 - 2 alpha) s^2 / 2) / (1 + r) whatever the
    # IES; alpha = 2 must give the CRRA rho = 2 value 10.4392 (issue 16).
    s = 0.2
    p = Params(n_ages=J, beta=None, gamma=1.0 / ies, alpha=alpha, r=R, mu_z=-s * s / 2,
               sigma_z=s)
    pt = solve(p, Numerics(n_savings=30, n_quad=15)).at(1)  # E[z^-6] needs more nodes
    q = np.exp(-alpha * s * s) / (1 + R)
    expected = q * (1 - q ** (J - 1)) / (1 - q)
    np.testing.assert_allclose(pt.consumption, 1.0, rtol=1e-12)
    np.testing.assert_allclose(pt.value, expected, rtol=1e-9)
    np.testing.assert_allclose(pt.euler_bond, 1.0, rtol=1e-12)
    if alpha == 2.0:
        np.testing.assert_allclose(pt.value, 10.4392, atol=5e-5)


def test_survival_enters_the_sdf_and_the_euler_equation_alike():
    # With survival psi each age the section-2.4 restriction reads (1+r) beta psi E[..] = 1:
    # beta / psi instead of beta keeps c = e optimal and every value unchanged (psi enters
    # both m and the Euler equation), while the naive value ignores survival (A.2.2).
    base = example(2.0, 0.2)
    psi = 0.97
    p = base.with_(beta=base.beta_value / psi, survival=np.r_[np.full(J - 1, psi), 0.0])
    a, b = solve(base, CLOSED), solve(p, CLOSED)
    for age in (1, 20, 45):
        pa, pb = a.at(age, 1.0), b.at(age, 1.0)
        np.testing.assert_allclose(pb.consumption, 1.0, rtol=1e-12)
        np.testing.assert_allclose([pb.value, pb.naive, pb.mean_return],
                                   [pa.value, pa.naive, pa.mean_return], rtol=1e-10)
        np.testing.assert_allclose(pb.euler_bond, 1.0, rtol=1e-10)


# --- the stock --------------------------------------------------------------------------


@pytest.mark.parametrize("ies", [1.17, 0.5])
def test_stock_share_without_earnings_is_mertons(ies):
    # No earnings after age 1 (1e-12 of age-1 earnings): c and V are linear in wealth, so the
    # share solves E[R_p^-alpha (R^s - R^b)] = 0 at every age and wealth, whatever the IES.
    profile = np.full(8, 1e-12)
    profile[0] = 1.0
    p = Params(n_ages=8, beta=0.96, gamma=1.0 / ies, alpha=5.0, r=R, stock=True, mu_s=0.04,
               sigma_s=0.18, profile=profile)
    sol = solve(p, Numerics(n_savings=20, n_quad=7))
    x, w = gauss_hermite_normal(7)
    rs, rb = np.exp(0.04 + 0.18 * x), 1 + R
    merton = brentq(lambda t: w @ ((rb + t * (rs - rb)) ** -5.0 * (rs - rb)), 0.0, 1.0,
                    xtol=1e-14)
    np.testing.assert_allclose(sol.theta[:-1, 0, 1:], merton, rtol=1e-7)


def _nodes(sol, age, kmin=1):
    return sol.xe[age - 1, 0, kmin:]


def test_euler_equations_hold_at_grid_nodes():
    # A.2.1 (1')-(2'): E[m R^b] = 1 off the bond corner, E[m R^s] = 1 off the stock corners;
    # E[m R^h] = 1 always (fn 4). At grid nodes only the share root and rounding remain.
    sol = solve(stock_economy(), SMALL)
    interior = corner = 0
    for age in (1, 5, 11):
        for x in _nodes(sol, age):
            pt = sol.at(age, float(x))
            np.testing.assert_allclose(pt.euler_human, 1.0, rtol=1e-10)
            if pt.stock_share < 1.0:
                np.testing.assert_allclose(pt.euler_bond, 1.0, rtol=1e-9)
            else:
                assert pt.euler_bond < 1.0
            if 0.0 < pt.stock_share < 1.0:
                interior += 1
                np.testing.assert_allclose(pt.euler_stock, 1.0, rtol=1e-9)
            else:
                corner += 1
                np.testing.assert_allclose(pt.euler_stock, 1.0, rtol=1e-9)  # theta = 1 here
    assert interior > 5 and corner > 5  # both cases were exercised


def test_euler_off_nodes_within_interpolation_error():
    # Between nodes the policy is interpolated; the Euler errors of the assets held shrink
    # with the grid (measured: 4.2e-4 at 20 nodes, 7.3e-5 at 80).
    p = stock_economy(corr=0.0)
    errs = []
    for n in (20, 80):
        sol = solve(p, Numerics(n_savings=n, n_quad=5))
        err = 0.0
        for x in (2.3, 4.7, 9.1, 15.3):
            pt = sol.at(5, x)
            assert pt.stock_share > 0.0
            err = max(err, abs(pt.euler_stock - 1.0))
            if pt.stock_share < 1.0:
                err = max(err, abs(pt.euler_bond - 1.0))
        errs.append(err)
    assert errs[1] < errs[0] / 3
    assert errs[1] < 2e-4


def test_pchip_slopes_match_scipy():
    # Cross-method: the kernels' Fritsch-Carlson slopes against scipy's PchipInterpolator,
    # on a concave, a non-monotone and a linear series over uneven nodes.
    x = np.array([0.0, 0.1, 0.35, 0.4, 1.0, 2.5, 2.6, 4.0])
    for y in (np.sqrt(x + 0.1), np.sin(2.0 * x), 3.0 * x - 1.0):
        out = np.empty_like(x)
        kernels.pchip_slopes(x, y, out)
        np.testing.assert_allclose(out, PchipInterpolator(x, y).derivative()(x), rtol=1e-12,
                                   atol=1e-14)


def test_cubic_and_linear_interpolation_agree_and_cubic_is_closer():
    # Both interpolations converge to one value function; at 40 nodes the monotone cubic is
    # closer to a 320-node solution (measured 1.2e-4 vs 1.2e-3 relative).
    p = stock_economy()
    fine = solve(p, Numerics(n_savings=320, n_quad=5))
    errs = {}
    for interp in ("linear", "pchip"):
        sol = solve(p, Numerics(n_savings=40, n_quad=5, interpolation=interp))
        errs[interp] = max(abs(sol.at(a, x).value / fine.at(a, x).value - 1.0)
                           for a in (1, 6, 11) for x in (0.7, 2.3, 6.1))
    assert errs["linear"] < 5e-3 and errs["pchip"] < errs["linear"] / 3


def test_reported_euler_errors_shrink_with_the_grid():
    # residuals: Euler errors between nodes (consumption units); interpolation error, so
    # they fall with more savings nodes (measured max 9.8e-3, 2.0e-3; mean 2.6e-4, 1.6e-5).
    errs = [solve(stock_economy(), Numerics(n_savings=n, n_quad=5)).residuals
            for n in (20, 80)]
    assert errs[1]["euler_error_max"] < errs[0]["euler_error_max"] / 3
    assert errs[1]["euler_error_mean"] < errs[0]["euler_error_mean"] / 3
    assert 0.0 < errs[1]["euler_error_mean"] <= errs[1]["euler_error_max"] < 1e-2


@pytest.mark.parametrize("hold_stock", [False, True])
def test_riskless_earnings_value_is_naive_and_all_bond(hold_stock):
    # Earnings without risk: where the bond Euler equation holds at this age and at every
    # state reachable later, v = naive value and y = v' + e' is riskless, so share_bond = 1
    # and share_stock = 0 (papers/004, section 2.2 and A.2.3). At grid nodes in the upper
    # half of the wealth grid the stock share is interior at every age (checked below) and
    # next-age wealth stays in that region, so this holds to rounding.
    profile = np.linspace(1.0, 0.2, 10)  # falling earnings: the agent saves
    p = stock_economy(n_ages=10, sigma_z=0.0, mu_z=0.0, corr=0.0, profile=profile,
                      alpha=12.0, mu_s=0.025, hold_stock=hold_stock)
    sol = solve(p, SMALL)
    upper = slice(SMALL.n_savings // 2, None)
    if hold_stock:
        assert np.all((sol.theta[:-1, 0, 8:] > 0.0) & (sol.theta[:-1, 0, 8:] < 1.0))
    for age in (1, 4, 8):
        for x in sol.xe[age - 1, 0, upper][::4]:
            pt = sol.at(age, float(x))
            np.testing.assert_allclose(pt.value, pt.naive, rtol=1e-10)
            np.testing.assert_allclose(pt.share_bond, 1.0, rtol=1e-10)
            np.testing.assert_allclose(pt.share_stock, 0.0, atol=1e-10)


def test_stock_share_zero_when_stock_not_held_and_independent():
    # R^s independent of earnings and no stock held: y depends on earnings shocks only, so
    # its projection on R^s is zero (section 7 of the notes); with correlation it is not.
    for corr, zero in ((0.0, True), (0.6, False)):
        sol = solve(stock_economy(corr=corr, hold_stock=False), SMALL)
        for age, x in ((1, 1.0), (6, 3.0), (11, 0.5)):
            pt = sol.at(age, x)
            assert pt.stock_share == 0.0
            if zero:
                np.testing.assert_allclose(pt.share_stock, 0.0, atol=1e-12)
            else:
                assert pt.share_stock > 0.01


def test_shares_and_mean_return_identities():
    # Shares sum to one (A.2.3); with a riskless bond E[eps] = 0 (fn 21), so
    # E[R^h] = (a^b R^b + a^s E R^s) / v (section 5.2, fn 22).
    sol = solve(stock_economy(), SMALL)
    sh = sol.shocks
    rs_mean = float(sh.prob @ sh.rs[sh.idx])  # one row: every node
    for age, x in ((1, 1.0), (6, 4.0), (11, 2.0)):
        pt = sol.at(age, x)
        np.testing.assert_allclose(pt.share_bond + pt.share_stock + pt.share_orth, 1.0,
                                   rtol=1e-12)
        np.testing.assert_allclose(pt.mean_return,
                                   (pt.a_bond * (1 + R) + pt.a_stock * rs_mean) / pt.value,
                                   rtol=1e-10)
        assert pt.value < pt.naive  # idiosyncratic risk lowers the value (section 5)


def test_homogeneity_in_earnings_scale():
    # Lemma 1-3: scaling earnings (and cash on hand) by lam scales c, V, v and the naive
    # value by lam and leaves shares unchanged. The savings grid scales with the profile,
    # so equality holds to rounding.
    lam = 3.0
    base = stock_economy(profile=np.linspace(1.0, 1.5, 12))
    one = solve(base, SMALL)
    big = solve(base.with_(profile=lam * base.earnings_profile), SMALL)
    for age, x in ((1, 1.0), (5, 2.7), (11, 6.0)):
        a, b = one.at(age, x), big.at(age, lam * x)
        for name in ("consumption", "savings", "utility", "value", "naive"):
            np.testing.assert_allclose(getattr(b, name), lam * getattr(a, name), rtol=1e-10)
        for name in ("stock_share", "share_bond", "share_stock", "share_orth", "mean_return"):
            np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-9,
                                       atol=1e-12)


# --- borrowing -------------------------------------------------------------------------


def test_natural_limit_is_present_value_of_riskless_earnings():
    # Riskless earnings: the natural limit at age j is sum_{k>j} g_k / R^(k-j).
    g = np.linspace(1.0, 2.0, 6)[:, None]
    f = np.ones((6, 1))
    pv = np.array([sum(g[k, 0] / 1.01 ** (k - j) for k in range(j + 1, 6)) for j in range(6)])
    np.testing.assert_allclose(borrowing_limits(f, g, 1.01, 1e9), NATURAL_SHARE * pv,
                               rtol=1e-14)
    np.testing.assert_allclose(borrowing_limits(f, g, 1.01, 0.5), np.minimum(0.5, 0.999 * pv))


def test_borrowing_limit_that_does_not_bind_leaves_the_closed_form():
    # Section 2.4 allows borrowing (only a_{J+1} >= 0); c = e has zero savings and the bond
    # Euler equation holds with equality, so a borrowing limit changes nothing.
    p = example(2.0, 0.2, borrowing=1.0)
    sol = solve(p, CLOSED)
    assert np.all(sol.shocks.amin[:-1] < 0.0)
    cf = hand_to_mouth_values(p)
    for age in (1, 2, 20, 45):
        pt = sol.at(age, 1.0)
        np.testing.assert_allclose(pt.consumption, 1.0, rtol=1e-12)
        np.testing.assert_allclose(pt.value, cf["value"][age - 1], rtol=1e-9)


def test_borrowing_raises_value_when_earnings_rise():
    # Rising riskless earnings: without borrowing the agent is at the corner (E[m R^b] < 1,
    # v < naive); a limit of .2 binds at age 1; at the natural limit the agent is off the
    # corner everywhere and v = naive (Figure 7: borrowing raises v early). With CRRA and
    # riskless earnings consumption is linear in wealth, so interpolation is exact there.
    base = Params(n_ages=10, beta=0.97, gamma=2.0, alpha=2.0, r=R,
                  profile=np.linspace(1.0, 3.0, 10))
    pts = [solve(base.with_(borrowing=b), SMALL).at(1) for b in (0.0, 0.2, 1e6)]
    assert pts[0].savings == 0.0 and pts[0].euler_bond < 0.9
    np.testing.assert_allclose(pts[1].savings, -0.2, rtol=1e-12)
    assert pts[1].euler_bond < 1.0 - 1e-3
    assert -17.0 < pts[2].savings < -0.2
    assert pts[0].value < pts[1].value < pts[2].value
    np.testing.assert_allclose(pts[2].value, pts[2].naive, rtol=1e-9)
    np.testing.assert_allclose(pts[2].euler_bond, 1.0, rtol=1e-9)


def test_euler_equations_with_borrowing_and_a_stock():
    # Stock theta (a - amin) >= 0, bond >= amin: off the limit node the bond Euler equation
    # holds where the bond is above its limit (theta < 1), the stock's where theta > 0.
    p = stock_economy(borrowing=0.5, profile=np.linspace(1.0, 2.0, 12))
    sol = solve(p, SMALL)
    counts = [0, 0]
    for age in (1, 6, 11):
        for x in sol.xe[age - 1, 0, 1::3]:
            pt = sol.at(age, float(x))
            assert pt.savings >= sol.shocks.amin[age - 1] - 1e-12
            np.testing.assert_allclose(pt.euler_human, 1.0, rtol=1e-10)
            if pt.stock_share < 1.0:
                np.testing.assert_allclose(pt.euler_bond, 1.0, rtol=1e-9)
                counts[0] += pt.savings < 0.0
            if pt.stock_share > 0.0:
                np.testing.assert_allclose(pt.euler_stock, 1.0, rtol=1e-9)
                counts[1] += pt.savings < 0.0
    assert counts[1] > 0  # some borrowing nodes hold stock financed by debt


# --- finite-state (Markov) economies ----------------------------------------------------


def as_markov(p: Params, numerics: Numerics) -> MarkovParams:
    """The iid economy written as a chain whose rows all equal the quadrature weights."""
    sh = make_shocks(p, numerics)
    row = np.zeros(sh.n_states)
    row[sh.idx] = sh.prob
    return MarkovParams(n_ages=p.n_ages, beta=p.beta_value, gamma=p.gamma, alpha=p.alpha,
                        r=p.r, transition=np.tile(row, (row.size, 1)), growth=sh.f, earnings=sh.g,
                        stock_return=sh.rs if p.stock else None, survival=p.survival,
                        wealth_1=p.wealth_1)


def test_markov_chain_with_iid_rows_is_the_iid_economy():
    # The iid economy written as a dense chain (rows deduplicated to one) gives the same
    # solution and panel.
    p = stock_economy(survival=np.r_[np.full(11, 0.98), 0.0], wealth_1=0.2)
    iid = solve(p, SMALL)
    chain = solve(as_markov(p, SMALL), SMALL)
    assert chain.shocks.n_rows == 1 and chain.shocks.n_states == 25
    for state in (0, 7, 24):
        for age, x in ((1, 1.2), (6, 3.3), (11, 0.7)):
            a, b = iid.at(age, x), chain.at(age, x, state)
            for name in ("consumption", "stock_share", "value", "naive", "share_stock",
                         "share_orth", "mean_return"):
                np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-12)
    pa, pb = simulate_panel(iid, 30, seed=2), simulate_panel(chain, 30, seed=2)
    np.testing.assert_allclose(pb.point, pa.point, rtol=1e-12)


def regime_economy(hold_stock=True, link=0.0) -> MarkovParams:
    """Booms and recessions (persistent) x an iid stock return with 3 values; earnings grow
    faster in booms; ``link`` tilts the return toward booms (0: independent of earnings)."""
    P_reg = np.array([[0.8, 0.2], [0.4, 0.6]])
    ret = np.array([0.85, 1.05, 1.25])
    w = np.array([0.25, 0.5, 0.25])
    P = np.kron(P_reg, np.tile(w, (3, 1)))  # state = (regime, return) pairs
    rs = np.tile(ret, 2) * np.repeat([1.0 + link, 1.0 - link], 3)
    J = 10
    growth = np.tile(np.repeat([1.02, 0.96], 3), (J, 1))
    growth[7:] = 1.0  # retirement from age 8: the scale is frozen (A.2.2)
    earnings = np.ones((J, 6))
    earnings[7:] = 0.5  # benefits
    return MarkovParams(n_ages=J, beta=0.95, gamma=0.5, alpha=6.0, r=0.01, transition=P,
                        growth=growth, earnings=earnings, stock_return=rs,
                        hold_stock=hold_stock)


def test_markov_euler_equations_by_row():
    sol = solve(regime_economy(), SMALL)
    checked = 0
    for state in range(6):
        row = int(sol.shocks.row_of[state])
        for age in (1, 5, 9):
            for x in sol.xe[age - 1, row, 1::5]:
                pt = sol.at(age, float(x), state)
                np.testing.assert_allclose(pt.euler_human, 1.0, rtol=1e-10)
                if pt.stock_share > 0.0:
                    np.testing.assert_allclose(pt.euler_stock, 1.0, rtol=1e-9)
                if pt.stock_share < 1.0:
                    np.testing.assert_allclose(pt.euler_bond, 1.0, rtol=1e-9)
                    checked += 1
                if age == 9:  # retired, last payment riskless: R^h = 1 / E[m] >= R^b
                    rb = 1.01
                    np.testing.assert_allclose(pt.mean_return, rb / pt.euler_bond, rtol=1e-12)
                    assert pt.mean_return >= rb * (1 - 1e-12)
                    np.testing.assert_allclose(pt.share_bond, 1.0, rtol=1e-12)
                    if pt.stock_share < 1.0:  # off the corner: v = naive (section 7 notes)
                        np.testing.assert_allclose(pt.value, pt.naive, rtol=1e-9)
    assert checked > 10


def test_markov_stock_share_zero_iff_returns_independent():
    # Returns independent of the earnings regime and no stock held: y is a function of the
    # regime only, so its projection on R^s is zero; tilting returns toward booms is not.
    for link, zero in ((0.0, True), (0.05, False)):
        sol = solve(regime_economy(hold_stock=False, link=link), SMALL)
        for state in (0, 4):
            pt = sol.at(3, 1.5, state)
            if zero:
                np.testing.assert_allclose(pt.share_stock, 0.0, atol=1e-12)
            else:
                assert pt.share_stock > 1e-3


def test_shared_rows_give_the_per_state_solution(monkeypatch):
    # Cross-method: solving one row per state (no deduplication) gives what the two shared
    # rows of the regime economy give, state by state.
    p = regime_economy()
    shared = solve(p, SMALL)
    assert shared.shocks.n_rows == 2

    def per_state(params, numerics):
        sh = shocks_module.make_shocks(params, numerics)
        ptr, idx, prob, row_of = shocks_module.csr_rows(params.transition, dedup=False)
        return dataclasses.replace(sh, ptr=ptr, idx=idx, prob=prob, row_of=row_of)

    monkeypatch.setattr(solve_module, "make_shocks", per_state)
    full = solve(p, SMALL)
    assert full.shocks.n_rows == 6
    for state in range(6):
        for age, x in ((1, 1.0), (5, 2.5), (9, 0.8)):
            a, b = shared.at(age, x, state), full.at(age, x, state)
            np.testing.assert_allclose([b.value, b.consumption, b.stock_share, b.share_stock],
                                       [a.value, a.consumption, a.stock_share, a.share_stock],
                                       rtol=1e-13, atol=1e-15)


def test_markov_params_validation():
    good = regime_economy()
    with pytest.raises(InvalidParamsError, match=r"transition\[1\]: rows must sum to one"):
        good.with_(transition=good.transition * np.r_[1, 0.5, 1, 1, 1, 1][:, None])
    with pytest.raises(InvalidParamsError, match=r"growth: must have shape \(10, 6\)"):
        good.with_(growth=good.growth[:, :5])
    with pytest.raises(InvalidParamsError, match="initial_state: must be <= 5"):
        good.with_(initial_state=6)


# --- simulated age profiles (Figures 4-6) ------------------------------------------------


def test_profiles_reproduce_closed_form_by_age():
    # Section 2.4: along c = e every agent has xhat = 1 and v_j / e_j = sum_{n<=J-j} q^n, so
    # the per-state ratio and the ratio of mean levels are both the closed form at every age.
    p = example(2.0, 0.2)
    sol = solve(p, CLOSED)
    prof = simulate_profiles(sol, n_agents=200, seed=3)
    cf = hand_to_mouth_values(p)
    ages = slice(0, J - 1)
    np.testing.assert_allclose(prof.value_to_naive, cf["value"][ages] / cf["naive"][ages],
                               rtol=1e-9)
    np.testing.assert_allclose(prof.value / prof.earnings, cf["value"][ages], rtol=1e-9)
    np.testing.assert_allclose(prof.mean_return, cf["mean_return"], rtol=1e-9)
    np.testing.assert_allclose(prof.alive, 1.0)
    # nothing is saved and there is no stock: all wealth is human, none of it stock
    np.testing.assert_allclose(prof.human_wealth_share, 1.0, rtol=1e-12)
    np.testing.assert_allclose(prof.stock_share_overall, 0.0, atol=1e-15)
    np.testing.assert_allclose(prof.savings, 0.0, atol=1e-15)
    assert abs(sol.moments()["wealth_income_ratio"]) < 1e-12  # hand to mouth: no wealth


def test_panel_points_agree_with_at_and_survival_follows_life_table():
    # Each simulated survivor's shares are those of LifeCycle.at at the state it reached
    # (Lemma 3: computed at z = 1), and the surviving share of the cohort follows
    # prod psi within 4 binomial standard deviations (fixed seed: no flakiness).
    survival = np.r_[np.full(8, 0.97), np.full(3, 0.9), 0.0]
    sol = solve(stock_economy(survival=survival, wealth_1=0.3), SMALL)
    panel = simulate_panel(sol, n_agents=4000, seed=11)
    i = int(np.argmax(panel.alive[:, -1]))  # an agent alive at the last simulated age
    for age in (1, 4, 11):
        pt = sol.at(age, float(panel.xhat[i, age - 1]))
        got = panel.point[i, age - 1]
        np.testing.assert_allclose(got[[0, 6, 7, 8, 9]], [pt.value, pt.share_bond,
                                   pt.share_stock, pt.share_orth, pt.stock_share], rtol=1e-12)
    expected = np.r_[1.0, np.cumprod(survival[:-2])]
    sd = np.sqrt(expected * (1 - expected) / 4000)
    assert np.all(np.abs(panel.alive.mean(axis=0) - expected) < 4 * sd + 1e-12)
    assert panel.xhat[0, 0] == 1.3  # profile ones: xhat_1 = e_1 (1 + wealth_1)


def test_simulation_is_seeded():
    sol = solve(stock_economy(), SMALL)
    a, b = simulate_panel(sol, 50, seed=5), simulate_panel(sol, 50, seed=5)
    c = simulate_panel(sol, 50, seed=6)
    np.testing.assert_array_equal(a.point, b.point)
    assert not np.allclose(a.xhat[:, 1:], c.xhat[:, 1:])


# --- platform -----------------------------------------------------------------------------


def test_registered_and_moments_named():
    spec = get_model("human_capital")
    sol = spec.solve(example(2.0, 0.2), CLOSED)
    mom = sol.moments()
    assert sol.converged and set(mom) == set(MOMENTS) == set(spec.moment_names)
    np.testing.assert_allclose(mom["value_to_naive_1"], 0.2892, atol=5e-5)  # issue 16
    assert set(sol.residuals) == {"euler_error_max", "euler_error_mean"}
    again = spec.Params.from_dict(example(2.0, 0.2).to_dict())
    assert again == example(2.0, 0.2) and again.profile is None


def test_warm_start_gives_the_cold_answer():
    # A finite-horizon solve has nothing to warm: the warm start must not change the result.
    p = stock_economy()
    cold = solve(p, SMALL)
    warm = solve(p.with_(alpha=5.5), SMALL, warm_start=cold)
    again = solve(p.with_(alpha=5.5), SMALL)
    np.testing.assert_array_equal(warm.c, again.c)
    np.testing.assert_array_equal(warm.vh, again.vh)


def test_stock_economy_moments_have_the_papers_signs():
    # Section 5 (qualitative): idiosyncratic risk puts v below the naive value; a positive
    # earnings-return correlation gives a positive stock share, the bond share dominates.
    mom = solve(stock_economy(), SMALL.with_(n_sim=300)).moments()
    assert set(mom) == set(MOMENTS)
    assert 0.0 < mom["value_to_naive_mean"] < 1.0
    assert 0.0 < mom["share_stock_max"] < 0.5 < mom["share_bond_mean"]
    assert 0.5 < mom["human_wealth_share_min"] <= 1.0
    assert 0.0 < mom["stock_share_overall_max"] < 0.5  # Figure 6: bond > stock overall


def test_share_root_is_the_same_whatever_the_first_step():
    # stock_share starts from a neighbouring node's share; a bad start costs iterations,
    # never the answer. Reference: brentq on the same portfolio condition.
    sol = solve(stock_economy(corr=0.0), SMALL)
    args = (sol.shocks.mdl, sol.pref, sol.pol)
    j, row = 4, 0
    found = 0
    for a in sol.savings_nodes[j, 3::6]:
        a = float(a)

        def foc(t, a=a):
            return kernels._foc(j, row, a, t, *args)[0]

        if foc(0.0) * foc(1.0) >= 0.0:  # a corner: no root to compare
            continue
        found += 1
        root = brentq(foc, 0.0, 1.0, xtol=1e-14)
        for guess in (0.0, 0.3, 0.5, 1.0):
            theta, status = kernels.stock_share(j, row, a, *args, 1e-12, 200, guess)
            assert status == kernels.STATUS_OK
            assert theta == pytest.approx(root, abs=1e-10)
    assert found >= 2


@pytest.mark.parametrize("interpolation", ["pchip", "linear"])
def test_portfolio_condition_derivative_matches_finite_differences(interpolation):
    # The analytic d phi / d theta of kernels._foc (Newton's slope) against central
    # differences of phi, at interior shares, with borrowing (successors below the first
    # node) and without; the interpolants are smooth within a piece, so the two agree to
    # the differences' truncation error wherever no successor crosses a node.
    for borrowing in (0.0, 2.0):
        sol = solve(stock_economy(corr=0.0, borrowing=borrowing),
                    SMALL.with_(interpolation=interpolation))
        args = (sol.shocks.mdl, sol.pref, sol.pol)
        checked = 0
        for j in (2, 6):
            for a in sol.savings_nodes[j, 2::5]:
                for theta in (0.2, 0.55, 0.9):
                    h = 1e-6
                    up, down = (kernels._foc(j, 0, float(a), theta + d, *args)[0]
                                for d in (h, -h))
                    slope = kernels._foc(j, 0, float(a), theta, *args)[1]
                    fd = (up - down) / (2 * h)
                    if abs(fd) > 0 and abs(slope / fd - 1.0) < 1e-3:
                        checked += 1
                    else:  # a successor crossed a node between theta -+ h (kink)
                        assert abs(slope / fd - 1.0) < 0.5, (j, a, theta, slope, fd)
        assert checked >= 10


def test_share_root_failure_raises_convergence_error():
    # A tolerance below what ten secant steps reach in double precision.
    with pytest.raises(SolverConvergenceError, match="stock-share root did not converge"):
        solve(stock_economy(), SMALL.with_(share_tol=1e-15, max_share_iter=10))


def test_invalid_params_name_every_field():
    with pytest.raises(InvalidParamsError, match=r"beta: None .* needs stock=false") as info:
        Params(n_ages=5, beta=None, gamma=2.0, alpha=2.0, r=R, stock=True, sigma_s=0.0)
    assert "sigma_s: must be > 0 with stock=true" in str(info.value)
    with pytest.raises(InvalidParamsError, match="survival: must be ones when gamma = 1"):
        Params(n_ages=3, beta=0.9, gamma=1.0, alpha=3.0, r=R, survival=[0.9, 0.9, 0.0])
    with pytest.raises(InvalidParamsError, match="borrowing: must be >= 0"):
        Params(n_ages=3, beta=0.9, gamma=2.0, alpha=2.0, r=R, borrowing=-1.0)
    with pytest.raises(InvalidParamsError, match="profile: must be ones with beta=None"):
        Params(n_ages=3, beta=None, gamma=2.0, alpha=2.0, r=R, profile=[1.0, 2.0, 1.0])
    # The aggregator weighs consumption by 1 - beta: beta = 1 used to divide by zero in the
    # kernels, and a section-2.4 beta of 1 / (1 - .05) = 1.0526 (s = 0, r = -.05) too.
    for beta in (1.0, 1.2):
        with pytest.raises(InvalidParamsError, match="beta: must be < 1"):
            Params(n_ages=3, beta=beta, gamma=2.0, alpha=2.0, r=R)
    with pytest.raises(InvalidParamsError, match=r"beta: None sets .* gives 1\.05263"):
        Params(n_ages=3, beta=None, gamma=2.0, alpha=2.0, r=-0.05)
    sol = solve(example(2.0, 0.0).with_(n_ages=4), SMALL)
    with pytest.raises(InvalidParamsError, match=r"age: must be an integer in \[1, 3\]"):
        sol.at(4)
