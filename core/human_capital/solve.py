"""Solve the life-cycle valuation problem: one backward induction, then values and shares."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from ..errors import SolverConvergenceError
from ..numerics.grids import power_grid
from ..protocol import readonly
from . import kernels, value_kernels
from .params import MarkovParams, Numerics, Params
from .result import LifeCycle
from .shocks import Shocks, make_shocks

logger = logging.getLogger(__name__)


def solve(params: Params | MarkovParams, numerics: Numerics | None = None,
          warm_start: LifeCycle | None = None) -> LifeCycle:
    """Policies, value of human capital, naive value and decomposition by backward induction.

    ``warm_start`` is accepted for the model protocol and unused: a finite-horizon
    solve has no iteration to start. Raises ``SolverConvergenceError`` when a
    portfolio root fails or the endogenous grid is not increasing. ``residuals`` are
    the Euler errors between grid nodes in the initial state's row (``value_kernels.euler_errors``):
    consumption-unit errors of the held asset's Euler equation, an accuracy measure.
    """
    del warm_start
    numerics = Numerics() if numerics is None else numerics
    sh = make_shocks(params, numerics)
    beta = params.beta_value
    savings = make_savings_nodes(sh, numerics)
    n_row, J, n_a = sh.n_rows, params.n_ages, savings.shape[1]
    arrays = {name: np.empty((J, n_row, n_a))
              for name in ("xe", "c", "V", "vh", "theta", "dc", "dv", "dvh")}
    per_row = {name: np.empty((J, n_row)) for name in ("f0", "k0", "naive")}
    pol = (*(arrays[k] for k in ("xe", "c", "V", "vh", "theta")), per_row["f0"], per_row["k0"],
           *(arrays[k] for k in ("dc", "dv", "dvh")))
    pref = (beta, float(params.gamma), float(params.alpha), sh.rb,
            numerics.interpolation == "pchip")
    status = kernels.solve_life_cycle(
        savings, sh.mdl, pref, pol, params.stock and params.hold_stock, numerics.share_tol,
        numerics.max_share_iter, per_row["naive"])
    if status != kernels.STATUS_OK:
        what = {kernels.STATUS_SHARE_NOT_CONVERGED: "stock-share root did not converge",
                kernels.STATUS_NOT_MONOTONE: "endogenous cash-on-hand grid not increasing"}
        raise SolverConvergenceError(
            f"human_capital: {what.get(status, status)} (share_tol {numerics.share_tol:g}, "
            f"max_share_iter {numerics.max_share_iter})", residuals={"status": float(status)})
    fields = {k: readonly(v) for k, v in {**arrays, **per_row}.items()}
    sol = LifeCycle(savings_nodes=readonly(savings), beta=beta, shocks=sh, converged=True,
                    n_iter=J - 1, residuals={}, params=params, numerics=numerics, **fields)
    row0 = int(sh.row_of[sh.state0])
    worst, mean = value_kernels.euler_errors(sh.mdl, sol.pref, sol.pol, row0)
    logger.debug("human_capital solved: J=%d, n_a=%d, Euler errors max %.2e mean %.2e",
                 J, n_a, worst, mean)
    residuals = {"euler_error_max": float(worst), "euler_error_mean": float(mean)}
    return dataclasses.replace(sol, residuals=residuals)


def make_savings_nodes(shocks: Shocks, numerics: Numerics) -> np.ndarray:
    """Savings nodes by age (age, k): from 0 to savings_max times the largest normalised
    earnings, and with borrowing ``n_borrow`` more nodes from amin[j] up to 0 (dense near
    the limit; extra positive nodes below the first positive one where amin[j] = 0), so
    that zero savings is a node at every age."""
    top = numerics.savings_max * float(np.max(shocks.g))
    base = power_grid(0.0, top, numerics.n_savings, numerics.curvature)
    if not np.any(shocks.amin < 0.0):
        return np.tile(base, (shocks.amin.size, 1))
    m = numerics.n_borrow
    u = np.arange(m) / m
    rows = []
    for lim in -shocks.amin:
        if lim > 0.0:
            rows.append(np.r_[-lim * (1.0 - u**numerics.curvature), base])
        else:
            extra = base[1] * (np.arange(1, m + 1) / (m + 1)) ** numerics.curvature
            rows.append(np.r_[0.0, extra, base[1:]])
    return np.array(rows)
