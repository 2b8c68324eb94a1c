"""The workhorse's moments, defined once: of a solved steady state and of observed data.

``location_moments`` maps four (J,) location arrays (and the (J, J)
migration matrix) to the scale-free location moments below. Both sides of an
estimation call it: :func:`solution_moments` on a solved steady state (the
model) and :func:`data_moments` on a :class:`~.data.SpatialData` (the data).

============== ========================================= ==========================================
array          data (SpatialData)                        model (Solution)
============== ========================================= ==========================================
population     ``population`` (any units)                ``population`` (distribution mass)
migration      ``migration`` (J, J), rows sum to one     ``migration_matrix()`` (DFM B.10)
real wage      ``wage / price_index``                    ``real_wage()`` = wage w_j / P_j
consumption    ``trade.sum(axis=0) / (price_index L)``   ``consumption_per_capita()``
============== ========================================= ==========================================

Data consumption per capita: column sums of trade are spending E_j = P_j C_j
(trade[i, j] = lam_ij E_j and lam's columns sum to one, DFM B.1), so real
consumption per resident is E_j / (P_j L_j). The moments are scale-free in
every input's units (shares, logs), so data in currency and persons compare
with the model's units directly.

Location moments (LOCATION_MOMENTS): population_share_max/min (L_j / sum L);
out_migration_rate (sum_j share_j (1 - M_jj), the share of households that
leave their location within a period); real_wage_log_sd and
consumption_pc_log_sd (population-weighted s.d. across locations of the log;
0 with one location).

The economics (``Solution.moments()``) are kept apart from the numerical
diagnostics (``Solution.diagnostics()``: Euler errors, market-clearing
residual, distribution mass), which say how far to trust the numbers, not what
they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..moment_info import MomentInfo

LOCATION_MOMENTS = ("population_share_max", "population_share_min", "out_migration_rate",
                    "real_wage_log_sd", "consumption_pc_log_sd")
#: The names of solution_moments, in its order (sweep and estimation specs are checked
#: against them when they load).
MOMENT_NAMES = ("r", "aggregate_assets", "mpc_mean", "share_at_limit", "wealth_gini",
                "consumption_mean", "wage", "capital", "welfare_ce", *LOCATION_MOMENTS)


#: Label, display unit and transform of every moment of solution_moments (and of the
#: arrays of solution_by_location); see hetspace.core.moment_info. Rates per period
#: display as annual % given the sweep's periods_per_year.
MOMENT_INFO = {
    "r": MomentInfo("Interest rate", "annual %", "annual_percent"),
    "aggregate_assets": MomentInfo("Aggregate assets", "model units"),
    "mpc_mean": MomentInfo("Mean MPC", "per period"),
    "share_at_limit": MomentInfo("Share at borrowing limit", "%", "percent"),
    "wealth_gini": MomentInfo("Wealth Gini"),
    "consumption_mean": MomentInfo("Mean consumption", "model units"),
    "wage": MomentInfo("Wage", "model units"),
    "capital": MomentInfo("Capital", "model units"),
    "welfare_ce": MomentInfo("Newborn welfare", "consumption equivalent"),
    "population_share_max": MomentInfo("Largest population share", "%", "percent"),
    "population_share_min": MomentInfo("Smallest population share", "%", "percent"),
    "out_migration_rate": MomentInfo("Out-migration rate", "% per period", "percent"),
    "real_wage_log_sd": MomentInfo("S.d. of log real wage", "log points"),
    "consumption_pc_log_sd": MomentInfo("S.d. of log consumption per capita", "log points"),
    "population_share": MomentInfo("Population share", "%", "percent"),
    "consumption_pc": MomentInfo("Consumption per capita", "model units"),
    "real_wage": MomentInfo("Real wage", "model units"),
    "out_migration": MomentInfo("Out-migration rate", "% per period", "percent"),
}

#: Labels of the Params fields a sweep varies most (axes of tables and plots).
PARAM_INFO = {
    "gamma": MomentInfo("Risk aversion γ"),
    "beta": MomentInfo("Discount factor β"),
    "omega": MomentInfo("Survival probability ω"),
    "theta": MomentInfo("Migration elasticity θ"),
    "a_low": MomentInfo("Borrowing limit", "model units"),
    "alpha_agg": MomentInfo("Agglomeration elasticity"),
    "sigma_trade": MomentInfo("Trade elasticity σ"),
    "alpha": MomentInfo("Capital share α"),
    "delta": MomentInfo("Depreciation δ", "per period"),
}


def location_moments(population: np.ndarray, migration: np.ndarray, real_wage: np.ndarray,
                     consumption_pc: np.ndarray) -> dict[str, float]:
    """The LOCATION_MOMENTS of (J,) arrays and the (J, J) migration matrix (module docstring)."""
    pop = np.asarray(population, dtype=float)
    shares = pop / pop.sum()

    def log_sd(x: np.ndarray) -> float:
        lx = np.log(np.asarray(x, dtype=float))
        return float(np.sqrt(shares @ (lx - shares @ lx) ** 2))

    stay = np.diag(np.asarray(migration, dtype=float))
    return {"population_share_max": float(shares.max()),
            "population_share_min": float(shares.min()),
            "out_migration_rate": float(shares @ (1.0 - stay)),
            "real_wage_log_sd": log_sd(real_wage),
            "consumption_pc_log_sd": log_sd(consumption_pc)}


def data_moments(data: Any) -> dict[str, float]:
    """LOCATION_MOMENTS of observed data, a SpatialData (see the table above)."""
    spending = data.trade.sum(axis=0)
    return location_moments(data.population, data.migration, data.wage / data.price_index,
                            spending / (data.price_index * data.population))


def solution_moments(sol: Any) -> dict[str, float]:
    """Named scalar moments of a steady state (the names sweeps and estimation use).

    r; aggregate_assets (sum of dist * a); mpc_mean (mpc() averaged over dist);
    share_at_limit (mass whose savings are at the borrowing limit); wealth_gini
    (of assets across households, nan when mean assets <= 0 as in bond
    economies); consumption_mean (real, sum dist * c); wage; capital;
    welfare_ce (Solution.welfare_ce()); and the LOCATION_MOMENTS.
    """
    d = sol.dist
    limit = sol.a_grid[0]
    at_limit = sol.a_next <= limit + 1e-12 * (1.0 + abs(limit))
    return {
        "r": float(sol.r),
        "aggregate_assets": sol.aggregate_assets,
        "mpc_mean": float(np.sum(d * sol.mpc())),
        "share_at_limit": float(np.sum(d[at_limit])),
        "wealth_gini": wealth_gini(d.sum(axis=(0, 1)), sol.a_grid),
        "consumption_mean": float(np.sum(d * sol.c)),
        "wage": float(sol.wage),
        "capital": float(sol.capital),
        "welfare_ce": float(sol.welfare_ce()),
        **location_moments(sol.population, sol.migration_matrix(), sol.real_wage(),
                           sol.consumption_per_capita()),
    }


def solution_by_location(sol: Any) -> dict[str, np.ndarray]:
    """(J,) arrays by location: population_share (L_j / sum L), welfare_ce (newborn
    welfare in consumption-equivalent units, Solution.welfare_ce(by_location=True)),
    consumption_pc (real consumption per resident), real_wage (w_j / P_j) and
    out_migration (share of residents who move away within a period).

    Sweeps store them beside the scalar moments (``l_`` columns), so that a region
    shock's effect at the shocked location can be computed against the unshocked
    economy of the same grid cell.
    """
    return {"population_share": sol.population_shares(),
            "welfare_ce": np.asarray(sol.welfare_ce(by_location=True), dtype=float),
            "consumption_pc": sol.consumption_per_capita(),
            "real_wage": sol.real_wage(),
            "out_migration": sol.out_migration()}


def solution_diagnostics(sol: Any) -> dict[str, float]:
    """How accurate a steady state is (not economics).

    euler_error_max_log10 / euler_error_mean_log10: log10 of the largest and the
    mean of log10 of |c_euler/c - 1| over unconstrained nodes (unweighted, nan
    when there are none); market_clearing_residual (assets minus supply);
    distribution_mass (sum of dist, 1 up to rounding); and every entry of
    ``sol.residuals`` that is a number, prefixed ``residual_``.
    """
    err = sol.euler_error[np.isfinite(sol.euler_error)]
    err = np.maximum(err, 1e-17)
    out = {
        "euler_error_max_log10": float(np.log10(err.max())) if err.size else np.nan,
        "euler_error_mean_log10": float(np.mean(np.log10(err))) if err.size else np.nan,
        "market_clearing_residual": float(sol.residuals["market_clearing"]),
        "distribution_mass": float(sol.dist.sum()),
    }
    out.update({f"residual_{k}": float(v) for k, v in sol.residuals.items()
                if isinstance(v, (int, float, np.floating))})
    return out


def wealth_gini(mass: np.ndarray, values: np.ndarray) -> float:
    """Gini of a discrete distribution (values sorted ascending); nan if the mean is <= 0.

    "Mean <= 0" allows for solver tolerance: a mean below 1e-6 of the mean absolute
    value counts as zero (a bond market cleared to tolerance leaves mean assets of
    about 1e-9 to 1e-8 of the mean absolute value; with 1e-9 the spatial economies'
    Gini came out near 1e8).

    G = sum_i f_i x_i (F_{i-1} + F_i - 1) / mean, the discrete form of
    sum_i sum_k f_i f_k |x_i - x_k| / (2 mean).
    """
    f = mass / mass.sum()
    mean = float(f @ values)
    if not mean > 1e-6 * float(f @ np.abs(values)):
        return float("nan")
    F = np.cumsum(f)
    F_prev = F - f
    return float(np.sum(f * values * (F_prev + F - 1.0)) / mean)


def newborn_welfare(sol: Any) -> float:
    """W = sum_i L_i E[v^n_i]: utilitarian welfare of newborns, the planner's definition
    (DFM (6), (8); Table 2 note), for the status quo.

    A household that dies at the end of a period leaves its savings a' as an
    accidental bequest (section 4.1): the newborn replacing it starts in the same
    location with assets a' and then draws its location tastes, so its value is
    v^n = beta (1/theta) ln sum_k chi_ik exp(theta v_k(a')) (the beta of (8) that
    (2) lacks), with v_k(a') interpolated linearly in assets. Deaths hit every
    state alike, so newborns are distributed as dist over (location, income
    state, savings a_next). One income state only (the planner has no income
    risk); ``welfare_ce`` is the different start-of-period object.
    C_eq = exp((1 - beta omega) W) for log utility.
    """
    p = sol.params
    if p.n_e != 1:
        raise ValueError(f"newborn_welfare: one income state only (got {p.n_e})")
    J = sol.v.shape[0]
    v_at = np.stack([np.interp(sol.a_next[:, 0, :].ravel(), sol.a_grid, sol.v[k, 0])
                     .reshape(J, -1) for k in range(J)], axis=-1)  # (J, n_a, J): v_k(a'_i)
    x = np.log(p.chi)[:, None, :] + p.theta * v_at
    top = x.max(axis=-1, keepdims=True)
    iv = (top[..., 0] + np.log(np.exp(x - top).sum(axis=-1))) / p.theta
    return float(np.sum(sol.dist[:, 0, :] * p.beta * iv))
