"""The bracketed root of an increasing function evaluated inexactly
(``core.numerics.monotone_root``), on a function with a known root and deterministic
evaluation errors whose size the caller's accuracy sets."""

import math

import pytest

from hetspace.core import SolverConvergenceError
from hetspace.core.numerics.monotone_root import increasing_root


class Inexact:
    """g(x) = x^3 + x - 2 (root 1, slope 4 there) plus an error of size ``err``: the
    error's sign flips with x (sin of a fast phase), like an inner solver's."""

    def __init__(self, err: float, tight: float = 1e-15, shift: float = 0.0):
        self.err, self.tight, self.shift = err, tight, shift
        self.calls, self.slope = 0, float("nan")
        self.values: dict[float, float] = {}
        self.last = None

    def exact(self, x):
        return (x - self.shift) ** 3 + (x - self.shift) - 2.0

    def _eval(self, x):
        self.calls += 1
        value = self.exact(x) + self.err * math.sin(1e7 * x)
        if self.last is not None and abs(x - self.last[0]) > 1e-9:
            self.slope = (value - self.last[1]) / (x - self.last[0])
        self.last = (x, value)
        self.values[x] = value
        return value

    def __call__(self, x):
        return self.values[x] if x in self.values else self._eval(x)

    def confirm(self, x):
        return self._eval(x)

    def tighten(self):
        self.err = self.tight


@pytest.mark.parametrize("x0", [-1.5, 0.2, 1.0 + 1e-9, 2.9])
def test_root_to_the_bracket_width_from_any_start(x0):
    f = Inexact(err=1e-6)
    x = increasing_root(f, x0, -2.0, 3.0, tol=1e-11, step=1e-3)
    assert abs(x - 1.0) <= 1e-11


def test_a_warm_start_with_its_slope_needs_fewer_evaluations():
    cold, warm = Inexact(1e-6), Inexact(1e-6, shift=0.0)
    increasing_root(cold, 0.0, -2.0, 3.0, tol=1e-11, step=1e-3)
    x = increasing_root(warm, 1.0 + 2e-4, -2.0, 3.0, tol=1e-11, step=1e-3, slope=4.0)
    assert abs(x - 1.0) <= 1e-11
    assert warm.calls < cold.calls


def test_ends_confirmed_at_the_tight_accuracy_rebracket_a_wrong_sign():
    # loose errors of 0.05 around the root give wrong signs within 0.0125 of it; after
    # tightening, the confirmed ends show it and the search brackets again
    f = Inexact(err=0.05)
    x = increasing_root(f, 1.004, -2.0, 3.0, tol=1e-11, step=1e-3)
    assert abs(x - 1.0) <= 1e-11


def test_no_sign_change_says_so_with_the_hint():
    f = Inexact(err=0.0, shift=10.0)  # root at 11, outside the interval
    with pytest.raises(SolverConvergenceError, match=r"does not change sign on \[-2, 3\] "
                                                     r"\(widen the interval\)"):
        increasing_root(f, 0.0, -2.0, 3.0, tol=1e-11, step=1e-3, what="g",
                        hint="widen the interval")
