"""Solutions of the Caliendo-Dvorkin-Parro economy: levels path, time changes, counterfactual.

Axes: t (0..T) first. Labour-market arrays are (N, S) per period: slot 0 is non-employment
when the structure has it, then the J sectors (``employment`` and ``non_employment`` split
them). ``mu[t, m, m']`` (M = N S, m = n S + s) moves households at the end of period t,
L_{t+1} = mu_t' L_t (eq. 3). ``X[t, j, i, n]`` flows of sector j from i to n; ``lam`` shares
of the destination's spending. w (T+1, N, J) wages; P_rel (T+1, N, J) sectoral and Pc_rel
(T+1, N) consumer price indices relative to t = 0; V_rel (T+1, N, S) = V_t - V_0.
Time changes x-dot_t = x_t / x_{t-1} are (T, ...) arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..moment_info import MomentInfo
from ._paths import HatsOfDots, TimeChanges, step_ratio
from .cdp_params import CDPObservables, CDPParams, Structure
from .params import Numerics
from .result import half_life, shocked

#: Moments of a CDP path: name -> meaning (market k = the (n, j) with largest |log A_T/A_0|;
#: without productivity changes, the one with the largest |log L_T / L_0|).
CDP_PATH_MOMENTS: dict[str, str] = {
    "shocked_region": "region n of the most-shocked market",
    "shocked_sector": "sector j (1..J) of the most-shocked market",
    "employment_change_long_run": "L_T / L_0 - 1 of the shocked market",
    "employment_half_life": "periods until the shocked market has made half its change",
    "real_wage_change_long_run": "(w/P)_T / (w/P)_0 - 1 in the shocked market",
    "non_employment_rate_T": "world non-employment share at T (0 without non-employment)",
    "horizon_gap": "relative one-period change of any market's population at T",
}

#: How tables and plots show the moments (paths and counterfactuals) and swept fields.
CDP_MOMENT_INFO = {
    "shocked_region": MomentInfo("Region of the most-shocked market", "index"),
    "shocked_sector": MomentInfo("Sector of the most-shocked market", "1..J"),
    "employment_change_long_run": MomentInfo("Long-run employment change, shocked market",
                                             "%", "percent"),
    "employment_half_life": MomentInfo("Half-life of the employment change", "periods"),
    "real_wage_change_long_run": MomentInfo("Long-run real-wage change, shocked market", "%",
                                            "percent"),
    "non_employment_rate_T": MomentInfo("Non-employment rate at the horizon", "%", "percent"),
    "horizon_gap": MomentInfo("Population change per period at the horizon", "relative"),
    "welfare_ce_shocked": MomentInfo("Welfare change of the shocked market's residents",
                                     "% of consumption", "percent"),
    "welfare_ce_mean": MomentInfo("Mean welfare change", "% of consumption", "percent"),
}
CDP_PARAM_INFO = {
    "structure.beta": MomentInfo("Discount factor β"),
    "structure.nu": MomentInfo("Migration shock scale ν (1/ν: migration elasticity)"),
}

#: Moments of a CDP counterfactual relative to its baseline.
CDP_COUNTERFACTUAL_MOMENTS: dict[str, str] = {
    "shocked_region": "region n of the market with the largest |log A'_T / A_T| (without "
    "productivity changes, the largest |log L'_T / L_T| of employment)",
    "shocked_sector": "its sector j (1..J)",
    "employment_change_long_run": "L'_T / L_T - 1 in the shocked market",
    "employment_half_life": "periods until log(L'_t / L_t) of that market reaches half its "
    "value at T",
    "welfare_ce_shocked": "consumption-equivalent welfare change of the shocked market",
    "welfare_ce_mean": "L_0-weighted mean consumption-equivalent welfare change",
}


class _Markets:
    """Views shared by all CDP paths (needs ``structure`` and ``L``)."""

    __slots__ = ()

    @property
    def employment(self) -> np.ndarray:
        return self.L[..., int(self.structure.non_employment):]

    @property
    def non_employment(self) -> np.ndarray:
        """(T+1, N) non-employed households (zeros without non-employment)."""
        if self.structure.non_employment:
            return self.L[..., 0]
        return np.zeros(self.L.shape[:-1])

    @property
    def R(self) -> np.ndarray:
        """(T+1, N, J) gross output by market."""
        return self.X.sum(axis=3).transpose(0, 2, 1)

    @property
    def beta(self) -> float:
        return self.structure.beta

    @property
    def nu(self) -> float:
        return self.structure.nu


class _TimeChanges(_Markets, TimeChanges):
    """Time changes w_dot (T, N, J), P_dot (T, N, J), Pc_dot (T, N) and u_dot (T, N, S)."""

    __slots__ = ()

    @property
    def Pc_dot(self) -> np.ndarray:
        return step_ratio(self.Pc_rel)

    @property
    def real_wage_rel(self) -> np.ndarray:
        """(T+1, N, J) (w_t / Pc_t) / (w_0 / Pc_0)."""
        real = self.w / self.Pc_rel[:, :, None]
        return real / real[0]

    def _path_moments(self, log_A_change: np.ndarray) -> dict[str, float]:
        emp_all = self.employment
        n, j = shocked(log_A_change, np.log(emp_all[-1] / emp_all[0]))
        emp = emp_all[:, n, j]
        L = self.L
        return {
            "shocked_region": float(n),
            "shocked_sector": float(j + 1),
            "employment_change_long_run": float(emp[-1] / emp[0] - 1.0),
            "employment_half_life": half_life(np.log(emp)),
            "real_wage_change_long_run": float(self.real_wage_rel[-1, n, j] - 1.0),
            "non_employment_rate_T": float(self.non_employment[-1].sum() / L[-1].sum()),
            "horizon_gap": float(self.residuals["horizon_gap"]),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CDPPath(_TimeChanges):
    """Perfect-foresight path in levels (world value added = total households each period).

    P (T+1, N, J) and Pc (T+1, N) price levels, V (T+1, N, S) values, mu_prev (M, M) the
    period -1 migration matrix implied by perfect foresight (the observable hat algebra takes).
    """

    w: np.ndarray
    P: np.ndarray
    Pc: np.ndarray
    P_rel: np.ndarray
    Pc_rel: np.ndarray
    L: np.ndarray
    V: np.ndarray
    V_rel: np.ndarray
    mu: np.ndarray
    mu_prev: np.ndarray
    lam: np.ndarray
    X: np.ndarray
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    history: tuple[float, ...]
    params: CDPParams
    numerics: Numerics

    @property
    def structure(self) -> Structure:
        return self.params.structure

    @property
    def A_dot(self) -> np.ndarray:
        A = self.params.A_path
        return A[1:] / A[:-1]

    @property
    def kappa_dot(self) -> np.ndarray:
        """(T, J, N, N) kappa_t / kappa_{t-1}."""
        kappa = self.params.trade_costs()
        return kappa[1:] / kappa[:-1]

    @property
    def b_dot(self) -> np.ndarray:
        """(T, N) b_t / b_{t-1} (ones without non-employment)."""
        b = self.params.home_production()
        return np.ones(self.A_dot.shape[:2]) if b is None else b[1:] / b[:-1]

    @property
    def tau_diff(self) -> np.ndarray:
        """(T, M, M) tau_t - tau_{t-1}, changes of the additive relocation costs."""
        return np.diff(self.params.migration_costs(), axis=0)

    def changes(self) -> dict[str, np.ndarray]:
        """All time changes in fundamentals, as keyword arguments of ``solve_cdp_hat``
        (``b_dot`` only with non-employment)."""
        out = {"A_dot": self.A_dot, "kappa_dot": self.kappa_dot, "tau_diff": self.tau_diff}
        if self.structure.non_employment:
            out["b_dot"] = self.b_dot
        return out

    def observables(self) -> CDPObservables:
        """Period-0 data: X_0, L_0, mu_{-1} and the structure."""
        return CDPObservables(X0=self.X[0], L0=self.L[0], mu_prev=self.mu_prev,
                              structure=self.structure)

    def moments(self) -> dict[str, float]:
        A = self.params.A_path
        return self._path_moments(np.log(A[-1] / A[0]))


@dataclass(frozen=True, slots=True, kw_only=True)
class CDPHatPath(_TimeChanges):
    """Dynamic hat algebra solution from observables (w in the data's units,
    w_0 = gamma (1 - xi) R_0 / L_0). The changes in fundamentals used: A_dot (T, N, J),
    kappa_dot (T, J, N, N), b_dot (T, N) and tau_diff (T, M, M) (cdp_dynamic docstring)."""

    w: np.ndarray
    P_rel: np.ndarray
    Pc_rel: np.ndarray
    L: np.ndarray
    V_rel: np.ndarray
    mu: np.ndarray
    lam: np.ndarray
    X: np.ndarray
    A_dot: np.ndarray
    kappa_dot: np.ndarray
    b_dot: np.ndarray
    tau_diff: np.ndarray
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    history: tuple[float, ...]
    inputs: CDPObservables
    numerics: Numerics

    @property
    def structure(self) -> Structure:
        return self.inputs.structure

    def moments(self) -> dict[str, float]:
        return self._path_moments(np.sum(np.log(self.A_dot), axis=0))


@dataclass(frozen=True, slots=True, kw_only=True)
class CDPCounterfactual(_Markets, HatsOfDots):
    """Counterfactual relative to a baseline (hat of dots, CDP Proposition 2).

    w_ratio (T+1, N, J) = w'_t / w_t, P_ratio (T+1, N, J), Pc_ratio (T+1, N), V_diff (T+1, N, S)
    = V'_t - V_t = log(u'_t / u_t). L, mu, lam, X: counterfactual paths (a new baseline).
    L_base: (T+1, N, S). The counterfactual changes: A_hat (T, N, J) = A-dot'_t / A-dot_t,
    kappa_hat (T, J, N, N), b_hat (T, N) likewise, tau_diff_hat (T, M, M) differences of the
    relocation costs' time differences. Hats of dots x-hat_t = x-dot'_t / x-dot_t are the
    properties w_hat, P_hat, u_hat, L_hat.
    """

    w_ratio: np.ndarray
    P_ratio: np.ndarray
    Pc_ratio: np.ndarray
    V_diff: np.ndarray
    L: np.ndarray
    mu: np.ndarray
    lam: np.ndarray
    X: np.ndarray
    L_base: np.ndarray
    A_hat: np.ndarray
    kappa_hat: np.ndarray
    b_hat: np.ndarray
    tau_diff_hat: np.ndarray
    structure: Structure
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    history: tuple[float, ...]
    numerics: Numerics

    def moments(self) -> dict[str, float]:
        h = int(self.structure.non_employment)
        response = np.log(self.L[-1, :, h:] / self.L_base[-1, :, h:])
        n, j = shocked(np.sum(np.log(self.A_hat), axis=0), response)
        gap = np.log(self.L[:, n, h + j] / self.L_base[:, n, h + j])
        weights = self.L[0] / self.L[0].sum()
        return {
            "shocked_region": float(n),
            "shocked_sector": float(j + 1),
            "employment_change_long_run": float(np.exp(gap[-1]) - 1.0),
            "employment_half_life": half_life(gap),
            "welfare_ce_shocked": float(self.welfare_ce[n, h + j]),
            "welfare_ce_mean": float(np.sum(weights * self.welfare_ce)),
        }


#: Moments of a CDP steady state.
CDP_STEADY_STATE_MOMENTS: dict[str, str] = {
    "non_employment_rate": "world non-employment share (0 without non-employment)",
    "real_wage_mean": "employment-weighted mean real wage w / Pc",
    "real_wage_dispersion": "standard deviation of log real wages across markets",
    "stay_share_mean": "household-weighted mean share staying in their market",
    "population_max_share": "largest region's share of households",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class CDPSteadyState(_Markets):
    """Stationary equilibrium with constant fundamentals (productivity A (N, J), the other
    fundamentals at their period-T values). w (N, J) wages, P (N, J) sectoral and Pc (N,)
    consumer price indices, L and V (N, S), mu (M, M) with L = mu' L, lam and X (J, N, N)."""

    A: np.ndarray
    w: np.ndarray
    P: np.ndarray
    Pc: np.ndarray
    L: np.ndarray
    V: np.ndarray
    mu: np.ndarray
    lam: np.ndarray
    X: np.ndarray
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    params: CDPParams
    numerics: Numerics

    @property
    def structure(self) -> Structure:
        return self.params.structure

    @property
    def R(self) -> np.ndarray:
        """(N, J) gross output by market."""
        return self.X.sum(axis=2).T

    def moments(self) -> dict[str, float]:
        emp = self.employment
        real = self.w / self.Pc[:, None]
        share = self.L.ravel() / self.L.sum()
        return {
            "non_employment_rate": float(self.non_employment.sum() / self.L.sum()),
            "real_wage_mean": float(np.sum(emp * real) / emp.sum()),
            "real_wage_dispersion": float(np.std(np.log(real))),
            "stay_share_mean": float(share @ np.diag(self.mu)),
            "population_max_share": float(self.L.sum(axis=1).max() / self.L.sum()),
        }
