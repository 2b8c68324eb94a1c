"""Dynamic hat algebra and counterfactuals relative to a baseline, without levels.

``solve_dynamic_hat(obs, A_dot)`` (lecture, "Dynamic hat algebra"; Caliendo, Dvorkin and
Parro 2019, Proposition 1). Unknowns: u-dot_t = u_t / u_{t-1}, u = exp(V), t = 1..T, with
    pi_{t+1}[j, i] = pi_t[j, i] u-dot_{i,t+2}^(beta/nu) / sum_k pi_t[j, k] u-dot_{k,t+2}^(beta/nu)
    u-dot_{j,t+1} = (w-dot_{j,t+1} / P-dot_{j,t+1}) [sum_i pi_t[j, i] u-dot_{i,t+2}^(beta/nu)]^nu
    L_{t+1} = pi_t' L_t,   u-dot_{T+1} = 1,
and the static market in time changes each period. Timing: ``pi_prev`` = pi_{-1} moved people
into period 0 and was chosen knowing V_0; the first recursion step gives pi_0 (which moves
L_0 into L_1) from pi_{-1} and u-dot_1. So pi_{-1} must come from an economy that foresaw the
path being solved (an unanticipated change at t = 0 is what ``solve_counterfactual`` is for).

The recursion is solved in its cumulated form (engine.py): with W_t = V_t - V_0 = sum_{s<=t}
log u-dot_s, pi_t = softmax(log pi_{-1} + beta W_{t+1} / nu) and W_t = log(r_t / r_0) + s +
nu log sum_i pi_{-1}[j, i] exp(beta W_{t+1,i} / nu), where the constant s (the unobserved
level of migration costs and real wages) is pinned by W_0 = 0. Differencing gives the two
equations above exactly.

``solve_counterfactual(baseline, A_hat)`` (CDP Proposition 2, "hat of dots"): the baseline is
any solved path with X, L, pi (levels, dynamic hat algebra, or a previous counterfactual),
A_hat_t = A-dot'_t / A-dot_t for t = 1..T; the change is announced at the start of period 0,
before the period-0 moves, and A'_0 = A_0. With y_t = V'_t - V_t,
    pi'_t[j, i] = pi_t[j, i] exp(beta y_{t+1,i} / nu) / sum_k (...),
    y_t = log(r'_t / r_t) + nu log sum_i pi_t[j, i] exp(beta y_{t+1,i} / nu),   y_{T+1} = y_T,
and each period's market is exact hat algebra relative to the baseline's same period.
"""

from __future__ import annotations

import numpy as np

from ..validation import Checker
from .engine import horizon_error, solve_path
from .markets import relative_markets, time_change_markets
from .params import Numerics, Observables, check_fundamental_changes
from .result import CounterfactualPath, HatPath


def solve_dynamic_hat(
    obs: Observables, A_dot=None, *, T: int | None = None, numerics: Numerics | None = None
) -> HatPath:
    """Path in time changes from observables; ``A_dot`` (T, N) = A_t / A_{t-1}, t = 1..T.

    Without ``A_dot``, fundamentals stay constant for ``T`` periods.
    """
    numerics = numerics or Numerics()
    n = obs.n_regions
    if A_dot is None:
        check = Checker("solve_dynamic_hat")
        check.check_scalar(T, "T", ge=1, integer=True)
        check.done()
        A_dot = np.ones((int(T), n))
    A_dot = check_fundamental_changes("solve_dynamic_hat", "A_dot", A_dot, n)
    lam0 = obs.X0 / obs.X0.sum(axis=0)[None, :]
    Y0 = obs.X0.sum(axis=1)
    with np.errstate(divide="ignore"):
        log_pi_prev = np.log(obs.pi_prev)
    kernel = np.broadcast_to(log_pi_prev, (A_dot.shape[0] + 1, n, n))
    markets = time_change_markets(lam0, Y0, np.log(A_dot), obs.sigma, numerics)
    sol = solve_path(obs.L0, kernel, obs.beta, obs.nu, markets, pin=True, numerics=numerics)
    if sol.horizon_gap > numerics.horizon_tol:
        raise horizon_error(sol.horizon_gap, A_dot.shape[0], numerics.horizon_tol)
    mk = sol.market
    return HatPath(
        w=mk.income / sol.L, P_rel=np.exp(np.cumsum(mk.log_p, axis=0)), V_rel=sol.W, L=sol.L,
        pi=sol.pi, lam=mk.lam, X=mk.lam * mk.income[:, None, :], A_dot=A_dot, converged=True,
        n_iter=sol.n_iter, residuals=_residuals(sol), history=sol.history, inputs=obs,
        numerics=numerics,
    )


def solve_counterfactual(baseline, A_hat, *, numerics: Numerics | None = None
                         ) -> CounterfactualPath:
    """Counterfactual relative to ``baseline`` given A_hat (T, N) = A-dot'_t / A-dot_t."""
    numerics = numerics or Numerics()
    L_b, X_b, pi_b = baseline.L, baseline.X, baseline.pi
    T1, n = L_b.shape
    A_hat = check_fundamental_changes("solve_counterfactual", "A_hat", A_hat, n)
    check = Checker("solve_counterfactual")
    check.require(A_hat.shape[0] == T1 - 1, "A_hat", f"must have {T1 - 1} rows (baseline T)",
                  A_hat.shape[0])
    check.done()
    lam_b = X_b / X_b.sum(axis=1, keepdims=True)
    Y_b = X_b.sum(axis=2)
    log_A_hat = np.vstack([np.zeros((1, n)), np.cumsum(np.log(A_hat), axis=0)])
    markets = relative_markets(lam_b, Y_b, L_b, log_A_hat, baseline.sigma, numerics)
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
        sigma=baseline.sigma, beta=baseline.beta, nu=baseline.nu, converged=True,
        n_iter=sol.n_iter, residuals=_residuals(sol), history=sol.history, numerics=numerics,
    )


def _residuals(sol) -> dict[str, float]:
    return {
        "max_relative_labour_change": sol.labour_residual,
        "max_trade_imbalance": sol.market.max_imbalance,
        "horizon_gap": sol.horizon_gap,
    }
