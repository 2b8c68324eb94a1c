"""The perfect-foresight path engine shared by levels, dynamic hat algebra and counterfactuals.

All three problems have the same shape (lecture, "Armington with dynamic migration"):

    W_t    = g_t + s + nu log sum_i exp(C_t[j, i] + beta W_{t+1, i} / nu)   (Bellman, T1EV)
    pi_t   = softmax over i of C_t[j, i] + beta W_{t+1, i} / nu           (migration shares)
    L_t+1  = pi_t' L_t                                                   (labour law of motion)
    g_t    = log real wage of the period-t static market given L_t

with W_{T+1} = W_T (the economy is in its steady state from T on: u-dot -> 1).

- Levels: C_t = -m / nu, g_t = log(w_t / P_t), s = 0, W = V.
- Dynamic hat algebra: C_t = log pi_{-1}, g_t = log(r_t / r_0), W = V - V_0, and the constant
  s (N,) is pinned by W_0 = 0. Then pi_t = pi_{-1} prod_{s<=t+1} u-dot_s^(beta/nu) normalised,
  which is the lecture's recursion pi_{t+1} = pi_t u-dot_{t+2}^(beta/nu) / sum_k (...).
- Counterfactual relative to a baseline: C_t = log pi_t (baseline), g_t = log(r'_t / r_t),
  s = 0, W = V' - V.

One pass of the lecture's outer loop: given a labour path, clear every period's static market
(``markets``; the "regions" may be any set of labour markets, e.g. Caliendo-Dvorkin-Parro's
region x sector markets), compute values backward and migration shares, push labour forward.
The labour path is the root of (new path - old path), found by Anderson mixing or Newton-Krylov.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..errors import SolverConvergenceError

_MIXING = 0.5  # initial Jacobian guess -1/alpha of Anderson / Broyden (step = alpha F)


@dataclass(frozen=True, slots=True)
class MarketPath:
    """Static markets along a labour path; arrays indexed by period t = 0..T first."""

    log_x: np.ndarray  # (T+1, N) log wages (levels) or log wage changes
    log_p: np.ndarray  # (T+1, N) log price index (or its change)
    log_r: np.ndarray  # (T+1, N) g_t of the module docstring
    lam: np.ndarray  # (T+1, N, N) expenditure shares lam[t, i, j]
    income: np.ndarray  # (T+1, N) income w_t L_t
    max_imbalance: float
    n_newton: int


#: ``markets(L_path, warm) -> path``; the engine reads only ``path.log_r`` (g_t, (T+1, n)) and
#: hands ``path.log_x`` back as ``warm`` on the next call, so any path type with those two
#: attributes serves (MarketPath here; CDPMarketPath for sectors x regions, cdp_static.py).
Markets = Callable[[np.ndarray, np.ndarray | None], MarketPath]


@dataclass(frozen=True, slots=True)
class PathSolution:
    L: np.ndarray  # (T+1, N)
    W: np.ndarray  # (T+1, N)
    pi: np.ndarray  # (T+1, N, N), pi[t, j, i] share of j's residents moving to i after period t
    shift: np.ndarray  # (N,) the constant s
    market: MarketPath
    n_iter: int
    labour_residual: float
    history: tuple[float, ...]
    horizon_gap: float


def solve_path(
    L0, log_kernel, beta, nu, markets: Markets, *, pin: bool, numerics, L_init=None,
    log_x_init=None,
) -> PathSolution:
    """Root of G(log L) - log L over log L_1..L_T, G = markets -> values -> forward labour.

    Plain iteration of G (the lecture's pseudocode) diverges when migration responds strongly
    to values (beta / ((1 - beta) nu) large), so the root is found with ``numerics.method``
    (Anderson mixing by default, or Newton-Krylov) through ``scipy.optimize.root``; every
    evaluation of G is one pass of the lecture's outer loop. Raises SolverConvergenceError
    on failure.
    """
    T1, n = log_kernel.shape[0], L0.shape[0]
    L_start = np.tile(L0, (T1, 1)) if L_init is None else np.asarray(L_init, dtype=np.float64)
    memo = {"log_x": log_x_init, "shift": np.zeros(n)}
    history: list[float] = []

    def outer(x):
        if memo.get("x") is not None and np.array_equal(x, memo["x"]):
            return memo["out"]  # root finders re-evaluate their last iterate: reuse it
        L = np.vstack([L0[None, :], np.exp(x.reshape(T1 - 1, n))])
        mk = markets(L, memo["log_x"])
        W, pi, shift = backward(mk.log_r, log_kernel, beta, nu, memo["shift"], pin, numerics.tol)
        memo["log_x"], memo["shift"] = mk.log_x, shift
        memo["x"], memo["out"] = np.array(x), (L, mk, W, pi, shift, forward(L0, pi))
        return memo["out"]

    def residual(x):
        L_new = outer(x)[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            F = np.log(L_new[1:T1]).ravel() - x
        history.append(float(np.max(np.abs(F))) if F.size else 0.0)
        return np.where(np.isfinite(F), F, 1e3)

    x = _find_root(residual, np.log(L_start[1:]).ravel(), numerics, history)
    L, mk, W, pi, shift, L_new = outer(x)
    err = float(np.max(np.abs(L_new[:T1] / L - 1.0)))
    gap = float(np.max(np.abs(L_new[T1] / L_new[T1 - 1] - 1.0)))
    return PathSolution(L, W, pi, shift, mk, len(history), err, tuple(history), gap)


def _find_root(residual, x0, numerics, history) -> np.ndarray:
    """scipy's root with a fixed initial mixing (scipy's default scales it by 1/|F(x0)|, which
    stalls warm starts whose first residual is tiny); raises SolverConvergenceError."""
    if x0.size == 0 or np.max(np.abs(residual(x0))) <= numerics.tol:
        return x0  # already a solution (e.g. a steady state or an exact warm start)
    options: dict = {"fatol": numerics.tol, "maxiter": numerics.max_iter}
    if numerics.method != "krylov":
        options["jac_options"] = {"alpha": _MIXING}
    sol = optimize.root(residual, x0, method=numerics.method, options=options)
    final = float(np.max(np.abs(residual(sol.x)))) if x0.size else 0.0
    if not (np.isfinite(final) and final <= numerics.tol):
        raise SolverConvergenceError(
            f"dynamic path (labour) did not converge ({numerics.method}: {sol.message})",
            residuals={"max_abs_log_labour_change": final}, n_iter=len(history))
    return sol.x


def forward(L0, pi) -> np.ndarray:
    """L_{t+1} = pi_t' L_t for t = 0..T; returns (T+2, N), the last row one step past T."""
    T1, n = pi.shape[0], pi.shape[1]
    L = np.empty((T1 + 1, n))
    L[0] = L0
    for t in range(T1):
        L[t + 1] = pi[t].T @ L[t]
    return L


def backward(log_r, log_kernel, beta, nu, shift, pin: bool, tol: float):
    """Values and migration shares; with ``pin`` the shift s is chosen so that W_0 = 0."""
    if not pin:
        W, pi = _backward(log_r, log_kernel, beta, nu, shift, tol)
        return W, pi, shift
    s = np.array(shift, dtype=np.float64)
    for _ in range(60):
        W, pi = _backward(log_r, log_kernel, beta, nu, s, tol)
        if np.max(np.abs(W[0])) <= tol * (1.0 + np.max(np.abs(W))):
            return W, pi, s
        s = s - np.linalg.solve(_d_w0_d_shift(pi, beta), W[0])
    raise SolverConvergenceError(
        "could not pin the initial values W_0 = 0 to the observed migration matrix",
        residuals={"max_abs_W0": float(np.max(np.abs(W[0])))},
        n_iter=60,
    )


def _backward(log_r, log_kernel, beta, nu, shift, tol):
    T1, n = log_r.shape
    W = np.empty((T1, n))
    pi = np.empty((T1, n, n))
    W[-1], pi[-1] = stationary_values(log_r[-1] + shift, log_kernel[-1], beta, nu, tol)
    for t in range(T1 - 2, -1, -1):
        z = log_kernel[t] + (beta / nu) * W[t + 1][None, :]
        lse, pi[t] = log_softmax_rows(z)
        W[t] = log_r[t] + shift + nu * lse
    return W, pi


def _d_w0_d_shift(pi, beta) -> np.ndarray:
    """dW_0/ds: D_T = (I - beta pi_T)^-1, D_t = I + beta pi_t D_{t+1}."""
    n = pi.shape[1]
    D = np.linalg.inv(np.eye(n) - beta * pi[-1])
    for t in range(pi.shape[0] - 2, -1, -1):
        D = np.eye(n) + beta * pi[t] @ D
    return D


def stationary_values(g, log_kernel, beta, nu, tol):
    """W = g + nu log sum_i exp(C[j, i] + beta W_i / nu) by Newton (Jacobian I - beta pi)."""
    n = g.shape[0]
    W = g / (1.0 - beta)
    for _ in range(100):
        z = log_kernel + (beta / nu) * W[None, :]
        lse, pi = log_softmax_rows(z)
        F = W - g - nu * lse
        if np.max(np.abs(F)) <= tol * (1.0 + np.max(np.abs(W))):
            return W, pi
        W = W - np.linalg.solve(np.eye(n) - beta * pi, F)
    raise SolverConvergenceError(
        "stationary values did not converge",
        residuals={"max_bellman_residual": float(np.max(np.abs(F)))},
        n_iter=100,
    )


def log_softmax_rows(z):
    """Row-wise log-sum-exp and softmax of a 2-d array (entries may be -inf, rows not all)."""
    top = np.max(z, axis=1, keepdims=True)
    e = np.exp(z - top)
    total = e.sum(axis=1, keepdims=True)
    return (top + np.log(total))[:, 0], e / total


def horizon_error(gap: float, T: int, horizon_tol: float) -> SolverConvergenceError:
    return SolverConvergenceError(
        f"horizon too short: population still changes by {gap:.3g} (relative) per period at "
        f"T={T}, above horizon_tol={horizon_tol:g}; extend the path of fundamentals (hold "
        "them constant for more periods) so the economy reaches its steady state by T",
        residuals={"horizon_gap": gap},
    )
