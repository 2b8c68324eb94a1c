"""The solved stationary equilibrium and its moments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

import numpy as np

from . import dist_kernels
from .params import Numerics, Params


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
    wage is 1 except in the capital closure; capital is nan outside it; labor is
    effective labour sum dist * w_j * e_s. n_iter counts evaluations of the
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

    def __getstate__(self):
        return {f.name: getattr(self, f.name) for f in fields(self)} | {
            "residuals": dict(self.residuals), "lu_factor": None}

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
        return self.params.P[:, None, None] * slope / (1.0 + self.r)

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
        return self.wage * self.params.w / self.params.P

    def welfare_ce(self, by_location: bool = False):
        """Utilitarian welfare of newborns in consumption-equivalent units (DFM Table 2 note).

        C_eq = u^-1((1 - beta omega) W) with W = sum dist * v: newborns inherit
        their parent's location, income state and assets, so they are distributed
        as dist. ``by_location``: (J,) C_eq of W_j = E[v | location j].
        """
        if by_location:
            W = np.sum(self.dist * self.v, axis=(1, 2)) / self.population
        else:
            W = float(np.sum(self.dist * self.v))
        x = (1.0 - self.params.beta * self.params.omega) * W
        g = self.params.gamma
        return np.exp(x) if g == 1.0 else (1.0 + (1.0 - g) * x) ** (1.0 / (1.0 - g))

    def moments(self) -> dict[str, float]:
        """Named scalar moments (the names sweeps and estimation use).

        r; aggregate_assets (sum of dist * a); mpc_mean (mpc() averaged over dist);
        share_at_limit (mass whose savings are at the borrowing limit); wealth_gini
        (of assets across households, nan when mean assets <= 0 as in bond
        economies); out_migration_rate (share of all households moving per period);
        population_share_max/min; consumption_mean (real, sum dist * c);
        euler_error_max_log10 / euler_error_mean_log10 (log10 of the largest and
        mean of log10 of |c_euler/c - 1| over unconstrained nodes, unweighted);
        market_clearing_residual; distribution_mass; wage; capital; welfare_ce
        (welfare_ce()); consumption_pc_log_sd and real_wage_log_sd (population-
        weighted s.d. across locations of log consumption_per_capita() and log
        real_wage(); 0 with one location).
        """
        d = self.dist
        limit = self.a_grid[0]
        at_limit = self.a_next <= limit + 1e-12 * (1.0 + abs(limit))
        pre_mass = d.sum(axis=(1, 2))
        err = self.euler_error[np.isfinite(self.euler_error)]
        err = np.maximum(err, 1e-17)
        return {
            "r": float(self.r),
            "aggregate_assets": self.aggregate_assets,
            "mpc_mean": float(np.sum(d * self.mpc())),
            "share_at_limit": float(np.sum(d[at_limit])),
            "wealth_gini": wealth_gini(d.sum(axis=(0, 1)), self.a_grid),
            "out_migration_rate": float(np.sum(self.out_migration() * pre_mass)),
            "population_share_max": float(self.population.max() / self.population.sum()),
            "population_share_min": float(self.population.min() / self.population.sum()),
            "consumption_mean": float(np.sum(d * self.c)),
            "euler_error_max_log10": float(np.log10(err.max())) if err.size else np.nan,
            "euler_error_mean_log10": float(np.mean(np.log10(err))) if err.size else np.nan,
            "market_clearing_residual": float(self.residuals["market_clearing"]),
            "distribution_mass": float(d.sum()),
            "wage": float(self.wage),
            "capital": float(self.capital),
            **_spatial_moments(self),
        }


def _spatial_moments(sol: Solution) -> dict[str, float]:
    shares = sol.population_shares()

    def log_sd(x: np.ndarray) -> float:
        lx = np.log(x)
        return float(np.sqrt(shares @ (lx - shares @ lx) ** 2))

    return {"welfare_ce": float(sol.welfare_ce()),
            "consumption_pc_log_sd": log_sd(sol.consumption_per_capita()),
            "real_wage_log_sd": log_sd(sol.real_wage())}


def wealth_gini(mass: np.ndarray, values: np.ndarray) -> float:
    """Gini of a discrete distribution (values sorted ascending); nan if the mean is <= 0.

    "Mean <= 0" allows for rounding: a mean below 1e-9 of the mean absolute value
    (a cleared bond market) counts as zero.

    G = sum_i f_i x_i (F_{i-1} + F_i - 1) / mean, the discrete form of
    sum_i sum_k f_i f_k |x_i - x_k| / (2 mean).
    """
    f = mass / mass.sum()
    mean = float(f @ values)
    if not mean > 1e-9 * float(f @ np.abs(values)):
        return float("nan")
    F = np.cumsum(f)
    F_prev = F - f
    return float(np.sum(f * values * (F_prev + F - 1.0)) / mean)
