"""Life histories under the second best, and the transfers that implement it (DFM
Figure 2, appendix A.42).

A household's state is its location and its promised utility v. Each period the
component problem at (i, v) is solved exactly (``checks.policy_at``: off the grid's
nodes, given the converged surplus S): consumption C = Xi / P_i, the promises v'_m
it would get in every destination m and the logit shares mu_im with which it moves
there. Promise keeping (B.46) holds by construction of that solve:

    v = ln C + beta omega IV_i(v'),   IV_i(v') = (1/theta) ln sum_m chi_im exp(theta v'_m).

Newborns of origin i (mass (1 - omega) L_i) choose their first location m with the
newborn shares mu^n_im (``Solution.mu``) and start there with the newborn promise
v^n'_m (the newborn problem's destinations, B.34-B.36).

Transfers (A.42) implement the allocation for hand-to-mouth households: a resident of
l with promise v receives T = P_l C_l(v) - w_l, so that its budget P_l C = w_l + T
holds with consumption C_l(v); the transfers balance each period in the stationary
distribution, sum_l int T dphi_l = spending - labour income = 0 (A.38; both are 1 at a
solution). Amounts are in the planner's multiplier units (welfare units: there is no
numeraire).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidParamsError, Violation
from .checks import policy_at
from .second_best import newborn_policies


@dataclass(frozen=True, slots=True)
class LifeCycle:
    """A household born in ``location`` that stays there: (periods,) promise v_t,
    consumption C_t and transfer T_t = P C_t - w by age t; income w (the multiplier on
    the location's labour) is the same at every age; off_grid: the number of ages at
    which the promise was beyond the grid and held at its edge (a path that goes flat
    there has not converged)."""

    location: int
    promise: np.ndarray
    consumption: np.ndarray
    transfer: np.ndarray
    income: float
    off_grid: int


@dataclass(frozen=True, slots=True)
class Histories:
    """Simulated households, (n, periods) arrays: location, promise, consumption and
    transfer of the household alive in each slot (a death replaces it by a newborn:
    ``age`` restarts at 0); promise_keeping: the largest |v - ln C - beta omega IV(v')|
    over every state visited; off_grid: the share of household-periods whose promise
    left the grid and was held at its edge (as the stationary distribution does)."""

    location: np.ndarray
    promise: np.ndarray
    consumption: np.ndarray
    transfer: np.ndarray
    age: np.ndarray
    promise_keeping: float
    off_grid: float


def newborn_promises(sol) -> np.ndarray:
    """(J, J): the promise v^n'_im a newborn of origin i gets in destination m."""
    return newborn_policies(sol.params, sol.component)[0]


def life_cycle(sol, location: int, periods: int) -> LifeCycle:
    """The stayer's path of the class docstring (DFM Figure 2)."""
    _check(sol, location, periods)
    v = np.empty(periods)
    C = np.empty(periods)
    v[0] = newborn_promises(sol)[location, location]
    g = sol.component.v_grid
    off = 0
    for t in range(periods):
        off += not g[0] <= v[t] <= g[-1]
        v[t] = min(max(v[t], g[0]), g[-1])  # beyond the grid: held at its edge
        here = policy_at(sol, location, v[t])
        C[t] = here.Xi / sol.P[location]
        if t + 1 < periods:
            v[t + 1] = here.vp[location]
    w = float(sol.w[location])
    return LifeCycle(location, v, C, sol.P[location] * C - w, w, off)


def simulate(sol, n: int, periods: int, seed: int) -> Histories:
    """``n`` households over ``periods`` periods, started as newborns (origins drawn by
    population) and replaced by newborns when they die; seeded, draws made here."""
    _check(sol, 0, periods)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidParamsError("simulate", [Violation("n", "must be an integer >= 1", n)])
    p = sol.params
    J = p.n_loc
    rng = np.random.default_rng(seed)
    vn = newborn_promises(sol)
    log_chi = np.log(p.chi)
    shape = (n, periods)
    loc, age = np.empty(shape, np.int64), np.empty(shape, np.int64)
    v, C, T = np.empty(shape), np.empty(shape), np.empty(shape)
    worst = 0.0
    g = sol.component.v_grid
    off = 0
    u_death = rng.random(shape)
    u_move = rng.random(shape)
    u_origin = rng.random(shape)
    u_first = rng.random(shape)
    for h in range(n):
        here_loc, here_v, here_age = _newborn(sol, vn, u_origin[h, 0], u_first[h, 0])
        for t in range(periods):
            if t > 0 and u_death[h, t] > p.omega:
                here_loc, here_v, here_age = _newborn(sol, vn, u_origin[h, t], u_first[h, t])
            if not g[0] <= here_v <= g[-1]:  # held at the grid's edge, as the distribution
                off += 1
                here_v = min(max(here_v, g[0]), g[-1])
            pol = policy_at(sol, here_loc, here_v)
            loc[h, t], v[h, t], age[h, t] = here_loc, here_v, here_age
            C[h, t] = pol.Xi / sol.P[here_loc]
            T[h, t] = pol.Xi - sol.w[here_loc]
            iv = _inclusive_value(log_chi[here_loc], pol.vp, p.theta)
            worst = max(worst, abs(here_v - np.log(C[h, t]) - p.beta * p.omega * iv))
            nxt = min(int(np.searchsorted(np.cumsum(pol.mu), u_move[h, t] * pol.mu.sum())),
                      J - 1)
            here_loc, here_v, here_age = nxt, float(pol.vp[nxt]), here_age + 1
    return Histories(loc, v, C, T, age, worst, off / (n * periods))


def _newborn(sol, vn: np.ndarray, u_origin: float, u_first: float) -> tuple[int, float, int]:
    J = sol.params.n_loc
    origin = min(int(np.searchsorted(np.cumsum(sol.population), u_origin)), J - 1)
    shares = sol.mu[origin]
    first = min(int(np.searchsorted(np.cumsum(shares), u_first * shares.sum())), J - 1)
    return first, float(vn[origin, first]), 0


def _inclusive_value(log_chi_i: np.ndarray, vp: np.ndarray, theta: float) -> float:
    """IV_i(v') = (1/theta) ln sum_m chi_im exp(theta v'_m) (v'_m = -inf: no term)."""
    z = log_chi_i + theta * vp
    top = np.max(z)
    return float((top + np.log(np.sum(np.exp(z - top)))) / theta)


def _check(sol, location, periods) -> None:
    problems = []
    if getattr(sol, "component", None) is None:
        problems.append(Violation("sol", "must be a second-best planner Solution",
                                  getattr(getattr(sol, "params", None), "allocation", sol)))
    J = sol.params.n_loc if hasattr(sol, "params") else 0
    if isinstance(location, bool) or not isinstance(location, (int, np.integer)) \
            or not 0 <= location < J:
        problems.append(Violation("location", f"must be an index in [0, {J})", location))
    if isinstance(periods, bool) or not isinstance(periods, (int, np.integer)) or periods < 1:
        problems.append(Violation("periods", "must be an integer >= 1", periods))
    if problems:
        raise InvalidParamsError("histories", problems)
