"""Stationary equilibrium of the spatial incomplete-markets economy.

``solve(params, numerics, warm_start)`` handles the closures 'partial' (r
given), 'bond' (Huggett: assets in zero net supply) and 'capital' (Aiyagari:
assets equal the capital demanded by a Cobb-Douglas firm). In the general
equilibrium closures r is found by Brent's method on the excess asset supply,
which rises in r; the bracket is the admissible interval (cold) or grows
from the warm start's r (warm).
"""

from __future__ import annotations

import logging
from types import MappingProxyType

import numpy as np
from scipy.optimize import brentq

from ..errors import InvalidParamsError, SolverConvergenceError, Violation
from ..protocol import readonly
from . import kernels
from .household import HouseholdState, solve_at_prices
from .params import Numerics, Params, check_numerics_against, min_income
from .result import Solution

logger = logging.getLogger(__name__)


def solve(params: Params, numerics: Numerics | None = None,
          warm_start: Solution | None = None) -> Solution:
    """Solve the stationary equilibrium; ``warm_start`` reuses a nearby solution.

    Raises ``SolverConvergenceError`` (with residuals) when the household
    problem, the distribution or the market-clearing search fails.
    """
    numerics = Numerics() if numerics is None else numerics
    _check_inputs(params, numerics, warm_start)
    guess = None if warm_start is None else _state_from(warm_start)
    if params.closure == "partial":
        state = solve_at_prices(params, numerics, params.r, 1.0, guess)
        return _solution(params, numerics, state, n_iter=1)
    excess = _Excess(params, numerics, guess)
    lo, hi = _bracket(excess, params, numerics, guess)
    r_star, info = brentq(excess, lo, hi, xtol=numerics.tol_r, rtol=4.0 * np.finfo(float).eps,
                          maxiter=numerics.max_iter_ge, full_output=True, disp=False)
    if not info.converged:
        raise SolverConvergenceError(
            f"interest rate search did not converge ({info.flag})",
            residuals={"market_clearing": excess(r_star)}, n_iter=excess.calls)
    state = excess.state_at(r_star)
    logger.debug("r=%.12g after %d household solves", r_star, excess.calls)
    return _solution(params, numerics, state, n_iter=excess.calls)


class _Excess:
    """r -> excess asset supply; remembers the last household state as the next guess."""

    def __init__(self, params: Params, numerics: Numerics, guess: HouseholdState | None):
        self.params = params
        self.numerics = numerics
        self.last = guess
        self.states: dict[float, HouseholdState] = {}
        self.values: dict[float, float] = {}
        self.calls = 0

    def __call__(self, r: float) -> float:
        r = float(r)
        if r not in self.values:
            self.state_at(r)
        return self.values[r]

    def state_at(self, r: float) -> HouseholdState:
        r = float(r)
        if r in self.states:
            return self.states[r]
        self.calls += 1
        state = solve_at_prices(self.params, self.numerics, r, firm_wage(self.params, r),
                                self.last)
        self.last = state
        self.values[r] = excess_supply(self.params, state)
        self.states = {r: state}
        return state


def excess_supply(params: Params, state: HouseholdState) -> float:
    """Household assets minus the asset supply (0 for bonds, K(r) for capital)."""
    assets = float(np.sum(state.dist * state.a_grid))
    if params.closure == "capital":
        return assets - capital_demand(params, state.r, effective_labor(params, state.dist))
    return assets


def firm_wage(params: Params, r: float) -> float:
    """Wage per efficiency unit: (1 - alpha) tfp k^alpha with k = K/L from r + delta = MPK."""
    if params.closure != "capital":
        return 1.0
    a, z = params.alpha, params.tfp
    k = (a * z / (r + params.delta)) ** (1.0 / (1.0 - a))
    return (1.0 - a) * z * k**a


def capital_demand(params: Params, r: float, labor: float) -> float:
    """K = L (alpha tfp / (r + delta))^(1/(1-alpha))."""
    a = params.alpha
    return labor * (a * params.tfp / (r + params.delta)) ** (1.0 / (1.0 - a))


def effective_labor(params: Params, dist: np.ndarray) -> float:
    return float(np.sum(dist * params.w[:, None, None] * params.e_grid[None, :, None]))


def admissible_rates(params: Params, numerics: Numerics) -> tuple[float, float]:
    """Interval searched for r: above r_min, below 1/(beta omega) - 1 and the natural limit."""
    hi = 1.0 / (params.beta * params.omega) - 1.0 - numerics.r_margin
    debt = -params.a_low
    if params.closure == "bond" and debt > 0.0:
        y = min_income(params)
        if not params.limit_on_face_value:
            hi = min(hi, y / debt * (1.0 - 1e-9))
        elif debt > y:
            hi = min(hi, y / (debt - y) * (1.0 - 1e-9))
    if numerics.r_min is not None:
        lo = numerics.r_min
    else:
        lo = -0.5 if params.closure == "bond" else -0.99 * params.delta
    return lo, hi


def _bracket(excess: _Excess, params: Params, numerics: Numerics,
             guess: HouseholdState | None) -> tuple[float, float]:
    lo, hi = admissible_rates(params, numerics)
    if not lo < hi:
        raise SolverConvergenceError(f"no admissible interest rate: r_min={lo:g} >= {hi:g}")
    r0 = guess.r if guess is not None else params.r
    if r0 is not None and lo < r0 < hi:
        found = _grow_bracket(excess, r0, lo, hi, numerics.r_step)
        if found is not None:
            return found
    f_lo, f_hi = excess(lo), excess(hi)
    if not (f_lo < 0.0 < f_hi):
        raise SolverConvergenceError(
            f"excess asset supply does not change sign on [{lo:.6g}, {hi:.6g}] "
            "(raise a_max or lower r_min)", residuals={"excess_lo": f_lo, "excess_hi": f_hi},
            n_iter=excess.calls)
    return lo, hi


def _grow_bracket(excess: _Excess, r0: float, lo: float, hi: float, step: float):
    """Steps away from r0 (x4 each time) until the sign changes; None if the edge is hit."""
    f0 = excess(r0)
    if f0 == 0.0:
        return r0, r0
    up = f0 < 0.0
    edge = hi if up else lo
    prev = r0
    for _ in range(60):
        r1 = r0 + step if up else r0 - step
        r1 = edge if (r1 >= edge if up else r1 <= edge) else r1
        f1 = excess(r1)
        if f1 == 0.0 or (f1 > 0.0) == up:
            return (prev, r1) if up else (r1, prev)
        if r1 == edge:
            return None
        prev, step = r1, step * 4.0
    return None


def _solution(params: Params, numerics: Numerics, state: HouseholdState,
              n_iter: int) -> Solution:
    err = np.empty_like(state.c)
    kernels.euler_errors(state.c, state.ap, state.v, state.a_grid, params.P, params.Pi,
                         np.log(params.chi), params.theta, 1.0 + state.r,
                         params.beta * params.omega, params.gamma, err)
    labor = effective_labor(params, state.dist)
    capital = capital_demand(params, state.r, labor) if params.closure == "capital" else np.nan
    market = excess_supply(params, state) if params.closure != "partial" else np.nan
    residuals = {"market_clearing": market, "policy_change": state.policy_change,
                 "value_change": state.value_change, "distribution_l1": state.dist_residual}
    return Solution(
        params=params, numerics=numerics, r=float(state.r), wage=float(state.wage),
        a_grid=readonly(state.a_grid), c=readonly(state.c), a_next=readonly(state.ap),
        v=readonly(state.v), mig=readonly(state.mu), dist=readonly(state.dist),
        euler_error=readonly(err), population=readonly(state.dist.sum(axis=(1, 2))),
        capital=float(capital), labor=labor, converged=True, n_iter=int(n_iter),
        n_iter_household=state.n_iter, residuals=MappingProxyType(residuals))


def _state_from(sol: Solution) -> HouseholdState:
    return HouseholdState(
        sol.r, sol.wage, np.array(sol.a_grid), None, np.array(sol.c), np.array(sol.v),
        np.array(sol.a_next), np.array(sol.mig), np.array(sol.dist), sol.n_iter_household,
        0.0, 0.0, 0.0)


def _check_inputs(params, numerics, warm_start) -> None:
    problems = []
    if not isinstance(params, Params):
        problems.append(Violation("params", "must be an incomplete_markets Params",
                                  type(params).__name__))
    if not isinstance(numerics, Numerics):
        problems.append(Violation("numerics", "must be an incomplete_markets Numerics",
                                  type(numerics).__name__))
    if warm_start is not None and not isinstance(warm_start, Solution):
        problems.append(Violation("warm_start", "must be an incomplete_markets Solution or None",
                                  type(warm_start).__name__))
    if problems:
        raise InvalidParamsError("solve", problems)
    check_numerics_against(params, numerics)
