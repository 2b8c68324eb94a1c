"""Grids for state variables (assets, productivity)."""

from __future__ import annotations

import numpy as np

from ..validation import Checker


def uniform_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """n equally spaced points from lo to hi inclusive."""
    _check_bounds("uniform_grid", lo, hi, n)
    return np.linspace(lo, hi, n)


def power_grid(lo: float, hi: float, n: int, curvature: float = 2.0) -> np.ndarray:
    """lo + (hi - lo) * s**curvature on s uniform in [0, 1]: dense near lo when curvature > 1.

    Asset grids want points near the borrowing limit, where policies bend.
    """
    check = _check_bounds("power_grid", lo, hi, n, finish=False)
    check.check_scalar(curvature, "curvature", gt=0.0)
    check.done()
    s = np.linspace(0.0, 1.0, n)
    grid = lo + (hi - lo) * s**curvature
    grid[-1] = hi
    return grid


def double_exponential_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """Points evenly spaced in log(log(a - lo + 1) + 1): denser near lo than a power grid."""
    _check_bounds("double_exponential_grid", lo, hi, n)
    top = np.log(np.log(hi - lo + 1.0) + 1.0)
    u = np.linspace(0.0, top, n)
    grid = lo + np.exp(np.exp(u) - 1.0) - 1.0
    grid[0], grid[-1] = lo, hi
    return grid


def _check_bounds(owner: str, lo, hi, n, finish: bool = True) -> Checker:
    check = Checker(owner)
    lo_v = check.check_scalar(lo, "lo")
    hi_v = check.check_scalar(hi, "hi")
    check.check_scalar(n, "n", ge=2, integer=True)
    if lo_v is not None and hi_v is not None:
        check.require(hi_v > lo_v, "hi", f"must be > lo = {lo_v:g}", hi_v)
    if finish:
        check.done()
    return check
