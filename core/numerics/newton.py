"""Globalised quasi-Newton root finding for residual blocks with costly, noisy evaluations.

``newton_solve(residual, x0, jacobian, done=...)`` finds F(x) = 0 by Newton steps
dx = -J^{-1} F with a backtracking (Armijo) line search on 0.5 |F|^2. The Jacobian
comes from ``jacobian(x)`` (analytic or finite differences: expensive) or a
start ``jac0`` (e.g. a nearby solution's), and is kept up to date between
fresh evaluations by Broyden's rank-one update. A fresh Jacobian is computed when
a step with an updated one does not cut |F| by ``refresh`` or its line search
fails. Where the Jacobian is nearly singular the Newton direction can be
useless (its line search ends with a tiny step or none: seen in a two-location
economy whose Newton steps stalled at |F| = 0.71 with step lengths 0.01); with a
fresh Jacobian the solver then also tries Levenberg-Marquardt steps (J'J + mu I)
dx = -J'F for growing mu, which bend towards steepest descent, and keeps the
better point. If neither decreases |F|, the solve ends.

Why not ``scipy.optimize.root``: its methods stop on their own tests of |F| or
the step, which cannot know that F is evaluated by an inner solver whose error
bounds the reachable |F| (the caller's ``done`` does), and they neither reuse
a Jacobian across solves nor accept "no value here" (None) from the residual
for a point outside the admissible set, which this line search backtracks from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)

ARMIJO = 1e-4
MIN_STEP = 2.0**-12
POOR_STEP = 0.1  # a line search that ends below this tries Levenberg-Marquardt steps too


@dataclass
class NewtonResult:
    """Outcome: ``x``, ``F`` (the residual at x), the Jacobian in use at x (Broyden-
    updated), the last fresh one (``jacobian(x)`` or jac0: Broyden's updates keep
    the steps' directions right, not the others, so this is the better start for a
    nearby problem), whether ``done`` accepted x, a reason when not, and
    per-iteration records (|F|_inf, step length taken, whether the Jacobian was fresh)."""

    x: np.ndarray
    F: np.ndarray
    jacobian: np.ndarray
    converged: bool
    message: str
    fresh_jacobian: np.ndarray | None = None
    n_iter: int = 0
    n_jacobians: int = 0
    history: list[tuple[float, float, bool]] = field(default_factory=list)


def newton_solve(residual: Callable[[np.ndarray], np.ndarray | None], x0: np.ndarray,
                 jacobian: Callable[[np.ndarray], np.ndarray], *,
                 done: Callable[[np.ndarray, np.ndarray, np.ndarray], bool],
                 jac0: np.ndarray | None = None, jac0_fresh: bool = False,
                 max_iter: int = 50, refresh: float = 0.5,
                 max_step: float = np.inf, update: Callable | None = None) -> NewtonResult:
    """Root of ``residual`` from x0; see the module docstring.

    residual(x) returns F(x) or None where x is not admissible (the line search
    then backtracks). jacobian(x) returns dF/dx at the last point evaluated.
    done(x, F, dx) says whether x is a root to the caller's tolerances given the
    Newton step dx there; it may evaluate x again more accurately, and residual(x)
    is then read again. ``jac0_fresh``: jac0 is the Jacobian at x0 itself (not to
    be recomputed when the first line search fails). Never raises for
    non-convergence: the caller reads ``converged`` and ``message``. ``max_step``
    caps max |dx| of a step (the line search starts from the capped step).
    ``update(x, F, x_new, F_new, J)`` replaces Broyden's update of J after a step
    (a block that knows its structure updates only its costly part).
    """
    x = np.array(x0, dtype=float)
    F = residual(x)
    if F is None:
        return NewtonResult(x, np.full(x.shape, np.nan), np.eye(x.size), False,
                            "the starting point is not admissible")
    result = NewtonResult(x, F, np.eye(x.size), False, "")
    fresh = jac0 is None or jac0_fresh
    Jm = jacobian(x) if jac0 is None else np.array(jac0, dtype=float)
    result.n_jacobians += jac0 is None
    result.fresh_jacobian = Jm
    for it in range(max_iter):
        result.n_iter = it
        dx = _newton_step(Jm, F)
        result.x, result.F, result.jacobian = x, F, Jm
        if dx is not None and done(x, F, dx):
            result.converged, result.message = True, "converged"
            return result
        # ``done`` may have evaluated x more accurately (and a residual whose accuracy
        # follows |F| may do so now that |F| at x is known)
        F_again = residual(x)
        if F_again is not None and not np.array_equal(F_again, F):
            F, dx = F_again, _newton_step(Jm, F_again)
            result.F = F
            if dx is not None and done(x, F, dx):
                result.converged, result.message = True, "converged"
                return result
        if dx is not None:
            dx = _capped(dx, max_step)
        step = None if dx is None else _line_search(residual, x, F, dx)
        if fresh and (step is None or step[0] < POOR_STEP):
            step = _best(step, _levenberg_marquardt(residual, x, F, Jm, max_step))
        if step is None and not fresh:
            logger.debug("newton %d: no descent with the updated Jacobian; fresh one", it)
            Jm, fresh = jacobian(x), True
            result.n_jacobians += 1
            result.fresh_jacobian = Jm
            continue
        if step is None:
            result.message = ("singular Jacobian" if dx is None else
                              "line search failed with a fresh Jacobian")
            return result
        t, x_new, F_new = step
        result.history.append((float(np.max(np.abs(F_new))), t, fresh))
        logger.debug("newton %d: |F| %.3e -> %.3e (step %.3g, %s Jacobian)", it,
                     np.max(np.abs(F)), np.max(np.abs(F_new)), t,
                     "fresh" if fresh else "updated")
        Jm = (broyden_update(Jm, x_new - x, F_new - F) if update is None
              else update(x, F, x_new, F_new, Jm))
        fresh = False
        if np.linalg.norm(F_new) > refresh * np.linalg.norm(F):
            Jm, fresh = jacobian(x_new), True
            result.n_jacobians += 1
            result.fresh_jacobian = Jm
        x, F = x_new, F_new
    result.x, result.F, result.jacobian = x, F, Jm
    result.n_iter = max_iter
    result.message = f"no convergence in {max_iter} Newton steps"
    return result


def broyden_update(Jm: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Broyden's ("good") rank-one update: the least change with J_new s = y."""
    ss = float(s @ s)
    if not ss > 0.0:
        return Jm
    return Jm + np.outer(y - Jm @ s, s) / ss


def _capped(dx: np.ndarray, max_step: float) -> np.ndarray:
    return dx * min(1.0, max_step / max(float(np.max(np.abs(dx))), 1e-300))


def _best(a, b):
    """The step (t, x, F) with the smaller |F| (either may be None)."""
    if a is None or b is None:
        return a if b is None else b
    return a if float(a[2] @ a[2]) <= float(b[2] @ b[2]) else b


def _levenberg_marquardt(residual, x, F, Jm, max_step):
    """(1, x + dx, F there) for the first mu in 1e-6..1e2 (x diag(J'J) scale, tenfold steps)
    with a sufficient decrease of |F|^2, else None."""
    JtJ = Jm.T @ Jm
    g = Jm.T @ F
    scale = float(np.max(np.diag(JtJ)))
    phi0 = float(F @ F)
    for mu in 10.0 ** np.arange(-6.0, 3.0):
        try:
            dx = np.linalg.solve(JtJ + mu * scale * np.eye(x.size), -g)
        except np.linalg.LinAlgError:
            continue
        x_new = x + _capped(dx, max_step)
        F_new = residual(x_new)
        if F_new is not None and float(F_new @ F_new) <= (1.0 - 2.0 * ARMIJO) * phi0:
            return 1.0, x_new, F_new
    return None


def _newton_step(Jm: np.ndarray, F: np.ndarray) -> np.ndarray | None:
    try:
        dx = np.linalg.solve(Jm, -F)
    except np.linalg.LinAlgError:
        return None
    return dx if np.all(np.isfinite(dx)) else None


def _line_search(residual, x, F, dx):
    """(t, x + t dx, F there) with 0.5|F_new|^2 <= (1 - 2 ARMIJO t) 0.5|F|^2, halving t
    (quadratic interpolation when it suggests a smaller cut); None below MIN_STEP."""
    phi0 = 0.5 * float(F @ F)
    t = 1.0
    while t >= MIN_STEP:
        x_new = x + t * dx
        F_new = residual(x_new)
        if F_new is not None:
            phi = 0.5 * float(F_new @ F_new)
            if phi <= (1.0 - 2.0 * ARMIJO * t) * phi0:
                return t, x_new, F_new
            # minimiser of the quadratic through phi(0), phi'(0) = -2 phi0, phi(t)
            t_q = phi0 * t * t / (phi - phi0 + 2.0 * phi0 * t)
            t = min(0.5 * t, max(t_q, 0.1 * t))
        else:
            t *= 0.5
    return None
