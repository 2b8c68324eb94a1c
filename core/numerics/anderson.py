"""Anderson acceleration of a fixed-point iteration x = T(x) (type II, Walker-Ni 2011).

For contractions whose slow modes are few (a value function iteration that
contracts at the discount factor, where the slowest mode is a near-uniform
shift), mixing the last ``memory`` iterates by least squares on their residuals
cuts thousands of sweeps to tens. Safeguards: a step whose residual grows by
more than ``restart_factor`` over the best seen restarts the memory from the
plain step; a map that fails (returns None) at a mixed point restarts from the
last plain step, and ends the iteration at a plain one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class AndersonResult:
    x: np.ndarray
    converged: bool
    n_iter: int
    residual: float
    restarts: int


def anderson(T: Callable[[np.ndarray], np.ndarray | None], x0: np.ndarray, *, tol: float,
             max_iter: int, memory: int = 8, restart_factor: float = 1e3,
             norm: Callable[[np.ndarray], float] | None = None) -> AndersonResult:
    """Iterate to max |T(x) - x| <= tol (or ``norm(T(x) - x) <= tol``); never raises."""
    norm = norm or (lambda r: float(np.max(np.abs(r))))
    x = np.array(x0, dtype=float)
    dX: list[np.ndarray] = []
    dF: list[np.ndarray] = []
    x_prev = f_prev = None
    best = np.inf
    restarts = 0
    res = np.inf
    last_tx = None  # the latest plain step T(x), where a failed mixed point restarts
    for it in range(1, max_iter + 1):
        tx = T(x)
        if tx is None and last_tx is not None and x is not last_tx:
            x, x_prev = last_tx, None
            dX.clear()
            dF.clear()
            restarts += 1
            continue
        if tx is None:
            return AndersonResult(x, False, it, np.inf, restarts)
        last_tx = tx
        f = tx - x
        res = norm(f)
        if not np.isfinite(res):
            return AndersonResult(x, False, it, res, restarts)
        if res <= tol:
            return AndersonResult(tx, True, it, res, restarts)
        if res > restart_factor * best:
            dX.clear()
            dF.clear()
            restarts += 1
        best = min(best, res)
        if x_prev is not None:
            dX.append(x - x_prev)
            dF.append(f - f_prev)
            if len(dX) > memory:
                dX.pop(0)
                dF.pop(0)
        x_prev, f_prev = x, f
        if dF:
            Fm = np.stack(dF, axis=1)
            gamma, *_ = np.linalg.lstsq(Fm, f, rcond=None)
            x = tx - (np.stack(dX, axis=1) + Fm) @ gamma
        else:
            x = tx
    return AndersonResult(x, False, max_iter, res, restarts)
