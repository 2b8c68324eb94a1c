"""Dynamic hat algebra and counterfactuals relative to a baseline, without levels.

``solve_dynamic_hat(obs, A_dot, tau_dot=None)`` (lecture, "Dynamic hat algebra"; Caliendo,
Dvorkin and Parro 2019, Proposition 1). Unknowns: u-dot_t = u_t / u_{t-1}, u = exp(V),
t = 1..T, with
    pi_{t+1}[j, i] = pi_t[j, i] u-dot_{i,t+2}^(beta/nu) / sum_k pi_t[j, k] u-dot_{k,t+2}^(beta/nu)
    u-dot_{j,t+1} = (w-dot_{j,t+1} / P-dot_{j,t+1}) [sum_i pi_t[j, i] u-dot_{i,t+2}^(beta/nu)]^nu
    L_{t+1} = pi_t' L_t,   u-dot_{T+1} = 1,
and the static market in time changes each period, whose trade shares move with the changes
in fundamentals, lam_{t+1}[i, j] prop. to lam_t[i, j] (tau-dot_{t+1}[i, j] w-dot_{i,t+1} /
A-dot_{i,t+1})^(1-sigma) (tau_dot (T, N, N) = tau_t / tau_{t-1}; default ones).

Timing: ``pi_prev`` = pi_{-1} moved people into period 0 and was chosen knowing V_0; the
first recursion step gives pi_0 (which moves L_0 into L_1) from pi_{-1} and u-dot_1. So
pi_{-1} must come from an economy that foresaw the path being solved (an unanticipated
change at t = 0 is what ``solve_counterfactual`` is for).

The recursion is solved in its cumulated form (engine.py): with W_t = V_t - V_0 = sum_{s<=t}
log u-dot_s, pi_t = softmax(log pi_{-1} + beta W_{t+1} / nu) and W_t = log(r_t / r_0) + s +
nu log sum_i pi_{-1}[j, i] exp(beta W_{t+1,i} / nu), where the constant s (the unobserved
level of migration costs and real wages) is pinned by W_0 = 0. Differencing gives the two
equations above exactly.

``solve_counterfactual(baseline, A_hat, tau_hat=None)`` (CDP Proposition 2, "hat of dots"):
the baseline is any solved path with X, L, pi (levels, dynamic hat algebra, or a previous
counterfactual), A_hat_t = A-dot'_t / A-dot_t and tau_hat_t = tau-dot'_t / tau-dot_t for
t = 1..T; the change is announced at the start of period 0, before the period-0 moves, and
A'_0 = A_0, tau'_0 = tau_0. With y_t = V'_t - V_t,
    pi'_t[j, i] = pi_t[j, i] exp(beta y_{t+1,i} / nu) / sum_k (...),
    y_t = log(r'_t / r_t) + nu log sum_i pi_t[j, i] exp(beta y_{t+1,i} / nu),   y_{T+1} = y_T,
and each period's market is exact hat algebra relative to the baseline's same period, with
(tau'_t / tau_t) / (A'_t / A_t) = prod_{s<=t} tau_hat_s / A_hat_s.
"""

from __future__ import annotations

import numpy as np

from ..validation import Checker
from .engine import horizon_error, solve_path
from .markets import relative_markets, time_change_markets
from .params import Numerics, Observables, check_changes
from .result import CounterfactualPath, HatPath


def solve_dynamic_hat(
    obs: Observables, A_dot=None, *, tau_dot=None, T: int | None = None,
    numerics: Numerics | None = None,
) -> HatPath:
    """Path in time changes from observables; ``A_dot`` (T, N) = A_t / A_{t-1} and
    ``tau_dot`` (T, N, N) = tau_t / tau_{t-1}, t = 1..T.

    Without either, fundamentals stay constant for ``T`` periods.
    """
    numerics = numerics or Numerics()
    n = obs.n_regions
    A_dot, tau_dot = _changes("solve_dynamic_hat", ("A_dot", "tau_dot"), A_dot, tau_dot, n, T)
    lam0 = obs.X0 / obs.X0.sum(axis=0)[None, :]
    Y0 = obs.X0.sum(axis=1)
    with np.errstate(divide="ignore"):
        log_pi_prev = np.log(obs.pi_prev)
    kernel = np.broadcast_to(log_pi_prev, (A_dot.shape[0] + 1, n, n))
    log_cost = np.log(tau_dot) - np.log(A_dot)[:, :, None]
    markets = time_change_markets(lam0, Y0, log_cost, obs.sigma, numerics)
    sol = solve_path(obs.L0, kernel, obs.beta, obs.nu, markets, pin=True, numerics=numerics)
    if sol.horizon_gap > numerics.horizon_tol:
        raise horizon_error(sol.horizon_gap, A_dot.shape[0], numerics.horizon_tol)
    mk = sol.market
    return HatPath(
        w=mk.income / sol.L, P_rel=np.exp(np.cumsum(mk.log_p, axis=0)), V_rel=sol.W, L=sol.L,
        pi=sol.pi, lam=mk.lam, X=mk.lam * mk.income[:, None, :], A_dot=A_dot, tau_dot=tau_dot,
        converged=True, n_iter=sol.n_iter, residuals=_residuals(sol), history=sol.history,
        inputs=obs, numerics=numerics,
    )


def solve_counterfactual(baseline, A_hat=None, *, tau_hat=None,
                         numerics: Numerics | None = None) -> CounterfactualPath:
    """Counterfactual relative to ``baseline`` given A_hat (T, N) = A-dot'_t / A-dot_t and
    tau_hat (T, N, N) = tau-dot'_t / tau-dot_t (either may be omitted: no change)."""
    numerics = numerics or Numerics()
    L_b, X_b, pi_b = baseline.L, baseline.X, baseline.pi
    T1, n = L_b.shape
    A_hat, tau_hat = _changes("solve_counterfactual", ("A_hat", "tau_hat"), A_hat, tau_hat, n,
                              T1 - 1, exact=True)
    lam_b = X_b / X_b.sum(axis=1, keepdims=True)
    Y_b = X_b.sum(axis=2)
    log_cost = np.log(tau_hat) - np.log(A_hat)[:, :, None]
    log_cost = np.concatenate([np.zeros((1, n, n)), np.cumsum(log_cost, axis=0)])
    markets = relative_markets(lam_b, Y_b, L_b, log_cost, baseline.sigma, numerics)
    with np.errstate(divide="ignore"):
        kernel = np.log(pi_b)
    sol = solve_path(L_b[0], kernel, baseline.beta, baseline.nu, markets, pin=False,
                     numerics=numerics, L_init=L_b)
    if sol.horizon_gap > numerics.horizon_tol:
        raise horizon_error(sol.horizon_gap, T1 - 1, numerics.horizon_tol)
    mk = sol.market
    return CounterfactualPath(
        w_ratio=np.exp(mk.log_x), P_ratio=np.exp(mk.log_p), V_diff=sol.W, L=sol.L, pi=sol.pi,
        lam=mk.lam, X=mk.lam * mk.income[:, None, :], L_base=L_b, A_hat=A_hat,
        tau_hat=tau_hat, sigma=baseline.sigma, beta=baseline.beta, nu=baseline.nu,
        converged=True, n_iter=sol.n_iter, residuals=_residuals(sol), history=sol.history,
        numerics=numerics,
    )


def _changes(owner, names, A, tau, n, T, exact=False):
    """Validated (T, N) productivity and (T, N, N) trade-cost changes, ones where omitted;
    T from whichever is given, else the argument ``T`` (required then)."""
    if (A is None and tau is None) or exact:
        check = Checker(owner)
        check.check_scalar(T, "T", ge=1, integer=True)
        check.done()
    rows = T if exact else None
    if A is not None:
        A = check_changes(owner, names[0], A, (n,), rows)
    if tau is not None:
        tau = check_changes(owner, names[1], tau, (n, n), A.shape[0] if A is not None else rows)
    T = A.shape[0] if A is not None else tau.shape[0] if tau is not None else int(T)
    A = np.ones((T, n)) if A is None else A
    tau = np.ones((T, n, n)) if tau is None else tau
    return A, tau


def _residuals(sol) -> dict[str, float]:
    return {
        "max_relative_labour_change": sol.labour_residual,
        "max_trade_imbalance": sol.market.max_imbalance,
        "horizon_gap": sol.horizon_gap,
    }
