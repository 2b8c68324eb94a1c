"""Dynamic equilibrium of Caliendo-Dvorkin-Parro (2019): levels, dynamic hat algebra, hat of dots.

The household block is Part A's engine (engine.py) over the M = N S labour markets nj:
values V^{nj} = log C^{nj} + nu log sum_ik exp((beta V^{ik}_{t+1} - tau^{nj,ik}) / nu)
(papers/003, after eq. 1; C = w/P^n when employed, b^n when not), migration shares mu_t
(eq. 2) and L_{t+1} = mu_t' L_t (eq. 3). Each period's temporary equilibrium is
``cdp_static``. Entry points:

- ``solve_cdp(params, numerics=None, warm_start=None)``: perfect-foresight path in levels.
- ``solve_cdp_steady_state(params, A=None, numerics=None)``: stationary equilibrium.
- ``solve_cdp_hat(obs, A_dot=None, *, kappa_dot=None, b_dot=None, tau_diff=None, T=None)``:
  dynamic hat algebra from observables only (CDP Proposition 1): u-dot and mu follow
      mu_{t+1} = mu_t exp(-tau_diff_{t+1} / nu) (u-dot_{t+2})^(beta/nu) / sum (...),
      u-dot_{t+1} = C-dot_{t+1} [sum mu_t exp(-tau_diff_{t+1} / nu) (u-dot_{t+2})^(beta/nu)]^nu
  with C-dot = w-dot / Pc-dot employed and b-dot at home, solved in cumulated form as in
  Part A (hat.py).
- ``solve_cdp_counterfactual(baseline, A_hat=None, *, kappa_hat=None, b_hat=None,
  tau_diff_hat=None)``: relative to a baseline path (Proposition 2). The change is announced
  at the start of period 0, before the period-0 moves; fundamentals of period 0 are unchanged.

Changes in fundamentals. Productivity A, iceberg costs kappa and home production b enter in
ratios: x-dot_t = x_t / x_{t-1} (t = 1..T) and x-hat_t = x-dot'_t / x-dot_t. Relocation costs
tau are additive utility costs, so their changes are differences: tau_diff_t = tau_t -
tau_{t-1} and tau_diff_hat_t = (tau'_t - tau'_{t-1}) - (tau_t - tau_{t-1}), (T, M, M).
Derivation: mu_t[m, m'] is proportional to exp((beta V_{t+1,m'} - tau_t[m, m']) / nu), so
relative to mu_{t-1} (same m) the odds of m' change by
    exp(-(tau_t - tau_{t-1})[m, m'] / nu) (u-dot_{t+1,m'})^(beta/nu),
and V_t - V_{t-1} = log C-dot_t + nu log sum_m' mu_{t-1}[m, m'] x (that factor), which are
the two equations above. Relative to a baseline, the same algebra on mu'_t / mu_t gives the
factor exp(-(tau'_t - tau_t) / nu) (u-hat ...)^(beta/nu): a migration-cost change multiplies
the migration shares by exp(-tau_diff_hat / nu) (CDP's (tau-hat)^(-1/nu) if costs are written
multiplicatively as exp(tau)). In cumulated form (what the engine solves) the kernels are
log mu_{-1} - (tau_t - tau_0) / nu (hat algebra; the period -1 moves faced tau_0) and
log mu_t - (tau'_t - tau_t) / nu (hat of dots).
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from ..errors import Described
from ..numerics.fixed_point import solve_root
from ..numerics.markov import markov_stationary
from ..validation import Checker
from .cdp_params import CDPObservables, CDPParams
from .cdp_result import CDPCounterfactual, CDPHatPath, CDPPath, CDPSteadyState
from .cdp_static import (
    employed,
    kernel_shift,
    levels_markets,
    relative_markets,
    time_change_markets,
)
from .engine import horizon_error, solve_path, stationary_values
from .params import Numerics, check_changes


def solve_cdp(params: CDPParams, numerics: Numerics | None = None,
              warm_start: CDPPath | None = None) -> CDPPath:
    """Perfect-foresight path in levels; ``warm_start`` reuses a path's labour and output."""
    numerics = numerics or Numerics()
    p, s = params, params.structure
    T1, M = p.horizon + 1, s.n_markets
    tau = p.migration_costs()
    markets = _levels_markets(p, p.A_path, p.trade_costs(), p.home_production(), numerics)
    L_init = y_init = None
    if warm_start is not None and warm_start.L.shape == (T1, s.n_regions, s.n_slots):
        L_init = (warm_start.L * (p.L0 / warm_start.L[0])).reshape(T1, M)
        y_init = np.log(warm_start.R)
    sol = solve_path(p.L0.ravel(), -tau / s.nu, s.beta, s.nu, markets, pin=False,
                     numerics=numerics, L_init=L_init, log_x_init=y_init)
    _check_horizon(sol, p.horizon, numerics)
    mk = sol.market
    V = sol.W.reshape(T1, s.n_regions, s.n_slots)
    P, Pc = np.exp(mk.log_p), np.exp(mk.log_pc)
    mu_prev = softmax((s.beta * sol.W[0][None, :] - tau[0]) / s.nu, axis=1)
    return CDPPath(
        w=_wages(s, mk.log_x, sol.L), P=P, Pc=Pc, P_rel=P / P[0], Pc_rel=Pc / Pc[0],
        L=_shape(s, sol.L), V=V, V_rel=V - V[0], mu=sol.pi, mu_prev=mu_prev, lam=mk.lam,
        X=_flows(mk), converged=True, n_iter=sol.n_iter, residuals=_residuals(sol),
        history=sol.history, params=p, numerics=numerics,
    )


def solve_cdp_hat(obs: CDPObservables, A_dot=None, *, kappa_dot=None, b_dot=None,
                  tau_diff=None, T: int | None = None, numerics: Numerics | None = None
                  ) -> CDPHatPath:
    """Path in time changes from observables; ``A_dot`` (T, N, J) = A_t / A_{t-1},
    ``kappa_dot`` (T, J, N, N), ``b_dot`` (T, N) likewise, ``tau_diff`` (T, M, M) = tau_t -
    tau_{t-1} (module docstring). Omitted changes are none; with none given, ``T`` periods."""
    numerics = numerics or Numerics()
    s = obs.structure
    ch = fundamental_changes("solve_cdp_hat", s, T, False, A_dot=A_dot, kappa_dot=kappa_dot,
                             b_dot=b_dot, tau_diff=tau_diff)
    T1 = ch["A_dot"].shape[0] + 1
    lam0 = obs.X0 / obs.X0.sum(axis=1, keepdims=True)
    R0, E0 = obs.X0.sum(axis=2).T, obs.X0.sum(axis=1).T
    shift = kernel_shift(s, np.log(ch["kappa_dot"]), np.log(ch["A_dot"]))
    markets = time_change_markets(s, lam0, E0, R0, shift, _cumulated(np.log(ch["b_dot"])),
                                  numerics)
    with np.errstate(divide="ignore"):
        kernel = np.log(obs.mu_prev) - _cumulated(ch["tau_diff"]) / s.nu
    sol = solve_path(obs.L0.ravel(), kernel, s.beta, s.nu, markets, pin=True,
                     numerics=numerics)
    _check_horizon(sol, T1 - 1, numerics)
    mk = sol.market
    return CDPHatPath(
        w=_wages(s, mk.log_x, sol.L), P_rel=np.exp(mk.log_p), Pc_rel=np.exp(mk.log_pc),
        L=_shape(s, sol.L), V_rel=_shape(s, sol.W), mu=sol.pi, lam=mk.lam, X=_flows(mk),
        **ch, converged=True, n_iter=sol.n_iter, residuals=_residuals(sol),
        history=sol.history, inputs=obs, numerics=numerics,
    )


def solve_cdp_counterfactual(baseline, A_hat=None, *, kappa_hat=None, b_hat=None,
                             tau_diff_hat=None, numerics: Numerics | None = None
                             ) -> CDPCounterfactual:
    """Counterfactual relative to ``baseline`` (any CDP path) given hats of dots A_hat
    (T, N, J), kappa_hat (T, J, N, N), b_hat (T, N) and tau_diff_hat (T, M, M) (module
    docstring); omitted ones are no change."""
    numerics = numerics or Numerics()
    s = baseline.structure
    T1 = baseline.L.shape[0]
    ch = fundamental_changes("solve_cdp_counterfactual", s, T1 - 1, True, A_hat=A_hat,
                             kappa_hat=kappa_hat, b_hat=b_hat, tau_diff_hat=tau_diff_hat)
    shift = _cumulated(kernel_shift(s, np.log(ch["kappa_hat"]), np.log(ch["A_hat"])))
    L_b = baseline.L.reshape(T1, s.n_markets)
    markets = relative_markets(s, baseline.lam, baseline.R, L_b, shift,
                               _cumulated(np.log(ch["b_hat"])), numerics)
    with np.errstate(divide="ignore"):
        kernel = np.log(baseline.mu) - _cumulated(ch["tau_diff_hat"]) / s.nu
    sol = solve_path(L_b[0], kernel, s.beta, s.nu, markets, pin=False, numerics=numerics,
                     L_init=L_b)
    _check_horizon(sol, T1 - 1, numerics)
    mk = sol.market
    w_ratio = _wages(s, mk.log_x, sol.L) / baseline_wages(baseline)
    return CDPCounterfactual(
        w_ratio=w_ratio, P_ratio=np.exp(mk.log_p), Pc_ratio=np.exp(mk.log_pc),
        V_diff=_shape(s, sol.W), L=_shape(s, sol.L), mu=sol.pi, lam=mk.lam, X=_flows(mk),
        L_base=baseline.L, **ch, structure=s, converged=True, n_iter=sol.n_iter,
        residuals=_residuals(sol), history=sol.history, numerics=numerics,
    )


def solve_cdp_steady_state(params: CDPParams, A=None, numerics: Numerics | None = None, *,
                           period: int = -1) -> CDPSteadyState:
    """Stationary equilibrium for constant fundamentals: those of ``period`` (default T, where
    the path must end up), with productivity ``A`` (N, J) instead if given.

    Root in log L (Powell hybrid) of L = total x stationary distribution of mu(L).
    """
    numerics = numerics or Numerics()
    p, s = params, params.structure
    t = slice(period, None) if period == -1 else slice(period, period + 1)
    A = p.A_path[t][0] if A is None else np.asarray(A, dtype=np.float64)
    b = p.home_production()
    markets = _levels_markets(p, A[None], p.trade_costs()[t], None if b is None else b[t],
                              numerics)
    kernel, total = -p.migration_costs()[t][0] / s.nu, float(p.L0.sum())
    memo = {"y": None}

    def stationary(log_L):
        mk = markets(np.exp(log_L)[None, :], memo["y"])
        memo["y"] = mk.log_x
        V, mu = stationary_values(mk.log_r[0], kernel, s.beta, s.nu, numerics.tol)
        return mk, V, mu, total * markov_stationary(mu)

    def residual(log_L):
        return np.log(stationary(log_L)[-1]) - log_L

    root = solve_root(residual, np.log(p.L0.ravel()), tol=numerics.tol,
                      max_iter=numerics.max_iter, name="CDP steady state (log L)")
    mk, V, mu, L_new = stationary(root.x)
    L = np.exp(root.x)
    return CDPSteadyState(
        A=A, w=_wages(s, mk.log_x, L[None])[0], P=np.exp(mk.log_p[0]),
        Pc=np.exp(mk.log_pc[0]), L=_shape(s, L), V=_shape(s, V), mu=mu, lam=mk.lam[0],
        X=_flows(mk)[0], converged=True, n_iter=root.n_iter,
        residuals={"max_relative_labour_change": float(np.max(np.abs(L_new / L - 1.0))),
                   "max_goods_market_gap": mk.max_imbalance},
        params=p, numerics=numerics,
    )


def baseline_wages(path) -> np.ndarray:
    """(T+1, N, J) wages of any CDP path: gamma (1 - xi) R / L (labour market clearing)."""
    s = path.structure
    return _wages(s, np.log(path.R), path.L.reshape(path.L.shape[0], s.n_markets))


def fundamental_changes(owner: str, s, T, exact: bool, **given) -> dict[str, np.ndarray]:
    """Validated changes in fundamentals, keyed like ``given`` (names starting with A,
    kappa, b, tau), with no change where omitted. Rows: ``T`` if ``exact``; otherwise that of
    the first one given (all must agree), or ``T`` if none is given."""
    N, J, M = s.n_regions, s.n_sectors, s.n_markets
    tails = {"A": (N, J), "kappa": (J, N, N), "b": (N,), "tau": (M, M)}
    check = Checker(owner)
    fixed = exact or all(v is None for v in given.values())
    if fixed:
        check.check_scalar(T, "T", ge=1, integer=True)
        check.done()
    rows = int(T) if fixed else None
    out = {}
    for name, value in given.items():
        kind = name.split("_")[0]
        if value is not None:
            if kind == "b" and not s.non_employment:
                check.fail(name, "needs non-employment (structure.non_employment)",
                           Described("a path"))
                check.done()
            out[name] = check_changes(owner, name, value, tails[kind], rows,
                                      positive=kind != "tau")
            rows = out[name].shape[0]
    for name in given:
        kind = name.split("_")[0]
        if name not in out:
            out[name] = (np.zeros if kind == "tau" else np.ones)((rows, *tails[kind]))
    return out


def _cumulated(changes) -> np.ndarray:
    """(T+1, ...) running sums of (T, ...) log changes, starting at zero in period 0."""
    return np.concatenate([np.zeros((1, *changes.shape[1:])), np.cumsum(changes, axis=0)])


def _levels_markets(p: CDPParams, A_path, kappa_path, b_path, numerics):
    s = p.structure
    log_g = kernel_shift(s, np.log(kappa_path), np.log(A_path))
    return levels_markets(s, log_g, np.log(p.H), None if b_path is None else np.log(b_path),
                          float(p.L0.sum()), numerics)


def _wages(s, y, L_flat) -> np.ndarray:
    share = s.gamma_va * (1.0 - s.xi)[:, None]
    return share * np.exp(y) / employed(s, L_flat)


def _flows(mk) -> np.ndarray:
    """X[t, j, i, n] = lam[t, j, i, n] E[t, n, j]."""
    return mk.lam * mk.E.transpose(0, 2, 1)[:, :, None, :]


def _shape(s, flat) -> np.ndarray:
    return flat.reshape(*flat.shape[:-1], s.n_regions, s.n_slots)


def _check_horizon(sol, T, numerics) -> None:
    if sol.horizon_gap > numerics.horizon_tol:
        raise horizon_error(sol.horizon_gap, T, numerics.horizon_tol)


def _residuals(sol) -> dict[str, float]:
    return {
        "max_relative_labour_change": sol.labour_residual,
        "max_goods_market_gap": sol.market.max_imbalance,
        "horizon_gap": sol.horizon_gap,
    }
