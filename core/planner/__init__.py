"""The constrained-efficient planner of Donald, Fukui and Miyauchi ("Optimal Dynamic
Spatial Policy", 2025; sections 2-4, appendix A.1-A.3, B.2.2): steady states of the
second best (private location tastes, promised utility), the first best (complete
information, Prop. 1) and the history-independent allocation (Prop. 3), and newborn
welfare in consumption-equivalent units.

Log utility (gamma = 1) and one income state only. The planner's transition after a
permanent region shock (section 5, B.3, Figure 4) is ``transition_ge.permanent_shock``
(its block: ``transition.PlannerBlock``; examples/planner_transition.py); implementing
transfers (A.42) are ``histories``.

Typos of the paper followed here (each also noted where it is used):
(2) lacks beta: the newborn's value is v^n = beta IV ((8), (21), B.29);
(B.31), (B.47) carry an extra Lambda_i on S^n: dropped, as in (31), (34);
(B.37) reads theta S_n(v'_in); (53)'s inner exponent is (sigma - 1)/sigma (the
workhorse's ``goods.price_index`` is the CES price index of that function);
(B.49)'s "(1 - xi) w_j" is w_i; (A.26) misses (1 + alpha) (used with it, as (40)).
"""

from ..protocol import ModelSpec
from .params import Numerics, Params, Start
from .result import MOMENT_INFO, MOMENT_NAMES, PARAM_INFO, Solution
from .solve import solve

MODEL = ModelSpec(
    name="planner",
    description=(
        "Donald-Fukui-Miyauchi planner: second best on promised utility (EGM on M), "
        "first best and history-independent steady states, multipliers (w, L) by "
        "quasi-Newton; log utility, one income state."
    ),
    Params=Params,
    Numerics=Numerics,
    solve=solve,
    source="Donald, Fukui and Miyauchi (2025), sections 2-4, appendix A.1-A.3, B.2.2",
    moment_names=MOMENT_NAMES,
    moment_info=MOMENT_INFO,
    param_info=PARAM_INFO,
)

__all__ = ["MODEL", "Numerics", "Params", "Solution", "Start", "solve"]
