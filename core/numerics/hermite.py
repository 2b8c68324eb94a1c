"""Cubic Hermite interpolation on one interval, for numba kernels.

Given values and slopes at both ends of [x0, x1], the cubic through them in the
basis h00 = 2t^3 - 3t^2 + 1, h10 = t^3 - 2t^2 + t, h01 = -2t^3 + 3t^2,
h11 = t^3 - t^2 with t = (x - x0) / (x1 - x0). The caller picks the slopes (PCHIP,
analytic derivatives, envelope conditions) and the interval; evaluation outside
[x0, x1] extends the same cubic. Vectorised NumPy callers use
``scipy.interpolate.CubicHermiteSpline`` instead.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def hermite(x, x0, x1, y0, y1, d0, d1):
    """Value at x of the cubic with value y0, slope d0 at x0 and y1, d1 at x1."""
    dx = x1 - x0
    t = (x - x0) / dx
    t2 = t * t
    t3 = t2 * t
    return ((2.0 * t3 - 3.0 * t2 + 1.0) * y0 + (t3 - 2.0 * t2 + t) * dx * d0
            + (-2.0 * t3 + 3.0 * t2) * y1 + (t3 - t2) * dx * d1)


@njit(cache=True)
def hermite_slope(x, x0, x1, y0, y1, d0, d1):
    """Derivative at x of the same cubic (d0 at x0, d1 at x1)."""
    dx = x1 - x0
    t = (x - x0) / dx
    t2 = t * t
    return ((6.0 * t2 - 6.0 * t) * (y0 - y1) / dx + (3.0 * t2 - 4.0 * t + 1.0) * d0
            + (3.0 * t2 - 2.0 * t) * d1)
