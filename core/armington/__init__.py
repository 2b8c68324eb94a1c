"""The Armington family: levels equilibrium, exact hat algebra, static migration.

Source: Rudik, AEM 7130 lecture 11 "Spatial models" (papers/001). Conventions:
``X[i, j]`` is the value shipped from origin i to destination j and
``lam[i, j] = X[i, j] / sum_k X[k, j]`` is j's expenditure share on i.
"""

import numpy as np

from ..errors import InvalidParamsError, Violation
from ..protocol import ModelSpec
from .data import TradeData
from .params import Numerics, Params
from .result import MOMENT_INFO, MOMENTS, PARAM_INFO, Equilibrium, HatEquilibrium
from .solve import exact_hat, solve, solve_equilibrium


def region_shock(params: Params, location: int, size: float) -> Params:
    """Productivity shock: ``A[location]`` scaled by ``1 + size`` (size -0.01 is -1%)."""
    problems = []
    if isinstance(location, bool) or not isinstance(location, (int, np.integer)) \
            or not 0 <= location < params.n_regions:
        problems.append(Violation("location", f"must be a region index in "
                                  f"[0, {params.n_regions - 1}]", location))
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not size > -1.0:
        problems.append(Violation("size", "must be a number > -1", size))
    if problems:
        raise InvalidParamsError("armington.region_shock", problems)
    A = np.array(params.A, dtype=float)
    A[int(location)] *= 1.0 + float(size)
    return params.with_(A=A)


MODEL = ModelSpec(
    name="armington",
    description="N-region Armington trade, optional logit migration (levels; exact hat algebra)",
    Params=Params,
    Numerics=Numerics,
    solve=solve,
    source="papers/001 (Rudik lecture 11), sections 1-3",
    region_shock=region_shock,
    moment_names=tuple(MOMENTS),
    moment_info=MOMENT_INFO,
    param_info=PARAM_INFO,
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
    "region_shock",
    "solve",
    "solve_equilibrium",
]
