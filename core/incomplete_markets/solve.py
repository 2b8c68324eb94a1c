"""Stationary equilibrium of the spatial incomplete-markets economy: the entry point.

``solve(params, numerics, warm_start)`` checks its inputs and hands the
closures with one market in r ('partial', 'bond', 'capital') to ``bond.py`` and
the spatial closure to ``spatial.py``. Modules import one way: solve -> spatial
-> spatial_outer -> bond -> household.
"""

from __future__ import annotations

from ..errors import InvalidParamsError, Violation
from .bond import extrapolate, solve_market
from .params import Guess, Numerics, Params, check_numerics_against
from .result import Solution
from .spatial import solve_spatial

__all__ = ["extrapolate", "solve"]


def solve(params: Params, numerics: Numerics | None = None,
          warm_start: Solution | Guess | None = None) -> Solution:
    """Solve the stationary equilibrium; ``warm_start`` reuses a nearby solution, or
    starts the search at a :class:`Guess` (None: the cold start).

    Raises ``SolverConvergenceError`` (with residuals) when the household
    problem, the distribution or the market-clearing search fails.
    """
    numerics = Numerics() if numerics is None else numerics
    _check_inputs(params, numerics, warm_start)
    if params.closure == "spatial":
        return solve_spatial(params, numerics, warm_start)
    return solve_market(params, numerics, warm_start)


def _check_inputs(params, numerics, warm_start) -> None:
    problems = []
    if not isinstance(params, Params):
        problems.append(Violation("params", "must be an incomplete_markets Params",
                                  type(params).__name__))
    if not isinstance(numerics, Numerics):
        problems.append(Violation("numerics", "must be an incomplete_markets Numerics",
                                  type(numerics).__name__))
    if warm_start is not None and not isinstance(warm_start, (Solution, Guess)):
        problems.append(Violation("warm_start", "must be an incomplete_markets Solution, a "
                                  "Guess or None", type(warm_start).__name__))
    elif (isinstance(warm_start, Guess) and warm_start.w is not None
          and isinstance(params, Params) and warm_start.w.shape != (params.n_loc,)):
        problems.append(Violation("warm_start.w", f"must have shape ({params.n_loc},)",
                                  warm_start.w.shape))
    if problems:
        raise InvalidParamsError("solve", problems)
    check_numerics_against(params, numerics)
