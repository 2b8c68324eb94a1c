"""Fixed points and roots with convergence diagnostics.

``fixed_point`` iterates x <- (1 - damping) x + damping f(x) and records the
residual history; ``solve_root`` wraps ``scipy.optimize.root`` (Newton-type
``hybr``/``lm`` with an analytic Jacobian if given, ``broyden1``, ``anderson``,
``krylov``). Both raise ``SolverConvergenceError`` with the residual and the
iteration count instead of returning an unconverged answer, unless asked not to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..errors import SolverConvergenceError
from ..validation import Checker


@dataclass(frozen=True, slots=True)
class FixedPointResult:
    x: np.ndarray
    converged: bool
    n_iter: int
    residual: float
    history: tuple[float, ...]


def fixed_point(
    f: Callable[[np.ndarray], np.ndarray],
    x0,
    *,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    damping: float = 1.0,
    relative: bool = False,
    raise_on_failure: bool = True,
    name: str = "fixed point",
) -> FixedPointResult:
    """Damped iteration to x = f(x).

    The residual is max |f(x) - x| (divided by max(|x|, 1) elementwise when
    ``relative``). Stops when it is below ``tol``; a non-finite residual stops
    at once.
    """
    check = Checker("fixed_point")
    check.check_scalar(tol, "tol", gt=0.0)
    check.check_scalar(max_iter, "max_iter", ge=1, integer=True)
    check.check_scalar(damping, "damping", gt=0.0, le=1.0)
    check.done()
    x = np.array(x0, dtype=np.float64, copy=True)
    history: list[float] = []
    for it in range(1, max_iter + 1):
        fx = np.asarray(f(x), dtype=np.float64)
        diff = np.abs(fx - x)
        if relative:
            diff = diff / np.maximum(np.abs(x), 1.0)
        res = float(np.max(diff)) if diff.size else 0.0
        history.append(res)
        if not np.isfinite(res):
            break
        x = (1.0 - damping) * x + damping * fx
        if res < tol:
            return FixedPointResult(x, True, it, res, tuple(history))
    result = FixedPointResult(x, False, len(history), history[-1], tuple(history))
    if raise_on_failure:
        raise SolverConvergenceError(
            f"{name} did not converge", residuals={"max_abs_step": result.residual},
            n_iter=result.n_iter)
    return result


def solve_root(
    F: Callable[[np.ndarray], np.ndarray],
    x0,
    *,
    jac: Callable[[np.ndarray], np.ndarray] | None = None,
    method: str = "hybr",
    tol: float = 1e-10,
    max_iter: int | None = None,
    raise_on_failure: bool = True,
    name: str = "root",
) -> FixedPointResult:
    """Solve F(x) = 0 with ``scipy.optimize.root``; converged means max|F(x)| <= tol."""
    methods = {"hybr", "lm", "broyden1", "broyden2", "anderson", "krylov", "df-sane"}
    check = Checker("solve_root")
    check.require(method in methods, "method", f"must be one of {sorted(methods)}", method)
    check.check_scalar(tol, "tol", gt=0.0)
    check.done()
    options: dict = {}
    if max_iter is not None:
        key = "maxfev" if method in {"hybr", "lm"} else "maxiter"
        options[key] = int(max_iter)
    if method in {"hybr", "lm"}:
        options["xtol"] = min(tol, 1e-12)
    else:
        options["fatol"] = tol
    x0 = np.asarray(x0, dtype=np.float64)
    sol = optimize.root(F, x0, jac=jac if method in {"hybr", "lm"} else None,
                        method=method, options=options)
    resid = float(np.max(np.abs(F(sol.x)))) if x0.size else 0.0
    n_iter = int(getattr(sol, "nfev", 0) or getattr(sol, "nit", 0))
    ok = bool(np.isfinite(resid) and resid <= tol)
    result = FixedPointResult(np.asarray(sol.x), ok, n_iter, resid, (resid,))
    if raise_on_failure and not ok:
        raise SolverConvergenceError(
            f"{name} did not converge ({method}: {sol.message})",
            residuals={"max_abs_residual": resid}, n_iter=n_iter)
    return result
