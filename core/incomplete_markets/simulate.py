"""Simulated household panels from a solved steady state (issue 3, "Moments and outputs").

A household's state is (location j, income state s, asset node i). Each period
it consumes c[j, s, i] and saves a_next[j, s, i]; savings go to the nearest
grid nodes by Young's lottery (node idx with probability wlo, idx + 1
otherwise), then e' is drawn from Pi[s], then the next location k from
mig[j, s', i', :]. This is the Markov chain whose stationary distribution is
``sol.dist``, so a panel's long-run cross-section has the solution's moments
up to Monte Carlo error. All randomness comes from ``np.random.default_rng(seed)``
here; the kernel only maps the uniform draws it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import InvalidParamsError, Violation
from ..panel import PanelArrays
from ..protocol import readonly
from . import dist_kernels
from .result import Solution


@dataclass(frozen=True, slots=True, kw_only=True)
class Panel:
    """Histories, axes (n_periods, n_households).

    location, income_state: int indices (j, s); asset_node: index into
    sol.a_grid; assets: a_grid[asset_node] at the start of the period
    ((1+r)-form units, see Solution); consumption: real consumption that period.
    Period 0 is drawn from the stationary distribution.
    """

    location: np.ndarray
    income_state: np.ndarray
    asset_node: np.ndarray
    assets: np.ndarray
    consumption: np.ndarray
    seed: int


def simulate_panel(sol: Solution, n_households: int, n_periods: int, seed: int) -> Panel:
    """Draw a panel of n_households over n_periods from ``sol``; deterministic given seed."""
    _check(n_households, n_periods, seed)
    J, S, n = sol.dist.shape
    rng = np.random.default_rng(seed)
    mass = np.asarray(sol.dist, dtype=float).ravel()
    start = rng.choice(mass.size, size=n_households, p=mass / mass.sum())
    draws = rng.random((n_periods, n_households, 3))
    idx = np.empty((J, S, n), dtype=np.int64)
    wlo = np.empty((J, S, n))
    dist_kernels.lottery(np.ascontiguousarray(sol.a_next), np.ascontiguousarray(sol.a_grid), idx,
                         wlo)
    cum_pi = np.cumsum(np.asarray(sol.params.Pi, dtype=float), axis=1)
    cum_mig = np.cumsum(np.asarray(sol.mig, dtype=float), axis=3)
    state = np.empty((3, n_periods, n_households), dtype=np.int64)
    _draw_histories(start, draws, idx, wlo, cum_pi, cum_mig, n, S, state)
    loc, inc, node = state
    c = np.asarray(sol.c)[loc, inc, node]
    assets = np.asarray(sol.a_grid)[node]
    return Panel(location=_frozen(loc), income_state=_frozen(inc), asset_node=_frozen(node),
                 assets=readonly(assets), consumption=readonly(c), seed=int(seed))


def _frozen(arr: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(arr, dtype=np.int64).copy()
    out.setflags(write=False)
    return out


@njit(cache=True)
def _pick(cum, u):
    """Smallest k with u < cum[k] (inverse CDF); the last index if rounding leaves u above."""
    last = cum.shape[0] - 1
    for k in range(last):
        if u < cum[k]:
            return k
    return last


@njit(cache=True)
def _draw_histories(start, draws, idx, wlo, cum_pi, cum_mig, n, S, out):
    """out[0/1/2, t, h] = location, income state, asset node of household h in period t."""
    T, H, _ = draws.shape
    for h in range(H):
        flat = start[h]
        j = flat // (S * n)
        s = (flat // n) % S
        i = flat % n
        for t in range(T):
            out[0, t, h] = j
            out[1, t, h] = s
            out[2, t, h] = i
            node = idx[j, s, i] + (0 if draws[t, h, 0] < wlo[j, s, i] else 1)
            s = _pick(cum_pi[s], draws[t, h, 1])
            j = _pick(cum_mig[j, s, node], draws[t, h, 2])
            i = node


def _check(n_households, n_periods, seed) -> None:
    problems = []
    for name, value in (("n_households", n_households), ("n_periods", n_periods)):
        if not (isinstance(value, (int, np.integer)) and value >= 1):
            problems.append(Violation(name, "must be an integer >= 1", value))
    if not (isinstance(seed, (int, np.integer)) and seed >= 0):
        problems.append(Violation("seed", "must be an integer >= 0", seed))
    if problems:
        raise InvalidParamsError("simulate_panel", problems)


def panel_arrays(sol: Solution, n_households: int, n_periods: int, seed: int) -> PanelArrays:
    """The model's ``ModelSpec.panel`` hook: a simulated panel as
    :class:`~hetspace.core.panel.PanelArrays`."""
    return panel_from_simulation(sol, simulate_panel(sol, n_households, n_periods, seed))


def panel_from_simulation(sol: Solution, panel: Panel, burn_in: int = 0) -> PanelArrays:
    """:class:`~hetspace.core.panel.PanelArrays` of a ``simulate_panel`` result, without its
    first ``burn_in`` periods: income w_j e_s (times the wage), at_limit where the savings
    are the grid's lowest node."""
    keep = slice(burn_in, None)
    loc, state = np.asarray(panel.location[keep]), np.asarray(panel.income_state[keep])
    w = np.asarray(sol.w, dtype=float)
    e = np.asarray(sol.params.e_grid, dtype=float)
    node = np.asarray(panel.asset_node[keep])
    a_next = np.asarray(sol.a_next)[loc, state, node]
    limit = float(sol.a_grid[0])
    return PanelArrays(consumption=np.asarray(panel.consumption[keep]),
                       income=sol.wage * w[loc] * e[state], assets=np.asarray(panel.assets[keep]),
                       at_limit=a_next <= limit + 1e-12 * (1.0 + abs(limit)), location=loc)
