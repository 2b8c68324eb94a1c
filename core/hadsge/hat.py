"""Dynamic exact hat algebra (Proposition 3): the equilibrium in changes from observables.

The paper states Proposition 3 without derivation. Derivation (base period 0: the
observed initial steady state; tau = psi; fundamentals chi, tau, lam constant):

(i) Choices. With tau = psi, omega_jl(theta, nu) = tau_jl o_l(theta, nu), o_l = w_l nu theta
+ r_l (1 - theta), and Proposition 1's logit index is
    z^a_jl,t(theta, nu) = alpha (1-beta) log chi_jl + alpha log(lam_l tau_jl)
                          + alpha log o_l,t(theta, nu) + alpha (1-beta) beta Ev^{a+1}_l,t+1.
The fundamentals are additive and constant, so
    dz_jl = z^a_jl,t(theta, nu) - z^a_jl,0(theta^a_j,0, nu)
          = alpha log[o_l,t(theta, nu) / o_l,0(theta^a_j,0, nu)]
            + alpha (1-beta) beta [Ev^{a+1}_l,t+1 - Ev^{a+1}_l,0]
and, the shares being a softmax of z,
    mu^a_jl,t(theta, nu) = mu^a_jl,0(nu) e^{dz_jl} / sum_m mu^a_jm,0(nu) e^{dz_jm}      (P3.1)
    v^a_j,t(theta, nu) - v^a_j,0(theta^a_j,0, nu) = log sum_l mu^a_jl,0(nu) e^{dz_jl}
                                                   / (alpha (1 - beta))               (P3.2)
(the constant of Proposition 1 cancels), with E_nu of (P3.2) giving the Ev differences
backward from age A, where Ev^A_j,t - Ev^A_j,0 = E_nu log[o_j,t(theta^A_j,t, nu) /
o_j,0(theta^A_j,0, nu)] / (1 - beta) (retirement has no friction).                 (P3.3)
(ii) Shares. In eq. (12) (w_m tau_lm nu' - r_m psi_lm) / omega_lm = (w_m nu' - r_m) / o_m:
tau cancels, and the mu in it are (P3.1); eq. (11) has no friction. (Lemma 1's
approximate condition keeps log tau in its denominator, so the exact conditions are used.)
(iii) Aggregation. Proposition 2 reads h_l = sum_j theta_j TW_j M_jl E_nu[nu mu_jl^(1-1/alpha)]
and k_l = sum_j (1 - theta_j) TW_j M_jl E_nu[mu_jl^(1-1/alpha)] with
M_jl = Gamma(1 - 1/alpha) lam_l tau_jl: the paper's "human capital transferability matrix"
(observable as the selection-corrected mean effective-capital ratio of j -> l movers,
E[tau eps | j -> l] = M_jl mu_jl^(-1/alpha) under Lemma 1's nu-free shares); entrants have
M0_l = Gamma(1 - 1/alpha0) lam0_l. TW and Lambda at t = 0 are the observed stocks.
(iv) Production: the CDP hat algebra given the base trade shares pi_0 and output R_0:
log x-hat = gamma[log R-hat - (1 - xi) log L-hat - xi log K-hat] + sum_k gamma^{ni,nk} log
P-hat^{nk}, pi_t = pi_0 (x-hat kappa-hat)^(-vartheta) A-hat^(vartheta gamma) / sum, (16); then
w~_t = w~_0 R-hat / (P-hat^n L-hat), r~_t alike. The levels w~_0 = w_0 - 1 + delta_h (and
r) are needed because a gross return is a sum (stock plus rent) and o_l a sum of w and r
terms: this is why Proposition 3 asks for the levels of wages and rental rates.
(v) mu_0(nu). Data give the nu-averaged shares mu-bar^a_0. Since o_l,0 depends on nu
only through the observed w_0, r_0, theta_0, mu^a_jl,0(nu) = softmax_l(b_jl + alpha log
o_l,0(theta^a_j,0, nu)) with b free of nu; b is recovered from mu-bar by the contraction
b <- b + log mu-bar - log E_nu softmax(b + alpha log o_0) (a logit with a random
coefficient: unique up to a constant per row).

Implementation. (P3.1)-(P3.3) with (iii)-(v) are the levels equations of an economy with
tau' = psi' = M / Gamma(1 - 1/alpha), lam' = 1 (so lam' tau' Gamma = M), lam0' = M0 /
Gamma(1 - 1/alpha0), and chi' from (v): at age A - 1, Ev^A is known from w_0, r_0 (P3.3), so
alpha (1 - beta) log chi'_jl = b_jl - alpha log(tau'_jl) - alpha (1 - beta) beta Ev^A_l, and
for entrants chi0' alike from their shares. Its index z' differs from z by a constant per
row, d_j; a constant per row at age a becomes a column effect d_l in z at age a - 1 through
Ev, so one chi' serves every age only if d = 0: chi' is normalised by chi'_jj = 1 (staying
costs no utility; the levels model must share the normalisation, which the section-4.1
example and the tests do) and is then the true chi, recovered from the flows. The
economy built so (``pseudo_params``) uses none of tau, psi, chi, lam, lam0, chi0: only
mu-bar_0, theta_0, M, M0, w_0, r_0, the stocks, the elasticities alpha, beta, sigma_nu^2,
the demographics and, for production, pi_0, R_0, L_0, K_0 and the shares. Its choice
shares, portfolio shares, changes in values and supplies equal the true ones along any
path of returns; ``fit`` reports how well it reproduces mu-bar_0 at every age (a check of
the data against the model: with one chi for all ages, the shares at A - 1 and at the
other ages must agree). The general equilibrium in changes then runs the levels solvers
(``equilibrium``, ``transition``) with the production block in changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gamma as gamma_fn

from ..dynamic_spatial import cdp_static
from ..errors import InvalidParamsError, Violation
from ..protocol import readonly
from .equilibrium import check_markets, steady_state_at
from .household import solve_household
from .params import GENumerics, Numerics, Params
from .path import Initial, held_shares, initial_from_steady_state
from .production import Production, Static, clear_goods, make_structure
from .result import SteadyState
from .transition import Transition, transition_at


@dataclass(frozen=True, slots=True, kw_only=True)
class Observables:
    """What Proposition 3 needs from the base period (an initial steady state).

    mu_bar (A, J, J): nu-averaged choice shares by age (row 0: entrants, rows equal);
    theta (A + 1, J): human-capital shares held; M (J, J): Gamma(1 - 1/alpha) lam_l
    tau_jl; M0 (J,): Gamma(1 - 1/alpha0) lam0_l; w, r (J,): gross returns (levels);
    initial: the stocks (Lambda, TW, theta by age); production: pi (I, N, N) trade
    shares, R (N, I) gross output, L, K (J,) factor supplies.
    """

    mu_bar: np.ndarray
    theta: np.ndarray
    M: np.ndarray
    M0: np.ndarray
    w: np.ndarray
    r: np.ndarray
    initial: Initial
    pi: np.ndarray
    R: np.ndarray
    L: np.ndarray
    K: np.ndarray


def observe(ss: SteadyState) -> Observables:
    """The observables of a levels steady state (requires tau = psi)."""
    p = ss.params
    if not np.array_equal(p.tau, p.psi):
        raise InvalidParamsError("hadsge.hat.observe", [Violation(
            "psi", "must equal tau for the dynamic hat algebra (Proposition 3)",
            float(np.max(np.abs(p.tau - p.psi))))])
    G, G0 = gamma_fn(1.0 - 1.0 / p.alpha), gamma_fn(1.0 - 1.0 / p.alpha_entrant)
    return Observables(
        mu_bar=readonly(ss.household.mu_bar), theta=readonly(ss.household.theta),
        M=readonly(G * p.lam[None, :] * p.tau), M0=readonly(G0 * p.lam_entrant),
        w=readonly(ss.w), r=readonly(ss.r),
        initial=initial_from_steady_state(ss.aggregates, ss.household),
        pi=readonly(ss.static.pi), R=readonly(ss.static.R), L=readonly(ss.aggregates.L),
        K=readonly(ss.aggregates.K))


def solve_transition_hat(obs: Observables, params: Params, production: Production, T: int, *,
                         A_hat: np.ndarray | None = None, kappa_hat: np.ndarray | None = None,
                         numerics: Numerics | None = None, ge: GENumerics | None = None,
                         horizon_tol: float = 1e-6) -> Transition:
    """The transition after permanent changes A-hat (N, I) and kappa-hat (I, N, N) (new over
    base; None: none) from the observables alone. ``params`` supplies only alpha, alpha0,
    beta, sigma_nu2, nu_mean_one, varsigma_R, theta0, wealth0, cohort_mass and n_ages (its
    w, r, tau, psi, chi, lam, lam0, chi0 are ignored); ``production`` only its shares,
    elasticities and depreciation (its A and kappa are ignored). Returns as
    ``solve_transition`` (levels of w, r; prices relative to the base)."""
    numerics = Numerics() if numerics is None else numerics
    ge = GENumerics() if ge is None else ge
    check_markets(params, production)
    A_hat, kappa_hat = _changes(production, A_hat, kappa_hat)
    pseudo, _ = pseudo_params(obs, params, numerics)
    pricer = make_changes_pricer(production, obs, A_hat, kappa_hat, ge)
    x0 = np.concatenate([np.log(obs.w), np.log(obs.r)])
    ss1 = steady_state_at(pseudo, production, pricer, numerics, ge, x0, None)
    return transition_at(pseudo, pricer, obs.initial, ss1, T, numerics, ge, horizon_tol)


def pseudo_params(obs: Observables, params: Params, numerics: Numerics, *,
                  tol: float = 1e-14, max_iter: int = 2000) -> tuple[Params, dict]:
    """The economy of the module docstring, and its fit: ``mu_fit`` = max |mu-bar - mu-bar_0|
    over ages, ``theta_fit`` the same for the shares (at the base returns). Raises
    ``InvalidParamsError`` if the inversion fails or the fit exceeds 1e-8."""
    A, J = params.n_ages, params.n_markets
    G, G0 = gamma_fn(1.0 - 1.0 / params.alpha), gamma_fn(1.0 - 1.0 / params.alpha_entrant)
    base = dict(w=obs.w, r=obs.r, tau=obs.M / G, psi=obs.M / G, lam=np.ones(J),
                lam0=obs.M0 / G0)

    def build(log_chi, log_chi0):
        return params.with_(chi=np.exp(log_chi), chi0=np.exp(log_chi0), **base)

    log_chi, log_chi0 = np.zeros((J, J)), np.zeros(J)
    hh = solve_household(build(log_chi, log_chi0), numerics)  # Ev^A: free of chi
    scale = params.alpha * (1.0 - params.beta)
    for _ in range(max_iter):
        _, mu = held_shares(build(log_chi, log_chi0), hh, A - 1, obs.theta[A - 1])
        gap = np.log(obs.mu_bar[A - 1]) - np.log(mu @ hh.nu_prob)
        log_chi = log_chi + gap / scale
        log_chi -= np.diag(log_chi)[:, None]
        if np.max(np.abs(gap)) <= tol:
            break
    hh = solve_household(build(log_chi, log_chi0), numerics)  # Ev^1: free of chi0
    scale0 = params.alpha_entrant * (1.0 - params.beta)
    for _ in range(max_iter):
        _, mu = held_shares(build(log_chi, log_chi0), hh, 0, np.full(J, params.theta0))
        gap0 = np.log(obs.mu_bar[0, 0]) - np.log(mu[0] @ hh.nu_prob)
        log_chi0 = log_chi0 + gap0 / scale0 - gap0[0] / scale0
        if np.max(np.abs(gap0 - gap0[0])) <= tol:
            break
    pseudo = build(log_chi, log_chi0)
    hh = solve_household(pseudo, numerics)
    fit = {"mu_fit": float(np.max(np.abs(hh.mu_bar - obs.mu_bar))),
           "theta_fit": float(np.max(np.abs(hh.theta[1:] - obs.theta[1:])))}
    if not fit["mu_fit"] <= 1e-8:
        raise InvalidParamsError("hadsge.hat.pseudo_params", [Violation(
            "obs.mu_bar", "must be the shares of one economy with chi_jj = 1 (the inversion "
            "at age A - 1 does not reproduce the other ages)", fit["mu_fit"])])
    return pseudo, fit


def make_changes_pricer(prod: Production, obs: Observables, A_hat, kappa_hat,
                        ge: GENumerics):
    """(L, K, log_R0) -> the temporary equilibrium in changes relative to the base (iv):
    R in the base's units (world value added one, as the base), log_P and log_Pc the
    logs of P-hat, w_real and r_real in levels."""
    s = make_structure(prod)
    N, I_ = prod.n_regions, prod.n_industries
    with np.errstate(divide="ignore"):
        log_g = np.log(obs.pi) + cdp_static.kernel_shift(s, np.log(kappa_hat)[None],
                                                         np.log(A_hat)[None])[0]
    y_base, world = np.log(obs.R), float(np.sum(prod.gamma_va * obs.R))
    w0 = (obs.w - 1.0 + prod.delta_h).reshape(N, I_)
    r0 = (obs.r - 1.0 + prod.delta_k).reshape(N, I_)
    L0, K0 = obs.L.reshape(N, I_), obs.K.reshape(N, I_)

    def pricer(L, K, log_R0=None) -> Static:
        L, K = np.reshape(L, (N, I_)), np.reshape(K, (N, I_))
        dl, dk = np.log(L / L0), np.log(K / K0)
        off = -prod.gamma_va * (y_base + (1.0 - prod.xi)[:, None] * dl
                                + prod.xi[:, None] * dk)
        y0 = y_base if log_R0 is None else log_R0
        st = clear_goods(s, log_g, off, y0, world, ge.market_tol, ge.market_max_iter)
        log_Pc = st.p @ prod.zeta
        ratio = np.exp(st.y - y_base - log_Pc[:, None])
        w_real = (w0 * ratio / np.exp(dl)).ravel()
        r_real = (r0 * ratio / np.exp(dk)).ravel()
        return Static(R=readonly(np.exp(st.y)), log_P=readonly(st.p), log_Pc=readonly(log_Pc),
                      pi=readonly(st.lam), X=readonly(st.E), w_real=readonly(w_real),
                      r_real=readonly(r_real), w=readonly(1.0 - prod.delta_h + w_real),
                      r=readonly(1.0 - prod.delta_k + r_real),
                      final_demand=readonly((prod.gamma_va * np.exp(st.y)).sum(axis=1)),
                      n_iter=st.n_iter, residual=st.residual)

    return pricer


def _changes(prod: Production, A_hat, kappa_hat):
    N, I_ = prod.n_regions, prod.n_industries
    out, problems = [], []
    for name, arr, shape in (("A_hat", A_hat, (N, I_)), ("kappa_hat", kappa_hat, (I_, N, N))):
        a = np.ones(shape) if arr is None else np.asarray(arr, dtype=float)
        if a.shape != shape:
            problems.append(Violation(name, f"must have shape {shape}", a.shape))
        elif not np.all(np.isfinite(a) & (a > 0.0)):
            problems.append(Violation(name, "must be finite and > 0", float(np.min(a))))
        out.append(a)
    if problems:
        raise InvalidParamsError("hadsge.hat.solve_transition_hat", problems)
    return out[0], out[1]
