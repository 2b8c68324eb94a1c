"""Registry entry of Part B, the Caliendo-Dvorkin-Parro (2019) economy: ``dynamic_spatial_cdp``.

``MODEL.solve(params, numerics=None, warm_start=None)`` is :func:`solve_cdp`, the
perfect-foresight path in levels (a :class:`CDPPath`, whose ``moments()`` are
``CDP_PATH_MOMENTS``). Params are :class:`CDPParams`; from YAML, ``structure`` is a nested
mapping and the paths may be given by knots (see ``CDPParams``). Numerics are Part A's.
"""

from __future__ import annotations

from ..protocol import ModelSpec
from .cdp_dynamic import solve_cdp
from .cdp_params import CDPParams
from .cdp_result import CDP_MOMENT_INFO, CDP_PARAM_INFO, CDP_PATH_MOMENTS
from .params import Numerics

MODEL = ModelSpec(
    name="dynamic_spatial_cdp",
    description="Caliendo-Dvorkin-Parro (2019): N regions x J sectors with non-employment, "
    "structures and input-output; perfect-foresight paths in levels with forward-looking "
    "logit relocation (dynamic hat algebra and counterfactuals in hetspace.core."
    "dynamic_spatial)",
    Params=CDPParams,
    Numerics=Numerics,
    solve=solve_cdp,
    source="papers/003 (notes on Caliendo, Dvorkin and Parro 2019), eqs. 1-3 and section 2.3",
    moment_names=tuple(CDP_PATH_MOMENTS),
    moment_info=CDP_MOMENT_INFO,
    param_info=CDP_PARAM_INFO,
)
