"""The closures with one market, in r: 'partial' (r given), 'bond' (Huggett:
assets in zero net supply) and 'capital' (Aiyagari: assets equal the capital
demanded by a Cobb-Douglas firm); ``solve_market(params, numerics, warm_start)``.
The public entry point is ``solve.solve``; the spatial closure (``spatial.py``)
calls this module for its bond market and its Solution. In the general
equilibrium closures r is found from the excess asset supply, which rises in
r: overshooting secant steps from a start (the warm start's r and market
slope, else a default) until it changes sign, then safeguarded secant steps to
a bracket of width tol_r. Household solves start from the policies, values,
distribution and distribution LU at the nearest r already solved; they are
inexact while the excess supply is large (``_Excess``) and tightened for the
final bracket so that the household solver's error in the excess supply is
below tol_r times its slope (``_Excess.tighten``): otherwise a bracket of
width tol_r only brackets solver noise, and warm and cold solves differed by
more than tol_r (3e-11 in a five-location migration economy).
"""

from __future__ import annotations

import dataclasses
import logging
from types import MappingProxyType

import numpy as np

from ..errors import SolverConvergenceError
from ..numerics.monotone_root import increasing_root
from ..protocol import readonly
from . import kernels
from .household import HouseholdState, solve_at_prices
from .params import Guess, Numerics, Params, min_income
from .result import Solution

logger = logging.getLogger(__name__)


def solve_market(params: Params, numerics: Numerics,
                 warm_start: Solution | Guess | None = None) -> Solution:
    """Stationary equilibrium of the 'partial', 'bond' or 'capital' closure (inputs
    checked by the caller); ``warm_start`` reuses a nearby solution or starts the
    interest-rate search at a Guess's r.

    Raises ``SolverConvergenceError`` (with residuals) when the household
    problem, the distribution or the market-clearing search fails.
    """
    r0 = None
    if isinstance(warm_start, Guess):
        r0, warm_start = warm_start.r, None
    guess = None if warm_start is None else state_from(warm_start)
    if params.closure == "partial":
        state = solve_at_prices(params, numerics, params.r, 1.0, guess)
        return solution_from(params, numerics, state, n_iter=1)
    slope = None if warm_start is None else warm_start.market_slope
    excess = _Excess(params, numerics, guess,
                     None if warm_start is None else warm_start.policy_slope, slope)
    r_star = _find_rate(excess, params, numerics, guess.r if guess is not None else r0, slope)
    state = excess.exact_state_at(r_star)
    logger.debug("r=%.12g after %d household solves", r_star, excess.calls)
    return solution_from(params, numerics, state, n_iter=excess.calls, slope=excess.slope,
                         policy_slope=excess.policy_slope)


class _Excess:
    """r -> excess asset supply, keeping a few recent household states.

    Each household solve starts from the stored state with the nearest r, so
    the search's last, closely spaced evaluations take a few EGM steps each.
    ``slope`` is the latest difference quotient over points at least 1e-8 apart,
    until there is one the warm start's (so that ``tighten`` knows it when a warm
    start is within 1e-8 of the root).

    Solves are inexact far from the root: the policy/value tolerance is
    LOOSE_FACTOR (1 - beta omega) min|excess seen| / max(P wage), clipped to
    [numerics' tolerances, 1e-6], which bounds the solver error of the excess
    (about 4 tol max(P wage) / (1 - beta omega), see ``tighten``) by 1e-3 of the
    smallest excess seen, far below the excess at the next point unless the
    search gains a factor 1000 in one step; a solve whose |excess| is within its own
    error bound is solved again more tightly (``_sign_check``).

    ``policy_slope`` is (dc/dr, dv/dr): the difference quotient of the pair of
    solves at most SLOPE_STEP apart with the smallest max(tolerance) / |r1 - r0|
    (kept if below SLOPE_QUALITY), else the warm start's. (Wider pairs err by the
    policies' curvature: the ~1e-2 steps of a cold bracket search gave errors of
    half the slope at high assets in a test economy, against 0.4% now.) A solve
    with only one state nearby (a warm start's second, after its Newton step of
    ~1e-3) starts from that state moved along it: in a chain of Huggett (1993)
    economies (n_a = 150) that solve took 103 EGM steps on average from the
    unmoved state, 78 from the moved one.
    """

    LOOSE_FACTOR = 2.5e-4
    SLOPE_QUALITY = 1e-2
    SLOPE_STEP = 1e-3

    _KEEP = 4

    def __init__(self, params: Params, numerics: Numerics, guess: HouseholdState | None,
                 policy_slope: tuple[np.ndarray, np.ndarray] | None = None,
                 slope: float | None = None):
        self.params = params
        self.numerics = numerics
        self.guess = guess
        self.states: dict[float, HouseholdState] = {}
        self.values: dict[float, float] = {}
        self.calls = 0
        self.slope = float("nan") if slope is None else float(slope)
        self._last: tuple[float, float] | None = None
        self._tol: dict[float, float] = {}
        self.policy_slope = policy_slope
        self._slope_quality = self.SLOPE_QUALITY

    def __call__(self, r: float) -> float:
        r = float(r)
        if r not in self.values:
            self.state_at(r)
        return self.values[r]

    def state_at(self, r: float) -> HouseholdState:
        r = float(r)
        if r in self.states:
            return self.states[r]
        state, f, tol = self._solve_until_signed(r, self._inexact(), self._guess(r))
        self._keep_policy_slope(r, state, tol)
        if self._last is not None and abs(r - self._last[0]) > 1e-8:
            self.slope = (f - self._last[1]) / (r - self._last[0])
        self._last = (r, f)
        self._store(r, state, f, tol)
        return state

    def confirm(self, r: float) -> float:
        """The excess at an evaluated r, solved again if its sign is not known at the
        current (possibly tightened) tolerances; returns the (new) value."""
        r = float(r)
        tol = self._tol[r]
        if self._sign_check(self._at_tolerance(tol), self.values[r], r) is not None:
            guess = self.states.get(r) or self._guess(r)
            state, f, tol = self._solve_until_signed(r, self._at_tolerance(tol), guess,
                                                     known=self.values[r])
            self._store(r, state, f, tol)
        return self.values[r]

    def _solve_until_signed(self, r: float, num: Numerics, guess: HouseholdState | None,
                            known: float | None = None) -> tuple[HouseholdState, float, float]:
        """Household solves at r from ``num``, tightened until the sign of the excess is
        known (``_sign_check``); ``known``: an excess already found at ``num``."""
        state, f = None, known
        while True:
            if f is None:
                self.calls += 1
                state = solve_at_prices(self.params, num, r, firm_wage(self.params, r), guess)
                f = excess_supply(self.params, state)
            tighter = self._sign_check(num, f, r)
            if tighter is None and state is not None:
                return state, f, num.tol_policy
            num, guess, f = (tighter or num), (state or guess), None

    def _store(self, r: float, state: HouseholdState, f: float, tol: float) -> None:
        self._tol[r] = tol
        self.values[r] = f
        self.states[r] = state
        while len(self.states) > self._KEEP:
            far = max(self.states, key=lambda x: abs(x - r))
            del self.states[far]

    def exact_state_at(self, r: float) -> HouseholdState:
        """The state at r solved to the (tightened) numerics' tolerances."""
        r = float(r)
        if r not in self.states or self._tol.get(r, np.inf) > self.numerics.tol_policy:
            guess = self.states.pop(r, None) or self._guess(r)  # (r may have been dropped)
            self.calls += 1
            state = solve_at_prices(self.params, self.numerics, r, firm_wage(self.params, r),
                                    guess)
            self._store(r, state, excess_supply(self.params, state), self.numerics.tol_policy)
        return self.states[r]

    def _inexact(self) -> Numerics:
        if not self.values:
            return self._at_tolerance(1e-6)
        smallest = min(abs(f) for f in self.values.values())
        return self._at_tolerance(self._tolerance_for(smallest, self._last[0]))

    def _scale(self, r: float) -> float:
        return float(np.max(self.params.P)) * max(1.0, firm_wage(self.params, r))

    def _tolerance_for(self, excess: float, r: float) -> float:
        """The tolerance whose solver error of the excess is 1e-3 |excess|."""
        p = self.params
        return self.LOOSE_FACTOR * (1.0 - p.beta * p.omega) * excess / self._scale(r)

    def _at_tolerance(self, tol: float) -> Numerics:
        """The numerics with tol_policy and tol_value at tol, clipped to [numerics', 1e-6]."""
        num = self.numerics
        if tol <= max(num.tol_policy, num.tol_value):
            return num
        tol = min(tol, 1e-6)
        return num.with_trusted(tol_policy=max(tol, num.tol_policy),
                                tol_value=max(tol, num.tol_value))

    def _sign_check(self, num: Numerics, f: float, r: float) -> Numerics | None:
        """Tighter numerics when |f| is within the solver error of an inexact solve, else None.

        The error of the excess at tolerance tol is about 4 tol max(P wage) / (1 - beta
        omega) (``tighten``); below it even the sign of f is unknown, and a bracket
        built on a wrong sign converges to its wrong end. (A warm start 2e-5 away in
        gamma stopped after one EGM step at tol 1e-6 with f = -3e-6 where f was
        +1.5e-5, and r ended 2.4e-7 from the root.) The state is then solved again at
        the tolerance that puts the error at 1e-3 |f|, at least ten times tighter,
        until the sign is known or the tolerance is the numerics' own.
        """
        p = self.params
        tol = max(num.tol_policy, num.tol_value)
        if tol <= max(self.numerics.tol_policy, self.numerics.tol_value):
            return None
        if abs(f) > 4.0 * tol * self._scale(r) / (1.0 - p.beta * p.omega):
            return None
        return self._at_tolerance(min(0.1 * tol, self._tolerance_for(abs(f), r)))

    def tighten(self) -> None:
        """Household tolerances for the bracket refinement, so that r means tol_r.

        Excess supply is only known up to the household solver's error: a
        consumption error of tol_c moves saving by about P tol_c a period and
        assets by about P tol_c / (1 - beta omega) (a conservative bound; the
        measured spread over warm and cold starts is 5-20 times smaller), i.e. r
        by that over the slope. A bracket of width tol_r is meaningful only if
        that is below tol_r, so tol_policy and tol_value are lowered to
        (1 - beta omega) slope tol_r / (4 max P wage), but not below 1e-13
        (rounding of consumption near 1).
        """
        p, num = self.params, self.numerics
        if not (np.isfinite(self.slope) and self.slope > 0.0):
            return
        tol = (1.0 - p.beta * p.omega) * self.slope * num.tol_r / (4.0 * self._scale(self._last[0]))
        tol = max(tol, 1e-13)
        if tol < max(num.tol_policy, num.tol_value):
            self.numerics = num.with_trusted(tol_policy=min(num.tol_policy, tol),
                                             tol_value=min(num.tol_value, tol))

    def _guess(self, r: float) -> HouseholdState | None:
        """The nearest solved state, with c and v extrapolated linearly in r from the
        two nearest when that keeps consumption positive and increasing in assets."""
        near = sorted(self.states.values(), key=lambda st: abs(st.r - r))
        if len(near) < 2:
            return self._along_slope(near[0] if near else self.guess, r)
        s0, s1 = near[0], near[1]
        t = (r - s0.r) / (s0.r - s1.r)
        c = s0.c + t * (s0.c - s1.c)
        if not _usable_policy(c):
            return s0
        return dataclasses.replace(s0, c=c, v=s0.v + t * (s0.v - s1.v))

    def _along_slope(self, state: HouseholdState | None, r: float) -> HouseholdState | None:
        """``state`` with c and v moved to r along ``policy_slope`` when that keeps
        consumption positive and increasing in assets."""
        if state is None or self.policy_slope is None or r == state.r:
            return state
        dc, dv = self.policy_slope
        if dc.shape != state.c.shape:
            return state
        c = state.c + (r - state.r) * dc
        if not _usable_policy(c):
            return state
        return dataclasses.replace(state, c=c, v=state.v + (r - state.r) * dv)

    def _keep_policy_slope(self, r: float, state: HouseholdState, tol: float) -> None:
        """Replace ``policy_slope`` by the quotient of ``state`` and a kept state when that
        pair's max(tolerance) / |r1 - r0| is the smallest seen (see the class docstring)."""
        for r0, s0 in self.states.items():
            if not 0.0 < abs(r - r0) <= self.SLOPE_STEP:
                continue
            quality = max(tol, self._tol[r0]) / abs(r - r0)
            if quality < self._slope_quality:
                self._slope_quality = quality
                self.policy_slope = ((state.c - s0.c) / (r - r0), (state.v - s0.v) / (r - r0))


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


def _find_rate(excess: _Excess, params: Params, numerics: Numerics,
               r0: float | None, slope: float | None) -> float:
    """The r clearing the asset market, to a bracket of width numerics.tol_r.

    The excess supply rises in r; ``increasing_root`` (core.numerics) brackets it
    from r0 (the warm start's r with its market slope, or a Guess's r; None: a
    point near 1/(beta omega) - 1), tightens the household solves and refines
    the bracket. Returns the bracket end with the smaller |excess|.
    """
    lo, hi = admissible_rates(params, numerics)
    if not lo < hi:
        raise SolverConvergenceError(f"no admissible interest rate: r_min={lo:g} >= {hi:g}")
    step = numerics.r_step
    if r0 is None or not lo < r0 < hi:  # no guess: a wide first step from a default start
        r0 = max(hi - max(0.25 * abs(hi), step), 0.5 * (lo + hi))
        step = 0.5 * (hi - r0)
    hint = "raise a_max or lower r_min"
    if params.closure == "bond" and hi < 1.0 / (params.beta * params.omega) - 1.0 - 2.0 * (
            numerics.r_margin):
        hint = (f"a_low = {params.a_low:g} keeps r below the natural borrowing limit's "
                f"{hi:.3g} (r |a_low| < lowest income), where households borrow more than "
                f"they save: raise a_low, or " + hint)
    return increasing_root(excess, r0, lo, hi, tol=numerics.tol_r, step=step,
                           rebracket_step=numerics.r_step, slope=slope,
                           max_iter=numerics.max_iter_ge, what="excess asset supply",
                           hint=hint)


def solution_from(params: Params, numerics: Numerics, state: HouseholdState,
                  n_iter: int, slope: float = float("nan"),
                  policy_slope: tuple[np.ndarray, np.ndarray] | None = None,
                  given: Params | None = None) -> Solution:
    """The Solution of a household state solved at ``params`` (whose w, P, T are the
    prices it faced); ``given``: the Params the user gave (default ``params``),
    which the Solution carries unchanged."""
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
        params=params if given is None else given, numerics=numerics, r=float(state.r),
        wage=float(state.wage), w=readonly(np.array(params.w, dtype=float)),
        P=readonly(np.array(params.P, dtype=float)), T=readonly(np.array(params.T, dtype=float)),
        a_grid=readonly(state.a_grid), c=readonly(state.c), a_next=readonly(state.ap),
        v=readonly(state.v), mig=readonly(state.mu), dist=readonly(state.dist),
        euler_error=readonly(err), population=readonly(state.dist.sum(axis=(1, 2))),
        capital=float(capital), labor=labor, converged=True, n_iter=int(n_iter),
        n_iter_household=state.n_iter, residuals=MappingProxyType(residuals),
        market_slope=float(slope), lu_factor=state.factor, policy_slope=policy_slope)


def extrapolate(previous: Solution, last: Solution, t: float) -> Solution:
    """A warm start at params(last) + t (params(last) - params(previous)).

    r, consumption, values and (with several locations) populations are
    extrapolated linearly; consumption (with its values) only if it stays
    positive and increasing in assets, populations only if positive.
    The rest (distribution and its LU, slopes) is ``last``'s. In a sweep of
    Huggett (1993) over an 8 x 8 grid (gamma x a_low, n_a = 150) walked in rows,
    48 of 63 warm starts were extrapolated; the error of the first r tried fell
    from ~1e-3 to ~1e-4 and the chain's solve time by 13% (0.67 to 0.58 s).
    ``last`` when the shapes, closures or numerics differ, and for the spatial
    closure: its outer loop gained little from an extrapolated start (363 instead
    of 390 household solves along a 12-point theta chain) and in an estimation
    test stalled from one (bond step 7.7e-12 against 0.5 tol_r after 30 outer
    steps), where the unextrapolated start converges.
    """
    if (previous.c.shape != last.c.shape or previous.numerics != last.numerics
            or previous.params.closure != last.params.closure or not np.isfinite(t)
            or last.params.closure == "spatial"):
        return last

    def line(a, b):
        return b + t * (b - a)

    c = line(previous.c, last.c)
    changes: dict = {"r": float(line(previous.r, last.r))}
    if _usable_policy(c):
        changes.update(c=readonly(c), v=readonly(line(previous.v, last.v)))
    population = line(previous.population, last.population)
    if last.population.size > 1 and np.all(population > 0.0):
        changes["population"] = readonly(population)
    return dataclasses.replace(last, **changes)


def _usable_policy(c: np.ndarray) -> bool:
    """Whether a guessed consumption is positive and increasing in assets (what EGM
    needs of its starting point)."""
    return bool(np.all(c > 0.0) and np.all(np.diff(c, axis=2) > 0.0))


def state_from(sol: Solution) -> HouseholdState:
    return HouseholdState(
        sol.r, sol.wage, np.array(sol.a_grid), None, np.array(sol.c), np.array(sol.v),
        np.array(sol.a_next), np.array(sol.mig), np.array(sol.dist), sol.n_iter_household,
        0.0, 0.0, 0.0, sol.lu_factor)
