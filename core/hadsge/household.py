"""The household block: shares, values and choice probabilities by age (Proposition 1,
eqs. 11-12, Lemma 1), for returns that may differ by age (a cohort's perfect-foresight
path) or not (a stationary economy)."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidParamsError, SolverConvergenceError, Violation
from ..protocol import readonly
from . import kernels
from .params import Numerics, Params
from .result import Household


def solve_household(params: Params, numerics: Numerics | None = None,
                    w_age: np.ndarray | None = None,
                    r_age: np.ndarray | None = None) -> Household:
    """theta^a_l, Ev^a_l and mu^a_jl(theta^a_j, nu) for one cohort.

    ``w_age[a, l]``, ``r_age[a, l]`` (shape (A + 1, J)): the gross returns the cohort
    meets at age a = 0..A; None: ``params.w``, ``params.r`` at every age. Raises
    ``SolverConvergenceError`` (with the age and market) if a share's root fails.
    """
    numerics = Numerics() if numerics is None else numerics
    A, J = params.n_ages, params.n_markets
    ret = _returns_by_age(params, w_age, r_age)
    fr = make_age_arrays(params)
    quad = make_nu_quadrature(params, numerics.n_quad)
    theta = np.empty((A + 1, J))
    ev = np.empty((A + 1, J))
    res = np.zeros((A + 1, J))
    mu = np.empty((A, J, J, numerics.n_quad))
    rule = 1 if numerics.share_rule == "lemma1" else 0
    status = kernels.solve_household(
        ret, fr, float(params.beta), float(np.log(params.varsigma_R)), float(params.theta0),
        quad, rule, float(params.sigma_nu2), float(numerics.share_tol),
        int(numerics.max_share_iter), theta, ev, mu, res)
    if status != kernels.STATUS_OK:
        what = {kernels.STATUS_SHARE_NOT_CONVERGED: "a human-capital share root did not "
                f"converge in {numerics.max_share_iter} iterations",
                kernels.STATUS_NOT_FINITE: "a share condition or value is not finite (with "
                "share_rule='lemma1': a Lemma-1 denominator is not positive)"}
        raise SolverConvergenceError(
            f"hadsge household: {what.get(status, status)}",
            residuals={"status": float(status)}, n_iter=int(numerics.max_share_iter))
    return Household(theta=readonly(theta), ev=readonly(ev), mu=readonly(mu),
                     share_residual=readonly(res), nu=readonly(quad[0]),
                     nu_prob=readonly(quad[1]), w_age=readonly(ret[0]), r_age=readonly(ret[1]))


def make_nu_quadrature(params: Params, n_quad: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes of nu = exp(m + s x), x ~ N(0, 1), m = ``params.log_nu_mean``,
    and their probabilities (exact for E[p(log nu)], p a polynomial of degree 2n - 1)."""
    x, wts = np.polynomial.hermite_e.hermegauss(int(n_quad))
    nu = np.exp(params.log_nu_mean + np.sqrt(params.sigma_nu2) * x)
    return np.ascontiguousarray(nu), np.ascontiguousarray(wts / wts.sum())


def make_age_arrays(params: Params) -> tuple:
    """The kernels' frictions by choosing age a = 0..A-1: (tau, psi, log_chi, log_lam,
    alpha). Age 0 (entrants, eq. 7): tau = psi = 1, chi0, lam0 and alpha0 in every row."""
    A, J = params.n_ages, params.n_markets
    tau = np.empty((A, J, J))
    psi = np.empty((A, J, J))
    log_chi = np.empty((A, J, J))
    log_lam = np.empty((A, J))
    alpha = np.empty(A)
    tau[0], psi[0] = 1.0, 1.0
    log_chi[0] = np.log(params.chi_entrant)[None, :]
    log_lam[0] = np.log(params.lam_entrant)
    alpha[0] = params.alpha_entrant
    tau[1:], psi[1:] = params.tau, params.psi
    log_chi[1:] = np.log(params.chi)
    log_lam[1:] = np.log(params.lam)
    alpha[1:] = params.alpha
    return tau, psi, log_chi, log_lam, alpha


def _returns_by_age(params: Params, w_age, r_age) -> tuple[np.ndarray, np.ndarray]:
    A, J = params.n_ages, params.n_markets
    out = []
    problems = []
    for name, given, base in (("w_age", w_age, params.w), ("r_age", r_age, params.r)):
        if given is None:
            out.append(np.ascontiguousarray(np.broadcast_to(base, (A + 1, J)), dtype=float))
            continue
        arr = np.asarray(given, dtype=float)
        if arr.shape != (A + 1, J):
            problems.append(Violation(name, f"must have shape {(A + 1, J)}", arr.shape))
        elif not np.all(np.isfinite(arr) & (arr > 0.0)):
            problems.append(Violation(name, "must be finite and > 0", float(np.min(arr))))
        out.append(np.ascontiguousarray(arr))
    if problems:
        raise InvalidParamsError("hadsge.solve_household", problems)
    return out[0], out[1]
