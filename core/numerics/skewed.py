"""Skewed shocks: the generalised normal distribution and moment-matching discretisers.

The generalised normal of Hosking and Wallis (1997, appendix A.8) is a monotone
transform of a standard normal Y:

    X = loc + (scale / k) (1 - exp(-k Y))        (k = 0: X = loc + scale Y),

so F(x) = Phi(-log(1 - k (x - loc) / scale) / k). Its skewness has the sign of -k:
skew = -sgn(k) (e^{k^2} + 2) sqrt(e^{k^2} - 1), var = scale^2 e^{k^2} (e^{k^2} - 1) / k^2,
mean = loc + (scale / k) (1 - e^{k^2 / 2}). The map from (mean, variance, third central
moment) to (loc, scale, k) is one to one (Huggett and Kaplan 2015, papers/004, A.2.4),
which is how the paper's Table 1 moments set the shocks.

Discretisers (A.2.4): a grid point's probability is the distribution's mass between
the midpoints to its neighbours (the end points take the tails); the grid's lower and
upper extent are chosen so that the discrete moments match the targets.

- ``discretize_generalized_normal``: an iid shock on n points matching mean, variance
  and third central moment exactly (to 1e-10 relative); the paper's transitory shock.
- ``discretize_skewed_ar1``: zeta' = rho zeta + eta with eta generalised normal whose
  moments depend on a regime X (booms and recessions), one transition matrix per regime;
  the grid is fitted to the life-cycle averages of the variance and skewness of zeta_j
  from zeta_0 = 0 (``ar1_life_cycle_moments``), the paper's persistent shock (Table A.1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, least_squares
from scipy.special import ndtr, ndtri

from ..errors import SolverConvergenceError
from ..validation import Checker

#: Largest |skewness| accepted (|k| about 2.4); beyond it the mass piles on one point.
MAX_SKEWNESS = 1000.0


@dataclass(frozen=True, slots=True)
class GeneralizedNormal:
    """Hosking-Wallis generalised normal: loc, scale > 0 and shape k (0 is the normal)."""

    loc: float
    scale: float
    shape: float

    @classmethod
    def from_moments(cls, mean: float, var: float, mu3: float) -> GeneralizedNormal:
        """The distribution with this mean, variance (> 0) and third central moment."""
        check = Checker("GeneralizedNormal.from_moments")
        check.check_scalar(mean, "mean")
        var = check.check_scalar(var, "var", gt=0.0)
        check.check_scalar(mu3, "mu3")
        if var is not None and math.isfinite(mu3):
            check.require(abs(mu3) / var**1.5 <= MAX_SKEWNESS, "mu3",
                          f"skewness mu3 / var^1.5 must be within +-{MAX_SKEWNESS:g}", mu3)
        check.done()
        skew = mu3 / var**1.5
        if skew == 0.0:
            return cls(loc=float(mean), scale=math.sqrt(var), shape=0.0)
        s = brentq(lambda t: _lognormal_skew(t) - abs(skew), 1e-12, 3.0, xtol=1e-15,
                   rtol=1e-15)
        k = -math.copysign(s, skew)
        w = math.exp(k * k)
        scale = math.sqrt(var * k * k / (w * (w - 1.0)))
        loc = mean - scale / k * (1.0 - math.exp(0.5 * k * k))
        return cls(loc=float(loc), scale=float(scale), shape=float(k))

    def transform(self, y):
        """x = loc + (scale / k) (1 - exp(-k y)): the quantile at Phi(y)."""
        y = np.asarray(y, dtype=float)
        k = self.shape
        if k == 0.0:
            return self.loc + self.scale * y
        return self.loc - self.scale * np.expm1(-k * y) / k

    def ppf(self, u):
        """Quantile function."""
        return self.transform(ndtri(np.asarray(u, dtype=float)))

    def cdf(self, x):
        """F(x) = Phi(-log(1 - k (x - loc) / scale) / k); 0 or 1 beyond the support."""
        z = (np.asarray(x, dtype=float) - self.loc) / self.scale
        k = self.shape
        if k == 0.0:
            return ndtr(z)
        arg = -k * z
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(arg > -1.0, -np.log1p(np.maximum(arg, -1.0)) / k,
                         np.inf if k > 0.0 else -np.inf)
        return ndtr(y)

    @property
    def mean(self) -> float:
        k = self.shape
        if k == 0.0:
            return self.loc
        return self.loc - self.scale / k * math.expm1(0.5 * k * k)

    @property
    def var(self) -> float:
        k = self.shape
        if k == 0.0:
            return self.scale**2
        w = math.exp(k * k)
        return self.scale**2 * w * math.expm1(k * k) / (k * k)

    @property
    def mu3(self) -> float:
        """Third central moment."""
        k = self.shape
        return -math.copysign(1.0, k) * _lognormal_skew(abs(k)) * self.var**1.5 if k else 0.0


def _lognormal_skew(s: float) -> float:
    """(e^{s^2} + 2) sqrt(e^{s^2} - 1): the skewness of a lognormal with log s.d. s."""
    w = math.expm1(s * s)
    return (w + 3.0) * math.sqrt(w)


def cell_masses(nodes: np.ndarray, cdf) -> np.ndarray:
    """Mass of ``cdf`` between the midpoints around each increasing node (tails at the ends)."""
    mid = 0.5 * (nodes[1:] + nodes[:-1])
    cum = np.concatenate(([0.0], cdf(mid), [1.0]))
    return np.diff(cum)


def discrete_moments(nodes: np.ndarray, probs: np.ndarray) -> tuple[float, float, float]:
    """(mean, variance, third central moment) of a discrete distribution."""
    mean = float(probs @ nodes)
    d = nodes - mean
    return mean, float(probs @ d**2), float(probs @ d**3)


def discretize_generalized_normal(n: int, mean: float, var: float, mu3: float,
                                  tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """n nodes and probabilities of the generalised normal with these moments, matched exactly.

    Nodes are the distribution's quantile transform of standard-normal points
    c + w_lo t_i (t_i < 0) or c + w_hi t_i (t_i >= 0), t_i equally spaced on [-1, 1]
    (``_y_points``): the grid's lower and upper extent and its tilt are solved so that the
    discrete variance and third central moment equal the targets; the nodes are then
    shifted so the mean does too. Probabilities are the masses between midpoints.
    Raises ``SolverConvergenceError`` if the relative moment error exceeds ``tol`` (very
    skewed shocks on few points: Hosking-Wallis skewness beyond about -10 at n <= 3).
    """
    check = Checker("discretize_generalized_normal")
    check.check_scalar(n, "n", ge=3, le=200, integer=True)
    check.done()
    dist = GeneralizedNormal.from_moments(mean, var, mu3)
    t = np.linspace(-1.0, 1.0, n)

    def build(par):
        nodes = dist.transform(_y_points(t, par))
        return nodes, cell_masses(nodes, dist.cdf)

    def resid(par):
        _, v, m3 = discrete_moments(*build(par))
        return np.array([v / var - 1.0, (m3 - mu3) / var**1.5])

    fit = _fit_grid(resid, tol)
    nodes, probs = build(fit.x)
    m, v, m3 = discrete_moments(nodes, probs)
    err = max(abs(v / var - 1.0), abs(m3 - mu3) / var**1.5)
    if not err <= tol:
        raise SolverConvergenceError(
            f"discretize_generalized_normal: moments not matched with n={n} (relative error "
            f"{err:.2e}; var {var:g}, mu3 {mu3:g})", residuals={"moment_error": err})
    return nodes - m + mean, probs


#: Bounds of the grid parameters (log w_lo, log w_hi, c) and the coarse starts' ranges.
_BOUNDS = ([math.log(0.3), math.log(0.3), -1.5], [math.log(4.0), math.log(4.0), 1.5])
_COARSE = (np.linspace(math.log(0.5), math.log(4.0), 8), np.linspace(-1.0, 1.0, 5))


def _y_points(t: np.ndarray, par) -> np.ndarray:
    """Standard-normal points c + w_lo t (t < 0) or c + w_hi t (t >= 0), par = (log w_lo,
    log w_hi, c): the grid's lower and upper extent and its tilt."""
    return np.where(t < 0.0, math.exp(par[0]) * t, math.exp(par[1]) * t) + par[2]


def _fit_grid(resid, tol: float, n_starts: int = 6):
    """Bounded least squares on the grid parameters from the best points of a coarse grid
    (8 x 8 x 5): the first fit with residuals below ``tol``, else the best of
    ``n_starts`` (one start can end in a local minimum when the shock is very skewed)."""
    logs, shifts = _COARSE
    coarse = [(float(np.sum(np.square(resid((a, b, c))))), (a, b, c))
              for a in logs for b in logs for c in shifts]
    coarse.sort(key=lambda item: item[0])
    best = None
    for _, start in coarse[:n_starts]:
        fit = least_squares(resid, start, bounds=_BOUNDS, xtol=1e-15, ftol=1e-15, gtol=1e-15)
        if best is None or fit.cost < best.cost:
            best = fit
        if np.max(np.abs(fit.fun)) <= tol:
            break
    return best


def ar1_life_cycle_moments(rho: float, innovations: Sequence[GeneralizedNormal],
                           weights: Sequence[float], n_periods: int) -> tuple[float, float]:
    """Averages over j = 1..n_periods of Var zeta_j and of the skewness of zeta_j.

    zeta_j = rho zeta_{j-1} + eta_j from zeta_0 = 0, eta's regime drawn with ``weights``
    each period independently: Var zeta_j = sum_{k<j} rho^{2k} E[var eta] and
    E zeta_j^3 = sum_{k<j} rho^{3k} E[mu3 eta] (only the regimes' marginal weights matter).
    """
    w = np.asarray(weights, dtype=float)
    s2 = float(w @ [d.var for d in innovations])
    m3 = float(w @ [d.mu3 for d in innovations])
    j = np.arange(n_periods)
    var = s2 * np.cumsum(rho ** (2 * j))
    third = m3 * np.cumsum(rho ** (3 * j))
    return float(var.mean()), float(np.mean(third / var**1.5))


@dataclass(frozen=True, slots=True)
class SkewedAR1:
    """A discretised zeta' = rho zeta + eta with regime-dependent generalised-normal eta.

    grid: (n,) increasing nodes; transition: (n_regime, n, n), ``transition[x, i, k]`` the
    probability of grid[k] next period from grid[i] when next period's regime is x;
    initial: (n_regime, n), the distribution of zeta_1 = eta_1 (from zeta_0 = 0) in regime
    x. target and fitted: (average variance, average skewness) over the life cycle of the
    continuous process and of the chain (``ar1_life_cycle_moments``; regimes drawn with
    ``weights``); grid_params: the fitted (log w_lo, log w_hi, c) (``_y_points``).
    """

    grid: np.ndarray
    transition: np.ndarray
    initial: np.ndarray
    target: tuple[float, float]
    fitted: tuple[float, float]
    grid_params: tuple[float, float, float]


def discretize_skewed_ar1(n: int, rho: float, innovations: Sequence[GeneralizedNormal],
                          weights: Sequence[float], n_periods: int) -> SkewedAR1:
    """Grid and regime transition matrices of a skewed AR(1) (papers/004, A.2.4, Table A.1).

    Nodes are the quantile transform, by a generalised normal with the life-cycle average
    variance and skewness, of standard-normal points as in
    ``discretize_generalized_normal``; their parameters minimise the relative distance
    between the chain's life-cycle averages (variance, skewness, and a mean of zero) and the
    continuous ones (exact where the minimum is zero; the paper's own 11-point grid misses
    by about 5%, Table A.1).
    Transition rows are eta's masses between midpoints, shifted by rho zeta_i.
    """
    check = Checker("discretize_skewed_ar1")
    check.check_scalar(n, "n", ge=3, le=200, integer=True)
    check.check_scalar(rho, "rho", ge=0.0, lt=1.0)
    check.check_scalar(n_periods, "n_periods", ge=1, integer=True)
    w = np.asarray(weights, dtype=float)
    check.require(len(innovations) == w.size and w.size >= 1 and np.all(w >= 0.0)
                  and abs(w.sum() - 1.0) < 1e-12, "weights",
                  "must be one non-negative weight per regime, summing to one", list(w))
    check.done()
    target = ar1_life_cycle_moments(rho, innovations, w, n_periods)
    ref_var = target[0]
    ref = GeneralizedNormal.from_moments(0.0, ref_var, target[1] * ref_var**1.5)
    t = np.linspace(-1.0, 1.0, n)

    def build(par):
        grid = ref.transform(_y_points(t, par))
        mid = 0.5 * (grid[1:] + grid[:-1])
        trans = np.stack([_shifted_masses(mid, rho * grid, d) for d in innovations])
        init = np.stack([_shifted_masses(mid, np.zeros(1), d)[0] for d in innovations])
        return grid, trans, init

    def resid(par):
        fitted = chain_life_cycle_moments(*build(par), w, n_periods)
        return np.array([fitted[0] / target[0] - 1.0,
                         (fitted[1] - target[1]) / max(abs(target[1]), 1.0),
                         fitted[2] / math.sqrt(target[0])])

    fit = _fit_grid(resid, 1e-10)
    grid, trans, init = build(fit.x)
    fitted = chain_life_cycle_moments(grid, trans, init, w, n_periods)[:2]
    return SkewedAR1(grid=grid, transition=trans, initial=init, target=target,
                     fitted=fitted, grid_params=tuple(float(v) for v in fit.x))


def _shifted_masses(mid: np.ndarray, shift: np.ndarray, dist: GeneralizedNormal) -> np.ndarray:
    """Rows i: masses of shift[i] + eta between the midpoints ``mid`` (tails at the ends)."""
    cdf = dist.cdf(mid[None, :] - shift[:, None])
    ones = np.ones((shift.size, 1))
    return np.diff(np.hstack([0.0 * ones, cdf, ones]), axis=1)


def chain_life_cycle_moments(grid: np.ndarray, transition: np.ndarray, initial: np.ndarray,
                             weights: np.ndarray, n_periods: int) -> tuple[float, float, float]:
    """Averages over j = 1..n_periods of the chain's variance, skewness and mean of zeta_j
    (regimes drawn independently each period with ``weights``)."""
    dist = weights @ initial
    mean_trans = np.tensordot(weights, transition, axes=1)
    out = np.empty((n_periods, 3))
    for j in range(n_periods):
        mean, var, m3 = discrete_moments(grid, dist)
        out[j] = var, m3 / var**1.5 if var > 0.0 else 0.0, mean
        dist = dist @ mean_trans
    return tuple(float(v) for v in out.mean(axis=0))
