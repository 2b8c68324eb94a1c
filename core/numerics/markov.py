"""Finite Markov chains for income processes: Tauchen, Rouwenhorst, stationary distributions.

Both discretisations approximate the AR(1) ``y' = rho y + eps``, ``eps ~ N(0, sigma_eps^2)``
and return ``(grid, Pi)`` with ``Pi[i, k] = Pr(y' = grid[k] | y = grid[i])``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from ..validation import Checker

_ROW_TOL = 1e-10


def tauchen(n: int, rho: float, sigma_eps: float, width: float = 3.0):
    """Tauchen (1986): n equally spaced points on +-width unconditional s.d.

    The unconditional s.d. is ``sigma_eps / sqrt(1 - rho^2)``; interior cells
    take the normal mass within half a step of each point, the end cells the
    tails. Returns ``(grid, Pi)``.
    """
    check = _check_ar1("tauchen", n, rho, sigma_eps)
    check.check_scalar(width, "width", gt=0.0)
    check.done()
    sd_y = sigma_eps / np.sqrt(1.0 - rho**2)
    grid = np.linspace(-width * sd_y, width * sd_y, n)
    if sigma_eps == 0.0:
        return grid * 0.0, np.eye(n)
    half = 0.5 * (grid[1] - grid[0])
    mean = rho * grid[:, None]
    upper = ndtr((grid[None, :] + half - mean) / sigma_eps)
    lower = ndtr((grid[None, :] - half - mean) / sigma_eps)
    Pi = upper - lower
    Pi[:, 0] = upper[:, 0]
    Pi[:, -1] = 1.0 - lower[:, -1]
    Pi /= Pi.sum(axis=1, keepdims=True)
    return grid, Pi


def rouwenhorst(n: int, rho: float, sigma_eps: float):
    """Rouwenhorst (Kopecky-Suen 2010): exact conditional mean and variance of the AR(1).

    Points are equally spaced on +-sqrt(n - 1) unconditional s.d. Returns ``(grid, Pi)``.
    """
    check = _check_ar1("rouwenhorst", n, rho, sigma_eps)
    check.done()
    p = 0.5 * (1.0 + rho)
    Pi = np.array([[p, 1.0 - p], [1.0 - p, p]])
    for m in range(3, n + 1):
        big = np.zeros((m, m))
        big[:-1, :-1] += p * Pi
        big[:-1, 1:] += (1.0 - p) * Pi
        big[1:, :-1] += (1.0 - p) * Pi
        big[1:, 1:] += p * Pi
        big[1:-1, :] /= 2.0
        Pi = big
    sd_y = sigma_eps / np.sqrt(1.0 - rho**2)
    grid = np.linspace(-1.0, 1.0, n) * np.sqrt(n - 1.0) * sd_y
    return grid, Pi


def markov_stationary(Pi) -> np.ndarray:
    """The stationary distribution pi = pi Pi of a stochastic matrix (unique if irreducible).

    Solves the linear system with one balance equation replaced by sum(pi) = 1;
    raises ``InvalidParamsError`` if Pi is not a square stochastic matrix.
    """
    check = Checker("markov_stationary")
    P = check.check_array(Pi, "Pi", ndim=2, ge=0.0)
    if P is not None:
        check_stochastic(check, "Pi", P)
    check.done()
    n = P.shape[0]
    A = P.T - np.eye(n)
    A[-1, :] = 1.0
    b = np.zeros(n)
    b[-1] = 1.0
    pi = np.linalg.solve(A, b)
    pi = np.maximum(pi, 0.0)
    return pi / pi.sum()


def check_stochastic(check: Checker, name: str, P: np.ndarray) -> bool:
    """Record a violation unless P is square with rows summing to one (to 1e-10)."""
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        check.fail(name, "must be a square matrix", f"shape {P.shape}")
        return False
    rows = P.sum(axis=1)
    bad = np.flatnonzero(np.abs(rows - 1.0) > _ROW_TOL)
    if bad.size:
        check.fail(f"{name}[{int(bad[0])}]", "rows must sum to 1 (stochastic matrix)",
                   float(rows[bad[0]]))
        return False
    return True


def _check_ar1(owner: str, n, rho, sigma_eps) -> Checker:
    check = Checker(owner)
    check.check_scalar(n, "n", ge=2, integer=True)
    check.check_scalar(rho, "rho", gt=-1.0, lt=1.0)
    check.check_scalar(sigma_eps, "sigma_eps", ge=0.0)
    return check
