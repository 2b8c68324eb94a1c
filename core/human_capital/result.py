"""The solved life cycle, and what it says at a point: value, returns, decomposition (A.2.2-3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidParamsError, Violation
from ..moment_info import MomentInfo
from . import kernels, value_kernels
from .params import MarkovParams, Numerics, Params
from .shocks import Shocks

#: Moments at age 1 (initial state, cash on hand e_1 (1 + wealth_1)) and of the simulated
#: age profiles.
MOMENTS: dict[str, str] = {
    "value_1": "value of human capital v_1 per unit of e_1 (SDF valuation, A.2.2)",
    "naive_value_1": "naive value: future earnings discounted at the bond rate, per unit of e_1",
    "value_to_naive_1": "v_1 / naive value",
    "mean_return_h_1": "E[R^h_2] - 1, the mean net return on human capital from age 1",
    "share_bond_1": "bond share of v_1 (A.2.3)",
    "share_stock_1": "stock share of v_1 (A.2.3)",
    "share_orth_1": "orthogonal share of v_1, E[m eps] / v (A.2.3)",
    "stock_share_financial_1": "share of age-1 savings held in the stock",
    "consumption_1": "consumption at age 1 per unit of e_1",
    "value_to_naive_mean": "v / naive value, averaged over simulated survivors and ages",
    "share_bond_mean": "bond share of v, averaged over simulated survivors and ages",
    "share_stock_max": "largest age mean of the stock share of v (simulated survivors)",
    "human_wealth_share_min": "smallest age mean of v / (v + savings) (Figure 6)",
    "stock_share_overall_max": "largest age mean of the stock share of overall wealth",
    "wealth_income_ratio": "savings over earnings (after tax, benefits included), summed "
    "over simulated agents and ages 1..J-1: a stationary population without growth (the "
    "paper calibrates beta to a steady-state wealth-income ratio of 3.5, section 4)",
    "discount_factor": "beta of the solved economy (the calibrated one when the params "
    "give a wealth_income_target: calibrate.calibrate_beta)",
}
#: Model ages (1-based) at which the age profiles are reported as moments (real ages 22,
#: 31, 41, 51 and 61 in the section-4 benchmark); NaN beyond the last age but one.
PROFILE_AGES = (1, 10, 20, 30, 40)
MOMENTS.update({f"value_to_naive_j{j}": f"mean v / naive value of survivors at age {j}"
                for j in PROFILE_AGES})
MOMENTS.update({f"share_stock_j{j}": f"mean stock share of v of survivors at age {j}"
                for j in PROFILE_AGES})


def moment_info(first_age: int | None = None) -> dict[str, MomentInfo]:
    """Labels, units and display transforms (hetspace.core.moment_info) of ``MOMENTS``,
    for tables and plots. ``first_age``: the real age of model age 1 (22 in the section-4
    benchmark), so that the age profiles are labelled by real age; None: model ages.
    Values are per unit of the age-1 earnings e_1; a period is the model's (a year in the
    benchmark)."""
    def age(j: int) -> str:
        return f"model age {j}" if first_age is None else f"age {first_age + j - 1}"

    first = age(1)
    info = {
        "value_1": MomentInfo(f"Value of human capital v at {first}", "x earnings e_1"),
        "naive_value_1": MomentInfo(f"Naive value at {first}", "x earnings e_1"),
        "value_to_naive_1": MomentInfo(f"v / naive value at {first}"),
        "mean_return_h_1": MomentInfo(f"Mean return on human capital from {first}",
                                      "% per period", "percent"),
        "share_bond_1": MomentInfo(f"Bond share of v at {first}", "%", "percent"),
        "share_stock_1": MomentInfo(f"Stock share of v at {first}", "%", "percent"),
        "share_orth_1": MomentInfo(f"Orthogonal share of v at {first}", "%", "percent"),
        "stock_share_financial_1": MomentInfo(f"Stock share of savings at {first}", "%",
                                              "percent"),
        "consumption_1": MomentInfo(f"Consumption at {first}", "x earnings e_1"),
        "value_to_naive_mean": MomentInfo("v / naive value, mean over ages"),
        "share_bond_mean": MomentInfo("Bond share of v, mean over ages", "%", "percent"),
        "share_stock_max": MomentInfo("Stock share of v, largest age mean", "%", "percent"),
        "human_wealth_share_min": MomentInfo("Human capital in overall wealth, "
                                             "smallest age mean", "%", "percent"),
        "stock_share_overall_max": MomentInfo("Stock share of overall wealth, "
                                              "largest age mean", "%", "percent"),
        "wealth_income_ratio": MomentInfo("Wealth-income ratio", "x annual earnings"
                                          if first_age is not None else "x earnings"),
        "discount_factor": MomentInfo("Discount factor β", "per period"),
    }
    for j in PROFILE_AGES:
        info[f"value_to_naive_j{j}"] = MomentInfo(f"v / naive value at {age(j)}")
        info[f"share_stock_j{j}"] = MomentInfo(f"Stock share of v at {age(j)}", "%",
                                               "percent")
    return info


#: The general model's (ages are model ages).
MOMENT_INFO = moment_info()


@dataclass(frozen=True, slots=True)
class PointValues:
    """Everything at one (age, xhat, state), in units of the current earnings scale z.

    value v = E[m y] with y = v' + e'; value_stored is v read from the solved grid (equal at
    grid nodes, interpolated between them); euler_* are E[m R] (one off corners; at a
    corner the unused asset's is below one); euler_human is E[m R^h] with R^h = y /
    value_stored. a_bond, a_stock: the projection of y on (R^b, R^s) with uncentred
    conditional normal equations; share_* = a E[m R] / v and share_orth = E[m eps] / v
    with eps = y - a_bond R^b - a_stock R^s (the paper's A.2.3 prints "+ a^s R^s").
    """

    age: int
    xhat: float
    consumption: float
    savings: float
    stock_share: float
    utility: float
    value: float
    value_stored: float
    naive: float
    mean_return: float
    euler_bond: float
    euler_stock: float
    euler_human: float
    a_bond: float
    a_stock: float
    share_bond: float
    share_stock: float
    share_orth: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LifeCycle:
    """Policies and values on endogenous grids; axes (age j-1, transition row, savings node).

    xe: cash on hand xhat at each node; c, V: consumption and Epstein-Zin value;
    vh: human capital value vhat; theta: stock share of savings above the borrowing limit;
    savings at node k of age j is ``savings_nodes[j-1, k]``. dc, dv, dvh: slopes of the
    monotone cubics through c, V and vh at the nodes (unused if interpolation is linear).
    f0, k0 (age, row): F(V') and
    vhat / c^gamma at the borrowing limit (exact below the first node); naive (age, row):
    the naive value.
    """

    savings_nodes: np.ndarray
    xe: np.ndarray
    c: np.ndarray
    V: np.ndarray
    vh: np.ndarray
    theta: np.ndarray
    dc: np.ndarray
    dv: np.ndarray
    dvh: np.ndarray
    f0: np.ndarray
    k0: np.ndarray
    naive: np.ndarray
    beta: float
    shocks: Shocks
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    params: Params | MarkovParams
    numerics: Numerics

    @property
    def pol(self) -> tuple:
        """The kernels' solution tuple (kernels.py)."""
        return (self.xe, self.c, self.V, self.vh, self.theta, self.f0, self.k0, self.dc,
                self.dv, self.dvh)

    @property
    def pref(self) -> tuple:
        """The kernels' preference tuple (beta, gamma, alpha, R^b, cubic interpolation)."""
        return (self.beta, float(self.params.gamma), float(self.params.alpha), self.shocks.rb,
                self.numerics.interpolation == "pchip")

    def at(self, age: int, xhat: float | None = None, state: int | None = None) -> PointValues:
        """Values, returns and the decomposition at ``age`` (1..J-1), ``xhat`` and today's
        exogenous ``state`` (defaults: age 1's cash on hand and state)."""
        p = self.params
        sh = self.shocks
        state = sh.state0 if state is None else state
        _check_point(p, sh, age, xhat, state)
        xhat = sh.x1 if xhat is None else float(xhat)
        row = int(sh.row_of[state])
        out = np.empty(13)
        value_kernels.point_values(age - 1, row, xhat, sh.mdl, self.pref, self.pol, p.stock, out)
        stored = kernels.interp_at(age - 1, row, xhat, sh.mdl, self.pol, self.pref, True)[2]
        v, mean_return, e_mrb, e_mrs, a_b, a_s, s_b, s_s, s_o, c, a, theta, util = (
            float(o) for o in out)
        return PointValues(
            age=age, xhat=xhat, consumption=c, savings=a, stock_share=theta, utility=util,
            value=v, value_stored=stored, naive=float(self.naive[age - 1, row]),
            mean_return=mean_return, euler_bond=e_mrb, euler_stock=e_mrs,
            euler_human=v / stored, a_bond=a_b, a_stock=a_s, share_bond=s_b,
            share_stock=s_s, share_orth=s_o,
        )

    def moments(self) -> dict[str, float]:
        """Age-1 values at the initial cash on hand, and summaries of the simulated age
        profiles (``numerics.n_sim`` agents, ``numerics.seed``) as in Figures 4-6."""
        from .simulate import simulate_profiles

        pt = self.at(1)
        prof = simulate_profiles(self)
        e1 = float(self.shocks.g[0, self.shocks.state0])
        by_age = {}
        for j in PROFILE_AGES:
            inside = j <= prof.value_to_naive.size
            by_age[f"value_to_naive_j{j}"] = float(prof.value_to_naive[j - 1]) if inside \
                else float("nan")
            by_age[f"share_stock_j{j}"] = float(prof.share_stock[j - 1]) if inside \
                else float("nan")
        return {
            **by_age,
            "value_1": pt.value / e1,
            "naive_value_1": pt.naive / e1,
            "value_to_naive_1": pt.value / pt.naive,
            "mean_return_h_1": pt.mean_return - 1.0,
            "share_bond_1": pt.share_bond,
            "share_stock_1": pt.share_stock,
            "share_orth_1": pt.share_orth,
            "stock_share_financial_1": pt.stock_share,
            "consumption_1": pt.consumption / e1,
            "value_to_naive_mean": float(np.nanmean(prof.value_to_naive)),
            "share_bond_mean": float(np.nanmean(prof.share_bond)),
            "share_stock_max": float(np.nanmax(prof.share_stock)),
            "human_wealth_share_min": float(np.nanmin(prof.human_wealth_share)),
            "stock_share_overall_max": float(np.nanmax(prof.stock_share_overall)),
            "wealth_income_ratio": _wealth_income(prof),
            "discount_factor": float(self.beta),
        }

    def wealth_income_ratio(self) -> float:
        """The moment ``wealth_income_ratio`` alone (one simulation of the age profiles)."""
        from .simulate import simulate_profiles

        return _wealth_income(simulate_profiles(self))


def _wealth_income(prof) -> float:
    """Savings over earnings of the simulated survivors, summed over agents and ages."""
    return float(np.nansum(prof.alive * prof.savings) / np.nansum(prof.alive * prof.earnings))


def _check_point(p: Params | MarkovParams, sh: Shocks, age, xhat, state) -> None:
    problems = []
    n_states = sh.n_states
    if isinstance(age, bool) or not isinstance(age, (int, np.integer)) \
            or not 1 <= age <= p.n_ages - 1:
        problems.append(Violation("age", f"must be an integer in [1, {p.n_ages - 1}]", age))
    if xhat is not None and isinstance(age, (int, np.integer)) and 1 <= age <= p.n_ages - 1:
        lowest = float(sh.amin[age - 1])
        if not (isinstance(xhat, (int, float, np.floating)) and xhat > lowest):
            problems.append(Violation("xhat", f"must be a number > {lowest:g} (minus the "
                                      "borrowing limit at this age)", xhat))
    if isinstance(state, bool) or not isinstance(state, (int, np.integer)) \
            or not 0 <= state < n_states:
        problems.append(Violation("state", f"must be an integer in [0, {n_states - 1}]", state))
    if problems:
        raise InvalidParamsError("human_capital.LifeCycle.at", problems)
