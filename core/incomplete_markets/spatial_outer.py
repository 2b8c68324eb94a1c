"""The residual block of the spatial closure and its Jacobian (see ``spatial.py``).

Unknowns x = (log w_2..J, log(L_2/L_1)..log(L_J/L_1), -log((r_hi - r) / R_UNIT))
with r_hi = 1/(beta omega) - 1: w_1 = 1 is the numeraire, L = softmax(0, x_L)
sums to one, and r stays below r_hi. Bonds blow up like 1 / (r_hi - r) as r
nears r_hi (with little income risk the equilibrium r sits within 1e-4 of it:
Newton steps in r itself overshot r_hi and stalled in random two-location
economies); in the log distance they are close to linear. Residuals F(x), one household
solve at the prices (w, P(w, L), T(w, L), r) each:

    goods_i = log(sum_j lam_ij E_j / (w_i H_i)),            i = 2..J         (B.23)
    pop_j   = log(integral dphi_j / L_j),                   j = 2..J         (B.24)
    bond    = B / b_unit                                                     (bonds)

with B aggregate bonds and b_unit = dB/dx_r where it was first known (so the
bond row reads as the distance of x_r from its root). In logs the rows are close to linear
in x far from the root too (relative residuals of populations that start at
1/J are not: the first Newton steps of the 48-location economy were cut to
0.5% by the line search); the relative residuals (demand - w H) / (w H) and
(pop - L) / L, which tol_spatial bounds, are the same to first order. Walras'
law makes goods_1 and pop_1 redundant at a root (sum_i demand_i - w_i H_i =
r B + sum_j (pop_j - L_j) T_j and both populations sum to one); they are
reported with the others.

Derivatives (``spatial_jacobian``): dF/dx = M_x + M_h H_p p_x with the
household's Jacobian H_p in the prices it sees (``steady_derivatives``); the
secant update applies to H_p, and the closed-form parts are recomputed at each
iterate. Household solves at the Newton iterates are inexact: their tolerance
falls with |F| (``_tolerance``).

Stopping rule: goods and population residuals (all J of each) at most
tol_spatial, the household solved to ``r_tight`` and the r component of the
Newton step at most ``r_tol``. B is known only to the household solver's
error, about R_NOISE tol max(P) / (1 - beta omega) (R_NOISE = 40: the spread of B
over warm and cold household solves at one price vector, measured in the
three- and 48-location economies, is up to ten times 4 tol max(P) / (1 - beta
omega)), so r to that over B'. ``r_tight`` is the household tolerance that puts
this noise at half of tol_r (not below 1e-13), and ``r_tol`` is tol_r, or twice
the noise at 1e-13 when that is larger: the rule can always be met, it never
waits on solver noise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..errors import SolverConvergenceError
from ..numerics.markov import markov_stationary
from ..numerics.newton import broyden_update
from .bond import admissible_rates, solve_market, state_from
from .goods import price_index, transfers
from .household import HouseholdState, location_totals, solve_at_prices, stationary_distribution
from .params import Guess, Numerics, Params
from .result import Solution
from .spatial_jacobian import JAC_TOL, central_jacobian, household_jacobian
from .steady_derivatives import input_jacobian, policy_lu

logger = logging.getLogger(__name__)

R_UNIT = 1e-3  # unit of r_hi - r in x
HH_LOOSE = 1e-7
HH_FACTOR = 1e-4
R_NOISE = 40.0  # solver error of B <= R_NOISE tol max(P) / (1 - beta omega) (measured)
# the household Jacobian's (w, T, P) columns by the implicit function theorem; False:
# by forward differences through household solves (what benchmarks compare against)
IMPLICIT_JACOBIAN = True
# household solves begin with chord steps on the LU of I - Phi_z (``household._chord``);
# False: plain EGM iteration only (what benchmarks compare against)
CHORD = True


def _representative_migration(c, chi, theta, beta_omega, gamma, steps: int = 50):
    """Logit shares mu_jk at zero assets: values v = u(c) + beta omega W(v) by Newton."""
    u = np.log(c) if gamma == 1.0 else (c ** (1.0 - gamma) - 1.0) / (1.0 - gamma)
    v = u / (1.0 - beta_omega)
    log_chi = np.log(chi)
    for _ in range(steps):
        z = log_chi + theta * v[None, :]
        top = z.max(axis=1, keepdims=True)
        mu = np.exp(z - top)
        tot = mu.sum(axis=1, keepdims=True)
        mu /= tot
        W = (top[:, 0] + np.log(tot[:, 0])) / theta
        G = v - u - beta_omega * W
        dv = np.linalg.solve(np.eye(c.size) - beta_omega * mu, -G)
        v += dv
        if np.max(np.abs(dv)) < 1e-12 * (1.0 + np.max(np.abs(v))):
            break
    return mu


@dataclass
class Point:
    """One evaluation of the block: x, the household tolerance used, the state, the
    household's inputs p and outputs h, and the diagnostics."""

    x: np.ndarray
    tol: float
    state: HouseholdState
    p: np.ndarray
    h: np.ndarray
    raw: np.ndarray
    prices: tuple  # (w, L, P, T, r)
    goods: np.ndarray  # (J,) relative residuals (demand - w H) / (w H)
    population: np.ndarray  # (J,) relative residuals (pop - L) / L


class SpatialBlock:
    """x -> F(x) with one household solve per new x; its Jacobian; the stopping rule."""

    def __init__(self, params: Params, numerics: Numerics, warm: Solution | None,
                 representative: bool = True, guess: Guess | None = None):
        """``representative``: a cold start at the economy without assets with household
        Jacobians by the implicit function theorem; False: at the Guess's (w, population)
        if it has them, else at w = 1 and uniform populations, with difference Jacobians
        (the fallback, see ``spatial.py``). ``guess``: its r starts the bond search."""
        self.representative = representative
        self.guess = guess
        self.params, self.numerics = params, numerics
        self.J = params.n_loc
        self.one_minus_bo = 1.0 - params.beta * params.omega
        self.r_hi = 1.0 / (params.beta * params.omega) - 1.0
        self.floor = min(numerics.tol_policy, numerics.tol_value,
                         0.01 * numerics.tol_spatial * self.one_minus_bo)
        self.warm = warm if self.fits(warm, params, numerics) else None
        self.state: HouseholdState | None = None
        self.slope = np.nan  # B' = dB/dr, the latest estimate
        self.b_unit = np.nan  # the bond row's scale, fixed once known: F is one function
        self.H_p: np.ndarray | None = None  # the household Jacobian (spatial_jacobian)
        self.state_prices: tuple | None = None  # (w, L) of the last bond search
        self.calls = self.egm_steps = self.jacobians = self.chord_steps = 0
        # LU of I - Phi_z at a recent household fixed point: household solves start with
        # chord steps on it (``household._chord``); the warm start's, else the first
        # implicit Jacobian's
        self.chord = None if self.warm is None or not CHORD else self.warm.policy_lu
        self.size = 2 * self.J - 1
        self.last: Point | None = None
        self._points: dict[bytes, Point] = {}
        self.F_norm = np.inf  # max |F| at the latest accepted iterate (sets the tolerance)
        self.step_r = np.nan

    @staticmethod
    def fits(warm: Solution | None, params: Params, numerics: Numerics) -> bool:
        """Whether a warm start can start this block (same J, S and n_a)."""
        return (warm is not None and warm.dist.shape[0] == params.n_loc
                and warm.params.n_e == params.n_e and warm.c.shape[2] == numerics.n_a)

    # -- starting point ---------------------------------------------------------------
    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """x0 and a Jacobian there (from the warm start's H_p, else computed at x0)."""
        if self.warm is not None:
            w, L, r = self.warm.w, self.warm.population, self.warm.r
            self.state = state_from(self.warm)
            self.slope = self.warm.market_slope
            H = self.warm.household_jacobian
            self.H_p = H if H is not None and H.shape == (3 * self.J + 1,) * 2 else None
        else:
            w, L = self.representative_start() if self.representative else self._plain_start()
            r = None
        if not (np.isfinite(self.slope) and self.slope > 0.0):
            r = self._first_rate(w, L / L.sum()) if self.warm is None else self._bond_search(
                w, L / L.sum())
            w, L = self.state_prices
            self.H_p = None
            if self.warm is None:  # populations where that search's households live
                L = self.state.dist.sum(axis=(1, 2))
        x0 = self._x(w, L, r)
        if self.H_p is not None:
            self.b_unit = self.slope * (self.r_hi - r)
            if self._raw(x0, self._tolerance(), self.state) is not None:
                return x0, self.compose(x0)
            self.H_p = None
        self._raw(x0, self._tolerance(), self.state)
        return x0, self.jacobian(x0)

    def _x(self, w: np.ndarray, L: np.ndarray, r: float) -> np.ndarray:
        """The unknowns x at (w, L, r) (w and L rescaled to w_1 = 1, L_1 as the base)."""
        return np.r_[np.log(w[1:] / w[0]), np.log(L[1:] / L[0]),
                     -np.log((self.r_hi - r) / R_UNIT)]

    def _plain_start(self) -> tuple[np.ndarray, np.ndarray]:
        """(w, L) of the Guess, rescaled to w[0] = 1 and sum L = 1, else (1, uniform)."""
        g = self.guess
        if g is not None and g.w is not None:
            return g.w / g.w[0], g.population / g.population.sum()
        return np.ones(self.J), np.full(self.J, 1.0 / self.J)

    def representative_start(self) -> tuple[np.ndarray, np.ndarray]:
        """(w, L) of the economy without assets, where the cold start begins.

        Households of location j consume their income, c_j = (w_j E[e] + T_j) / P_j,
        with values v = u(c) + beta omega (1/theta) log sum_k chi_jk exp(theta v_k)
        (eq. 56 at zero assets); populations are the stationary distribution of the
        logit migration shares, and goods markets clear with E_j = P_j c_j L_j.
        Asset holdings move the heterogeneous economy only by a little from there
        (the 48-location economy starts at |F| about 1.9 from uniform populations
        and w = 1). Falls back to that uniform start if the small problem
        is not solved.
        """
        p, J = self.params, self.J
        w0, L0 = np.ones(J), np.full(J, 1.0 / J)
        if J == 1:
            return w0, L0
        e_mean = float(markov_stationary(p.Pi) @ p.e_grid)
        bo = p.beta * p.omega

        def unpack(z):
            w = np.exp(np.r_[0.0, z[: J - 1]])
            L = np.exp(np.r_[0.0, z[J - 1:]] - max(0.0, float(np.max(z[J - 1:]))))
            return w, L / L.sum()

        def residual(z, theta):
            w, L = unpack(z)
            P, lam, T = self.prices(w, L)
            income = w * e_mean + T
            if not np.all(income > 0.0):
                return np.full(z.size, 1e3)
            mu = _representative_migration(income / P, p.chi, theta, bo, p.gamma)
            L_stat = markov_stationary(mu)
            E = income * L
            goods = np.log(lam @ E) - np.log(w * e_mean * L)
            return np.r_[goods[1:], np.log(np.maximum(L_stat[1:], 1e-300) / L[1:])]

        def solve(z0, theta):
            with np.errstate(all="ignore"):
                out = optimize.root(residual, z0, args=(theta,), method="hybr")
            ok = out.success and np.max(np.abs(out.fun)) < 1e-8
            return out.x if ok else None

        # directly, else along theta from 0.05 (migration barely responds to values
        # there, so uniform-ish populations are close), doubling each step
        z = solve(np.r_[np.log(w0[1:]), np.zeros(J - 1)], p.theta)
        if z is None:
            z, theta = np.r_[np.log(w0[1:]), np.zeros(J - 1)], min(0.05, p.theta)
            while z is not None and theta < p.theta:
                theta = min(2.0 * theta, p.theta)
                z = solve(z, theta)
        if z is None:
            logger.debug("representative-agent start not found: uniform start")
            return w0, L0
        return unpack(z)

    def _first_rate(self, w: np.ndarray, L: np.ndarray) -> float:
        """The cold start's bond search: at the representative start (w, L), else at
        geometric blends of it with (w = 1, uniform populations). The household's
        cold solve can fail where incomes and prices differ much across locations (an
        EGM grid not increasing in its second step, at any r, at the representative
        prices of the 48-location economy at theta = 2; blends with weight 0.75 on
        them solve)."""
        w0, L0 = np.ones(self.J), np.full(self.J, 1.0 / self.J)
        for weight in (1.0, 0.75, 0.5):
            w_k, L_k = w ** weight * w0 ** (1.0 - weight), L ** weight * L0 ** (1.0 - weight)
            try:
                return self._bond_search(w_k, L_k / L_k.sum())
            except SolverConvergenceError as err:
                logger.debug("cold bond search failed at blend %g (%s)", weight, err)
        return self._bond_search(w0, L0)

    def _bond_search(self, w: np.ndarray, L: np.ndarray, r0: float | None = None) -> float:
        """A loose bond-market search at (w, L) from r0: sets state and B'; returns r."""
        p = self.params
        P, _, T = self.prices(w, L)
        self.state_prices = w, L
        if r0 is None:
            r0 = self.warm.r if self.warm is not None else (
                None if self.guess is None else self.guess.r)
        if r0 is None:
            r0 = 0.5 * (1.0 / (p.beta * p.omega) - 1.0)
        num = self.numerics.with_trusted(tol_r=1e-6, tol_policy=1e-5, tol_value=1e-5)
        sol = solve_market(p.with_(closure="bond", w=w, P=P, T=T), num,
                           self.warm if self.warm is not None else Guess(r=r0))
        self.calls += sol.n_iter
        self.state, self.slope = state_from(sol), sol.market_slope
        logger.debug("spatial start: r=%.6g, bond slope %.4g", sol.r, self.slope)
        return float(sol.r)

    # -- the block ---------------------------------------------------------------------
    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        J = self.J
        w = np.exp(np.r_[0.0, x[: J - 1]])
        z = np.r_[0.0, x[J - 1: 2 * J - 2]]
        L = np.exp(z - z.max())
        return w, L / L.sum(), self.rate(x[-1])

    def rate(self, x_r: float) -> float:
        """r from its coordinate x_r = -log((r_hi - r) / R_UNIT)."""
        return self.r_hi - R_UNIT * float(np.exp(-x_r))

    def prices(self, w: np.ndarray, L: np.ndarray, A: np.ndarray | None = None):
        """(P, lam, T): CES price indices and trade shares (B.22, B.1), transfers (47);
        at productivities A (default params.A: transitions pass a period's A_t)."""
        p = self.params
        P, lam = price_index(p.A if A is None else A, w, L, p.sigma_trade, p.alpha_agg)
        return P, lam, transfers(p.kappa_transfer, w, L)

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """p(x) = (w, T, P, x_r): what the household sees (r as in x, the log distance
        to r_hi: B is close to linear in it and a fixed step in it is a fixed share
        of that distance, which the equilibrium r can be within 1e-5 of)."""
        w, L, _ = self.unpack(x)
        P, _, T = self.prices(w, L)
        return np.r_[w, T, P, x[-1]]

    def market(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        """M(x, h): the unscaled residuals given household outputs h = (pop, H, C, B)."""
        return self._closed_forms(x, h)[: self.size]

    def _closed_forms(self, x: np.ndarray, h: np.ndarray,
                      A: np.ndarray | None = None) -> np.ndarray:
        """(M(x, h), p(x)) from one evaluation of the goods block (at productivities A,
        default params.A)."""
        J = self.J
        w, L, _ = self.unpack(x)
        P, lam, T = self.prices(w, L, A)
        pop, H, C = h[:J], h[J: 2 * J], h[2 * J: 3 * J]
        goods = np.log(lam @ (P * C)) - np.log(w * H)
        return np.r_[goods[1:], np.log(pop[1:] / L[1:]), h[-1], w, T, P, x[-1]]

    def residual(self, x: np.ndarray) -> np.ndarray | None:
        """F(x) at the tolerance of the current iterate; None if r or the household
        solve is not admissible there (the line search then backtracks)."""
        raw = self._raw(x, self._tolerance(), self.state)
        return None if raw is None else self._scaled(raw)

    def _tolerance(self) -> float:
        """Inexact Newton: the household's error in F, about R_NOISE tol / (1 - beta
        omega), is HH_FACTOR R_NOISE = 0.4% of |F| (a step with an updated Jacobian
        cuts |F| 10-100x); r_tight once goods and population are done."""
        F = self.F_norm
        if not np.isfinite(F):
            return HH_LOOSE
        tol = HH_FACTOR * self.one_minus_bo * F
        if self.last is not None and self.goods_pop() <= self.numerics.tol_spatial:
            tol = 0.0
        return float(np.clip(tol, self.r_tight(), HH_LOOSE))

    def _solve_household(self, p_in: np.ndarray, tol: float, guess) -> HouseholdState | None:
        """The household at inputs p (w, T, P, x_r) to tolerance tol, or None."""
        J = self.J
        w, T, P = p_in[:J], p_in[J: 2 * J], p_in[2 * J: 3 * J]
        r = self.rate(p_in[-1])
        if not self._admissible(r, w, T):
            return None
        num = self.numerics.with_trusted(
            tol_policy=tol, tol_value=tol,
            tol_dist=self.numerics.tol_dist if tol <= self.floor else float(
                np.clip(0.1 * tol, self.numerics.tol_dist, 1e-7)))
        hp = self.params.with_trusted(closure="partial", r=r, w=w, P=P, T=T)
        for start in (guess, None) if guess is not None else (None,):
            try:
                state = solve_at_prices(hp, num, r, 1.0, start,
                                        self.chord if start is not None else None)
            except SolverConvergenceError as e:  # from a far guess EGM can fail: cold once
                logger.debug("household failed at a trial point (%s start): %s",
                             "warm" if start is not None else "cold", e)
                continue
            self.calls += 1
            self.egm_steps += state.n_iter
            self.chord_steps += state.chord_steps
            return state
        return None

    def outputs(self, state: HouseholdState) -> np.ndarray:
        """h = (population, effective labour, real consumption by location, bonds)."""
        totals = location_totals(state.dist, state.c, self.params.e_grid)
        return np.concatenate([*totals, [float(np.sum(state.dist * state.a_grid))]])

    def _raw(self, x, tol, guess):
        """Unscaled residuals at x with the household at tolerance tol (or tighter)."""
        known = self._points.get(x.tobytes())
        if known is not None and known.tol <= tol:
            self.last, self.state = known, known.state
            return known.raw
        p_in = self.inputs(x)
        state = self._solve_household(p_in, tol, guess)
        if state is None:
            return None
        h = self.outputs(state)
        J = self.J
        if not np.all(h[: 2 * J] > 0.0):  # a location emptied: no log residuals there
            logger.debug("a location has no households at this trial point")
            return None
        w, L, r = self.unpack(x)
        P, T = p_in[2 * J: 3 * J], p_in[J: 2 * J]
        demand = self.prices(w, L)[1] @ (P * h[2 * J: 3 * J])
        point = Point(x.copy(), tol, state, p_in, h, self.market(x, h), (w, L, P, T, r),
                      (demand - w * h[J: 2 * J]) / (w * h[J: 2 * J]), (h[:J] - L) / L)
        self._points[x.tobytes()] = point
        while len(self._points) > 8:
            self._points.pop(next(iter(self._points)))
        self.last, self.state = point, state
        return point.raw

    def _scaled(self, raw: np.ndarray) -> np.ndarray:
        F = raw.copy()
        F[-1] /= self.b_unit
        return F

    def accept(self, F: np.ndarray) -> None:
        """Record |F| at a new iterate (it sets the next household tolerance)."""
        self.F_norm = float(np.max(np.abs(F)))

    def _admissible(self, r: float, w: np.ndarray, T: np.ndarray) -> bool:
        """r inside the bond market's admissible interval at these incomes."""
        lo, hi = admissible_rates(self.params.with_trusted(closure="bond", w=w, T=T),
                                  self.numerics)
        return bool(lo < r < hi)

    # -- Jacobian ----------------------------------------------------------------------
    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """dF/dx with a fresh household Jacobian H_p at x (``spatial_jacobian``)."""
        if self._raw(x, JAC_TOL, self.state) is None:
            raise SolverConvergenceError("spatial Jacobian: the base point is not admissible")
        base = self.last
        self.jacobians += 1

        def solve_h(p_in):
            state = self._solve_household(p_in, JAC_TOL, base.state)
            return None if state is None else self.outputs(state)

        implicit = IMPLICIT_JACOBIAN and self.representative
        H = self._implicit_jacobian(base, solve_h) if implicit else None
        if H is None:
            e = float(self.params.e_grid[0]) if self.params.n_e == 1 else None
            H = household_jacobian(solve_h, base.p, base.h, self.J, e)
        if H is None:
            raise SolverConvergenceError("spatial Jacobian: no admissible step around x")
        slope = H[-1, -1] / (self.r_hi - base.prices[4])
        if np.isfinite(slope) and slope > 0.0:
            self.slope = float(slope)
        if not np.isfinite(self.b_unit):
            self.b_unit = self.slope * (self.r_hi - base.prices[4])
        self.H_p = H
        self.state, self.last = base.state, base
        return self.compose(x)

    def _implicit_jacobian(self, base: Point, solve_h) -> np.ndarray | None:
        """H_p with the (w, T, P) columns by the implicit function theorem
        (``steady_derivatives``) and the x_r column by a forward difference (the
        asset grid moves with r); None if the base state does not allow it."""
        J, state = self.J, base.state
        w, T, P = base.p[:J], base.p[J: 2 * J], base.p[2 * J: 3 * J]
        hp = self.params.with_trusted(closure="partial", r=state.r, w=w, P=P, T=T)
        try:
            _, _, factor = stationary_distribution(state.ap, state.a_grid, hp.Pi, state.mu,
                                                   state.dist)
            if factor is None:
                return None
            lu = policy_lu(state, hp)
            H = np.empty((3 * J + 1, 3 * J + 1))
            H[:, : 3 * J] = input_jacobian(state, hp, factor, lu)
            self.chord = lu if CHORD else None
        except (ValueError, RuntimeError) as err:  # a failed EGM step, a singular LU
            logger.debug("implicit household Jacobian not available (%s): differences", err)
            return None
        rate = household_jacobian(solve_h, base.p, base.h, J, None, columns=[3 * J])
        if rate is None or not np.all(np.isfinite(H[:, : 3 * J])):
            return None
        H[:, -1] = rate[:, -1]
        return H

    def compose(self, x: np.ndarray) -> np.ndarray:
        """dF/dx = M_x + M_h H_p p_x at x (evaluated), with the current H_p."""
        h = self._points[x.tobytes()].h
        both = central_jacobian(lambda z: self._closed_forms(z, h), x)
        M_x, p_x = both[: self.size], both[self.size:]
        M_h = self._market_h(x, h)
        jac = M_x + M_h @ self.H_p @ p_x
        jac[-1, :] /= self.b_unit
        return jac

    def _market_h(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        """dM/dh in closed form: goods_i = log(sum_j lam_ij P_j C_j) - log(w_i H_i),
        pop_j = log(pop_j / L_j), bond = B."""
        J = self.J
        w, L, _ = self.unpack(x)
        P, lam, _ = self.prices(w, L)
        pop, H, C = h[:J], h[J: 2 * J], h[2 * J: 3 * J]
        demand = lam @ (P * C)
        M = np.zeros((self.size, h.size))
        M[: J - 1, 2 * J: 3 * J] = (lam * P[None, :] / demand[:, None])[1:]
        M[np.arange(J - 1), J + 1 + np.arange(J - 1)] = -1.0 / H[1:]
        M[J - 1 + np.arange(J - 1), 1 + np.arange(J - 1)] = 1.0 / pop[1:]
        M[-1, -1] = 1.0
        return M

    def update(self, x, F, x_new, F_new, jac) -> np.ndarray:
        """The secant step: H_p updated with the household's (Delta p, Delta h) between the
        two iterates, dF/dx recomposed at x_new."""
        old, new = self._points.get(x.tobytes()), self._points.get(x_new.tobytes())
        if old is None or new is None or self.H_p is None:
            return jac
        self.H_p = broyden_update(self.H_p, new.p - old.p, new.h - old.h)
        return self.compose(x_new)

    # -- stopping rule -----------------------------------------------------------------
    def r_tight(self) -> float:
        P_max = float(np.max(self.last.prices[2])) if self.last is not None else 1.0
        tol = 0.5 * self.one_minus_bo * self.slope * self.numerics.tol_r / (R_NOISE * P_max)
        return float(np.clip(tol, 1e-13, self.floor)) if np.isfinite(tol) else self.floor

    def r_tol(self) -> float:
        P_max = float(np.max(self.last.prices[2]))
        noise = R_NOISE * 1e-13 * P_max / (self.one_minus_bo * self.slope)
        return max(self.numerics.tol_r, 2.0 * noise)

    def goods_pop(self) -> float:
        return max(float(np.max(np.abs(self.last.goods))),
                   float(np.max(np.abs(self.last.population))))

    def done(self, x: np.ndarray, F: np.ndarray, dx: np.ndarray) -> bool:
        """The stopping rule (module docstring). Once goods and population are within
        tolerance, x is solved again at r_tight if it was not (the Newton loop then
        reads F at x again)."""
        self.accept(F)
        self.step_r = abs(float(dx[-1])) * (self.r_hi - self.unpack(x)[2])
        point = self._points.get(x.tobytes())
        if point is None:
            return False
        self.last, self.state = point, point.state
        if self.goods_pop() > self.numerics.tol_spatial:
            return False
        if point.tol > self.r_tight():
            self._raw(x, self.r_tight(), point.state)
            return False
        return self.step_r <= self.r_tol()

    @property
    def prices_at_solution(self):
        return self.last.prices

    def residuals(self) -> dict[str, float]:
        if self.last is None:
            return {}
        return {"goods_market": float(np.max(np.abs(self.last.goods))),
                "population": float(np.max(np.abs(self.last.population))),
                "bond_step_r": self.step_r, "bond_tol_r": self.r_tol(),
                "bond_holdings": float(self.last.h[-1])}
