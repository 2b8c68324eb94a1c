"""Shared numerics: grids, Markov chains, fixed points and roots, safe log-sum-exp and softmax,
cubic Hermite interpolation."""

from .fixed_point import FixedPointResult, fixed_point, solve_root
from .grids import double_exponential_grid, power_grid, uniform_grid
from .hermite import hermite, hermite_slope
from .logsumexp import logit_inclusive_value, logsumexp, softmax
from .markov import markov_stationary, rouwenhorst, tauchen

__all__ = [
    "FixedPointResult",
    "double_exponential_grid",
    "fixed_point",
    "hermite",
    "hermite_slope",
    "logit_inclusive_value",
    "logsumexp",
    "markov_stationary",
    "power_grid",
    "rouwenhorst",
    "softmax",
    "solve_root",
    "tauchen",
    "uniform_grid",
]
