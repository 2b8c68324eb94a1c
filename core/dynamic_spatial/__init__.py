"""Dynamic spatial equilibrium with forward-looking migration.

Part A: one sector, N regions (the lecture model). Part B: Caliendo-Dvorkin-Parro (2019),
N regions x J sectors with non-employment, structures and input-output (``solve_cdp``,
``solve_cdp_hat``, ``solve_cdp_counterfactual``, ``solve_cdp_steady_state``; parameters
``Structure``, ``CDPParams``, ``CDPObservables``; modules cdp_*.py).

Source: Rudik, AEM 7130 lecture 11 (papers/001), "Armington with dynamic migration" and
"Dynamic hat algebra"; Caliendo, Dvorkin and Parro (2019) for counterfactuals relative to a
baseline ("hat of dots"). Entry points:

- ``solve(params, numerics=None, warm_start=None)``: perfect-foresight path in levels.
- ``solve_steady_state(params, A=None, numerics=None)``: stationary equilibrium.
- ``solve_dynamic_hat(observables, A_dot, tau_dot=None)``: the path in time changes from
  observables only (changes in productivity and trade costs).
- ``solve_counterfactual(baseline, A_hat, tau_hat=None)``: counterfactual relative to a
  baseline path.

Part B registers separately as ``dynamic_spatial_cdp`` (``cdp_model.MODEL``).
"""

from ..protocol import ModelSpec
from .cdp_dynamic import (
    solve_cdp,
    solve_cdp_counterfactual,
    solve_cdp_hat,
    solve_cdp_steady_state,
)
from .cdp_params import CDPObservables, CDPParams, Structure
from .cdp_result import (
    CDP_COUNTERFACTUAL_MOMENTS,
    CDP_PATH_MOMENTS,
    CDPCounterfactual,
    CDPHatPath,
    CDPPath,
    CDPSteadyState,
)
from .hat import solve_counterfactual, solve_dynamic_hat
from .params import Numerics, Observables, Params
from .result import (
    COUNTERFACTUAL_MOMENTS,
    MOMENT_INFO,
    PARAM_INFO,
    PATH_MOMENTS,
    CounterfactualPath,
    HatPath,
    LevelsPath,
    SteadyState,
)
from .solve import solve, solve_steady_state

MODEL = ModelSpec(
    name="dynamic_spatial",
    description="N-region Armington with forward-looking logit migration: perfect-foresight "
    "paths in levels, dynamic hat algebra, counterfactuals relative to a baseline",
    Params=Params,
    Numerics=Numerics,
    solve=solve,
    source="papers/001 (Rudik lecture 11), 'Armington with dynamic migration', 'Dynamic hat "
    "algebra'; Caliendo, Dvorkin and Parro (2019)",
    moment_names=tuple(PATH_MOMENTS),
    moment_info=MOMENT_INFO,
    param_info=PARAM_INFO,
)

__all__ = [
    "CDP_COUNTERFACTUAL_MOMENTS",
    "CDP_PATH_MOMENTS",
    "COUNTERFACTUAL_MOMENTS",
    "MODEL",
    "PATH_MOMENTS",
    "CDPCounterfactual",
    "CDPHatPath",
    "CDPObservables",
    "CDPParams",
    "CDPPath",
    "CDPSteadyState",
    "CounterfactualPath",
    "HatPath",
    "LevelsPath",
    "Numerics",
    "Observables",
    "Params",
    "SteadyState",
    "Structure",
    "solve",
    "solve_cdp",
    "solve_cdp_counterfactual",
    "solve_cdp_hat",
    "solve_cdp_steady_state",
    "solve_counterfactual",
    "solve_dynamic_hat",
    "solve_steady_state",
]
