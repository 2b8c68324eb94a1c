"""The residual block of the spatial closure and its Jacobian (see ``spatial.py``).

Unknowns x = (log w_2..J, log(L_2/L_1)..log(L_J/L_1), r / R_UNIT): w_1 = 1 is the
numeraire and L = softmax(0, x_L) sums to one. Residuals F(x), one household
solve at the prices (w, P(w, L), T(w, L), r) each:

    goods_i = log(sum_j lam_ij E_j / (w_i H_i)),            i = 2..J         (B.23)
    pop_j   = log(integral dphi_j / L_j),                   j = 2..J         (B.24)
    bond    = B / (B' R_UNIT)                                                (bonds)

with B aggregate bonds and B' = dB/dr (so the bond row reads as the distance
of r from its root in units of R_UNIT). In logs the rows are close to linear
in x far from the root too (relative residuals of populations that start at
1/J are not: the first Newton steps of the 48-location economy were cut to
0.5% by the line search); the relative residuals (demand - w H) / (w H) and
(pop - L) / L, which tol_spatial bounds, are the same to first order. Walras'
law makes goods_1 and pop_1 redundant at a root (sum_i demand_i - w_i H_i = r B + sum_j (pop_j - L_j) T_j and
both populations sum to one); they are reported with the others.

The Jacobian is analytic nowhere but exact everywhere it matters: forward
differences of F, each column one household solve warm-started from the base
state, both solved to JAC_TOL (so that the solver noise, about R_NOISE tol /
(1 - beta omega), is far below the H_LOG step's effect). Household solves at
the Newton iterates are inexact: their tolerance falls with |F| (``_tolerance``).

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

import numpy as np

from ..errors import SolverConvergenceError
from .household import HouseholdState, solve_at_prices
from .params import Numerics, Params
from .result import Solution

logger = logging.getLogger(__name__)

R_UNIT = 1e-3  # x carries r / R_UNIT: an r error of 1e-5 weighs like a 1% wage error
H_LOG = 1e-3  # finite-difference step in log w and log L
H_R = -1e-5  # ... and in r (downwards, away from 1/(beta omega) - 1)
JAC_TOL = (1e-10, 1e-8)  # household tolerance of the Jacobian's solves: 1e-6 |F| within
HH_LOOSE = 1e-7
HH_FACTOR = 1e-4
R_NOISE = 40.0  # solver error of B <= R_NOISE tol max(P) / (1 - beta omega) (measured)


class SpatialBlock:
    """x -> F(x) with one household solve per new x; keeps the latest state and prices."""

    def __init__(self, params: Params, numerics: Numerics, warm: Solution | None):
        self.params, self.numerics = params, numerics
        self.J = params.n_loc
        self.one_minus_bo = 1.0 - params.beta * params.omega
        self.floor = min(numerics.tol_policy, numerics.tol_value,
                         0.01 * numerics.tol_spatial * self.one_minus_bo)
        fits = warm is not None and warm.dist.shape[0] == self.J and warm.params.n_e == params.n_e
        self.warm = warm if fits and warm.c.shape[2] == numerics.n_a else None
        self.state: HouseholdState | None = None
        self.slope = np.nan  # B' = dB/dr, the latest estimate
        self.b_unit = np.nan  # the bond row's scale, fixed once known: F is one function
        self.calls = self.egm_steps = self.jacobians = 0
        self.size = 2 * self.J - 1
        self._cache: tuple[np.ndarray, float, np.ndarray, HouseholdState, tuple] | None = None
        self.F_norm = np.inf  # max |F| at the latest accepted iterate (sets the tolerance)

    # -- starting point ---------------------------------------------------------------
    def start(self) -> tuple[np.ndarray, np.ndarray | None]:
        """x0 and a Jacobian there (the warm start's, else computed at x0)."""
        from .solve import _state_from

        if self.warm is not None:
            w, L, r = self.warm.params.w, self.warm.population, self.warm.r
            self.state = _state_from(self.warm)
            self.slope = self.warm.market_slope
            jac = self.warm.outer_jacobian
        else:
            w, L = self.params.w / self.params.w[0], np.full(self.J, 1.0 / self.J)
            r, jac = None, None
        if not (np.isfinite(self.slope) and self.slope > 0.0):
            r = self._bond_search(w, L / L.sum())
            jac = None
            if self.warm is None:  # populations where that search's households live
                L = self.state.dist.sum(axis=(1, 2))
        x0 = np.r_[np.log(w[1:] / w[0]), np.log(L[1:] / L[0]), r / R_UNIT]
        if jac is not None and jac.shape == (self.size, self.size):
            self.b_unit = self.slope * R_UNIT
            return x0, jac
        self._raw(x0, self._tolerance(), self.state)
        return x0, self.jacobian(x0)

    def _bond_search(self, w: np.ndarray, L: np.ndarray) -> float:
        """A loose bond-market search at (w, L): sets state and B'; returns r."""
        from .solve import _state_from, solve

        p = self.params
        P, _, T = self.prices(w, L)
        r0 = self.warm.r if self.warm is not None else p.r
        if r0 is None:
            r0 = 0.5 * (1.0 / (p.beta * p.omega) - 1.0)
        num = self.numerics.with_trusted(tol_r=1e-6, tol_policy=1e-5, tol_value=1e-5)
        sol = solve(p.with_(closure="bond", w=w, P=P, T=T, r=r0), num, warm_start=self.warm)
        self.calls += sol.n_iter
        self.state, self.slope = _state_from(sol), sol.market_slope
        logger.debug("spatial start: r=%.6g, bond slope %.4g", sol.r, self.slope)
        return float(sol.r)

    # -- the block ---------------------------------------------------------------------
    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        J = self.J
        w = np.exp(np.r_[0.0, x[: J - 1]])
        z = np.r_[0.0, x[J - 1: 2 * J - 2]]
        L = np.exp(z - z.max())
        return w, L / L.sum(), float(x[-1]) * R_UNIT

    def prices(self, w: np.ndarray, L: np.ndarray):
        """(P, lam, T): CES price indices and trade shares (B.22, B.1), transfers (47)."""
        from .spatial import price_index, transfers

        p = self.params
        P, lam = price_index(p.A, w, L, p.sigma_trade, p.alpha_agg)
        return P, lam, transfers(p.kappa_transfer, w, L)

    def residual(self, x: np.ndarray) -> np.ndarray | None:
        """F(x) at the tolerance of the current iterate; None if r or the household
        solve is not admissible there (the line search then backtracks)."""
        raw = self._raw(x, self._tolerance(), self.state)
        return None if raw is None else self._scaled(raw)

    def _tolerance(self) -> float:
        """Inexact Newton: household error a small fraction of the next |F|, which is
        about |F|^2 near the root; r_tight once goods and population are done."""
        F = self.F_norm
        if not np.isfinite(F):
            return HH_LOOSE
        tol = HH_FACTOR * self.one_minus_bo * F * min(F, 1.0)
        if self._cache is not None and self.goods_pop() <= self.numerics.tol_spatial:
            tol = 0.0
        return float(np.clip(tol, self.r_tight(), HH_LOOSE))

    def _raw(self, x, tol, guess, keep=True):
        """Unscaled residuals (goods 2..J, pop 2..J, B) at x, household at tolerance tol."""
        if keep and self._cache is not None and np.array_equal(self._cache[0], x) \
                and self._cache[1] <= tol:
            return self._cache[2]
        p = self.params
        w, L, r = self.unpack(x)
        P, lam, T = self.prices(w, L)
        if not self._admissible(r, w, T):
            return None
        num = self.numerics.with_trusted(
            tol_policy=tol, tol_value=tol,
            tol_dist=self.numerics.tol_dist if tol <= self.floor else float(
                np.clip(0.1 * tol, self.numerics.tol_dist, 1e-7)))
        hp = p.with_trusted(closure="partial", r=r, w=w, P=P, T=T)
        state = None
        for start in (guess, None) if guess is not None else (None,):
            try:
                state = solve_at_prices(hp, num, r, 1.0, start)
                break
            except SolverConvergenceError as e:  # from a far guess EGM can fail: cold once
                logger.debug("household failed at a trial point (%s start): %s",
                             "warm" if start is not None else "cold", e)
        if state is None:
            return None
        self.calls += 1
        self.egm_steps += state.n_iter
        pop = state.dist.sum(axis=(1, 2))
        H = np.einsum("jsi,s->j", state.dist, p.e_grid)
        demand = lam @ (P * np.einsum("jsi,jsi->j", state.dist, state.c))
        goods = (demand - w * H) / (w * H)
        population = (pop - L) / L
        B = float(np.sum(state.dist * state.a_grid))
        raw = np.r_[np.log1p(goods[1:]), np.log1p(population[1:]), B]
        if keep:
            self._cache = (x.copy(), tol, raw, state, (w, L, P, T, r, goods, population, B))
            self.state = state
        return raw

    def _scaled(self, raw: np.ndarray) -> np.ndarray:
        F = raw.copy()
        F[-1] /= self.b_unit
        return F

    def accept(self, F: np.ndarray) -> None:
        """Record |F| at a new iterate (it sets the next household tolerance)."""
        self.F_norm = float(np.max(np.abs(F)))

    def _admissible(self, r: float, w: np.ndarray, T: np.ndarray) -> bool:
        """r inside (r_min, hi): below 1/(beta omega) - 1 and the natural limit."""
        p = self.params
        hi = 1.0 / (p.beta * p.omega) - 1.0 - self.numerics.r_margin
        y = float(np.min(w * p.e_grid.min() + T))  # lowest income, as params.min_income
        if y > 0.0:
            hi = min(hi, y / -p.a_low * (1.0 - 1e-9))
        lo = -0.5 if self.numerics.r_min is None else self.numerics.r_min
        return bool(lo < r < hi)

    # -- Jacobian ----------------------------------------------------------------------
    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """dF/dx by forward differences, household solves at JAC_TOL (module docstring)."""
        tol = float(np.clip(1e-6 * self.F_norm, *JAC_TOL))
        tol = min(tol, self._cache[1]) if self._cache is not None else tol
        base_raw = self._raw(x, tol, self.state)
        if base_raw is None:
            raise SolverConvergenceError("spatial Jacobian: the base point is not admissible")
        base = self.state
        self.jacobians += 1
        cols = np.empty((self.size, self.size))
        for k in range(self.size):
            h = H_R / R_UNIT if k == self.size - 1 else H_LOG
            xk = x.copy()
            xk[k] += h
            raw = self._raw(xk, tol, base, keep=False)
            if raw is None:  # e.g. r at the edge: difference the other way
                h = -h
                xk[k] = x[k] + h
                raw = self._raw(xk, tol, base, keep=False)
            if raw is None:
                raise SolverConvergenceError("spatial Jacobian: no admissible step around x")
            cols[:, k] = (raw - base_raw) / h
        slope = cols[-1, -1] / R_UNIT
        if np.isfinite(slope) and slope > 0.0:
            self.slope = float(slope)
        if not np.isfinite(self.b_unit):
            self.b_unit = self.slope * R_UNIT
        cols[-1, :] /= self.b_unit
        return cols

    # -- stopping rule -----------------------------------------------------------------
    def r_tight(self) -> float:
        P_max = float(np.max(self._cache[4][2])) if self._cache is not None else 1.0
        tol = 0.5 * self.one_minus_bo * self.slope * self.numerics.tol_r / (R_NOISE * P_max)
        return float(np.clip(tol, 1e-13, self.floor)) if np.isfinite(tol) else self.floor

    def r_tol(self) -> float:
        P_max = float(np.max(self._cache[4][2]))
        noise = R_NOISE * 1e-13 * P_max / (self.one_minus_bo * self.slope)
        return max(self.numerics.tol_r, 2.0 * noise)

    def goods_pop(self) -> float:
        goods, population = self._cache[4][5], self._cache[4][6]
        return max(float(np.max(np.abs(goods))), float(np.max(np.abs(population))))

    def done(self, x: np.ndarray, F: np.ndarray, dx: np.ndarray) -> bool:
        """The stopping rule (module docstring). Once goods and population are within
        tolerance, x is solved again at r_tight if it was not (the Newton loop then
        reads F at x again)."""
        self.accept(F)
        self.step_r = abs(float(dx[-1])) * R_UNIT
        if not (self._cache is not None and np.array_equal(self._cache[0], x)
                and self.goods_pop() <= self.numerics.tol_spatial):
            return False
        if self._cache[1] > self.r_tight():
            self._raw(x, self.r_tight(), self.state)
            return False
        return self.step_r <= self.r_tol()

    @property
    def prices_at_solution(self):
        w, L, P, T, r = self._cache[4][:5]
        return w, L, P, T, r

    def residuals(self) -> dict[str, float]:
        if self._cache is None:
            return {}
        goods, population, B = self._cache[4][5:8]
        return {"goods_market": float(np.max(np.abs(goods))),
                "population": float(np.max(np.abs(population))),
                "bond_step_r": float(getattr(self, "step_r", np.nan)), "bond_tol_r": self.r_tol(),
                "bond_holdings": B}
