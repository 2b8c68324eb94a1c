"""One location: the household block's fake-news Jacobians against sequence-jacobian's
(Auclert, Bardoczy, Rognlie and Straub; the ``sequence-jacobian`` package, a test
dependency) on the same grid, Markov chain, prices and T, for the Aiyagari
(capital) and Huggett (bond, limit in the (1+r)-form) steady states.

The reference block below is written here with sequence-jacobian's ``het``
decorator: the same EGM step (P c = coh - a', u'(c)/P = beta E[(1+r') u'(c')/P'],
a' linear in cash on hand on the endogenous grid, clipped to [a_low, a_max] as
the workhorse does) and sequence-jacobian's own steady state, Young's lottery and
fake-news implementation. sequence-jacobian differentiates its backward step by
one-sided differences with step h, so agreement is O(h): measured (relative to
each block's largest entry, T = 60, n_a = 60) at most 9.5e-5 for h = 1e-4,
9.5e-6 for h = 1e-5 and 9.5e-7 for h = 1e-6 over outputs A, C and inputs r, w,
T, P in both economies; the steady states agree to 3e-12 in consumption. The
test asks for 3e-4 at h = 1e-4 and a fall by at least 5 at h = 1e-5.
"""

import numpy as np
import pytest

from hetspace.core.incomplete_markets import Numerics, Params, examples, solve
from hetspace.core.incomplete_markets.transition import HouseholdBlock
from hetspace.core.transitions import fake_news_jacobian

sj = pytest.importorskip("sequence_jacobian")

T = 60
TIGHT = dict(tol_policy=1e-12, tol_value=1e-12, tol_dist=1e-13)
PAIRS = (("r", "r"), ("w", "w_0"), ("T", "T_0"), ("P", "P_0"))


def _init(a_grid, e_grid, r, w, T, P, gamma):
    coh = (1 + r) * (a_grid[None, :] - a_grid[0]) + w * e_grid[:, None] + T
    Va = (1 + r) * (0.5 * coh / P) ** (-gamma) / P
    return Va


@sj.het(exogenous="Pi", policy="a", backward="Va", backward_init=_init)
def _household(Va_p, a_grid, e_grid, r, w, T, P, beta, gamma):
    c_next = (P * beta * Va_p) ** (-1.0 / gamma)
    coh = (1 + r) * a_grid[None, :] + w * e_grid[:, None] + T
    a = sj.interpolate.interpolate_y(P * c_next + a_grid, coh, a_grid)
    sj.misc.setmin(a, a_grid[0])
    a = np.minimum(a, a_grid[-1])
    c = (coh - a) / P
    Va = (1 + r) * c ** (-gamma) / P
    return Va, a, c


def _aiyagari():
    params, num = examples.aiyagari_1994(n_a=60, risk_aversion=2.0)
    return solve(params, num.with_(a_max=100.0, **TIGHT))


def _huggett():
    params = Params(gamma=1.5, beta=0.96 ** (1 / 6), e_grid=(1.0, 0.1),
                    Pi=((0.925, 0.075), (0.5, 0.5)), a_low=-2.0, closure="bond")
    return solve(params, Numerics(n_a=60, a_max=12.0, grid="power", curvature=2.0, **TIGHT))


@pytest.mark.parametrize("economy", [_aiyagari, _huggett])
def test_household_jacobians_match_sequence_jacobian(economy):
    sol = economy()
    p = sol.params
    ours = fake_news_jacobian(HouseholdBlock(sol), T, ["w_0", "P_0", "T_0", "r"])
    calib = dict(a_grid=sol.a_grid, e_grid=np.asarray(p.e_grid, float),
                 Pi=np.asarray(p.Pi, float), r=sol.r, w=sol.wage * sol.w[0], T=sol.T[0],
                 P=sol.P[0], beta=p.beta * p.omega, gamma=p.gamma)
    ss = _household.steady_state(calib, backward_tol=1e-13, forward_tol=1e-14,
                                 backward_maxit=100_000, forward_maxit=1_000_000)
    np.testing.assert_allclose(ss.internals["_household"]["c"], sol.c[0], rtol=0, atol=1e-10)
    errs = {}
    for h in (1e-4, 1e-5):
        ref = _household.jacobian(ss, [i for i, _ in PAIRS], ["A", "C"], T=T, h=h)
        errs[h] = {(o, i): np.abs(ours.get(f"{o}_0", mine) - ref[o][i]).max()
                   / np.abs(ref[o][i]).max() for o in ("A", "C") for i, mine in PAIRS}
    for key, err in errs[1e-4].items():
        assert err < 3e-4, (key, err)
        assert errs[1e-5][key] < err / 5.0, (key, err, errs[1e-5][key])
