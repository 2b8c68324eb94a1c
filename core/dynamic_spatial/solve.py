"""Levels: the perfect-foresight path and the steady state (lecture, "Armington with dynamic
migration").

- ``solve(params, numerics=None, warm_start=None)``: the path t = 0..T (registry entry point).
- ``solve_steady_state(params, A=None, numerics=None, *, tau=None)``: the stationary
  equilibrium for constant fundamentals (default A_T and tau_T, where the path must end up).

Timing: households work and consume in t given L_t, then move; pi_t depends on V_{t+1} and
L_{t+1} = pi_t' L_t. From T on fundamentals stay at (A_T, tau_T) and the economy is taken
to be in its steady state, V_{T+1} = V_T; the solver checks that the population has
stopped moving at T (``Numerics.horizon_tol``) and raises otherwise.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from ..numerics.fixed_point import solve_root
from ..numerics.markov import markov_stationary
from .engine import horizon_error, solve_path, stationary_values
from .markets import clear, levels_markets
from .params import Numerics, Params
from .result import LevelsPath, SteadyState


def solve(
    params: Params, numerics: Numerics | None = None, warm_start: LevelsPath | None = None
) -> LevelsPath:
    """Perfect-foresight path in levels; ``warm_start`` reuses a path's labour and wages."""
    numerics = numerics or Numerics()
    p = params
    log_g = _log_g(p, p.A_path, p.trade_costs())
    kernel = np.broadcast_to(-p.m / p.nu, (p.horizon + 1, *p.m.shape))
    L_init = log_x_init = None
    if warm_start is not None and warm_start.L.shape == (p.horizon + 1, p.n_regions):
        L_init, log_x_init = warm_start.L * (p.L0 / warm_start.L[0]), np.log(warm_start.w)
    sol = solve_path(p.L0, kernel, p.beta, p.nu, levels_markets(log_g, p.sigma, numerics),
                     pin=False, numerics=numerics, L_init=L_init, log_x_init=log_x_init)
    if sol.horizon_gap > numerics.horizon_tol:
        raise horizon_error(sol.horizon_gap, p.horizon, numerics.horizon_tol)
    mk = sol.market
    P, V = np.exp(mk.log_p), sol.W
    pi_prev = softmax((p.beta * V[0][None, :] - p.m) / p.nu, axis=1)
    return LevelsPath(
        w=np.exp(mk.log_x), P=P, L=sol.L, V=V, pi=sol.pi, lam=mk.lam,
        X=mk.lam * mk.income[:, None, :], pi_prev=pi_prev, P_rel=P / P[0], V_rel=V - V[0],
        converged=True, n_iter=sol.n_iter, residuals=_residuals(sol), history=sol.history,
        params=p, numerics=numerics,
    )


def solve_steady_state(
    params: Params, A=None, numerics: Numerics | None = None, *, tau=None
) -> SteadyState:
    """Stationary equilibrium for constant productivity ``A`` and trade costs ``tau``
    (defaults: the path's A_T and tau_T, where the path must end up).

    A root in log L (Powell hybrid, ``solve_root``) of L = total x stationary distribution of
    pi(L), where L -> static market -> stationary values (Newton) -> migration shares pi.
    """
    numerics = numerics or Numerics()
    p = params
    A = p.A_path[-1] if A is None else np.asarray(A, dtype=np.float64)
    tau = p.trade_costs()[-1] if tau is None else np.asarray(tau, dtype=np.float64)
    log_g = _log_g(p, A[None, :], tau[None])[0]
    kernel, total = -p.m / p.nu, float(p.L0.sum())
    memo = {"log_x": np.zeros(p.n_regions)}

    def stationary(log_L):
        L = np.exp(log_L)
        st, _, imb = clear(log_g, np.ones(p.n_regions), p.sigma, L, memo["log_x"], total,
                           numerics)
        memo["log_x"] = st.log_x
        V, pi = stationary_values(st.log_x - st.log_p, kernel, p.beta, p.nu, numerics.tol)
        return st, imb, V, pi, total * markov_stationary(pi)

    def residual(log_L):
        return np.log(stationary(log_L)[-1]) - log_L

    root = solve_root(residual, np.log(p.L0 * total / p.L0.sum()), tol=numerics.tol,
                      max_iter=numerics.max_iter, name="steady state (log L)")
    st, imb, V, pi, L_new = stationary(root.x)
    L = np.exp(root.x)
    return SteadyState(
        A=A, tau=tau, w=np.exp(st.log_x), P=np.exp(st.log_p), L=L, V=V, pi=pi, lam=st.lam,
        X=st.lam * st.income[None, :], converged=True, n_iter=root.n_iter,
        residuals={"max_relative_labour_change": float(np.max(np.abs(L_new / L - 1.0))),
                   "max_trade_imbalance": imb},
        params=p, numerics=numerics,
    )


def _log_g(p: Params, A_path, tau_path) -> np.ndarray:
    """(T+1, N, N) log of a (tau_t / A_t)^(1-sigma)."""
    log_cost = np.log(tau_path) - np.log(A_path)[:, :, None]
    return np.log(p.a)[None, :, :] + (1.0 - p.sigma) * log_cost


def _residuals(sol) -> dict[str, float]:
    return {
        "max_relative_labour_change": sol.labour_residual,
        "max_trade_imbalance": sol.market.max_imbalance,
        "horizon_gap": sol.horizon_gap,
    }
