"""beta recalibrated to a wealth-income ratio, as the paper does in every economy.

Huggett and Kaplan (2015, papers/004, section 4) set beta "in every case" so that the
steady-state ratio of wealth to income is 3.5. ``calibrate_beta(params, numerics, target)``
finds that beta for any life-cycle economy (``Params`` with a number for beta, or
``MarkovParams``) by a bracketed root-find on the moment ``wealth_income_ratio``
(``result.MOMENTS``: savings over earnings of simulated survivors), which rises with beta:
more patient agents save more. The simulation uses ``numerics.seed`` at every beta
(common random numbers), so the ratio is a deterministic, continuous function of beta.

The root is sought in log(ratio / target) on [``numerics.beta_lower``,
``numerics.beta_upper``] (beta < 1: the aggregator weighs consumption by 1 - beta):

1. from the economy's own beta (clipped into the interval), steps of 0.01, doubling,
   towards the target until the gap changes sign; if an end of the interval is reached
   first, the target is out of reach there and ``SolverConvergenceError`` says which end
   and the ratio at it;
2. Illinois-modified regula falsi inside the bracket until |ratio / target - 1| <=
   ``numerics.calibration_tol``.

Each evaluation is a full solve and a simulation of the age profiles (about 3 CPU s at
the sweep configs' reduced size; a calibrated solve takes 5-8 of them).
"""

from __future__ import annotations

import dataclasses
import logging
import math

from ..errors import SolverConvergenceError
from .params import MarkovParams, Numerics, Params
from .result import LifeCycle
from .solve import solve

logger = logging.getLogger(__name__)

#: The first bracketing step in beta (doubled at every step that keeps the sign).
FIRST_STEP = 0.01


def calibrate_beta(params: Params | MarkovParams, target: float,
                   numerics: Numerics | None = None) -> LifeCycle:
    """The solution at the beta whose ``wealth_income_ratio`` is ``target`` (module doc).

    Its ``params`` carry that beta; ``residuals`` add ``wealth_income_gap``, the ratio
    over the target minus one. Raises ``SolverConvergenceError`` when the target cannot
    be bracketed in [beta_lower, beta_upper] or the search does not converge."""
    numerics = Numerics() if numerics is None else numerics
    if params.beta is None:
        raise ValueError("calibrate_beta needs a number for beta (its first guess), got None")
    if not (isinstance(target, (int, float)) and math.isfinite(target) and target > 0.0):
        raise ValueError(f"target must be a wealth-income ratio > 0, got {target!r}")
    gap = _Gap(params, numerics, float(target))
    lo, hi = numerics.beta_lower, numerics.beta_upper
    x0 = min(max(float(params.beta), lo), hi)
    if abs(gap(x0)) > gap.tol:
        a, b = _bracket(gap, x0, lo, hi)
        _illinois(gap, a, b)
    beta = gap.best
    sol = gap.solutions[beta]
    residuals = {**sol.residuals, "wealth_income_gap": math.expm1(gap.values[beta])}
    logger.debug("beta %.6f gives wealth/income %.4f (target %.4f) after %d solves", beta,
                 target * math.exp(gap.values[beta]), target, len(gap.values))
    return dataclasses.replace(sol, residuals=residuals)


class _Gap:
    """log(wealth_income_ratio / target) as a function of beta; keeps every solution."""

    def __init__(self, params, numerics: Numerics, target: float):
        self.params, self.numerics, self.target = params, numerics, target
        self.tol = math.log1p(numerics.calibration_tol)
        self.values: dict[float, float] = {}
        self.solutions: dict[float, LifeCycle] = {}

    def __call__(self, beta: float) -> float:
        if beta not in self.values:
            sol = solve(self.params.with_(beta=beta), self.numerics)
            ratio = sol.wealth_income_ratio()
            if not (math.isfinite(ratio) and ratio > 0.0):
                raise SolverConvergenceError(
                    f"human_capital: wealth_income_ratio is {ratio!r} at beta {beta:.6g} "
                    "(no savings or earnings among the simulated agents)",
                    residuals={"beta": beta})
            self.values[beta] = math.log(ratio / self.target)
            self.solutions[beta] = sol
        return self.values[beta]

    @property
    def best(self) -> float:
        return min(self.values, key=lambda b: abs(self.values[b]))

    def ratio(self, beta: float) -> float:
        return self.target * math.exp(self.values[beta])


def _bracket(gap: _Gap, x0: float, lo: float, hi: float) -> tuple[float, float]:
    """(a, b), a < b, with gap changing sign between them (step 1 of the module doc)."""
    f0 = gap(x0)
    direction = -1.0 if f0 > 0.0 else 1.0  # the ratio rises with beta
    end = lo if direction < 0 else hi
    x, step = x0, FIRST_STEP
    while x != end:
        x_new = min(max(x + direction * step, lo), hi)
        if abs(gap(x_new)) <= gap.tol or (gap(x_new) > 0.0) != (f0 > 0.0):
            return (x_new, x) if x_new < x else (x, x_new)
        x, step = x_new, 2.0 * step
    which = "lowest" if direction < 0 else "highest"
    raise SolverConvergenceError(
        f"human_capital: wealth_income_target {gap.target:g} cannot be bracketed with beta in "
        f"[{lo:g}, {hi:g}]: wealth_income_ratio is {gap.ratio(end):.4g} at the {which} "
        f"beta {end:g} (numerics beta_lower, beta_upper; beta must stay < 1)",
        residuals={"wealth_income_gap": math.expm1(gap(end))}, n_iter=len(gap.values))


def _illinois(gap: _Gap, a: float, b: float, max_iter: int = 60) -> None:
    """Regula falsi with the Illinois halving until |gap| <= tol at some evaluated beta."""
    fa, fb = gap(a), gap(b)
    side = 0
    for _ in range(max_iter):
        if min(abs(fa), abs(fb)) <= gap.tol:
            return
        if b - a < 1e-12:  # the ratio jumps across the target: no beta gives it
            break
        x = b - fb * (b - a) / (fb - fa)
        if not a < x < b:
            x = 0.5 * (a + b)
        fx = gap(x)
        if (fx > 0.0) == (fb > 0.0):
            b, fb = x, fx
            if side == 1:
                fa *= 0.5
            side = 1
        else:
            a, fa = x, fx
            if side == -1:
                fb *= 0.5
            side = -1
        if abs(fx) <= gap.tol:
            return
    raise SolverConvergenceError(
        f"human_capital: beta calibration to wealth_income_target {gap.target:g} did not "
        f"converge in [{a:.8g}, {b:.8g}]",
        residuals={"wealth_income_gap": math.expm1(gap(gap.best))}, n_iter=len(gap.values))
