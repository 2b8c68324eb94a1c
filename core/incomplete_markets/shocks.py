"""Region shocks: scale one location's productivity and re-solve the steady state.

``region_shock(sol, location, size)`` multiplies A[location, :] (the
productivity of everything location ``location`` produces, for every
destination, eq. 54) by 1 + size, e.g. size = -0.01 for DFM's -1%
Massachusetts experiment, and solves the new spatial steady state warm-started
from ``sol``. Changes are steady state to steady state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidParamsError, Violation
from .params import Params
from .result import Solution
from .solve import solve


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionShock:
    """Before/after steady states and per-location changes (arrays (J,)).

    population_change: change of population shares (new - old); consumption_change
    and welfare_change: relative changes (new / old - 1) of real consumption per
    capita and of newborn welfare in consumption-equivalent units (Solution.welfare_ce);
    welfare_change_total: the same for utilitarian newborn welfare.
    """

    location: int
    size: float
    before: Solution
    after: Solution
    population_change: np.ndarray
    consumption_change: np.ndarray
    welfare_change: np.ndarray
    welfare_change_total: float

    def table(self, names=None) -> list[dict]:
        """One dict per location (a DataFrame-ready list of rows)."""
        J = self.population_change.shape[0]
        names = list(names) if names is not None else list(range(J))
        return [{"location": names[j], "population_change": float(self.population_change[j]),
                 "consumption_change": float(self.consumption_change[j]),
                 "welfare_change": float(self.welfare_change[j])} for j in range(J)]


def shocked_params(params: Params, location: int, size: float) -> Params:
    """The economy after a productivity shock of relative ``size`` in ``location``.

    Spatial closure: A[location, :] scaled by 1 + size (eq. 54). Other closures:
    the location's efficiency w[location] scaled by 1 + size. This is the
    ``ModelSpec.region_shock`` hook the sweeps' ``shocks`` axis uses.
    """
    problems = []
    if isinstance(location, bool) or not isinstance(location, (int, np.integer)) \
            or not 0 <= location < params.n_loc:
        problems.append(Violation("location", f"must be an index in [0, {params.n_loc})",
                                  location))
    if isinstance(size, bool) or not isinstance(size, (int, float, np.floating)) \
            or not (np.isfinite(size) and size > -1.0):
        problems.append(Violation("size", "must be a finite number > -1", size))
    if problems:
        raise InvalidParamsError("region_shock", problems)
    if params.closure == "spatial":
        A = np.array(params.A)
        A[int(location), :] *= 1.0 + float(size)
        return params.with_(A=A)
    w = np.array(params.w)
    w[int(location)] *= 1.0 + float(size)
    return params.with_(w=w)


def region_shock(sol: Solution, location: int, size: float) -> RegionShock:
    """Scale A[location, :] by 1 + size and re-solve warm-started from ``sol``."""
    if sol.params.closure != "spatial":
        raise InvalidParamsError("region_shock", [Violation(
            "sol.params.closure", "must be 'spatial'", sol.params.closure)])
    after = solve(shocked_params(sol.params, location, size), sol.numerics, warm_start=sol)
    return RegionShock(
        location=int(location), size=float(size), before=sol, after=after,
        population_change=after.population_shares() - sol.population_shares(),
        consumption_change=after.consumption_per_capita() / sol.consumption_per_capita() - 1,
        welfare_change=after.welfare_ce(by_location=True) / sol.welfare_ce(by_location=True) - 1,
        welfare_change_total=float(after.welfare_ce() / sol.welfare_ce() - 1.0))
