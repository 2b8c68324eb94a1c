"""Calibration of the spatial closure to data (Donald-Fukui-Miyauchi section 4.2, B.1).

``calibrate(data, base, numerics, r_target, mpc_target)`` is the entry point:

1. productivity shifters A from trade flows, wages, price indices and population
   given (sigma, alpha_agg) in closed form (B.8-B.9);
2. transfer rates kappa_j = T_j / w_j from observed net transfers per capita
   (normalisation: T_bar = 0 at the data; any split with kappa_j w_j + T_bar =
   T_j gives the same baseline, but counterfactuals hold kappa and re-balance
   T_bar);
3. with all prices at their observed values and r = r_target, the household
   block alone pins the rest: chi by the damped update B.11 to the migration
   matrix, beta so the bond market clears (assets = 0) at r_target (DFM iterate
   on beta instead of r when calibrating, B.2.1 step 3), and a_low so the mean
   MPC equals its target (``Solution.moments()['mpc_mean']``: the marginal
   propensity to consume out of a small one-time transfer received at the
   start of a period, P_j dc/dx, averaged over the stationary distribution;
   annual when a period is a year). These three steps are repeated until none
   changes its parameter.

If the data are a steady state of the model (as the shipped synthetic data
are), the spatial equilibrium at the calibrated parameters reproduces the data
with r = r_target.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from ..errors import SolverConvergenceError
from .data import SpatialData
from .params import Guess, Numerics, Params
from .result import Solution
from .solve import solve

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """Calibrated spatial params, the household solution at observed prices, diagnostics.

    guess: the observed prices and populations with r_target, where a solve of
    ``params`` may start (``solve(params, numerics, warm_start=cal.guess)``; the
    household solution itself is a closer start, ``warm_start=cal.household``).
    residuals: migration (max |mu_model - mu_data|), assets (bond market at
    r_target), mpc (mpc_mean - target). n_rounds: passes over chi, beta, a_low.
    """

    params: Params
    guess: Guess
    household: Solution
    residuals: dict
    n_rounds: int


def calibrate(data: SpatialData, base: Params, numerics: Numerics, *, r_target: float,
              mpc_target: float, beta_bracket=(0.9, None), a_low_bracket=(-5.0, -1e-3),
              tol: float = 1e-8, max_rounds: int = 30) -> Calibration:
    """Calibrate A, kappa, chi, beta and a_low of ``base`` (a spatial Params) to ``data``.

    ``base`` supplies gamma, omega, e_grid, Pi, theta, sigma_trade, alpha_agg and
    starting values of chi, beta, a_low. See the module docstring.
    """
    A = invert_productivity(data, base.sigma_trade, base.alpha_agg)
    w, P, T = data.normalised_prices()
    kappa = T / w
    p = base.with_(closure="partial", r=r_target, w=w, P=P, T=T)
    sol = None
    for rounds in range(1, max_rounds + 1):
        old = np.r_[p.chi.ravel(), p.beta, p.a_low]
        p, sol = fit_migration_costs(p, numerics, data.migration, tol=tol, warm_start=sol)
        p, sol = calibrate_beta_and_limit(p, numerics, mpc_target, beta_bracket,
                                          a_low_bracket, warm_start=sol)
        change = float(np.max(np.abs(np.r_[p.chi.ravel(), p.beta, p.a_low] - old)))
        logger.debug("calibration round %d: max parameter change %.3e", rounds, change)
        if change <= tol:
            break
    else:
        raise SolverConvergenceError("calibration rounds did not settle",
                                     residuals={"parameter_change": change}, n_iter=max_rounds)
    resid = {"migration": float(np.max(np.abs(sol.migration_matrix() - data.migration))),
             "assets": sol.aggregate_assets,
             "mpc": sol.moments()["mpc_mean"] - mpc_target}
    spatial = p.with_(closure="spatial", A=A, kappa_transfer=kappa, w=None, P=None, T=None,
                      r=None)
    guess = Guess(r=r_target, w=w, population=data.population / data.population.sum())
    return Calibration(params=spatial, guess=guess, household=sol, residuals=resid,
                       n_rounds=rounds)


def invert_productivity(data: SpatialData, sigma: float, alpha: float) -> np.ndarray:
    """A[i, j] from lam_ij = (w_i / (A_ij L_i^alpha))^(1-sigma) P_j^(sigma-1) (B.8-B.9).

    lam_ij = x_ij / sum_k x_kj is j's expenditure share on i, so
    A_ij = w_i / (L_i^alpha P_j) lam_ij^(1/(sigma-1)); on the diagonal this is
    B.8, and the ratio A_ij / A_jj is B.9. Uses data in model units
    (``normalised_prices``: w[0] = 1; population shares).
    """
    w, P, _ = data.normalised_prices()
    L = data.population / data.population.sum()
    lam = data.trade / data.trade.sum(axis=0, keepdims=True)
    return (w / L**alpha)[:, None] / P[None, :] * lam ** (1.0 / (sigma - 1.0))


def fit_migration_costs(params: Params, numerics: Numerics, target: np.ndarray, *,
                        xi: float = 1.0, tol: float = 1e-8, max_iter: int = 500,
                        warm_start: Solution | None = None) -> tuple[Params, Solution]:
    """chi by B.11, chi_new = xi (mu_data / mu_model) chi + (1 - xi) chi, to max |dmu| <= tol.

    Rows are rescaled so chi_jj = 1 after each update (only chi_jk / chi_jj
    matters). ``params`` is solved as given (any closure); ``target`` is a
    (J, J) migration matrix with positive entries and rows summing to one.
    """
    target = np.asarray(target, dtype=np.float64)
    sol = warm_start
    for it in range(1, max_iter + 1):
        sol = solve(params, numerics, warm_start=sol)
        model = sol.migration_matrix()
        gap = float(np.max(np.abs(model - target)))
        if gap <= tol:
            return params, sol
        chi = xi * target / model * params.chi + (1.0 - xi) * params.chi
        chi = chi / np.diag(chi)[:, None]
        np.fill_diagonal(chi, 1.0)
        params = params.with_(chi=chi)
        logger.debug("B.11 iteration %d: max migration gap %.3e", it, gap)
    raise SolverConvergenceError("migration-cost fit (B.11) did not converge",
                                 residuals={"migration": gap}, n_iter=max_iter)


def calibrate_beta(params: Params, numerics: Numerics, bracket=(0.9, None),
                   warm_start: Solution | None = None) -> tuple[Params, Solution]:
    """beta such that assets clear (sum a dphi = 0) at the given r (closure 'partial').

    Assets rise with beta; the upper end defaults to just below 1 / (omega (1 + r)).
    """
    hi = bracket[1] if bracket[1] is not None else (1.0 - 1e-6) / (params.omega * (1 + params.r))
    return _root(params, numerics, "beta", (bracket[0], hi),
                 lambda s: s.aggregate_assets, warm_start)


def calibrate_borrowing_limit(params: Params, numerics: Numerics, mpc_target: float,
                              bracket=(-5.0, -1e-3),
                              warm_start: Solution | None = None) -> tuple[Params, Solution]:
    """a_low such that mpc_mean (see the module docstring) equals ``mpc_target``."""
    return _root(params, numerics, "a_low", bracket,
                 lambda s: s.moments()["mpc_mean"] - mpc_target, warm_start)


def calibrate_beta_and_limit(params: Params, numerics: Numerics, mpc_target: float,
                             beta_bracket=(0.9, None), a_low_bracket=(-5.0, -1e-3),
                             warm_start: Solution | None = None) -> tuple[Params, Solution]:
    """a_low so that mpc_mean = target, with beta re-cleared at every a_low (nested roots)."""
    found: dict[float, tuple[Params, Solution]] = {}
    last = [warm_start]

    def with_limit(a_low: float) -> tuple[Params, Solution]:
        out = calibrate_beta(params.with_(a_low=float(a_low)), numerics, beta_bracket,
                             warm_start=last[0])
        found[float(a_low)] = out
        last[0] = out[1]
        return out

    def gap(sol: Solution) -> float:
        return sol.moments()["mpc_mean"] - mpc_target

    x = _solve_1d(lambda a: gap(with_limit(a)[1]), params.a_low, a_low_bracket)
    return found[x] if x in found else with_limit(x)


def _root(params, numerics, name, bracket, gap, warm_start):
    """Brent on one parameter; each evaluation warm-starts from the previous solution."""
    cache: dict[float, Solution] = {}
    last = [warm_start]

    def f(x: float) -> float:
        sol = solve(params.with_(**{name: float(x)}), numerics, warm_start=last[0])
        cache[float(x)] = last[0] = sol
        return float(gap(sol))

    x = _solve_1d(f, float(getattr(params, name)), bracket)
    sol = cache.get(x) or solve(params.with_(**{name: x}), numerics, warm_start=last[0])
    return params.with_(**{name: x}), sol


def _solve_1d(f, x0: float, bracket) -> float:
    lo, hi = _bracket_around(f, x0, *bracket)
    f_lo, f_hi = f(lo), f(hi)
    if np.sign(f_lo) == np.sign(f_hi):
        # evaluations warm-start from each other, so values within solver noise of
        # zero can carry either sign: accept an endpoint that is that close
        if min(abs(f_lo), abs(f_hi)) <= 1e-6:
            return lo if abs(f_lo) < abs(f_hi) else hi
        raise SolverConvergenceError(f"calibration target not bracketed on [{lo:.6g}, {hi:.6g}]",
                                     residuals={"gap_lo": f_lo, "gap_hi": f_hi})
    return float(brentq(f, lo, hi, xtol=1e-13, rtol=4.0 * np.finfo(float).eps))


def _bracket_around(f, x0: float, lo: float, hi: float, step: float = 1e-3):
    """A sign-changing bracket stepping from x0 downhill in |f| (steps x4), else (lo, hi)."""
    if not lo < x0 < hi:
        return lo, hi
    f0 = f(x0)
    x1 = min(x0 + step, hi)
    f1 = f(x1)
    if np.sign(f1) != np.sign(f0):
        return x0, x1
    direction = 1.0 if abs(f1) < abs(f0) else -1.0
    prev, d = (x1 if direction > 0 else x0), 4.0 * step
    for _ in range(20):
        x2 = min(max(x0 + direction * d, lo), hi)
        if np.sign(f(x2)) != np.sign(f0):
            return (prev, x2) if x2 > prev else (x2, prev)
        if x2 in (lo, hi):
            break
        prev, d = x2, d * 4.0
    return lo, hi
