"""Solve a stationary hadsge economy at given returns: households, then Proposition 2."""

from __future__ import annotations

import logging

import numpy as np

from ..protocol import readonly
from .aggregate import aggregate
from .household import solve_household
from .params import Numerics, Params
from .result import Solution

logger = logging.getLogger(__name__)


def solve(params: Params, numerics: Numerics | None = None,
          warm_start: Solution | None = None) -> Solution:
    """The household block (Proposition 1, eqs. 11-12) and the cohort aggregates
    (Proposition 2) at the returns ``params.w``, ``params.r``, constant over time.

    ``warm_start`` is accepted for the model protocol and unused: the finite-horizon
    household has one backward pass and no iteration to start. Raises
    ``SolverConvergenceError`` if a share's root fails.
    """
    del warm_start
    numerics = Numerics() if numerics is None else numerics
    hh = solve_household(params, numerics)
    ag = aggregate(params, hh)
    interior = (hh.theta[1:] > 0.0) & (hh.theta[1:] < 1.0)
    foc_max = float(np.max(hh.share_residual[1:][interior], initial=0.0))
    logger.debug("hadsge solved: A=%d, J=%d, max share condition %.2e",
                 params.n_ages, params.n_markets, foc_max)
    return Solution(household=hh, aggregates=ag, converged=True, n_iter=params.n_ages,
                    residuals={"share_foc_max": foc_max}, params=params, numerics=numerics,
                    theta=readonly(hh.theta), mobility=readonly(ag.mobility),
                    L=readonly(ag.L), K=readonly(ag.K), C=readonly(ag.C))
