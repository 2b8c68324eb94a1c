"""Spatial incomplete-markets economy (Donald-Fukui-Miyauchi status quo), with Huggett
(1993) and Aiyagari (1994) as special cases.

``MODEL.solve(params, numerics, warm_start)`` returns a frozen :class:`Solution`;
``examples`` builds the textbook calibrations.
"""

from ..protocol import ModelSpec
from . import examples
from .data import SpatialData, load_synthetic
from .dynamics import DYNAMICS_INFO, dynamics_names, shock_dynamics
from .moments import LOCATION_MOMENTS, MOMENT_INFO, MOMENT_NAMES, PARAM_INFO
from .observed import observed_moments
from .params import Guess, Numerics, Params
from .result import Solution
from .shocks import RegionShock, region_shock, shocked_params
from .simulate import Panel, panel_arrays, panel_from_simulation, simulate_panel
from .solve import extrapolate, solve
from .transition import HouseholdBlock, transition_path
from .transition_ge import Impulse, linear_impulse, nonlinear_impulse
from .transition_spatial import SpatialImpulse, SpatialTransition
from .transition_welfare import TransitionWelfare, transition_welfare

MODEL = ModelSpec(
    name="incomplete_markets",
    description=(
        "Households in (location, income state, assets) with CRRA utility, a borrowing "
        "limit and logit migration; EGM and a direct stationary-distribution solve; "
        "closures: partial (r given), bond (Huggett), capital (Aiyagari), spatial (DFM)."
    ),
    Params=Params,
    Numerics=Numerics,
    solve=solve,
    source="Donald, Fukui and Miyauchi, appendix B.2.1; Huggett (1993); Aiyagari (1994)",
    region_shock=shocked_params,
    extrapolate=extrapolate,
    moment_info=MOMENT_INFO | DYNAMICS_INFO,
    param_info=PARAM_INFO,
    moment_names=MOMENT_NAMES,
    dynamics=shock_dynamics,
    dynamics_names=dynamics_names,
    panel=panel_arrays,
    observed=observed_moments,
    observed_names=tuple(LOCATION_MOMENTS),
)

__all__ = [
    "MODEL",
    "Guess",
    "HouseholdBlock",
    "Impulse",
    "Numerics",
    "Panel",
    "Params",
    "RegionShock",
    "Solution",
    "SpatialData",
    "SpatialImpulse",
    "SpatialTransition",
    "TransitionWelfare",
    "examples",
    "linear_impulse",
    "load_synthetic",
    "nonlinear_impulse",
    "panel_arrays",
    "panel_from_simulation",
    "region_shock",
    "shock_dynamics",
    "shocked_params",
    "simulate_panel",
    "solve",
    "transition_path",
    "transition_welfare",
]
