"""The root of an increasing scalar function whose values come from an inexact inner solver.

``increasing_root(f, x0, lo, hi, tol=..., step=...)`` finds x in (lo, hi) with
f(x) = 0 to a bracket of width ``tol``, for f increasing, where each value of f
costs an inner solve whose accuracy the caller controls (the workhorse's excess
asset supply as a function of r: a household solve per value). Three phases:

1. ``bracket_root``: overshooting secant steps from x0 until f changes sign
   (the first step Newton with a known ``slope``, else ``step``); no step goes
   more than half way to the edge of (lo, hi).
2. ``f.tighten()``: the caller tightens its inner solves for the final bracket
   (a bracket of width tol means something only if the inner solver's error
   in f is below tol times the slope), then ``f.confirm`` re-evaluates the
   bracket's ends at that accuracy; if a sign changed, bracket again from there.
3. ``refine_bracket``: safeguarded secant steps down to width tol.

Why not ``scipy.optimize.brentq``: it cannot start from a point and a slope (a
warm start), does not let the evaluation's accuracy follow the bracket, and a
wrong sign from an inexact value sends it to the wrong end; here the caller's
``f`` decides, per value, how accurately to solve.

``f`` is any object with ``__call__(x) -> float`` (cached by the caller: values
at the same x are not solved again), ``confirm(x) -> float``, ``tighten()``,
and the attributes ``slope`` (a recent difference quotient, used to re-bracket)
and ``calls`` (inner solves so far, reported on failure).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..errors import SolverConvergenceError


class InexactIncreasing(Protocol):
    slope: float
    calls: int

    def __call__(self, x: float) -> float: ...

    def confirm(self, x: float) -> float: ...

    def tighten(self) -> None: ...


def increasing_root(f: InexactIncreasing, x0: float, lo: float, hi: float, *, tol: float,
                    step: float, rebracket_step: float | None = None,
                    slope: float | None = None, max_iter: int = 200, rebrackets: int = 5,
                    what: str = "the function", hint: str = "") -> float:
    """x with f(x) = 0 to a bracket of width ``tol``: the end with the smaller |f| (module
    docstring). ``rebracket_step``: the first step when a confirmed end changed sign
    (default ``step``); ``what`` and ``hint`` go into the error messages."""
    a, b = bracket_root(f, x0, lo, hi, step, slope, what, hint)
    f.tighten()
    for _ in range(rebrackets):
        # the ends were evaluated loosely: at the tightened accuracy a small value may
        # change sign, and then the root lies outside [a, b]
        fa, fb = f.confirm(a), f.confirm(b)
        if fa <= 0.0 <= fb:
            break
        a, b = bracket_root(f, a if fa > 0.0 else b, lo, hi,
                            step if rebracket_step is None else rebracket_step, f.slope,
                            what, hint)
    else:
        raise SolverConvergenceError(
            f"the bracket of the root of {what} kept changing under tighter inner solves",
            residuals={"bracket_width": b - a}, n_iter=f.calls)
    a, b = refine_bracket(f, a, b, tol, max_iter, what)
    return a if abs(f(a)) <= abs(f(b)) else b


def bracket_root(f: InexactIncreasing, x0: float, lo: float, hi: float, step: float,
                 slope: float | None, what: str = "the function",
                 hint: str = "") -> tuple[float, float]:
    """(a, b) with f(a) <= 0 <= f(b), by overshooting secant steps from x0.

    The first step is Newton with ``slope`` when given (a warm start), else
    ``step``; later steps extrapolate the secant 10% past its root. No step goes
    more than half way to the edge of (lo, hi).
    """
    x0, f0 = x0, f(x0)
    up = f0 < 0.0
    edge = hi if up else lo
    have_slope = slope is not None and np.isfinite(slope) and slope > 0.0
    move = -1.1 * f0 / slope if have_slope else (step if up else -step)
    for _ in range(60):
        if f0 == 0.0:
            return x0, x0
        # at least a few ulps of x (a tiny value near the root), at most half way to the edge
        move = np.sign(edge - x0) * min(max(abs(move), 4.0 * np.spacing(abs(x0))),
                                        0.5 * abs(edge - x0))
        x1 = x0 + move
        if x1 == x0:  # at the edge of the interval
            break
        f1 = f(x1)
        if (f1 >= 0.0) == up:
            return (x0, x1) if up else (x1, x0)
        secant = (f1 - f0) / (x1 - x0)
        move = -1.1 * f1 / secant if secant > 0.0 else 4.0 * move
        move = np.sign(move) * max(abs(move), abs(x1 - x0)) if secant <= 0.0 else move
        x0, f0 = x1, f1
    raise SolverConvergenceError(
        f"{what} does not change sign on [{lo:.6g}, {hi:.6g}]" + (f" ({hint})" if hint else ""),
        residuals={"value_last": f0}, n_iter=f.calls)


def refine_bracket(f: InexactIncreasing, a: float, b: float, tol: float, max_iter: int,
                   what: str = "the function") -> tuple[float, float]:
    """Shrink the bracket [a, b] to width tol by safeguarded secant steps.

    Candidates: the secant through the two latest points, else false position
    on the bracket; bisection after three steps that each failed to halve the
    smallest |f| seen. A candidate within tol of the latest point moves to 0.99
    tol from it, towards the root, so an accurate estimate closes the bracket in
    one more evaluation; candidates stay 0.49 tol inside the bracket.
    """
    pts = [(a, f(a)), (b, f(b))]
    stalls = 0
    for _ in range(max_iter):
        if b - a <= tol:
            return a, b
        (x0, f0), (x1, f1) = pts[-2], pts[-1]
        x = x1 - f1 * (x1 - x0) / (f1 - f0) if f1 != f0 else np.nan
        if not a < x < b:
            fa, fb = f(a), f(b)
            x = (a * fb - b * fa) / (fb - fa)
        if stalls >= 3:
            x, stalls = 0.5 * (a + b), 0
        x1 = pts[-1][0]
        if abs(x - x1) < tol:  # force a step just across the root from the latest point
            x = x1 + 0.99 * tol if x1 == a else x1 - 0.99 * tol
        margin = 0.49 * tol
        x = min(max(x, a + margin), b - margin)
        fx = f(x)
        if fx == 0.0:
            return x, x
        a, b = (x, b) if fx < 0.0 else (a, x)
        stalls = stalls + 1 if abs(fx) > 0.5 * min(abs(v) for _, v in pts) else 0
        pts.append((x, fx))
    raise SolverConvergenceError(
        f"the root search of {what} did not converge",
        residuals={"bracket_width": b - a, "value_at_lower_end": f(a)}, n_iter=f.calls)
