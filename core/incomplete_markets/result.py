"""The solved stationary equilibrium and its moments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

import numpy as np

from . import dist_kernels
from .household import location_totals
from .moments import solution_by_location, solution_diagnostics, solution_moments
from .params import Numerics, Params


def consumption_equivalent(W, params: Params) -> np.ndarray:
    """C_eq = u^-1((1 - beta omega) W) (DFM Table 2 note), elementwise. nan where gamma > 1
    and (1 - beta omega) W is at or above u's bound 1 / (gamma - 1)."""
    x = (1.0 - params.beta * params.omega) * np.asarray(W, dtype=float)
    g = params.gamma
    if g == 1.0:
        return np.exp(x)
    # u is bounded above by 1 / (gamma - 1) when gamma > 1, but values with logit
    # migration carry an option value that can exceed it: no consumption stream is
    # then worth W, and C_eq is nan (a float power of a negative base is complex)
    base = 1.0 + (1.0 - g) * x
    out = np.full(base.shape, np.nan)
    np.power(base, 1.0 / (1.0 - g), out=out, where=base > 0.0)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Solution:
    """A stationary equilibrium (or partial-equilibrium steady state). Immutable.

    Axes: (J, S, n_a) = (location, income state, asset node) for c, a_next, v,
    dist, euler_error; mig is (J, S, n_a, J): mig[j, s', i, k] is the probability
    that a household of location j that drew income state s' and saved
    a_grid[i] moves to k (DFM eq. B.15). a_grid is in the (1+r)-form budget
    P_j c + a' = (1+r) a + wage w_j e_s + T_j (for a face-value limit, node i
    holds face value a_grid[i] (1 + r)). dist is the mass at the start of a
    period (after migration) and sums to one. euler_error is |c_euler/c - 1| at
    nodes whose savings are strictly inside (a_low, a_max), nan elsewhere.
    w, P, T: (J,) the location prices the households faced: wage per efficiency
    unit, price index and transfer (the spatial closure's equilibrium values;
    params.w, params.P, params.T in the other closures). ``params`` is the Params
    the solve was given, unchanged. wage is 1 except in the capital closure (the
    firm's wage, multiplying w); capital is nan outside it; labor is effective
    labour sum dist * w_j * e_s. n_iter counts evaluations of the
    household block (1 in partial equilibrium); n_iter_household the EGM
    iterations of the last one. residuals: market_clearing (assets minus supply:
    0 for bonds, K for capital, nan in partial equilibrium), policy_change,
    value_change, distribution_l1. market_slope: d(market_clearing)/dr near the
    solution from the interest-rate search (nan in partial equilibrium); warm
    starts use it for a Newton first step. policy_slope: (dc/dr, dv/dr), the
    change of consumption and values with r at these parameters, a difference
    quotient from the interest-rate search (None when it had no pair of
    accurate solves far enough apart); a warm start uses it to move its
    policies to the first new r it tries.
    """

    params: Params
    numerics: Numerics
    r: float
    wage: float
    w: np.ndarray
    P: np.ndarray
    T: np.ndarray
    a_grid: np.ndarray
    c: np.ndarray
    a_next: np.ndarray
    v: np.ndarray
    mig: np.ndarray
    dist: np.ndarray
    euler_error: np.ndarray
    population: np.ndarray
    capital: float
    labor: float
    converged: bool
    n_iter: int
    n_iter_household: int
    residuals: Mapping[str, float]
    market_slope: float = float("nan")
    # the sparse LU of the distribution solve, which a warm start reuses (household.py);
    # not compared, not shown, dropped by pickling (SuperLU objects do not pickle)
    lu_factor: object = field(default=None, repr=False, compare=False)
    policy_slope: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False,
                                                              compare=False)
    # spatial closure: the household block's Jacobian in the prices it sees
    # (spatial_jacobian.py), where a warm-started Newton solve starts
    household_jacobian: np.ndarray | None = field(default=None, repr=False, compare=False)
    # spatial closure: the sparse LU of I - Phi_z at a household fixed point near this one
    # (steady_derivatives.policy_lu), for a warm start's chord steps; dropped by pickling
    policy_lu: object = field(default=None, repr=False, compare=False)

    def __getstate__(self):
        return {f.name: getattr(self, f.name) for f in fields(self)} | {
            "residuals": dict(self.residuals), "lu_factor": None, "policy_lu": None}

    def __setstate__(self, state) -> None:
        state = dict(state, residuals=MappingProxyType(state["residuals"]))
        for name, value in state.items():
            object.__setattr__(self, name, value)

    @property
    def aggregate_assets(self) -> float:
        return float(np.sum(self.dist * self.a_grid))

    def mpc(self) -> np.ndarray:
        """(J, S, n_a) marginal propensity to consume out of a one-time transfer.

        A transfer x raises the budget's right-hand side by x, i.e. assets by
        x/(1+r); the MPC is P_j dc/dx as x -> 0 on the piecewise-linear
        consumption function: P_j (c_{i+1} - c_i) / ((1+r)(a_{i+1} - a_i)), the
        right derivative at node i (left at the top node). Per model period.
        """
        slope = np.diff(self.c, axis=2) / np.diff(self.a_grid)
        slope = np.concatenate([slope, slope[:, :, -1:]], axis=2)
        return self.P[:, None, None] * slope / (1.0 + self.r)

    def pre_migration(self) -> np.ndarray:
        """(J, S, n_a) mass after saving (Young's lottery) and the income draw, before
        households choose their next location."""
        J, S, n = self.dist.shape
        idx = np.empty((J, S, n), dtype=np.int64)
        wlo = np.empty((J, S, n))
        dist_kernels.lottery(self.a_next, self.a_grid, idx, wlo)
        pre = np.empty_like(self.dist)
        dist_kernels.pre_migration(self.dist, idx, wlo, self.params.Pi, pre)
        return pre

    def out_migration(self) -> np.ndarray:
        """(J,) share of each location's households that move away within a period."""
        J = self.dist.shape[0]
        pre = self.pre_migration()
        stay = np.einsum("jsij->jsi", self.mig)
        leaving = np.sum(pre * (1.0 - stay), axis=(1, 2))
        return np.divide(leaving, pre.sum(axis=(1, 2)),
                         out=np.zeros(J), where=pre.sum(axis=(1, 2)) > 0)

    def population_shares(self) -> np.ndarray:
        """(J,) population shares L_j / sum L (DFM eq. 50)."""
        return self.population / self.population.sum()

    def consumption_per_capita(self) -> np.ndarray:
        """(J,) real consumption per resident, integral C_j dphi_j / L_j (DFM Figure 1)."""
        total = np.sum(self.dist * self.c, axis=(1, 2))
        return np.divide(total, self.population, out=np.full(total.shape, np.nan),
                         where=self.population > 0)

    def real_wage(self) -> np.ndarray:
        """(J,) real wage per efficiency unit, wage * w_j / P_j."""
        return self.wage * self.w / self.P

    def welfare_ce(self, by_location: bool = False):
        """Utilitarian welfare of newborns in consumption-equivalent units (DFM Table 2 note).

        C_eq = u^-1((1 - beta omega) W) with W = sum dist * v: newborns inherit
        their parent's location, income state and assets, so they are distributed
        as dist. ``by_location``: (J,) C_eq of W_j = E[v | location j]. nan where
        gamma > 1 and (1 - beta omega) W is at or above u's bound 1 / (gamma - 1).
        """
        if by_location:
            return consumption_equivalent(
                np.sum(self.dist * self.v, axis=(1, 2)) / self.population, self.params)
        return float(consumption_equivalent(float(np.sum(self.dist * self.v)), self.params))

    def migration_matrix(self) -> np.ndarray:
        """(J, J) share of location i's households living in j one period later (B.10).

        Flows are counted after saving and the income draw (the pre-migration
        mass), so rows sum to one and L' = L @ M reproduces the population.
        """
        flows = np.einsum("jsi,jsik->jk", self.pre_migration(), self.mig)
        mass = flows.sum(axis=1)
        return flows / np.where(mass > 0.0, mass, 1.0)[:, None]

    def location_aggregates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(L, H, E) by location: population, effective labour int e dphi_j (in
        efficiency units), nominal spending P_j int C dphi_j."""
        L, H, C = location_totals(self.dist, self.c, self.params.e_grid)
        return L, H, self.P * C

    def moments(self) -> dict[str, float]:
        """Named scalar moments of the economy (the names sweeps and estimation use);
        see :func:`~hetspace.core.incomplete_markets.moments.solution_moments`."""
        return solution_moments(self)

    def by_location(self) -> dict[str, np.ndarray]:
        """(J,) arrays by location (population share, welfare, consumption, ...); see
        :func:`~hetspace.core.incomplete_markets.moments.solution_by_location`."""
        return solution_by_location(self)

    def diagnostics(self) -> dict[str, float]:
        """Numerical quality of the solution, apart from the economics in moments();
        see :func:`~hetspace.core.incomplete_markets.moments.solution_diagnostics`."""
        return solution_diagnostics(self)
