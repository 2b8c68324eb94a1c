"""Inference at the optimum: Jacobian, sandwich standard errors, J-test, identification.

With G = dm/dtheta' (k moments x p parameters), weighting W and Omega the
covariance of the data moments (as estimators, i.e. already divided by the
data's sample size), the estimator's covariance is (Hansen 1982; for SMM
McFadden 1989, Pakes and Pollard 1989; Gourieroux, Monfort and Renault 1993
for indirect inference)

    V = (1 + 1/S) (G'WG)^-1 G'W Omega W G (G'WG)^-1,

where S is the number of simulated panels of the data's size averaged into
m(theta) (S = inf, i.e. no correction, for analytic steady-state moments).
Simulated panels of another size count as S n_sim / n_data data-sized panels
(``EstimationSpec.effective_simulations``), so S need not be an integer.
When over-identified (k > p) the J statistic g' V_g^+ g, with V_g the
covariance of the moment gap at the estimate, is chi2(k - p) under the model
(``j_test``; with W = Omega^-1 it is g' ((1 + 1/S) Omega)^-1 g).

Identification: the sensitivity matrix Lambda = -(G'WG)^-1 G'W (Andrews,
Gentzkow and Shapiro 2017: how the estimate moves with each moment), the
condition number of G'WG after scaling each parameter by its search-box width,
and a warning for each parameter whose scaled column of W^(1/2) G is small
relative to the largest one (a flat direction of the objective).

Step of the central differences (``jacobian_steps``): h_i = c (upper_i - lower_i)
with c = 1e-4 for analytic moments (truncation error O(h^2) about 1e-8 of the
curvature scale, while a solver noise delta ~ 1e-10 contributes delta / h ~ 1e-6)
and c = 3e-2 for simulated moments. With common random numbers a simulated
moment moves smoothly only through households that stay on their lottery
nodes and states; the households that switch (which carry much of the
sensitivity of its expectation) show up only when the step makes enough of
them switch. In Huggett (1993) at beta = 0.99, a_low = -3.5 with 2 panels of
1000 x 10 households, the derivative of assets_sd in beta was 0.88 at c = 1e-3
and 1.59 at c = 3e-2, against 1.76 for the stationary distribution's own
assets_sd (whose central differences moved by 0.2% between c = 1e-4 and 3e-2);
share_at_limit (9 household-periods at the limit) did not move at all. A
Jacobian that small in magnitude overstates the standard errors: in the Monte
Carlo of benchmarks/estimation.py (R = 8) the mean SE of beta was 4.0 times the
s.d. of the estimates at c = 1e-3 and 2.0 at c = 3e-2 (a_low: 1.7 and 1.5).
Near a bound the difference becomes one-sided.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

logger = logging.getLogger(__name__)

WEAK_RATIO = 1e-3
MAX_CONDITION = 1e10


def jacobian_steps(lower: Sequence[float], upper: Sequence[float], simulated: bool) -> np.ndarray:
    """Central-difference steps h_i = c (upper_i - lower_i); see the module docstring."""
    c = 3e-2 if simulated else 1e-4
    return c * (np.asarray(upper, dtype=float) - np.asarray(lower, dtype=float))


def central_jacobian(f_many: Callable[[list[np.ndarray]], np.ndarray], x: Sequence[float],
                     steps: Sequence[float], lower: Sequence[float],
                     upper: Sequence[float]) -> np.ndarray:
    """(k, p) Jacobian of f at x; ``f_many`` maps a list of points to an (n, k) array.

    All 2p points (``difference_points``) go to ``f_many`` at once (they run in
    parallel on the actors). Within a step of a bound the difference is one-sided.
    """
    points = difference_points(x, steps, lower, upper)
    return differences(np.asarray(f_many(points), dtype=float), points)


def difference_points(x: Sequence[float], steps: Sequence[float], lower: Sequence[float],
                      upper: Sequence[float]) -> list[np.ndarray]:
    """The 2p points of central differences at x: x + h_i e_i (i = 1..p), then x - h_i e_i.

    Within a step of a bound the difference is one-sided (x to x -/+ h).
    """
    x = np.asarray(x, dtype=float)
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    plus, minus = [], []
    for i, h in enumerate(np.asarray(steps, dtype=float)):
        e = np.zeros_like(x)
        e[i] = h
        plus.append(np.minimum(x + e, hi))
        minus.append(np.maximum(x - e, lo))
    return plus + minus


def differences(values: np.ndarray, points: Sequence[np.ndarray]) -> np.ndarray:
    """(k, p) Jacobian from f's (2p, k) ``values`` at the ``difference_points``."""
    p = len(points) // 2
    dx = np.array([points[i][i] - points[p + i][i] for i in range(p)])
    return ((values[:p] - values[p:]) / dx[:, None]).T


def sandwich(G: np.ndarray, W: np.ndarray, Omega: np.ndarray,
             n_sims: float | None = None) -> np.ndarray:
    """(1 + 1/S) (G'WG)^-1 G'W Omega W G (G'WG)^-1; ``n_sims`` None: analytic moments."""
    bread = np.linalg.inv(G.T @ W @ G)
    meat = G.T @ W @ Omega @ W @ G
    factor = 1.0 if n_sims is None else 1.0 + 1.0 / n_sims
    V = factor * bread @ meat @ bread
    return 0.5 * (V + V.T)


def j_test(g: np.ndarray, Omega: np.ndarray, n_params: int, n_sims: float | None = None,
           G: np.ndarray | None = None, W: np.ndarray | None = None) -> tuple[float, int, float]:
    """(J, degrees of freedom, p-value); nan when exactly identified.

    J = g' V_g^+ g with V_g = (1 + 1/S) P Omega P', P = I - G (G'WG)^-1 G'W, the
    covariance of the moment gap at the estimate (rank k - p), so J is chi2(k - p)
    for any W; with W = Omega^-1 (or G, W not given) it is g' ((1 + 1/S) Omega)^-1 g.
    """
    df = g.size - n_params
    if df <= 0:
        return float("nan"), df, float("nan")
    factor = 1.0 if n_sims is None else 1.0 + 1.0 / n_sims
    if G is None or W is None:
        J = float(g @ np.linalg.solve(factor * Omega, g))
    else:
        P = np.eye(g.size) - G @ np.linalg.solve(G.T @ W @ G, G.T @ W)
        Vg = factor * P @ Omega @ P.T
        J = float(g @ np.linalg.pinv(0.5 * (Vg + Vg.T), rcond=1e-10, hermitian=True) @ g)
    return J, df, float(stats.chi2.sf(J, df))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Identification:
    """sensitivity: (p, k) Lambda; condition: of the box-scaled G'WG; strength: (p,) norm of
    each scaled column of W^(1/2) G relative to the largest; weak: parameters flagged."""

    sensitivity: np.ndarray
    condition: float
    strength: np.ndarray
    weak: tuple[str, ...]


def identification(G: np.ndarray, W: np.ndarray, names: Sequence[str],
                   widths: Sequence[float]) -> Identification:
    """Sensitivity matrix, conditioning and weak-identification flags (logged as warnings)."""
    GWG = G.T @ W @ G
    sensitivity = -np.linalg.solve(GWG, G.T @ W) if np.linalg.matrix_rank(GWG) == G.shape[1] \
        else np.full((G.shape[1], G.shape[0]), np.nan)
    scaled = G * np.asarray(widths, dtype=float)[None, :]
    root = np.linalg.cholesky(W).T
    cols = np.linalg.norm(root @ scaled, axis=0)
    strength = cols / cols.max() if cols.max() > 0 else np.zeros_like(cols)
    condition = float(np.linalg.cond(scaled.T @ W @ scaled))
    weak = tuple(n for n, s in zip(names, strength, strict=True) if s < WEAK_RATIO)
    if condition > MAX_CONDITION and not weak:
        weak = (names[int(np.argmin(strength))],)
    for n in weak:
        logger.warning("parameter %s looks weakly identified: the targeted moments barely "
                       "move with it (condition number of G'WG %.3g)", n, condition)
    return Identification(sensitivity=sensitivity, condition=condition, strength=strength,
                          weak=weak)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Inference:
    """Standard errors (nan when Omega is unknown), 95% intervals, J-test, diagnostics."""

    names: tuple[str, ...]
    estimates: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    G: np.ndarray
    V: np.ndarray
    J: float
    df: int
    p_value: float
    identification: Identification


def infer(names: Sequence[str], x: np.ndarray, g: np.ndarray, G: np.ndarray, W: np.ndarray,
          Omega: np.ndarray | None, n_sims: float | None, widths: Sequence[float]) -> Inference:
    """Everything above at the estimate x with moment gap g and Jacobian G."""
    ident = identification(G, W, names, widths)
    p = len(names)
    if Omega is None:
        V = np.full((p, p), np.nan)
        J, df, pv = float("nan"), g.size - p, float("nan")
    else:
        V = sandwich(G, W, Omega, n_sims)
        J, df, pv = j_test(g, Omega, p, n_sims, G, W)
    se = np.sqrt(np.clip(np.diag(V), 0.0, None)) if np.all(np.isfinite(V)) else np.diag(V)
    z = stats.norm.ppf(0.975)
    return Inference(names=tuple(names), estimates=np.asarray(x), se=se, ci_low=x - z * se,
                     ci_high=x + z * se, G=G, V=V, J=J, df=df, p_value=pv,
                     identification=ident)
