"""Solutions of the dynamic spatial model: levels path, steady state, time changes, counterfactual.

Axes: t (period, 0..T), then regions. ``pi[t, j, i]`` is the share of j's residents who move
to i at the end of period t (L_{t+1} = pi_t' L_t); ``X[t, i, j]`` flows from i to j;
``lam[t, i, j] = X[t, i, j] / sum_k X[t, k, j]``. Time changes x-dot_t = x_t / x_{t-1} are
(T, N) arrays whose row s is the change from period s to s+1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..moment_info import MomentInfo
from ._paths import HatsOfDots, TimeChanges
from .params import Numerics, Observables, Params

#: Moments of a path (levels or dynamic hat algebra): name -> meaning.
PATH_MOMENTS: dict[str, str] = {
    "shocked_region": "region k with the largest |log(A_T / A_0)| (the most-shocked region; "
    "without productivity changes, the region with the largest |log(L_T / L_0)|)",
    "pop_change_long_run": "L_T,k / L_0,k - 1, long-run population change of region k",
    "pop_half_life": "periods until region k has made half of its long-run population change "
    "(linear interpolation; NaN without change)",
    "real_wage_change_long_run": "(w/P)_T,k / (w/P)_0,k - 1",
    "horizon_gap": "relative one-period population change at T (small: steady state reached)",
}

#: Moments of a counterfactual relative to a baseline.
COUNTERFACTUAL_MOMENTS: dict[str, str] = {
    "shocked_region": "region k with the largest |log(A'_T / A_T)| (without productivity "
    "changes, the region with the largest |log(L'_T / L_T)|)",
    "pop_change_long_run": "L'_T,k / L_T,k - 1, population of k relative to the baseline at T",
    "pop_half_life": "periods until log(L'_t,k / L_t,k) reaches half its value at T",
    "welfare_ce_shocked": "consumption-equivalent welfare change of k's period-0 residents, "
    "exp((1 - beta)(V'_0,k - V_0,k)) - 1",
    "welfare_ce_mean": "L_0-weighted mean of the consumption-equivalent welfare changes",
}

#: How tables and plots show the moments (paths and counterfactuals) and swept fields.
MOMENT_INFO = {
    "shocked_region": MomentInfo("Most-shocked region", "index"),
    "pop_change_long_run": MomentInfo("Long-run population change, shocked region", "%",
                                      "percent"),
    "pop_half_life": MomentInfo("Half-life of the population change", "periods"),
    "real_wage_change_long_run": MomentInfo("Long-run real-wage change, shocked region", "%",
                                            "percent"),
    "horizon_gap": MomentInfo("Population change per period at the horizon", "relative"),
    "welfare_ce_shocked": MomentInfo("Welfare change of the shocked region's residents",
                                     "% of consumption", "percent"),
    "welfare_ce_mean": MomentInfo("Mean welfare change", "% of consumption", "percent"),
}
PARAM_INFO = {
    "sigma": MomentInfo("Elasticity of substitution σ"),
    "beta": MomentInfo("Discount factor β"),
    "nu": MomentInfo("Migration shock scale ν (1/ν: migration elasticity)"),
}


class _TimeChanges(TimeChanges):
    """Views of the stored paths ``w``, ``P_rel``, ``V_rel`` and ``L`` (time changes
    w_dot, P_dot, u_dot), and sigma, beta, nu of ``_primitives`` (Params or Observables)."""

    __slots__ = ()

    @property
    def sigma(self) -> float:
        return self._primitives.sigma

    @property
    def beta(self) -> float:
        return self._primitives.beta

    @property
    def nu(self) -> float:
        return self._primitives.nu

    @property
    def Y(self) -> np.ndarray:
        return self.w * self.L

    def _path_moments(self, log_A_change: np.ndarray) -> dict[str, float]:
        k = shocked(log_A_change, np.log(self.L[-1] / self.L[0]))
        real = np.log(self.w[:, k] / self.P_rel[:, k])
        return {
            "shocked_region": float(k),
            "pop_change_long_run": float(self.L[-1, k] / self.L[0, k] - 1.0),
            "pop_half_life": half_life(np.log(self.L[:, k])),
            "real_wage_change_long_run": float(np.exp(real[-1] - real[0]) - 1.0),
            "horizon_gap": float(self.residuals["horizon_gap"]),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelsPath(_TimeChanges):
    """Perfect-foresight equilibrium in levels, t = 0..T.

    w, P, L, V: (T+1, N) wages (world income sum_i w_i L_i = sum_i L_i each period), CES price
    indices, labour, expected values V = E[v]. pi: (T+1, N, N) migration shares. lam, X:
    (T+1, N, N). pi_prev: (N, N) the migration matrix at the end of period -1 implied by
    perfect foresight of this path, softmax_i((beta V_0,i - m[j, i]) / nu): the observable
    that dynamic hat algebra takes. P_rel = P / P_0 and V_rel = V - V_0 (T+1, N).
    """

    w: np.ndarray
    P: np.ndarray
    L: np.ndarray
    V: np.ndarray
    pi: np.ndarray
    lam: np.ndarray
    X: np.ndarray
    pi_prev: np.ndarray
    P_rel: np.ndarray
    V_rel: np.ndarray
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    history: tuple[float, ...]
    params: Params
    numerics: Numerics

    @property
    def _primitives(self) -> Params:
        return self.params

    @property
    def A_dot(self) -> np.ndarray:
        """(T, N) time changes of productivity, A_t / A_{t-1}."""
        return self.params.A_path[1:] / self.params.A_path[:-1]

    @property
    def tau_dot(self) -> np.ndarray:
        """(T, N, N) time changes of iceberg costs, tau_t / tau_{t-1}."""
        tau = self.params.trade_costs()
        return tau[1:] / tau[:-1]

    def observables(self) -> Observables:
        """Period-0 data a researcher would observe: X_0, L_0, pi_{-1} (and sigma, beta, nu)."""
        p = self.params
        return Observables(X0=self.X[0], L0=self.L[0], pi_prev=self.pi_prev, sigma=p.sigma,
                           beta=p.beta, nu=p.nu)

    def moments(self) -> dict[str, float]:
        A = self.params.A_path
        return self._path_moments(np.log(A[-1] / A[0]))


@dataclass(frozen=True, slots=True, kw_only=True)
class HatPath(_TimeChanges):
    """Dynamic hat algebra solution from observables alone, t = 0..T.

    w: (T+1, N) wages implied by the data (w_0 = Y_0 / L_0, then w_t = w_{t-1} w-dot_t, with
    world income held at sum Y_0). P_rel = P_t / P_0, V_rel = V_t - V_0 = log(u_t / u_0),
    L: (T+1, N). pi, lam, X: (T+1, N, N). A_dot: (T, N) and tau_dot: (T, N, N) the changes
    in fundamentals used.
    """

    w: np.ndarray
    P_rel: np.ndarray
    V_rel: np.ndarray
    L: np.ndarray
    pi: np.ndarray
    lam: np.ndarray
    X: np.ndarray
    A_dot: np.ndarray
    tau_dot: np.ndarray
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    history: tuple[float, ...]
    inputs: Observables
    numerics: Numerics

    @property
    def _primitives(self) -> Observables:
        return self.inputs

    def moments(self) -> dict[str, float]:
        return self._path_moments(np.sum(np.log(self.A_dot), axis=0))


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterfactualPath(HatsOfDots):
    """Counterfactual relative to a baseline path, solved without levels of fundamentals.

    w_ratio, P_ratio: (T+1, N) w'_t / w_t and P'_t / P_t; V_diff: (T+1, N) V'_t - V_t
    (log u'_t / u_t). L, pi, lam, X: the counterfactual paths (usable as a new baseline).
    L_base: (T+1, N) the baseline labour. A_hat: (T, N) and tau_hat: (T, N, N) the
    counterfactual changes A-dot'_t / A-dot_t and tau-dot'_t / tau-dot_t. Hat-of-dots
    (Caliendo-Dvorkin-Parro) x-hat_t = x-dot'_t / x-dot_t are the properties ``w_hat``,
    ``P_hat``, ``u_hat`` and ``L_hat`` (T, N).
    """

    w_ratio: np.ndarray
    P_ratio: np.ndarray
    V_diff: np.ndarray
    L: np.ndarray
    pi: np.ndarray
    lam: np.ndarray
    X: np.ndarray
    L_base: np.ndarray
    A_hat: np.ndarray
    tau_hat: np.ndarray
    sigma: float
    beta: float
    nu: float
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    history: tuple[float, ...]
    numerics: Numerics

    def moments(self) -> dict[str, float]:
        k = shocked(np.sum(np.log(self.A_hat), axis=0), np.log(self.L[-1] / self.L_base[-1]))
        gap = np.log(self.L[:, k] / self.L_base[:, k])
        weights = self.L[0] / self.L[0].sum()
        return {
            "shocked_region": float(k),
            "pop_change_long_run": float(np.exp(gap[-1]) - 1.0),
            "pop_half_life": half_life(gap),
            "welfare_ce_shocked": float(self.welfare_ce[k]),
            "welfare_ce_mean": float(weights @ self.welfare_ce),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SteadyState:
    """Stationary equilibrium with constant productivity A (N,) and trade costs tau (N, N).

    w, P, L, V: (N,); pi, lam, X: (N, N). L = pi' L and V = log(w/P) + nu log sum_i
    exp((beta V_i - m[j, i]) / nu).
    """

    A: np.ndarray
    tau: np.ndarray
    w: np.ndarray
    P: np.ndarray
    L: np.ndarray
    V: np.ndarray
    pi: np.ndarray
    lam: np.ndarray
    X: np.ndarray
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    params: Params
    numerics: Numerics

    def observables(self) -> Observables:
        """X, L and pi of the steady state (there pi_{-1} = pi)."""
        p = self.params
        return Observables(X0=self.X, L0=self.L, pi_prev=self.pi, sigma=p.sigma, beta=p.beta,
                           nu=p.nu)

    def moments(self) -> dict[str, float]:
        real = self.w / self.P
        share = self.L / self.L.sum()
        return {
            "real_wage_mean": float(share @ real),
            "real_wage_dispersion": float(np.std(np.log(real))),
            "stay_share_mean": float(share @ np.diag(self.pi)),
            "population_max_share": float(share.max()),
        }


def shocked(log_change: np.ndarray, log_response: np.ndarray):
    """Index of the largest |log_change| (a fundamental); if nothing changed, of the largest
    |log_response| (e.g. the population), so trade- or migration-cost experiments still pick
    one. An int for 1-d inputs, else a tuple."""
    src = log_change if float(np.max(np.abs(log_change))) > 1e-14 else log_response
    idx = np.unravel_index(int(np.argmax(np.abs(src))), src.shape)
    return int(idx[0]) if src.ndim == 1 else tuple(int(i) for i in idx)


def half_life(series: np.ndarray) -> float:
    """Periods until ``series - series[0]`` first reaches half of its final value."""
    dev = series - series[0]
    target = 0.5 * dev[-1]
    if not np.isfinite(target) or abs(target) < 1e-14:
        return float("nan")
    reached = np.flatnonzero(np.abs(dev) >= abs(target))
    t = int(reached[0])
    if t == 0:
        return 0.0
    a, b = abs(dev[t - 1]), abs(dev[t])
    return float(t - 1 + (abs(target) - a) / (b - a))
