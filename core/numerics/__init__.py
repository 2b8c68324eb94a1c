"""Shared numerics: grids, fixed points and roots, safe log-sum-exp and softmax."""

from .fixed_point import FixedPointResult, fixed_point, solve_root
from .grids import double_exponential_grid, power_grid, uniform_grid
from .logsumexp import logit_inclusive_value, logsumexp, softmax

__all__ = [
    "FixedPointResult",
    "double_exponential_grid",
    "fixed_point",
    "logit_inclusive_value",
    "logsumexp",
    "power_grid",
    "softmax",
    "solve_root",
    "uniform_grid",
]

from .markov import markov_stationary, rouwenhorst, tauchen  # noqa: E402

__all__ += ["markov_stationary", "rouwenhorst", "tauchen"]
