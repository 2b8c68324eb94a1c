"""The grid-free allocations at given multipliers (w, P): first best and history independent.

First best (Prop. 1, (22)-(23)). With beta R = 1, equal weights Lambda and log
utility every household has P_k / u'(C) = Lambda (newborns start there by
B.42 without incentive compatibility and (22) keeps it), so C_k = Lambda / P_k,
each location has one promise v*_k, and newborns and incumbents share the
location choice (23) in logit form,

    mu_ik   prop. to chi_ik exp(theta (v*_k + S*_k / Lambda))
    v*      = ln C + beta omega (mu v* - psi(mu))              (9), psi from (56)
    v^n     = beta (mu v* - psi(mu))                           (8)
    S*      = w (1 + alpha) - P C + (1 - omega) Lambda v^n + (1/R) mu S*   ((18) + (20))

v* and S* are linear in each other given mu; the fixed point is on
u = v* + S* / Lambda (Anderson). Populations are the stationary vector of mu.

History independent (Prop. 3, (39)-(40)). C_j common to j's residents;
v = ln C + beta omega IV(v) (Newton), mu logit on v, v^n = beta IV(v), S from
(40) (with the (1 + alpha) that (A.26) drops), and (39) in logit form

    Xi_j = sum_i L_i mu_ij [beta R (omega Xi_i + (1 - omega) Lambda_i)
                            + theta (S_j - Sbar_i)] / sum_i L_i mu_ij,  Xi = P C,

iterated on log C with damping (``Numerics.damping_hi``) and Anderson mixing.
The result is the steady state of the optimal history-independent plan, not
the maximiser of steady-state welfare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from ..errors import SolverConvergenceError
from ..numerics.anderson import anderson
from ..numerics.markov import markov_stationary
from .params import Numerics, Params


@dataclass(frozen=True, slots=True)
class Allocation:
    """An allocation at given multipliers: (J,) consumption C, promises v (one per
    location), newborn values vn, surplus S, newborn surplus Sn, (J, J) shares mu,
    populations L (stationary), n_iter."""

    C: np.ndarray
    v: np.ndarray
    vn: np.ndarray
    S: np.ndarray
    Sn: np.ndarray
    mu: np.ndarray
    L: np.ndarray
    n_iter: int


def logit(z: np.ndarray, log_chi: np.ndarray, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """(mu, IV): shares chi exp(theta z) / sum and (1/theta) ln sum_k chi_ik exp(theta z_k)."""
    x = log_chi + theta * z[None, :]
    lse = logsumexp(x, axis=1)
    return np.exp(x - lse[:, None]), lse / theta


def entropy_cost(mu: np.ndarray, chi: np.ndarray, theta: float) -> np.ndarray:
    """psi_i(mu_i) = (1/theta) sum_j mu_ij ln(mu_ij / chi_ij) (56)."""
    safe = np.where(mu > 0.0, mu, 1.0)
    return np.sum(mu * np.log(safe / chi), axis=1) / theta


def first_best(params: Params, numerics: Numerics, w: np.ndarray, P: np.ndarray,
               u0: np.ndarray | None = None) -> Allocation:
    """The first-best steady state at multipliers (w, P); see the module docstring."""
    p = params
    lam = float(p.weights[0])
    J = p.n_loc
    C = lam / P
    log_chi = np.log(p.chi)
    eye = np.eye(J)

    def parts(u):
        mu, _ = logit(u, log_chi, p.theta)
        psi = entropy_cost(mu, p.chi, p.theta)
        v = np.linalg.solve(eye - p.beta * p.omega * mu, np.log(C) - p.beta * p.omega * psi)
        vn = p.beta * (mu @ v - psi)
        rhs = w * (1.0 + p.alpha_agg) - P * C + (1.0 - p.omega) * lam * vn
        S = np.linalg.solve(eye - p.r_inv * mu, rhs)
        return mu, v, vn, S

    def T(u):
        _mu, v, _vn, S = parts(u)
        return v + S / lam

    start = np.log(C) / (1.0 - p.beta * p.omega) if u0 is None else u0
    res = anderson(T, start, tol=numerics.tol_fixed * (1.0 + np.max(np.abs(start))),
                   max_iter=numerics.max_iter_fixed, memory=5)
    if not res.converged:
        raise SolverConvergenceError("first-best fixed point did not converge",
                                     residuals={"u_change": res.residual}, n_iter=res.n_iter)
    mu, v, vn, S = parts(res.x)
    Sn = lam * vn + p.r_inv * mu @ S
    return Allocation(C, v, vn, S, Sn, mu, markov_stationary(mu), res.n_iter)


def history_independent(params: Params, numerics: Numerics, w: np.ndarray, P: np.ndarray,
                        logC0: np.ndarray | None = None) -> Allocation:
    """The history-independent steady state at multipliers (w, P) (module docstring)."""
    p = params
    lam = p.weights
    log_chi = np.log(p.chi)
    eye = np.eye(p.n_loc)
    bR = p.beta / p.r_inv
    d = numerics.damping_hi

    def parts(logC):
        C = np.exp(logC)
        v = promises(logC, log_chi, p.theta, p.beta * p.omega)
        mu, IV = logit(v, log_chi, p.theta)
        vn = p.beta * IV
        L = markov_stationary(mu)
        S = np.linalg.solve(eye - p.r_inv * mu,
                            w * (1.0 + p.alpha_agg) - P * C + (1.0 - p.omega) * lam * vn)
        return C, v, vn, mu, L, S

    def T(logC):
        C, _v, _vn, mu, L, S = parts(logC)
        Xi = P * C
        Sbar = mu @ S
        flow = L[:, None] * mu
        inner = (bR * (p.omega * Xi + (1.0 - p.omega) * lam))[:, None] + p.theta * (
            S[None, :] - Sbar[:, None])
        Xi_new = np.sum(flow * inner, axis=0) / flow.sum(axis=0)
        if np.any(Xi_new <= 0.0):
            return None
        return (1.0 - d) * logC + d * np.log(Xi_new / P)

    start = np.log(lam / P) if logC0 is None else logC0
    res = anderson(T, start, tol=numerics.tol_fixed * 10.0, max_iter=numerics.max_iter_fixed,
                   memory=5)
    if not res.converged:
        raise SolverConvergenceError("history-independent fixed point did not converge",
                                     residuals={"log_c_change": res.residual / d},
                                     n_iter=res.n_iter)
    C, v, vn, mu, L, S = parts(res.x)
    Sn = lam * vn + p.r_inv * mu @ S
    return Allocation(C, v, vn, S, Sn, mu, L, res.n_iter)


def promises(logC: np.ndarray, log_chi: np.ndarray, theta: float, bo: float,
             steps: int = 100) -> np.ndarray:
    """v = ln C + beta omega IV(v) by Newton (a contraction at beta omega, so Newton's
    Jacobian I - beta omega mu is always invertible)."""
    v = logC / (1.0 - bo)
    for _ in range(steps):
        mu, IV = logit(v, log_chi, theta)
        dv = np.linalg.solve(np.eye(v.size) - bo * mu, -(v - logC - bo * IV))
        v = v + dv
        if np.max(np.abs(dv)) < 1e-14 * (1.0 + np.max(np.abs(v))):
            break
    return v
