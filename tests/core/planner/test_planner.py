"""Tests of hetspace.core.planner (DFM section 3, appendix B.2.2) on small economies."""

from __future__ import annotations

import numpy as np
import pytest

from hetspace.core import InvalidParamsError, get_model
from hetspace.core.planner import Numerics, Params
from hetspace.core.planner import second_best as sb
from hetspace.core.planner.steady import first_best

BETA, OMEGA, THETA = 0.988, 0.987, 0.5  # DFM Table 1


def symmetric(J=2, theta=THETA, **kw):
    A = np.full((J, J), 0.3)
    np.fill_diagonal(A, 1.0)
    chi = np.full((J, J), 0.05)
    np.fill_diagonal(chi, 1.0)
    return Params(beta=BETA, omega=OMEGA, theta=theta, chi=chi, A=A, alpha_agg=0.04, **kw)


def component(p, num, w, P):
    fb = first_best(p.with_(allocation="first_best"), num, w, P)
    v_grid = sb.make_v_grid(num, fb)
    S0, X0 = sb.initial_surplus(p, fb, v_grid)
    return fb, sb.solve_component(p, num, w, P, v_grid, S0, X0)


def test_symmetric_closed_form():
    """Symmetric economy (A_ii = a, A_ij = b, chi_ij = c), symmetric multipliers w, P,
    beta R = 1, Lambda = 1, log utility. Guess S_m = S for all m: then the theta terms
    of B.36 cancel (Sbar = S(v')), all v'_m are equal, mu_i = chi_i / sum chi and
    IV = v' + ln(sum chi)/theta. The envelope and FOC give P C(v) = P C(v') (inverse
    Euler with beta R = 1): v' = v... so promise keeping v = ln C + beta omega (v +
    ln(sum chi)/theta) gives, with kappa = (beta omega/theta) ln sum_k chi_ik,

        C(v) = exp((1 - beta omega) v - kappa),
        S(v) = [w (1 + alpha) - P C(v) + (1 - omega) S^n] / (1 - beta omega)  (31 at v' = v),
        newborn: P C(v^n') = beta R Lambda = 1 -> v^n' = (ln(1/P) + kappa)/(1 - beta omega),
        v^n = beta (v^n' + ln(sum chi)/theta)                                    (8),
        S^n = Lambda v^n + beta S(v^n') = [(1 - beta omega) v^n + beta (w (1 + alpha) - 1)]
              / (1 - beta)                                                        (34).

    The grid solution (EGM, Hermite S, log-linear Xi) matches to 1e-8 relative to the
    size of S (Xi is exactly log-linear here, S's Hermite error is ~(h a)^4 / 384).
    """
    p = symmetric()
    num = Numerics(n_v=200, v_below=40.0, v_above=40.0, tol_inner=1e-12)
    w, P = np.full(2, 1.02), np.full(2, 1.1)
    _fb, c = component(p, num, w, P)
    a, bo = 1.0 - BETA * OMEGA, BETA * OMEGA
    ln_sum_chi = np.log(p.chi[0].sum())
    kappa = bo / THETA * ln_sum_chi
    C = np.exp(a * c.v_grid - kappa)
    vnp = (np.log(1.0 / P[0]) + kappa) / a
    vn = BETA * (vnp + ln_sum_chi / THETA)
    Sn = (a * vn + BETA * (w[0] * 1.04 - 1.0)) / (1.0 - BETA)
    S = (w[0] * 1.04 - P[0] * C + (1.0 - OMEGA) * Sn) / a
    np.testing.assert_allclose(c.vn, vn, rtol=1e-10)
    np.testing.assert_allclose(c.Sn, Sn, rtol=1e-9)
    scale = np.max(np.abs(S))
    np.testing.assert_allclose(c.S, np.broadcast_to(S, c.S.shape), atol=1e-8 * scale)
    np.testing.assert_allclose(c.X, np.broadcast_to(P[0] * C, c.X.shape), rtol=1e-8)


def test_first_best_dominates_second_best_at_equal_multipliers():
    """S^FB >= S^SB at the first-best promises and S^n,FB >= S^n,SB (FB drops IC)."""
    p = Params(beta=BETA, omega=OMEGA, theta=THETA, chi=[[1, 0.02, 0.01], [0.03, 1, 0.02],
                                                          [0.01, 0.02, 1]],
               A=[[1.0, 0.3, 0.2], [0.3, 1.2, 0.3], [0.2, 0.3, 0.9]], alpha_agg=0.04)
    num = Numerics(n_v=100)
    w, P = np.array([1.0, 1.05, 0.97]), np.array([1.0, 0.95, 1.05])
    fb, c = component(p, num, w, P)
    assert np.all(fb.Sn >= c.Sn - 1e-9)
    S_sb = np.array([np.interp(fb.v[m], c.v_grid, c.S[m]) for m in range(3)])
    assert np.all(fb.S >= S_sb - 1e-6)
    assert np.max(fb.Sn - c.Sn) > 1e-6  # the constraint binds: not equal by accident


def test_small_theta_second_best_approaches_first_best():
    """theta -> 0: shares no longer respond to promises, IC is slack, SB -> FB (measured
    gaps of S^n: 0.016, 0.011, 0.0028 at theta = 0.5, 0.05, 0.005)."""
    gaps = []
    for theta in (0.5, 0.05, 0.005):
        p = symmetric(J=3, theta=theta).with_(A=[[1.0, 0.3, 0.2], [0.3, 1.2, 0.3],
                                                 [0.2, 0.3, 0.9]])
        w, P = np.array([1.0, 1.05, 0.97]), np.array([1.0, 0.95, 1.05])
        fb, c = component(p, Numerics(n_v=100), w, P)
        gaps.append(np.max(fb.Sn - c.Sn))
    assert gaps[0] > gaps[1] > gaps[2] > 0.0
    assert gaps[2] < 0.25 * gaps[0]


def test_three_location_allocations_solve_with_spending_identity():
    model = get_model("planner")
    A = [[1.0, 0.3, 0.2], [0.3, 1.1, 0.3], [0.2, 0.3, 0.95]]
    chi = [[1, 0.02, 0.01], [0.03, 1, 0.02], [0.01, 0.02, 1]]
    out = {}
    for alloc in ("first_best", "history_independent", "second_best"):
        p = Params(allocation=alloc, beta=BETA, omega=OMEGA, theta=THETA, chi=chi, A=A,
                   alpha_agg=0.04)
        sol = model.solve(p, Numerics(n_v=100))
        assert sol.converged
        # log utility, beta R = 1, Lambda = 1: spending and labour income both 1
        np.testing.assert_allclose([sol.spending, sol.labour_income], 1.0, atol=1e-7)
        np.testing.assert_allclose(sol.dist.sum(), 1.0, atol=1e-12)
        out[alloc] = sol.welfare_ce
    assert all(np.isfinite(list(out.values())))


def test_bad_params_listed():
    with pytest.raises(InvalidParamsError, match="allocation"):
        symmetric(allocation="third_best")
    with pytest.raises(InvalidParamsError, match="r_inv"):
        symmetric(allocation="first_best", r_inv=0.9)
