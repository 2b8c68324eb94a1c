"""The stacked outer iteration of the spatial closure (see ``spatial.py``).

The unknowns x = (log w_2..J, log L_1..J, r / R_UNIT) are updated together by
one map G evaluated with a single household solve at (w, L, r):

    log w_i <- [log(sum_j lam_ij E_j / H_i) + (sigma - 1) log w_i] / sigma   (B.23)
    log L_j <- log(integral dphi_j)                                          (B.24)
    r       <- r - B(r) / B'                                                 (bond market)

where B is aggregate bond holdings and B' the slope dB/dr at fixed (w, L): a
warm start's ``market_slope``, else the slope found by one loose bond-market
search at the starting (w, L). The damped map is Anderson-accelerated; that
also corrects for B' being only approximate. Each household solve starts from
the previous one's policies, values and distribution, and is inexact while
the outer residual is large: its tolerance on policy and value changes is
``HH_FACTOR (1 - beta omega) worst``, clipped to [floor, HH_LOOSE], with floor
= min(tol_policy, tol_value, 0.01 tol_spatial (1 - beta omega)). Values are
off their fixed point by about tol / (1 - beta omega), which moves populations
by about theta times that, so this keeps the household error a small fraction
of the outer residual.

Stopping rule: the goods and population residuals (relative) are at most
tol_spatial, the Newton step of the bond market |B / B'| is at most half of
``r_tolerance`` (as close as the better end of a bracket of that width, which
is what the bond closure returns) and the last household solve used the tight
tolerance below. Once goods and population are within tolerance, steps move r alone
and re-estimate B' by the secant. ``r_tolerance`` is tol_r unless the
household tolerance makes B uncertain by more: household solves stop when a
step changes consumption by less than tol, so B is off by up to about
R_NOISE tol max(P) / (1 - beta omega) (R_NOISE = 40: the spread of B over warm
and cold household solves at one price vector, measured in the three- and
48-location economies, is up to ten times 4 tol max(P) / (1 - beta omega)) and
r by that over B'. In the r-only steps the household tolerance is lowered to
the tight tolerance that makes this at most tol_r (but not below 1e-13); the
bound used is max(tol_r, R_NOISE tight max(P) / ((1 - beta omega) B')). r is thus exact to that
bound at the reported (w, L); as an equilibrium object it also inherits the
O(tol_spatial) error of (w, L) (about 1e-9 in the 48-location economy).
"""

from __future__ import annotations

import logging

import numpy as np

from .household import HouseholdState, solve_at_prices
from .params import Numerics, Params
from .result import Solution

logger = logging.getLogger(__name__)

R_UNIT = 1e-3  # x carries r / R_UNIT: an r error of 1e-5 weighs like a 1% wage error
SLOPE_STEP = 1e-5  # r step of the finite-difference bond slope
SLOPE_REFRESH = 1e-2  # re-estimate the slope when the residual fell by this factor
HH_FACTOR = 1e-2
HH_LOOSE = 1e-5
R_NOISE = 40.0  # solver error of B <= R_NOISE tol max(P) / (1 - beta omega) (measured)


class StackedOuter:
    """x -> G(x) - x with one household solve per call; keeps the latest state."""

    def __init__(self, params: Params, numerics: Numerics, warm: Solution | None):
        self.params, self.numerics = params, numerics
        self.J = params.n_loc
        self.one_minus_bo = 1.0 - params.beta * params.omega
        self.floor = min(numerics.tol_policy, numerics.tol_value,
                         0.01 * numerics.tol_spatial * self.one_minus_bo)
        fits = warm is not None and warm.dist.shape[0] == self.J and warm.params.n_e == params.n_e
        self.warm = warm if fits and warm.c.shape[2] == numerics.n_a else None
        self.state: HouseholdState | None = None
        self.slope = np.nan
        self.calls = self.egm_steps = 0
        self.worst = np.inf
        self.tol_used = np.inf
        self.r_tol = numerics.tol_r
        self.refresh_worst = np.inf  # outer residual when the bond slope was last estimated
        self.refreshed = False
        self.last_point = None
        self.r_only = False
        self.r_tight = 0.0

    def start(self) -> np.ndarray:
        """Initial x from the warm start, else from params.w, uniform L and a bond search."""
        from .solve import _state_from

        if self.warm is not None:
            w, L, r = self.warm.params.w, self.warm.population, self.warm.r
            self.state = _state_from(self.warm)
            self.slope = self.warm.market_slope
        else:
            w, L, r = self.params.w / self.params.w[0], np.full(self.J, 1.0 / self.J), None
        if not (np.isfinite(self.slope) and self.slope > 0.0):
            r = self._bond_search(w, L / L.sum())
        return np.r_[np.log(w[1:] / w[0]), np.log(L / L.sum()), r / R_UNIT]

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        w = np.exp(np.r_[0.0, x[: self.J - 1]])
        L = np.exp(x[self.J - 1: 2 * self.J - 1])
        return w, L / L.sum(), float(x[-1]) * R_UNIT

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """G(x) - x; stores the household state, prices and residuals at x."""
        from .spatial import price_index, transfers

        p = self.params
        w, L, r = self.unpack(x)
        P, lam = price_index(p.A, w, L, p.sigma_trade, p.alpha_agg)
        T = transfers(p.kappa_transfer, w, L)
        r = self._clip_rate(r, w, T)
        # household tolerance whose solver noise in B stays below tol_r B' (docstring)
        self.r_tight = float(np.clip(self.one_minus_bo * self.slope * self.numerics.tol_r
                                     / (R_NOISE * float(np.max(P))), 1e-13, self.floor))
        tol = float(np.clip(HH_FACTOR * self.one_minus_bo * self.worst, self.floor, HH_LOOSE))
        tol = self.r_tight if self.r_only else tol
        hp = p.with_(closure="partial", r=r, w=w, P=P, T=T)
        # distribution to 0.1 tol (L1) while inexact: populations move by that / min L
        tol_d = self.numerics.tol_dist if tol <= self.floor else float(
            np.clip(0.1 * tol, self.numerics.tol_dist, 1e-7))
        num = self.numerics.with_(tol_policy=tol, tol_value=tol, tol_dist=tol_d)
        state = solve_at_prices(hp, num, r, 1.0, self.state)
        self.state, self.tol_used, self.prices = state, tol, (w, L, P, T, r)
        self.calls += 1
        self.egm_steps += state.n_iter
        pop = state.dist.sum(axis=(1, 2))
        H = np.einsum("jsi,s->j", state.dist, p.e_grid)
        demand = lam @ (P * np.einsum("jsi,jsi->j", state.dist, state.c))
        self.goods = (demand - w * H) / (w * H)
        self.population = (pop - L) / L
        B = float(np.sum(state.dist * state.a_grid))
        self._secant_slope(w, L, r, B)
        self._maybe_refresh_slope(hp, num, state)
        self.step_r = -B / self.slope
        self.r_tol = max(self.numerics.tol_r, R_NOISE * self.r_tight * float(P.max())
                         / (self.one_minus_bo * self.slope))
        self.worst = max(self.goods_pop(), abs(self.step_r) / R_UNIT)
        log_w = (np.log(demand) - np.log(H) + (p.sigma_trade - 1.0) * np.log(w)) / p.sigma_trade
        g = np.r_[log_w[1:] - log_w[0], np.log(pop / pop.sum()), (r + self.step_r) / R_UNIT]
        return g - x

    def _secant_slope(self, w: np.ndarray, L: np.ndarray, r: float, B: float) -> None:
        """After a step that moved r only (``r_step``), B' from the two bond positions."""
        last, self.last_point = self.last_point, (w, L, r, B)
        if last is None or not (np.array_equal(last[0], w) and np.array_equal(last[1], L)):
            return
        if abs(r - last[2]) >= 1e-9:
            slope = (B - last[3]) / (r - last[2])
            if np.isfinite(slope) and slope > 0.0:
                self.slope = float(slope)

    def r_step(self, x: np.ndarray) -> np.ndarray:
        """x with the bond market's Newton step applied to r alone."""
        x = x.copy()
        x[-1] += self.step_r / R_UNIT
        self.r_only = True
        return x

    def goods_pop(self) -> float:
        return max(float(np.max(np.abs(self.goods))), float(np.max(np.abs(self.population))))

    def _maybe_refresh_slope(self, hp: Params, num: Numerics, state: HouseholdState) -> None:
        """Re-estimate B' at fixed (w, L) by a finite difference (one more household solve)
        each time the goods/population residual has fallen by SLOPE_REFRESH; B' varies
        steeply with r near 1/(beta omega) - 1, so the starting slope can be far off."""
        worst = self.goods_pop()
        if not np.isfinite(self.refresh_worst):  # a warm start's slope is already local
            self.refresh_worst = 0.0 if self.warm is not None else worst
        self.refreshed = worst < SLOPE_REFRESH * self.refresh_worst
        if not self.refreshed:
            return
        r = state.r
        r2 = r - SLOPE_STEP  # downwards, away from 1/(beta omega) - 1
        other = solve_at_prices(hp.with_(r=r2), num, r2, 1.0, state)
        self.calls += 1
        self.egm_steps += other.n_iter
        slope = (np.sum(state.dist * state.a_grid) - np.sum(other.dist * other.a_grid)) / (r - r2)
        if np.isfinite(slope) and slope > 0.0:
            logger.debug("bond slope %.4g -> %.4g", self.slope, slope)
            self.slope = float(slope)
        self.refresh_worst = max(worst, self.numerics.tol_spatial)

    def converged(self) -> bool:
        return (self.goods_pop() <= self.numerics.tol_spatial and self.tol_used <= self.r_tight
                and abs(self.step_r) <= 0.5 * self.r_tol)

    def residuals(self) -> dict[str, float]:
        return {"goods_market": float(np.max(np.abs(self.goods))),
                "population": float(np.max(np.abs(self.population))),
                "bond_step_r": abs(self.step_r), "bond_tol_r": self.r_tol,
                "outer_worst": self.worst}

    def _clip_rate(self, r: float, w: np.ndarray, T: np.ndarray) -> float:
        """Keep r inside (r_min, hi): below 1/(beta omega) - 1 and the natural limit."""
        p = self.params
        hi = 1.0 / (p.beta * p.omega) - 1.0 - self.numerics.r_margin
        y = float(np.min(w * p.e_grid.min() + T))  # lowest income, as params.min_income
        if y > 0.0:
            hi = min(hi, y / -p.a_low * (1.0 - 1e-9))
        lo = -0.5 if self.numerics.r_min is None else self.numerics.r_min
        return float(min(max(r, lo), hi))

    def _bond_search(self, w: np.ndarray, L: np.ndarray) -> float:
        """A loose bond-market search at (w, L): sets state, slope; returns r."""
        from .solve import _state_from, solve
        from .spatial import price_index, transfers

        p = self.params
        P, _ = price_index(p.A, w, L, p.sigma_trade, p.alpha_agg)
        T = transfers(p.kappa_transfer, w, L)
        r0 = self.warm.r if self.warm is not None else p.r
        if r0 is None:
            r0 = 0.5 * (1.0 / (p.beta * p.omega) - 1.0)
        num = self.numerics.with_(tol_r=1e-6, tol_policy=HH_LOOSE, tol_value=HH_LOOSE)
        sol = solve(p.with_(closure="bond", w=w, P=P, T=T, r=r0), num, warm_start=self.warm)
        self.calls += sol.n_iter
        self.state, self.slope = _state_from(sol), sol.market_slope
        logger.debug("spatial start: r=%.6g, bond slope %.4g", sol.r, self.slope)
        return float(sol.r)


def anderson(outer: StackedOuter, x: np.ndarray, numerics: Numerics) -> tuple[np.ndarray, int]:
    """Anderson-accelerated damped iteration x <- x + xi f(x), f = G(x) - x.

    When the residual grows by more than a factor 10 over the best seen, the
    memory is dropped and a damped plain step is taken from the best point;
    a new bond slope (which changes the map) also drops memory and best. Gives
    up after 20 steps without a new best (the caller reports the residuals).
    Once goods and population are within tolerance only r moves (``r_step``).
    """
    xi, m = numerics.damping_spatial, numerics.memory_spatial
    xs, fs = [], []
    best, since_best = (np.inf, x, None), 0
    it = 0
    for it in range(numerics.max_iter_spatial):
        since_best += 1
        f = outer.evaluate(x)
        logger.debug("spatial outer %d: worst %.3e (goods %.2e, population %.2e, r step %.2e;"
                     " household tol %.1e, %d EGM steps)", it, outer.worst,
                     np.max(np.abs(outer.goods)), np.max(np.abs(outer.population)),
                     outer.step_r, outer.tol_used, outer.state.n_iter)
        if outer.converged():
            return x, it + 1
        if outer.refreshed:  # the map's r row changed: old differences are stale
            xs, fs, best = [], [], (np.inf, x, None)
        if outer.worst < best[0]:
            best, since_best = (outer.worst, x.copy(), f.copy()), 0
        elif since_best > 20:
            break
        elif outer.worst > 10.0 * best[0] and xs:
            xs, fs = [], []
            x = best[1] + 0.5 * xi * best[2]
            continue
        xs.append(x.copy())
        fs.append(f)
        xs, fs = xs[-(m + 1):], fs[-(m + 1):]
        if outer.goods_pop() <= numerics.tol_spatial and outer.tol_used <= outer.floor:
            x = outer.r_step(x)  # only the bond market is left: Newton (secant) in r
        else:
            x = _anderson_step(xs, fs, xi)
    return x, it + 1


def _anderson_step(xs: list, fs: list, xi: float) -> np.ndarray:
    x, f = xs[-1], fs[-1]
    if len(xs) == 1:
        return x + xi * f
    dX = np.diff(np.array(xs), axis=0).T
    dF = np.diff(np.array(fs), axis=0).T
    gamma, *_ = np.linalg.lstsq(dF, f, rcond=None)
    return x + xi * f - (dX + xi * dF) @ gamma
