"""Statistics of the transition after a permanent region shock, for sweeps and queries.

``shock_dynamics(old, new, location, horizon, at)``: the nonlinear perfect-foresight
path (``SpatialTransition(old, horizon).nonlinear(terminal=new)``) from the steady
state ``old`` to ``new``, the steady state of the economy after a permanent shock to
``location`` announced at date 0, summarised by (``DYNAMICS_NAMES``; ``_t{h}``: at
period h for each h in ``at``):

===================================  ================================================
``dyn_population_change_t{h}``       population of the shocked location at h against
                                     the old steady state (L_h / L_old - 1)
``dyn_population_half_life``         first period h whose gap to the new steady state,
                                     |L_h - L_new|, is at most half the gap at date 0
                                     (nan if the path never gets there within the
                                     horizon, or if the shock moves no one)
``dyn_population_gap_end``           |L_{T-1} - L_new| / |L_0 - L_new|: how far from
                                     its new steady state the path ends (a horizon
                                     that is too short shows here)
``dyn_r_change_t{h}``                r_h - r_old (per period)
``dyn_welfare_change_initial``       consumption-equivalent welfare change of those
                                     living in the shocked location at date 0
``dyn_welfare_change_total``         utilitarian newborn welfare at date 0, same unit
===================================  ================================================

(``transition_welfare`` defines the welfare changes.) Populations L_h are the
household block's outputs ``L_j`` at period h. The spatial closure only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InvalidParamsError, Violation
from ..moment_info import MomentInfo
from .result import Solution
from .transition_spatial import SpatialTransition
from .transition_welfare import transition_welfare

#: base names; ``_t{h}`` ones are repeated for each reported period h
DYNAMICS_NAMES = ("dyn_population_change", "dyn_population_half_life",
                  "dyn_population_gap_end", "dyn_r_change", "dyn_welfare_change_initial",
                  "dyn_welfare_change_total")
_BY_PERIOD = ("dyn_population_change", "dyn_r_change")

#: label, unit and transform of each base name (``_t{h}`` names add "at t = h")
DYNAMICS_INFO = {
    "dyn_population_change": MomentInfo("Shocked location's population change", "%",
                                        "percent"),
    "dyn_population_half_life": MomentInfo("Half-life of the population adjustment",
                                           "periods"),
    "dyn_population_gap_end": MomentInfo("Population gap left at the horizon",
                                         "share of the initial gap"),
    "dyn_r_change": MomentInfo("Interest rate change", "per period"),
    "dyn_welfare_change_initial": MomentInfo("Welfare change of the shocked location's "
                                             "residents at date 0", "%", "percent"),
    "dyn_welfare_change_total": MomentInfo("Newborn welfare change at date 0", "%",
                                           "percent"),
}


def dynamics_names(at: Sequence[int]) -> tuple[str, ...]:
    """The statistics ``shock_dynamics`` returns for reported periods ``at``."""
    names = []
    for base in DYNAMICS_NAMES:
        names += [f"{base}_t{h}" for h in at] if base in _BY_PERIOD else [base]
    return tuple(names)


def shock_dynamics(old: Solution, new: Solution, location: int, horizon: int,
                   at: Sequence[int]) -> dict[str, float]:
    """The statistics of the module docstring; raises ``SolverConvergenceError`` if the
    path does not converge (see ``SpatialTransition``'s determinacy note)."""
    J = old.dist.shape[0]
    problems = []
    if not isinstance(location, (int, np.integer)) or not 0 <= location < J:
        problems.append(Violation("location", f"must be an index in [0, {J})", location))
    bad = [h for h in at if not isinstance(h, (int, np.integer)) or not 0 <= h < horizon]
    if bad:
        problems.append(Violation("at", f"periods must be integers in [0, {horizon})", bad))
    if problems:
        raise InvalidParamsError("shock_dynamics", problems)
    transition = SpatialTransition(old, horizon, outputs=(f"L_{location}",))
    impulse = transition.nonlinear(terminal=new)
    names = impulse.path.output_names
    L = impulse.path.outputs[:, names.index(f"L_{location}")]
    r = impulse.path.inputs[:, -1]
    welfare = transition_welfare(old, impulse, new)
    L_old, L_new = float(old.population[location]), float(new.population[location])
    gap = np.abs(L - L_new)
    reached = np.flatnonzero(gap <= 0.5 * gap[0])
    moved = gap[0] > 0.0
    out = {f"dyn_population_change_t{h}": float(L[h] / L_old - 1.0) for h in at}
    out["dyn_population_half_life"] = float(reached[0]) if moved and reached.size else np.nan
    out["dyn_population_gap_end"] = float(gap[-1] / gap[0]) if moved else 0.0
    out |= {f"dyn_r_change_t{h}": float(r[h] - old.r) for h in at}
    out["dyn_welfare_change_initial"] = float(welfare.initial[location])
    out["dyn_welfare_change_total"] = float(welfare.total[0])
    return out
