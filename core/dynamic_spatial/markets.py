"""Period-by-period static Armington markets along a labour path, on the Armington engine.

Each builder returns a ``Markets`` callable ``(L_path, log_x_warm) -> MarketPath`` for the
engine. All use :func:`hetspace.core.armington.market.solve_market`:

- levels: G_t = a (tau_t / A_t)^(1-sigma), c = 1, x = w_t; world income sum_i w_i L_i = sum L.
- time changes (dynamic hat algebra, lecture): G = lam_{t-1} (tau-dot_t / A-dot_t)^(1-sigma),
  c = Y_{t-1} / L_{t-1}, labour L_t, x = w-dot_t; world income held at sum Y_0.
  Sequential: period t needs the shares and income of period t-1.
- relative to a baseline (counterfactual): G = lam_t (tau'_t / tau_t / (A'_t / A_t))^(1-sigma),
  c = Y_t / L_t of the baseline, labour L'_t, x = w'_t / w_t; world income held at the
  baseline's.

``log_cost`` arguments are (., N, N) logs of the change in the delivered-cost shifter
tau[i, j] / A_i (origin i in rows): log tau-change - log A-change[:, None].
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..armington.market import solve_market
from .engine import MarketPath


def levels_markets(log_g_path, sigma, numerics):
    """Markets for the levels model; ``log_g_path`` is (T+1, N, N)."""
    T1, n = log_g_path.shape[0], log_g_path.shape[1]
    ones = np.ones(n)

    def markets(L, log_x_warm):
        out = _Collector(T1, n)
        warm = np.zeros(n)
        for t in range(T1):  # cold: start each period from the previous period's wages
            warm = warm if log_x_warm is None else log_x_warm[t]
            st, it, imb = clear(log_g_path[t], ones, sigma, L[t], warm, float(L[t].sum()),
                                numerics)
            warm = st.log_x
            out.put(t, st, st.log_x - st.log_p, it, imb)
        return out.done()

    return markets


def time_change_markets(lam0, Y0, log_cost_dot, sigma, numerics):
    """Markets in time changes from period-0 shares and income; log_cost_dot is (T, N, N)."""
    T, n = log_cost_dot.shape[:2]
    world = float(Y0.sum())

    def markets(L, log_x_warm):
        out = _Collector(T + 1, n)
        out.lam[0], out.income[0] = lam0, Y0
        lam, Y, log_r = lam0, Y0, np.zeros(n)
        for t in range(1, T + 1):
            with np.errstate(divide="ignore"):
                log_g = np.log(lam) + (1.0 - sigma) * log_cost_dot[t - 1]
            warm = np.zeros(n) if log_x_warm is None else log_x_warm[t]
            st, it, imb = clear(log_g, Y / L[t - 1], sigma, L[t], warm, world, numerics)
            log_r = log_r + st.log_x - st.log_p
            out.put(t, st, log_r, it, imb)
            lam, Y = st.lam, st.income
        return out.done()

    return markets


def relative_markets(lam_base, Y_base, L_base, log_cost_ratio, sigma, numerics):
    """Markets relative to a baseline path; log_cost_ratio (T+1, N, N) is the log of
    (tau'_t / tau_t) / (A'_t / A_t) by origin row."""
    T1, n = log_cost_ratio.shape[:2]

    def markets(L, log_x_warm):
        out = _Collector(T1, n)
        for t in range(T1):
            with np.errstate(divide="ignore"):
                log_g = np.log(lam_base[t]) + (1.0 - sigma) * log_cost_ratio[t]
            warm = np.zeros(n) if log_x_warm is None else log_x_warm[t]
            st, it, imb = clear(log_g, Y_base[t] / L_base[t], sigma, L[t], warm,
                                float(Y_base[t].sum()), numerics)
            out.put(t, st, st.log_x - st.log_p, it, imb)
        return out.done()

    return markets


def clear(log_g, c, sigma, labour, log_x0, world_income, numerics):
    """One static market, normalised so that world income equals ``world_income``."""
    sol = solve_market(log_g, c, sigma, labour, log_x0, tol=numerics.market_tol,
                       max_iter=numerics.market_max_iter, anchor=int(np.argmax(labour)))
    st = sol.state
    scale = world_income / st.income.sum()  # x is homogeneous of degree one: rescale exactly
    shift = np.log(scale)
    st = replace(st, log_x=st.log_x + shift, log_p=st.log_p + shift, income=st.income * scale,
                 exports=st.exports * scale, imports=st.imports * scale)
    return st, sol.n_iter, sol.max_imbalance


class _Collector:
    """Preallocated arrays of a MarketPath, filled period by period."""

    __slots__ = ("imb", "income", "lam", "log_p", "log_r", "log_x", "n_newton")

    def __init__(self, T1: int, n: int):
        self.log_x = np.zeros((T1, n))
        self.log_p = np.zeros((T1, n))
        self.log_r = np.zeros((T1, n))
        self.lam = np.zeros((T1, n, n))
        self.income = np.zeros((T1, n))
        self.imb, self.n_newton = 0.0, 0

    def put(self, t, st, log_r, it, imb) -> None:
        self.log_x[t], self.log_p[t], self.log_r[t] = st.log_x, st.log_p, log_r
        self.lam[t], self.income[t] = st.lam, st.income
        self.imb, self.n_newton = max(self.imb, imb), self.n_newton + it

    def done(self) -> MarketPath:
        return MarketPath(self.log_x, self.log_p, self.log_r, self.lam, self.income,
                          self.imb, self.n_newton)
