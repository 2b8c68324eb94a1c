"""The shared cubic Hermite interpolant (core/numerics/hermite.py)."""

from __future__ import annotations

import numpy as np

from hetspace.core.numerics.hermite import hermite, hermite_slope


def test_reproduces_a_cubic_and_its_derivative():
    # A cubic is its own Hermite interpolant on any interval (uniqueness of the cubic
    # with two values and two slopes), so values and slopes are exact to rounding.
    c = np.array([0.3, -1.2, 0.7, 2.1])  # p(x) = c0 + c1 x + c2 x^2 + c3 x^3

    def p(x):
        return c[0] + c[1] * x + c[2] * x**2 + c[3] * x**3

    def dp(x):
        return c[1] + 2 * c[2] * x + 3 * c[3] * x**2

    x0, x1 = -0.4, 1.3
    for x in np.linspace(-1.0, 2.0, 13):  # inside and outside [x0, x1]
        args = (x, x0, x1, p(x0), p(x1), dp(x0), dp(x1))
        np.testing.assert_allclose(hermite(*args), p(x), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(hermite_slope(*args), dp(x), rtol=1e-13, atol=1e-13)


def test_end_values_and_slopes_of_a_non_polynomial():
    # exp on [0, 1]: the cubic takes the given values and slopes at the ends, and its
    # error inside is within the classical bound h^4 max|f''''| / 384 (h = 1).
    x0, x1 = 0.0, 1.0
    e0, e1 = np.exp(x0), np.exp(x1)
    np.testing.assert_allclose(hermite(x0, x0, x1, e0, e1, e0, e1), e0, rtol=1e-15)
    np.testing.assert_allclose(hermite(x1, x0, x1, e0, e1, e0, e1), e1, rtol=1e-15)
    np.testing.assert_allclose(hermite_slope(x0, x0, x1, e0, e1, e0, e1), e0, rtol=1e-14)
    np.testing.assert_allclose(hermite_slope(x1, x0, x1, e0, e1, e0, e1), e1, rtol=1e-14)
    xs = np.linspace(x0, x1, 21)
    err = max(abs(hermite(x, x0, x1, e0, e1, e0, e1) - np.exp(x)) for x in xs)
    assert 0.0 < err <= np.e / 384
