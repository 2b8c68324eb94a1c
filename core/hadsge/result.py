"""Solution objects of the hadsge model: the household block, the aggregates, the solve."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..moment_info import MomentInfo
from .params import Numerics, Params

#: Moments of a stationary solve (analytic: no simulation).
MOMENTS: dict[str, str] = {
    "theta_retire": "human-capital share of wealth at retirement, mean over retirees (eq. 11)",
    "theta_work": "human-capital share of wealth of workers aged 1..A-1, cohort-weighted mean "
                  "(eq. 12)",
    "mobility": "share of workers aged 1..A-1 who switch market in a period",
    "wealth_retire": "mean effective wealth at retirement over entrants' wealth",
    "labour_total": "aggregate effective human capital supplied, sum of L_l (Prop. 2)",
    "capital_total": "aggregate assets supplied, sum of K_l (Prop. 2)",
    "consumption_total": "aggregate consumption, sum of C_l (Prop. 2)",
}

#: Labels, units and display transforms (hetspace.core.moment_info) of the moments and of
#: the Params fields sweeps vary (the simulated statistics': statistics.SIMULATED_INFO);
#: a period is the model's (three years in the section-4.1 example).
MOMENT_INFO = {
    "theta_retire": MomentInfo("Human-capital share at retirement", "%", "percent"),
    "theta_work": MomentInfo("Human-capital share of workers", "%", "percent"),
    "mobility": MomentInfo("Market switching rate", "% per period", "percent"),
    "wealth_retire": MomentInfo("Wealth at retirement", "x entrants' wealth"),
    "labour_total": MomentInfo("Effective human capital supplied", "model units"),
    "capital_total": MomentInfo("Assets supplied", "model units"),
    "consumption_total": MomentInfo("Aggregate consumption", "model units"),
}
PARAM_INFO = {
    "alpha": MomentInfo("Fréchet shape α"),
    "tau": MomentInfo("Human capital carried on switching τ"),
    "psi": MomentInfo("Assets carried on switching ψ"),
    "chi": MomentInfo("Switching cost χ"),
    "sigma_nu2": MomentInfo("Variance of log ν"),
    "beta": MomentInfo("Discount factor β"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Household:
    """Proposition 1 by age (a = 0..A) and market; J markets, n_quad nodes of nu.

    theta[a, l]: human-capital share theta^a_l held at age a by those who chose l at
    a - 1 (a >= 1; row 0: the entrants' theta0). ev[a, l]: E_nu v^a_l(theta^a_l, nu)
    (row 0: the entrants' value in every column). mu[a, j, l, q]: share of age-a agents
    from j (share theta^a_j) with shock nu[q] who choose l (entrants: every row j the
    same). share_residual[a, l]: |first-order condition| at the share (0 at a corner).
    nu, nu_prob: quadrature nodes and probabilities; w_age, r_age: the returns by age.
    """

    theta: np.ndarray
    ev: np.ndarray
    mu: np.ndarray
    share_residual: np.ndarray
    nu: np.ndarray
    nu_prob: np.ndarray
    w_age: np.ndarray
    r_age: np.ndarray

    @property
    def mu_bar(self) -> np.ndarray:
        """E_nu mu^a_jl (a, j, l): the transition shares a panel observes."""
        return np.einsum("ajlq,q->ajl", self.mu, self.nu_prob)


@dataclass(frozen=True, slots=True, kw_only=True)
class Aggregates:
    """Proposition 2 for one cohort of mass one, ages a = 0..A, markets l.

    Lambda[a, l]: share of the cohort attached to l at the start of age a (row 0 NaN:
    entrants have no market). EW[a, l]: mean effective wealth there (row 0: wealth0).
    h, k, c [a, l] (a = 0..A-1): effective human capital tau nu eps h and assets
    psi eps k supplied in l at age a, and consumption, totals over the cohort.
    mobility[a]: share of age-a workers who switch (NaN at a = 0). L, K, C [l]: sums
    over ages weighted by the cohort masses Psi^a (Params.cohort_weights).
    """

    Lambda: np.ndarray
    EW: np.ndarray
    h: np.ndarray
    k: np.ndarray
    c: np.ndarray
    mobility: np.ndarray
    L: np.ndarray
    K: np.ndarray
    C: np.ndarray


@dataclass(frozen=True, slots=True, kw_only=True)
class Solution:
    """A stationary hadsge economy given returns: households and aggregates.

    residuals: ``share_foc_max``, the largest |eq. (11)-(12)| at an interior share.
    """

    household: Household
    aggregates: Aggregates
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    params: Params
    numerics: Numerics

    # arrays of the solution, for ``hetspace solve``'s npz
    theta: np.ndarray
    mobility: np.ndarray
    L: np.ndarray
    K: np.ndarray
    C: np.ndarray

    def moments(self) -> dict[str, float]:
        """The ``MOMENTS``, from the household block and Proposition 2 (no simulation)."""
        hh, ag, p = self.household, self.aggregates, self.params
        A = p.n_ages
        psi = p.cohort_weights[1:]
        lam = ag.Lambda
        th_age = np.sum(lam[1:A] * hh.theta[1:A], axis=1)
        workers = psi.sum()
        return {
            "theta_retire": float(np.sum(lam[A] * hh.theta[A])),
            "theta_work": float(np.sum(psi * th_age) / workers) if workers > 0 else np.nan,
            "mobility": float(np.sum(psi * ag.mobility[1:]) / workers) if workers > 0
            else np.nan,
            "wealth_retire": float(np.sum(lam[A] * ag.EW[A]) / p.wealth0),
            "labour_total": float(ag.L.sum()),
            "capital_total": float(ag.K.sum()),
            "consumption_total": float(ag.C.sum()),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SteadyState:
    """A general-equilibrium steady state (``equilibrium.solve_steady_state``).

    w, r (J,): equilibrium gross returns; params: the household fundamentals at them;
    household, aggregates: the household block there; static: the temporary equilibrium
    (production.Static) at the aggregates' L, K. residuals: ``max_abs_log_return_gap``
    (the solver's criterion), ``max_goods_gap`` (the static block's). jacobian: d F / d
    (log w, log r) at the solution (fresh or Broyden-updated), a warm start's Jacobian.
    """

    w: np.ndarray
    r: np.ndarray
    params: Params
    household: Household
    aggregates: Aggregates
    static: object
    production: object
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    jacobian: np.ndarray

    def household_final_demand(self) -> np.ndarray:
        """(N,) nominal final demand from the households' budgets: P^n sum over region n's
        markets of C + W' - (1 - delta_h) L - (1 - delta_k) K, with W' = beta / (1 - beta) C
        (Proposition 1); the (1 - delta) L and (1 - delta) K are the stocks returned."""
        p, ag, st = self.params, self.aggregates, self.static
        N = st.log_Pc.shape[0]
        saving = p.beta / (1.0 - p.beta) * ag.C
        pr = self.production
        net = ag.C + saving - (1.0 - pr.delta_h) * ag.L - (1.0 - pr.delta_k) * ag.K
        return np.exp(st.log_Pc) * net.reshape(N, -1).sum(axis=1)
