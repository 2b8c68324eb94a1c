"""The planner's steady state: one frozen Solution for every allocation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

import numpy as np

from ..moment_info import MomentInfo
from .params import Numerics, Params

# the keys of Solution.moments(), for ModelSpec.moment_names (specs are checked at load)
MOMENT_NAMES = ("welfare_ce", "welfare", "spending", "labour_income", "population_share_max",
                "population_share_min", "consumption_pc_log_sd")

#: How tables and plots show the moments and the swept Params fields.
MOMENT_INFO = {
    "welfare_ce": MomentInfo("Newborns' welfare, consumption equivalent", "consumption"),
    "welfare": MomentInfo("Newborns' utilitarian welfare", "utils"),
    "spending": MomentInfo("Planner's spending (1 at a solution)", "welfare units"),
    "labour_income": MomentInfo("Labour income (1 at a solution)", "welfare units"),
    "population_share_max": MomentInfo("Largest population share", "%", "percent"),
    "population_share_min": MomentInfo("Smallest population share", "%", "percent"),
    "consumption_pc_log_sd": MomentInfo("S.d. of log consumption per capita", "log points"),
}
PARAM_INFO = {
    "allocation": MomentInfo("Allocation"),
    "theta": MomentInfo("Migration elasticity θ"),
    "alpha_agg": MomentInfo("Agglomeration elasticity α"),
    "sigma_trade": MomentInfo("Trade elasticity σ"),
    "beta": MomentInfo("Discount factor β"),
    "omega": MomentInfo("Survival ω"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Solution:
    """A planner steady state. Immutable.

    w, P, population: (J,) multipliers on labour and goods (welfare units, no
    numeraire) and populations (sum one). Axes (J, n) = (location, node): the
    second best has n = n_v promise nodes (promise[j] = v_grid); the first best
    and the history-independent allocation have n = 1, one promise per location.
    promise, C, S, dist: promises, consumption, surplus S_j(v) and stationary
    mass at them. vn, Sn: (J,) newborn values v^n and surplus S^n; mu: (J, J)
    newborn location shares. welfare: W = sum_i L_i v^n_i (utilitarian welfare of
    newborns; newborns are (1 - omega) L_i); welfare_ce = u^-1((1 - beta omega)
    W) = exp((1 - beta omega) W) (Table 2 note). spending = sum_j P_j int C_j
    dphi_j and labour_income = sum_i w_i L_i: both 1 at a solution (log utility,
    beta R = 1, Lambda = 1; the second best's up to about mass_off_grid).
    mass_off_grid: per-period share of households whose promise leaves the v-grid
    (second best; 0 otherwise). concavity (second best;
    nan otherwise): min over locations and grid intervals of the log-slope of
    Xi = P / u'(C) = -S' in v; > 0 means S_j is strictly concave at the nodes, as
    the paper verifies (fn. 6; lotteries would be needed otherwise, and are not
    built: a non-concave fixed point is logged as a warning). n_sweeps: Bellman
    sweeps of the last inner solve (second best) or fixed-point iterations.
    """

    params: Params
    numerics: Numerics
    w: np.ndarray
    P: np.ndarray
    population: np.ndarray
    promise: np.ndarray
    C: np.ndarray
    S: np.ndarray
    dist: np.ndarray
    vn: np.ndarray
    Sn: np.ndarray
    mu: np.ndarray
    welfare: float
    spending: float
    labour_income: float
    mass_off_grid: float
    concavity: float
    converged: bool
    n_iter: int
    n_sweeps: int
    residuals: Mapping[str, float]
    # second best: the component problem's (S, Xi) on the grid and policies, for warm
    # starts and diagnostics (None otherwise)
    component: object = None
    # warm starts: x_first_best, the outer unknowns (outer.start_from) of the first best
    # of these fundamentals (second best: its v-grid comes from it), and the outer
    # Newton's Jacobian at the solution (Broyden-updated); None where not built
    x_first_best: np.ndarray | None = None
    outer_jacobian: np.ndarray | None = None
    # second best: the first best's outer Jacobian near x_first_best (where the next
    # warm start's first-best Newton begins)
    first_best_jacobian: np.ndarray | None = None
    # work counts of the solve: outer_iterations, outer_jacobians (fresh model Jacobians);
    # second best also inner_solves (component problems solved, each with its
    # distribution) and sweeps (Bellman sweeps over all of them)
    work: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    # pickling (a held solution returned by an actor's query, a saved warm start): the
    # read-only mappings travel as dicts
    def __getstate__(self):
        return {f.name: getattr(self, f.name) for f in fields(self)} | {
            "residuals": dict(self.residuals), "work": dict(self.work)}

    def __setstate__(self, state) -> None:
        state = dict(state, residuals=MappingProxyType(state["residuals"]),
                     work=MappingProxyType(state["work"]))
        for name, value in state.items():
            object.__setattr__(self, name, value)

    @property
    def welfare_ce(self) -> float:
        return float(np.exp((1.0 - self.params.beta * self.params.omega) * self.welfare))

    def consumption_per_capita(self) -> np.ndarray:
        """(J,) int C_j dphi_j / L_j."""
        return np.sum(self.dist * self.C, axis=1) / self.population

    def real_wage(self) -> np.ndarray:
        return self.w / self.P

    def moments(self) -> dict[str, float]:
        """welfare_ce, welfare, spending, labour_income, population_share_max/min,
        consumption_pc_log_sd (population-weighted s.d. of log consumption per capita)."""
        c = np.log(self.consumption_per_capita())
        L = self.population
        return {"welfare_ce": self.welfare_ce, "welfare": float(self.welfare),
                "spending": float(self.spending), "labour_income": float(self.labour_income),
                "population_share_max": float(L.max()), "population_share_min": float(L.min()),
                "consumption_pc_log_sd": float(np.sqrt(L @ (c - L @ c) ** 2))}

    def diagnostics(self) -> dict[str, float]:
        return {f"residual_{k}": float(v) for k, v in self.residuals.items()} | {
            "mass_off_grid": float(self.mass_off_grid), "concavity": float(self.concavity)}
