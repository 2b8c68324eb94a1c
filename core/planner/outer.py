"""The planner's outer problem: multipliers (w, L) with P from CES (B.48)-(B.50).

Unknowns x = (log w_1..J, log(L_2/L_1)..log(L_J/L_1)): the planner's (w, P)
are Lagrange multipliers in welfare units, so there is no numeraire (unlike
the status quo's w_1 = 1); L = softmax(0, x_L) sums to one. P and the
expenditure shares come from the workhorse's goods block (``goods.price_index``,
B.48). Residuals, one inner solve each:

    goods_i = log(sum_j lam_ij E_j / (w_i L_i)),  E_j = P_j int C_j dphi_j,  i = 1..J
              (B.49; its "(1 - xi) w_j" is w_i, a typo)
    pop_j   = log(int dphi_j / L_j),                                       j = 2..J  (B.50)

solved by ``numerics.newton`` (quasi-Newton with Broyden updates). The
second best's Jacobian is the first best's by forward differences (the first
best is grid-free and costs milliseconds per evaluation): a model Jacobian that
Broyden's updates then correct. The history-independent allocation uses its
own difference Jacobian (grid-free too; the first best's differs from it in sign
in places and Newton stalled with it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import SolverConvergenceError
from ..incomplete_markets.goods import price_index
from ..numerics.newton import newton_solve
from .params import Numerics, Params
from .steady import first_best


def prices(params: Params, x: np.ndarray):
    """(w, L, P, lam) at x (module docstring)."""
    J = params.n_loc
    w = np.exp(x[:J])
    z = np.r_[0.0, x[J:]]
    L = np.exp(z - z.max())
    L /= L.sum()
    P, lam = price_index(params.A, w, L, params.sigma_trade, params.alpha_agg)
    return w, L, P, lam


def residual(params: Params, x: np.ndarray, aggregates: Callable) -> np.ndarray:
    """F(x) given ``aggregates(w, P) -> (population (J,), spending E (J,))``."""
    w, L, P, lam = prices(params, x)
    pop, E = aggregates(w, P)
    goods = np.log(lam @ E / (w * L))
    return np.r_[goods, np.log(pop[1:] / L[1:])]


def fb_aggregates(params: Params, numerics: Numerics):
    """The first best's (population, spending) at multipliers (w, P)."""
    def agg(w, P):
        a = first_best(params, numerics, w, P)
        return a.L, P * a.C * a.L
    return agg


def fb_jacobian(params: Params, numerics: Numerics, x: np.ndarray, step: float = 1e-6):
    """Forward-difference Jacobian of the first best's residual at x."""
    fbp = params.with_(allocation="first_best") if params.allocation != "first_best" else params
    return own_jacobian(fbp, fb_aggregates(fbp, numerics), x, step)


def own_jacobian(params: Params, aggregates: Callable, x: np.ndarray, step: float = 1e-6):
    """Forward-difference Jacobian of the allocation's own residual (cheap inner solves
    only: the history-independent allocation, whose response to P differs from the
    first best's in sign in places)."""
    F0 = residual(params, x, aggregates)
    Jm = np.empty((F0.size, x.size))
    for k in range(x.size):
        xk = x.copy()
        xk[k] += step
        Jm[:, k] = (residual(params, xk, aggregates) - F0) / step
    return Jm


def solve_outer(params: Params, numerics: Numerics, x0: np.ndarray, aggregates: Callable,
                name: str, own: bool = False, jac0: np.ndarray | None = None,
                inexact: InexactInner | None = None):
    """Newton on the residual block from x0 (Jacobian: ``jac0``, e.g. a neighbour's at
    its solution, else the first best's, or the allocation's own by differences when
    ``own``); returns the NewtonResult or raises. ``inexact``: the inner solves'
    tolerance follows |F| (``InexactInner``); x is accepted only at an evaluation
    made with the full inner tolerance."""
    tol = numerics.tol_outer
    last_error = [""]
    last_x = [None]

    def F(x):
        last_x[0] = x.copy()
        try:
            Fx = residual(params, x, aggregates)
        except SolverConvergenceError as err:  # not admissible: the line search backtracks
            last_error[0] = f"; last inner failure: {err}"
            return None
        if inexact is not None:
            inexact.observe(float(np.max(np.abs(Fx))))
        return Fx

    def done(x, Fx, dx):
        if float(np.max(np.abs(Fx))) > tol:
            return False
        if inexact is not None and not (inexact.exact() and np.array_equal(x, last_x[0])):
            # newton_solve evaluates x again, now exactly
            inexact.tighten()
            return False
        return True

    def jac(x):
        return own_jacobian(params, aggregates, x) if own else fb_jacobian(params, numerics, x)

    # With the first best's Jacobian as a model, replacing it whenever a step cuts |F|
    # by less than half threw away Broyden's corrections: from the status quo's
    # populations in the synthetic AL-MA-WA economy the second best then crawled at
    # |F| x 0.88 per step (1.2e-4 after 40 steps). Keep the updated Jacobian while
    # |F| falls; a fresh model only when a step fails to reduce it.
    res = newton_solve(F, x0, jac, done=done, jac0=jac0,
                       max_iter=numerics.max_iter_outer, max_step=1.0,
                       refresh=0.5 if own else 1.0)
    if not res.converged:
        raise SolverConvergenceError(
            f"{name}: outer problem (w, L) did not converge ({res.message}{last_error[0]})",
            residuals={"max_abs_residual": float(np.max(np.abs(res.F)))}, n_iter=res.n_iter)
    return res


class InexactInner:
    """The inner tolerance of an inexact Newton on the outer problem: while |F| is
    large an inner solve need not be exact, only accurate next to |F| (``eta`` |F|,
    never above ``loosest``, never below the full ``tol_inner``); the point accepted
    is one evaluated at the full tolerance (``tighten``: the next evaluation is
    exact). Changes only where the inner iteration stops on the way, not the answer.
    ``tol`` is what the next inner solve uses; ``used`` what the last one used."""

    def __init__(self, tol_inner: float, eta: float = 1e-3, loosest: float = 1e-6):
        self.full, self.eta, self.loosest = tol_inner, eta, loosest
        self.tol = max(loosest, tol_inner)
        self.used = self.tol
        self.redo = False  # tightened: the point just evaluated is evaluated again

    def observe(self, F_norm: float) -> None:
        self.tol = min(self.loosest, max(self.full, self.eta * F_norm))

    def exact(self) -> bool:
        return self.used <= self.full

    def tighten(self) -> None:
        self.tol, self.redo = self.full, True

    def take(self, same_point: bool) -> float | None:
        """The tolerance of the next inner solve, None if the last evaluation (at the
        same point) stands."""
        if same_point and not (self.redo and self.used > self.full):
            return None
        self.redo = False
        self.used = self.tol
        return self.tol


def start_from(w: np.ndarray, L: np.ndarray) -> np.ndarray:
    return np.r_[np.log(w), np.log(L[1:] / L[0])]
