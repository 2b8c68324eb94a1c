"""Solutions of the Armington family: levels equilibrium and exact-hat counterfactual."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..moment_info import MomentInfo
from .params import Numerics, Params

#: Moments of a levels equilibrium: name -> meaning (columns in sweeps, targets in estimation).
MOMENTS: dict[str, str] = {
    "real_wage_mean": "labour-weighted mean of w_i / P_i",
    "real_wage_min": "smallest real wage across regions",
    "real_wage_max": "largest real wage across regions",
    "domestic_share_mean": "mean own expenditure share lam[i, i]",
    "trade_openness": "imports over world income: 1 - sum_i X[i, i] / sum_i Y_i",
    "welfare": "migration only: (sum_k B_k (w_k/P_k)^kappa)^(1/kappa) / sum L, expected utility "
    "index of the logit labour supply; labour-weighted mean real wage otherwise",
}

#: How tables and plots show the moments and the swept Params fields.
MOMENT_INFO = {
    "real_wage_mean": MomentInfo("Mean real wage", "w/P"),
    "real_wage_min": MomentInfo("Lowest real wage", "w/P"),
    "real_wage_max": MomentInfo("Highest real wage", "w/P"),
    "domestic_share_mean": MomentInfo("Mean domestic expenditure share", "%", "percent"),
    "trade_openness": MomentInfo("Trade openness (imports / world income)", "%", "percent"),
    "welfare": MomentInfo("Welfare index", "w/P"),
    "real_wage_hat_min": MomentInfo("Lowest real-wage change", "ratio"),
    "real_wage_hat_max": MomentInfo("Highest real-wage change", "ratio"),
    "welfare_hat": MomentInfo("Welfare change", "ratio"),
}
PARAM_INFO = {
    "sigma": MomentInfo("Elasticity of substitution σ"),
    "kappa": MomentInfo("Migration elasticity κ"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Equilibrium:
    """Levels equilibrium. Axes: regions i (origin) and j (destination).

    w (N,) wages; lam (N, N) expenditure shares, columns sum to one; P (N,)
    CES price indices; real_wage (N,) = w / P; L (N,) labour (endogenous with
    migration); Y (N,) income w L; X (N, N) flows X[i, j] = lam[i, j] Y_j.
    log_P and log_real_wage (N,) are exact where P over- or underflows float64
    (sigma close to 1 makes P = (sum_k a_kj ...)^(1/(1-sigma)) astronomically small).
    """

    w: np.ndarray
    lam: np.ndarray
    P: np.ndarray
    real_wage: np.ndarray
    L: np.ndarray
    Y: np.ndarray
    X: np.ndarray
    log_P: np.ndarray
    log_real_wage: np.ndarray
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    params: Params
    numerics: Numerics

    def moments(self) -> dict[str, float]:
        p = self.params
        weights = self.L / self.L.sum()
        if p.kappa is None:
            welfare = float(weights @ self.real_wage)
        else:
            index = np.sum(p.amenities * self.real_wage**p.kappa) ** (1.0 / p.kappa)
            welfare = float(index / self.L.sum())
        return {
            "real_wage_mean": float(weights @ self.real_wage),
            "real_wage_min": float(self.real_wage.min()),
            "real_wage_max": float(self.real_wage.max()),
            "domestic_share_mean": float(np.mean(np.diag(self.lam))),
            "trade_openness": float(1.0 - np.trace(self.X) / self.Y.sum()),
            "welfare": welfare,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class HatEquilibrium:
    """Counterfactual in changes x_hat = x' / x, from baseline data alone.

    w_hat, P_hat, real_wage_hat, L_hat, Y_hat: (N,). lam_hat (N, N) = lam' / lam
    (NaN where the baseline share is zero: it stays zero). lam_new (N, N) and
    X_new (N, N) are the counterfactual shares and flows. Wage changes are
    normalised so that world income is unchanged, or w_hat[numeraire] = 1.
    welfare_hat: with migration, the change of the expected-utility index
    (sum_k pi_k B_hat_k real_wage_hat_k^kappa)^(1/kappa), pi_k = L_k / sum L;
    None without migration (it would need levels of real wages).
    """

    w_hat: np.ndarray
    lam_hat: np.ndarray
    P_hat: np.ndarray
    real_wage_hat: np.ndarray
    L_hat: np.ndarray
    Y_hat: np.ndarray
    lam_new: np.ndarray
    X_new: np.ndarray
    welfare_hat: float | None
    converged: bool
    n_iter: int
    residuals: Mapping[str, float]
    numerics: Numerics

    def moments(self) -> dict[str, float]:
        out = {
            "real_wage_hat_min": float(self.real_wage_hat.min()),
            "real_wage_hat_max": float(self.real_wage_hat.max()),
        }
        if self.welfare_hat is not None:
            out["welfare_hat"] = float(self.welfare_hat)
        return out
