"""The spatial closure (Donald-Fukui-Miyauchi section 4, appendix B.2.1).

Given wages w and populations L (shares, summing to one; w[0] = 1 is the
numeraire) the goods-market block gives

    P_j      = [sum_i (w_i / (A_ij L_i^alpha))^(1-sigma)]^(1/(1-sigma))     (B.22)
    lam_ij   = (w_i / (A_ij L_i^alpha))^(1-sigma) / P_j^(1-sigma)            (B.1)
    T_j      = kappa_j w_j + T_bar,  T_bar = -sum_j L_j kappa_j w_j / sum_j L_j   (47)

The household block then clears the bond market by r (the 'bond' closure at
these prices) and returns the stationary distribution. Equilibrium requires

    w_i H_i = sum_j lam_ij E_j,   E_j = P_j integral C_j dphi_j              (B.23)
    L_j     = integral dphi_j                                                 (B.24)

where H_i = integral e dphi_i is effective labour (= L_i with one income state).

Government budget convention: DFM eq. 47 reads sum_k T_k = 0 with T_k the
transfer to location k as a whole; in the budget (44) every household of k
receives T_k, so in per-capita terms the balanced budget is sum_k L_k T_k = 0,
which is what T_bar enforces (it is also what makes Walras' law hold).

The outer problem iterates the B.23-B.24 map x -> G(x) on x = (log w_2..J,
log L) with damping xi and Anderson acceleration (memory m), which is robust to
the strong population response to real wages that makes plain damped updates
oscillate. Inner bond-market searches are inexact while the outer residual is
large and exact (Numerics.tol_r) at the end.
"""

from __future__ import annotations

import dataclasses
import logging
from types import MappingProxyType

import numpy as np

from ..errors import SolverConvergenceError
from .params import Numerics, Params
from .result import Solution

logger = logging.getLogger(__name__)


def solve_spatial(params: Params, numerics: Numerics,
                  warm_start: Solution | None = None) -> Solution:
    """Stationary equilibrium of the spatial closure; see the module docstring.

    ``warm_start`` (any Solution with the same J, S, n_a) supplies wages,
    populations, r and the household policies. The returned Solution's params
    are ``params`` with the equilibrium w, P, T and r filled in.
    """
    outer = _Outer(params, numerics, warm_start)
    x = outer.start()
    x, n_outer = _anderson(outer, x, numerics)
    if outer.last_tol_r > numerics.tol_r:
        outer.evaluate(x, exact=True)
    worst = outer.worst
    if not worst <= numerics.tol_spatial:
        raise SolverConvergenceError(
            f"spatial goods market / population did not converge (worst {worst:.3g})",
            residuals=outer.residuals(), n_iter=n_outer)
    return outer.solution(n_outer)


def price_index(A: np.ndarray, w: np.ndarray, L: np.ndarray, sigma: float,
                alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(P, lam): price indices (B.22) and expenditure shares lam[i, j] of j on i (B.1)."""
    z = (1.0 - sigma) * (np.log(w)[:, None] - np.log(A) - alpha * np.log(L)[:, None])
    top = z.max(axis=0)
    log_d = top + np.log(np.exp(z - top[None, :]).sum(axis=0))
    return np.exp(log_d / (1.0 - sigma)), np.exp(z - log_d[None, :])


def transfers(kappa: np.ndarray, w: np.ndarray, L: np.ndarray) -> np.ndarray:
    """T_j = kappa_j w_j + T_bar with sum_j L_j T_j = 0 (eq. 47, per capita)."""
    t_bar = -float(np.sum(L * kappa * w)) / float(np.sum(L))
    return kappa * w + t_bar


def location_aggregates(sol: Solution) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(L, H, E) by location: population, effective labour, nominal spending P_j int C dphi."""
    d = sol.dist
    L = d.sum(axis=(1, 2))
    H = np.einsum("jsi,s->j", d, sol.params.e_grid)
    E = sol.params.P * np.einsum("jsi,jsi->j", d, sol.c)
    return L, H, E


def migration_matrix(sol: Solution) -> np.ndarray:
    """(J, J) share of location i's households living in j one period later (B.10).

    Flows are counted after saving and the income draw (the pre-migration
    mass), so rows sum to one and L' = L @ M reproduces the population.
    """
    from . import kernels

    J, S, n = sol.dist.shape
    idx = np.empty((J, S, n), dtype=np.int64)
    wlo = np.empty((J, S, n))
    kernels.lottery(sol.a_next, sol.a_grid, idx, wlo)
    pre = np.empty_like(sol.dist)
    kernels.pre_migration(sol.dist, idx, wlo, sol.params.Pi, pre)
    flows = np.einsum("jsi,jsik->jk", pre, sol.mig)
    mass = flows.sum(axis=1)
    return flows / np.where(mass > 0.0, mass, 1.0)[:, None]


class _Outer:
    """x = (log w[1:], log L) -> B.23-B.24 targets; keeps the last inner solution."""

    def __init__(self, params: Params, numerics: Numerics, warm: Solution | None):
        self.params, self.numerics = params, numerics
        self.J = params.n_loc
        self.last = warm
        self.last_tol_r = np.inf
        self.worst = np.inf
        self.calls = 0
        self.dr = numerics.r_step
        hh_tol = 0.01 * numerics.tol_spatial * (1.0 - params.beta * params.omega)
        self.inner = numerics.with_(tol_policy=min(numerics.tol_policy, hh_tol),
                                    tol_value=min(numerics.tol_value, hh_tol))
        if self.J == 1:  # nothing to iterate: solve the bond market exactly at once
            self.worst = 0.0

    def start(self) -> np.ndarray:
        if self.last is not None and self.last.dist.shape[0] == self.J:
            w, L = self.last.params.w, self.last.population
        else:
            w, L = self.params.w, np.full(self.J, 1.0 / self.J)
        return np.r_[np.log(w[1:] / w[0]), np.log(np.maximum(L, 1e-300) / L.sum())]

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = np.exp(np.r_[0.0, x[: self.J - 1]])
        L = np.exp(x[self.J - 1:])
        return w, L / L.sum()

    def evaluate(self, x: np.ndarray, exact: bool = False) -> np.ndarray:
        """G(x) - x; stores the inner solution and residuals at x."""
        from .solve import solve

        p = self.params
        w, L = self.unpack(x)
        P, lam = price_index(p.A, w, L, p.sigma_trade, p.alpha_agg)
        T = transfers(p.kappa_transfer, w, L)
        inner = p.with_(closure="bond", w=w, P=P, T=T, r=self._r_guess())
        tol_r = self.numerics.tol_r if exact else _inner_tol(self.numerics, self.worst)
        num = self.inner.with_(tol_r=tol_r, r_step=max(4.0 * abs(self.dr), 1e-9))
        r_old = None if self.last is None else self.last.r
        sol = solve(inner, num, warm_start=self.last)
        self.calls += sol.n_iter
        self.dr = num.r_step if r_old is None else sol.r - r_old
        self.last, self.last_tol_r = sol, tol_r
        pop, H, E = location_aggregates(sol)
        demand = lam @ E
        self.goods = (demand - w * H) / (w * H)
        self.population = (pop - L) / L
        self.state = (w, L, P, T)
        self.worst = float(max(np.max(np.abs(self.goods)), np.max(np.abs(self.population))))
        log_w = (np.log(demand) - np.log(H) + (self.params.sigma_trade - 1.0) * np.log(w))
        log_w = log_w / self.params.sigma_trade
        g = np.r_[log_w[1:] - log_w[0], np.log(pop / pop.sum())]
        return g - x

    def _r_guess(self) -> float:
        """Start of the cold bracket search: params.r, else half of 1/(beta omega) - 1.

        Starting from a guess rather than the edges of the admissible interval
        avoids household solves at r next to 1/(beta omega) - 1.
        """
        if self.last is not None:
            return float(self.last.r)
        if self.params.r is not None:
            return float(self.params.r)
        return 0.5 * (1.0 / (self.params.beta * self.params.omega) - 1.0)

    def residuals(self) -> dict[str, float]:
        return {"goods_market": float(np.max(np.abs(self.goods))),
                "population": float(np.max(np.abs(self.population))),
                "outer_worst": self.worst}

    def solution(self, n_outer: int) -> Solution:
        w, _, P, T = self.state
        sol = self.last
        params = self.params.with_(w=w, P=P, T=T, r=float(sol.r))
        residuals = dict(sol.residuals)
        residuals.update(self.residuals())
        residuals["outer_iterations"] = float(n_outer)
        return dataclasses.replace(sol, params=params, n_iter=self.calls,
                                   residuals=MappingProxyType(residuals))


def _inner_tol(numerics: Numerics, worst: float) -> float:
    """Bond-market tolerance for an outer step: loose far from equilibrium."""
    if not np.isfinite(worst):
        return max(numerics.tol_r, 1e-6)
    return float(np.clip(1e-3 * worst, numerics.tol_r, 1e-6))


def _anderson(outer: _Outer, x: np.ndarray, numerics: Numerics) -> tuple[np.ndarray, int]:
    """Anderson-accelerated damped iteration x <- x + xi f(x), f = G(x) - x.

    Restarts the memory (and takes a plain damped step from the best point)
    when the residual grows by more than a factor 10 over the best seen.
    """
    xi, m = numerics.damping_spatial, numerics.memory_spatial
    xs, fs = [], []
    best, since_best = (np.inf, x), 0
    for it in range(numerics.max_iter_spatial):
        since_best += 1
        f = outer.evaluate(x)
        logger.debug("spatial outer %d: worst residual %.3e", it, outer.worst)
        if outer.worst <= numerics.tol_spatial or x.size == 0:
            return x, it + 1
        if outer.worst < best[0]:
            best, since_best = (outer.worst, x.copy()), 0
        elif since_best > 20:
            break  # stagnation (noise floor above tol_spatial?): reported by the caller
        elif outer.worst > 10.0 * best[0]:
            xs, fs = [], []
            x = best[1] + 0.5 * xi * (outer.evaluate(best[1]))
            continue
        xs.append(x.copy())
        fs.append(f)
        xs, fs = xs[-(m + 1):], fs[-(m + 1):]
        x = _anderson_step(xs, fs, xi)
    return x, it + 1


def _anderson_step(xs: list, fs: list, xi: float) -> np.ndarray:
    x, f = xs[-1], fs[-1]
    if len(xs) == 1:
        return x + xi * f
    dX = np.diff(np.array(xs), axis=0).T
    dF = np.diff(np.array(fs), axis=0).T
    gamma, *_ = np.linalg.lstsq(dF, f, rcond=None)
    step = x + xi * f - (dX + xi * dF) @ gamma
    return step
