"""hadsge dynamic exact hat algebra (Proposition 3) against the levels solution."""

import numpy as np
import pytest

from hetspace.core.errors import InvalidParamsError
from hetspace.core.hadsge import Numerics
from hetspace.core.hadsge.equilibrium import solve_steady_state
from hetspace.core.hadsge.hat import observe, pseudo_params, solve_transition_hat
from hetspace.core.hadsge.path import initial_from_steady_state, path_supplies
from hetspace.core.hadsge.transition import solve_transition

from .ge_economies import households, production

T = 16


@pytest.fixture(scope="module")
def base():
    p, pr = households(4), production()
    return p, pr, solve_steady_state(p, pr)


def junk(p):
    """Params with wrong tau, psi, chi, lam, lam0, chi0, w, r: hat algebra must not read them."""
    J = p.n_markets
    return p.with_(tau=np.full((J, J), 0.5), psi=np.full((J, J), 0.7), chi=np.full((J, J), 2.0),
                   lam=np.full(J, 3.0), lam0=np.full(J, 0.2), chi0=np.full(J, 5.0),
                   w=np.full(J, 9.0), r=np.full(J, 9.0))


def test_observables_rebuild_the_choice_shares_and_recover_chi(base):
    """From mu-bar_0 (nu-averaged), theta_0, M and the returns, the inversion gives back the
    shares of every age (only age A - 1 was inverted), the portfolio shares, and chi itself
    (chi_jj = 1 in the levels economy)."""
    p, _, ss = base
    pseudo, fit = pseudo_params(observe(ss), junk(p), Numerics())
    assert fit["mu_fit"] <= 1e-12
    assert fit["theta_fit"] <= 1e-11
    np.testing.assert_allclose(pseudo.chi, p.chi, rtol=1e-12)


def test_households_in_changes_equal_levels_on_any_return_path(base):
    """Along an arbitrary (not equilibrium) path of returns, the supplies of the economy
    built from observables equal the levels economy's (Proposition 3's household part)."""
    p, _, ss = base
    pseudo, _ = pseudo_params(observe(ss), junk(p), Numerics())
    rng = np.random.default_rng(7)
    w = ss.w * np.exp(rng.normal(0, 0.02, (9, 4)))
    r = ss.r * np.exp(rng.normal(0, 0.02, (9, 4)))
    ini = initial_from_steady_state(ss.aggregates, ss.household)
    lev = path_supplies(p, Numerics(), ini, w, r)
    hat = path_supplies(pseudo, Numerics(), ini, w, r)
    for name in ("L", "K", "C", "mu0"):
        np.testing.assert_allclose(getattr(hat, name), getattr(lev, name), rtol=1e-10,
                                   err_msg=name)


def test_hat_algebra_transition_equals_levels(base):
    """Productivity of (0, 0) +10%, industry-0 trade costs' excess -5%: the transition in
    changes (from observables, with junk tau, psi, chi, lam, A, kappa) matches the levels
    transition to relative 1e-8 in returns, supplies, consumption and real factor prices,
    and its price indices are the levels' relative to the base."""
    p, pr, ss = base
    A1 = pr.A.copy()
    A1[0, 0] *= 1.1
    k1 = pr.kappa.copy()
    k1[0] = 1.0 + (k1[0] - 1.0) * 0.95
    lev = solve_transition(ss, pr.with_(A=A1, kappa=k1), T)
    hat = solve_transition_hat(observe(ss), junk(p), pr.with_(A=np.ones((2, 2)), kappa=None),
                               T, A_hat=A1 / pr.A, kappa_hat=k1 / pr.kappa)
    for name in ("w", "r", "L", "K", "C", "w_real", "r_real"):
        np.testing.assert_allclose(getattr(hat, name), getattr(lev, name), rtol=1e-8,
                                   err_msg=name)
    np.testing.assert_allclose(hat.log_Pc, lev.log_Pc - ss.static.log_Pc, atol=1e-9)
    np.testing.assert_allclose(hat.ss1.w, lev.ss1.w, rtol=1e-8)


def test_no_change_in_fundamentals_keeps_the_base(base):
    p, pr, ss = base
    hat = solve_transition_hat(observe(ss), junk(p), pr, 6)
    np.testing.assert_allclose(hat.w, np.tile(ss.w, (6, 1)), rtol=1e-10)
    np.testing.assert_allclose(hat.r, np.tile(ss.r, (6, 1)), rtol=1e-10)


def test_hat_algebra_errors(base):
    p, pr, ss = base
    with pytest.raises(InvalidParamsError, match="psi: must equal tau"):
        observe(solve_steady_state(households(4, psi=np.full((4, 4), 0.9)), pr))
    with pytest.raises(InvalidParamsError, match="A_hat: must have shape"):
        solve_transition_hat(observe(ss), p, pr, 6, A_hat=np.ones(3))
    with pytest.raises(InvalidParamsError, match="kappa_hat: must be finite and > 0"):
        solve_transition_hat(observe(ss), p, pr, 6, kappa_hat=np.zeros((2, 2, 2)))
    # staying costly (chi_jj != 1): one chi with a unit diagonal cannot fit every age
    chi = p.chi.copy()
    chi[np.arange(4), np.arange(4)] = [1.0, 0.8, 1.2, 0.9]
    other = solve_steady_state(households(4, chi=chi), pr)
    with pytest.raises(InvalidParamsError, match="chi_jj = 1"):
        pseudo_params(observe(other), p, Numerics())
