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

The outer problem solves B.23-B.24 and the bond market together: one map on
x = (log w_2..J, log L, r) with one household solve per step, damped and
Anderson-accelerated (``spatial_outer``). Household solves are warm-started
from the previous step and inexact while the outer residual is large. J = 1
is the bond closure at P = 1 / A_11 (nothing else to iterate).
"""

from __future__ import annotations

import dataclasses
import logging
from types import MappingProxyType

import numpy as np

from ..errors import SolverConvergenceError
from .params import Numerics, Params
from .result import Solution
from .solve import _solution
from .solve import solve as solve_bond
from .spatial_outer import StackedOuter, anderson

logger = logging.getLogger(__name__)


def solve_spatial(params: Params, numerics: Numerics,
                  warm_start: Solution | None = None) -> Solution:
    """Stationary equilibrium of the spatial closure; see the module docstring.

    ``warm_start`` (any Solution with the same J, S, n_a) supplies wages,
    populations, r, the bond-market slope and the household policies, values
    and distribution. The returned Solution's params are ``params`` with the
    equilibrium w, P, T and r filled in; residuals add goods_market,
    population (relative, <= tol_spatial), bond_step_r (|B / B'|, <= bond_tol_r,
    see ``spatial_outer``), outer_iterations and egm_steps.
    """
    if params.n_loc == 1:
        return _one_location(params, numerics, warm_start)
    outer = StackedOuter(params, numerics, warm_start)
    _, n_outer = anderson(outer, outer.start(), numerics)
    if not outer.converged():
        raise SolverConvergenceError(
            f"spatial goods market / population / bonds did not converge "
            f"(worst {outer.worst:.3g})", residuals=outer.residuals(), n_iter=n_outer)
    w, _, P, T, r = outer.prices
    sol = _solution(params.with_(w=w, P=P, T=T, r=r), numerics, outer.state,
                    n_iter=outer.calls, slope=outer.slope)
    residuals = dict(sol.residuals)
    residuals.update(outer.residuals(), outer_iterations=float(n_outer),
                     egm_steps=float(outer.egm_steps))
    return dataclasses.replace(sol, residuals=MappingProxyType(residuals))


def _one_location(params: Params, numerics: Numerics, warm: Solution | None) -> Solution:
    """J = 1: L = 1, w = 1, T = 0, P = 1 / A_11, and the bond market cleared to tol_r."""
    w = np.ones(1)
    P, _ = price_index(params.A, w, w, params.sigma_trade, params.alpha_agg)
    T = transfers(params.kappa_transfer, w, w)
    tol = min(numerics.tol_policy, numerics.tol_value,
              0.01 * numerics.tol_spatial * (1.0 - params.beta * params.omega))
    inner = numerics.with_(tol_policy=tol, tol_value=tol)
    sol = solve_bond(params.with_(closure="bond", w=w, P=P, T=T), inner, warm)
    residuals = dict(sol.residuals, goods_market=0.0, population=0.0, outer_worst=0.0,
                     outer_iterations=1.0)
    return dataclasses.replace(sol, params=params.with_(w=w, P=P, T=T, r=sol.r),
                               numerics=numerics, residuals=MappingProxyType(residuals))


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
    flows = np.einsum("jsi,jsik->jk", sol.pre_migration(), sol.mig)
    mass = flows.sum(axis=1)
    return flows / np.where(mass > 0.0, mass, 1.0)[:, None]
