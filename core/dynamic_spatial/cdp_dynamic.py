"""Dynamic equilibrium of Caliendo-Dvorkin-Parro (2019): levels, dynamic hat algebra, hat of dots.

The household block is Part A's engine (engine.py) over the M = N S labour markets nj:
values V^{nj} = log C^{nj} + nu log sum_ik exp((beta V^{ik}_{t+1} - tau^{nj,ik}) / nu)
(papers/003, after eq. 1; C = w/P^n when employed, b^n when not), migration shares mu_t
(eq. 2) and L_{t+1} = mu_t' L_t (eq. 3). Each period's temporary equilibrium is
``cdp_static``. Entry points:

- ``solve_cdp(params, numerics=None, warm_start=None)``: perfect-foresight path in levels.
- ``solve_cdp_steady_state(params, A=None, numerics=None)``: stationary equilibrium.
- ``solve_cdp_hat(obs, A_dot=None, *, T=None)``: dynamic hat algebra from observables only
  (CDP Proposition 1): u-dot and mu follow
      mu_{t+1} = mu_t (u-dot_{t+2})^(beta/nu) / sum (...),
      u-dot_{t+1} = (w-dot / Pc-dot)_{t+1} [sum mu_t (u-dot_{t+2})^(beta/nu)]^nu
  (u-dot = 1 for non-employment's flow), solved in cumulated form as in Part A (hat.py).
- ``solve_cdp_counterfactual(baseline, A_hat)``: relative to a baseline path (Proposition 2).
  The change is announced at the start of period 0, before the period-0 moves; A'_0 = A_0.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from ..numerics.fixed_point import solve_root
from ..numerics.markov import markov_stationary
from ..validation import Checker
from .cdp_params import CDPObservables, CDPParams
from .cdp_result import CDPCounterfactual, CDPHatPath, CDPPath
from .cdp_static import (
    employed,
    levels_kernel,
    levels_markets,
    relative_markets,
    time_change_markets,
)
from .engine import horizon_error, solve_path, stationary_values
from .params import Numerics


def solve_cdp(params: CDPParams, numerics: Numerics | None = None,
              warm_start: CDPPath | None = None) -> CDPPath:
    """Perfect-foresight path in levels; ``warm_start`` reuses a path's labour and output."""
    numerics = numerics or Numerics()
    p, s = params, params.structure
    T1, M = p.horizon + 1, s.n_markets
    kernel = np.broadcast_to(-p.tau / s.nu, (T1, M, M))
    markets = _levels_markets(p, p.A_path, numerics)
    L_init = y_init = None
    if warm_start is not None and warm_start.L.shape == (T1, s.n_regions, s.n_slots):
        L_init = (warm_start.L * (p.L0 / warm_start.L[0])).reshape(T1, M)
        y_init = np.log(warm_start.R)
    sol = solve_path(p.L0.ravel(), kernel, s.beta, s.nu, markets, pin=False,
                     numerics=numerics, L_init=L_init, log_x_init=y_init)
    _check_horizon(sol, p.horizon, numerics)
    mk = sol.market
    V = sol.W.reshape(T1, s.n_regions, s.n_slots)
    P, Pc = np.exp(mk.log_p), np.exp(mk.log_pc)
    mu_prev = softmax((s.beta * sol.W[0][None, :] - p.tau) / s.nu, axis=1)
    return CDPPath(
        w=_wages(s, mk.log_x, sol.L), P=P, Pc=Pc, P_rel=P / P[0], Pc_rel=Pc / Pc[0],
        L=_shape(s, sol.L), V=V, V_rel=V - V[0], mu=sol.pi, mu_prev=mu_prev, lam=mk.lam,
        X=_flows(mk), converged=True, n_iter=sol.n_iter, residuals=_residuals(sol),
        history=sol.history, params=p, numerics=numerics,
    )


def solve_cdp_hat(obs: CDPObservables, A_dot=None, *, T: int | None = None,
                  numerics: Numerics | None = None) -> CDPHatPath:
    """Path in time changes from observables; ``A_dot`` (T, N, J) = A_t / A_{t-1}."""
    numerics = numerics or Numerics()
    s = obs.structure
    A_dot = _changes("solve_cdp_hat", "A_dot", A_dot, T, s)
    T1 = A_dot.shape[0] + 1
    lam0 = obs.X0 / obs.X0.sum(axis=1, keepdims=True)
    R0, E0 = obs.X0.sum(axis=2).T, obs.X0.sum(axis=1).T
    markets = time_change_markets(s, lam0, E0, R0, np.log(A_dot), numerics)
    with np.errstate(divide="ignore"):
        kernel = np.broadcast_to(np.log(obs.mu_prev), (T1, s.n_markets, s.n_markets))
    sol = solve_path(obs.L0.ravel(), kernel, s.beta, s.nu, markets, pin=True,
                     numerics=numerics)
    _check_horizon(sol, T1 - 1, numerics)
    mk = sol.market
    return CDPHatPath(
        w=_wages(s, mk.log_x, sol.L), P_rel=np.exp(mk.log_p), Pc_rel=np.exp(mk.log_pc),
        L=_shape(s, sol.L), V_rel=_shape(s, sol.W), mu=sol.pi, lam=mk.lam, X=_flows(mk),
        A_dot=A_dot, converged=True, n_iter=sol.n_iter, residuals=_residuals(sol),
        history=sol.history, inputs=obs, numerics=numerics,
    )


def solve_cdp_counterfactual(baseline, A_hat, *, numerics: Numerics | None = None
                             ) -> CDPCounterfactual:
    """Counterfactual relative to ``baseline`` (any CDP path) given A_hat (T, N, J)."""
    numerics = numerics or Numerics()
    s = baseline.structure
    T1 = baseline.L.shape[0]
    A_hat = _changes("solve_cdp_counterfactual", "A_hat", A_hat, None, s)
    check = Checker("solve_cdp_counterfactual")
    check.require(A_hat.shape[0] == T1 - 1, "A_hat", f"must have {T1 - 1} rows (baseline T)",
                  A_hat.shape[0])
    check.done()
    log_A_hat = np.concatenate([np.zeros((1, *A_hat.shape[1:])),
                                np.cumsum(np.log(A_hat), axis=0)])
    L_b = baseline.L.reshape(T1, s.n_markets)
    markets = relative_markets(s, baseline.lam, baseline.R, L_b, log_A_hat, numerics)
    with np.errstate(divide="ignore"):
        kernel = np.log(baseline.mu)
    sol = solve_path(L_b[0], kernel, s.beta, s.nu, markets, pin=False, numerics=numerics,
                     L_init=L_b)
    _check_horizon(sol, T1 - 1, numerics)
    mk = sol.market
    w_ratio = _wages(s, mk.log_x, sol.L) / baseline_wages(baseline)
    return CDPCounterfactual(
        w_ratio=w_ratio, P_ratio=np.exp(mk.log_p), Pc_ratio=np.exp(mk.log_pc),
        V_diff=_shape(s, sol.W), L=_shape(s, sol.L), mu=sol.pi, lam=mk.lam, X=_flows(mk),
        L_base=baseline.L, A_hat=A_hat, structure=s, converged=True, n_iter=sol.n_iter,
        residuals=_residuals(sol), history=sol.history, numerics=numerics,
    )


def solve_cdp_steady_state(params: CDPParams, A=None, numerics: Numerics | None = None):
    """Stationary equilibrium for constant productivity A (N, J) (default A_T).

    Root in log L (Powell hybrid) of L = total x stationary distribution of mu(L). Returns
    ``(L, V, mu)`` with L (N, S), V (N, S), mu (M, M).
    """
    numerics = numerics or Numerics()
    p, s = params, params.structure
    A = p.A_path[-1] if A is None else np.asarray(A, dtype=np.float64)
    markets = _levels_markets(p, A[None], numerics)
    kernel, total = -p.tau / s.nu, float(p.L0.sum())
    memo = {"y": None}

    def stationary(log_L):
        mk = markets(np.exp(log_L)[None, :], memo["y"])
        memo["y"] = mk.log_x
        V, mu = stationary_values(mk.log_r[0], kernel, s.beta, s.nu, numerics.tol)
        return V, mu, total * markov_stationary(mu)

    def residual(log_L):
        return np.log(stationary(log_L)[-1]) - log_L

    root = solve_root(residual, np.log(p.L0.ravel()), tol=numerics.tol,
                      max_iter=numerics.max_iter, name="CDP steady state (log L)")
    V, mu, L = stationary(root.x)
    return _shape(s, L), _shape(s, V), mu


def baseline_wages(path) -> np.ndarray:
    """(T+1, N, J) wages of any CDP path: gamma (1 - xi) R / L (labour market clearing)."""
    s = path.structure
    return _wages(s, np.log(path.R), path.L.reshape(path.L.shape[0], s.n_markets))


def _levels_markets(p: CDPParams, A_path, numerics):
    s = p.structure
    return levels_markets(s, levels_kernel(s, p.kappa, A_path), np.log(p.H),
                          p.b if s.non_employment else None, float(p.L0.sum()), numerics)


def _wages(s, y, L_flat) -> np.ndarray:
    share = s.gamma_va * (1.0 - s.xi)[:, None]
    return share * np.exp(y) / employed(s, L_flat)


def _flows(mk) -> np.ndarray:
    """X[t, j, i, n] = lam[t, j, i, n] E[t, n, j]."""
    return mk.lam * mk.E.transpose(0, 2, 1)[:, :, None, :]


def _shape(s, flat) -> np.ndarray:
    return flat.reshape(*flat.shape[:-1], s.n_regions, s.n_slots)


def _changes(owner, name, value, T, s) -> np.ndarray:
    """A (T, N, J) path of positive changes (ones for ``T`` periods if ``value`` is None)."""
    check = Checker(owner)
    if value is None:
        if check.check_scalar(T, "T", ge=1, integer=True) is None:
            check.done()
        value = np.ones((int(T), s.n_regions, s.n_sectors))
    arr = check.check_array(value, name, ndim=3, gt=0.0)
    if arr is not None:
        check.require(arr.shape[0] >= 1 and arr.shape[1:] == (s.n_regions, s.n_sectors), name,
                      f"must have shape (T, {s.n_regions}, {s.n_sectors}) with T >= 1",
                      f"shape {arr.shape}")
    check.done()
    return arr


def _check_horizon(sol, T, numerics) -> None:
    if sol.horizon_gap > numerics.horizon_tol:
        raise horizon_error(sol.horizon_gap, T, numerics.horizon_tol)


def _residuals(sol) -> dict[str, float]:
    return {
        "max_relative_labour_change": sol.labour_residual,
        "max_goods_market_gap": sol.market.max_imbalance,
        "horizon_gap": sol.horizon_gap,
    }
