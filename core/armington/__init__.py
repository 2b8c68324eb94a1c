"""The Armington family: levels equilibrium, exact hat algebra, static migration.

Source: Rudik, AEM 7130 lecture 11 "Spatial models" (papers/001). Conventions:
``X[i, j]`` is the value shipped from origin i to destination j and
``lam[i, j] = X[i, j] / sum_k X[k, j]`` is j's expenditure share on i.
"""

from ..protocol import ModelSpec
from .data import TradeData
from .params import Numerics, Params
from .result import MOMENTS, Equilibrium, HatEquilibrium
from .solve import exact_hat, solve, solve_equilibrium

MODEL = ModelSpec(
    name="armington",
    description="N-region Armington trade, optional logit migration (levels; exact hat algebra)",
    Params=Params,
    Numerics=Numerics,
    solve=solve,
    source="papers/001 (Rudik lecture 11), sections 1-3",
)

__all__ = [
    "MODEL",
    "MOMENTS",
    "Equilibrium",
    "HatEquilibrium",
    "Numerics",
    "Params",
    "TradeData",
    "exact_hat",
    "solve",
    "solve_equilibrium",
]
