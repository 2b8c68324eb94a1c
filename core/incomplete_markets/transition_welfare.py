"""Consumption-equivalent welfare along a spatial transition (DFM Table 2 note:
C_eq = u^-1((1 - beta omega) W)), by location, against the initial steady state.

Values v_t (J, S, n_a) along the path come from one more backward pass of the
household at the path's prices (the transition keeps policies, not values).
Following ``Solution.welfare_ce``, newborns inherit their parent's location,
income state and assets, so the newborns of date t are distributed as dist_t:

    W_jt = sum_{s,a} dist_t(j, s, a) v_t(j, s, a) / L_jt

is the welfare of location j's newborns at t, and W_j0 that of the population
living in j when the shock is announced (date 0, where dist_0 is the steady
state's: the two coincide at t = 0, then newborns see the changed distribution).
Changes are C_eq(W_jt) / C_eq(W_j,ss) - 1, with W_j,ss the initial steady state's
(``Solution.welfare_ce(by_location=True)``); utilitarian totals weight W_jt by
L_jt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidParamsError, Violation
from .result import Solution, consumption_equivalent
from .transition import HouseholdBlock
from .transition_spatial import SpatialImpulse

__all__ = ["TransitionWelfare", "transition_welfare"]


@dataclass(frozen=True, slots=True)
class TransitionWelfare:
    """newborns (T, J): consumption-equivalent change of date-t newborns by location;
    initial (J,): of the date-0 population by location (= newborns[0]); total (T,):
    utilitarian newborn welfare of date t; end (J,): the terminal steady state's."""

    newborns: np.ndarray
    initial: np.ndarray
    total: np.ndarray
    end: np.ndarray


def transition_welfare(start: Solution, impulse: SpatialImpulse,
                       terminal: Solution | None = None) -> TransitionWelfare:
    """Welfare along a nonlinear path ``impulse`` from ``start`` to ``terminal`` (default
    ``start``): see the module docstring."""
    if not isinstance(impulse, SpatialImpulse) or impulse.path is None:
        raise InvalidParamsError("transition_welfare", [Violation(
            "impulse", "must be a nonlinear SpatialImpulse (with its path)",
            type(impulse).__name__)])
    end_sol = start if terminal is None else terminal
    block = HouseholdBlock(end_sol)
    x, dist = impulse.path.inputs, impulse.path.dist
    T, J = x.shape[0], start.dist.shape[0]
    D = dist[:T].reshape(T, J, -1)
    state, x_next = block.steady_backward(), block.steady_inputs()
    W = np.empty((T, J))
    for t in range(T - 1, -1, -1):
        state, _ = block.backward(state, x[t], x_next)
        x_next = x[t]
        W[t] = np.einsum("jk,jk->j", D[t], state[1].reshape(J, -1)) / D[t].sum(axis=1)
    p = start.params
    base = start.welfare_ce(by_location=True)
    L = D.sum(axis=2)
    newborns = consumption_equivalent(W, p) / base - 1.0
    total = consumption_equivalent(np.sum(L * W, axis=1), p) / start.welfare_ce() - 1.0
    end = end_sol.welfare_ce(by_location=True) / base - 1.0
    return TransitionWelfare(newborns, newborns[0].copy(), total, end)
