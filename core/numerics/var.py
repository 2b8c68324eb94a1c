"""A bivariate VAR(1) on a finite chain: Tauchen's method with correlated normal shocks.

For y' = const + Gamma y + eps, eps ~ N(0, Sigma) (Huggett and Kaplan 2015, papers/004,
eq. 4: y = (Delta u^1, log R^s)), each dimension gets equally spaced points within
+- width unconditional standard deviations of its mean; the probability of a grid point
is the bivariate normal mass of its cell (bounded by midpoints, the end cells taking
the tails) around the conditional mean. The common ``width`` is chosen to make the
chain's stationary variances closest to the continuous ones in relative squared error
(A.2.4; a scan in steps of 0.1 on [0.5, 4], then a bounded polish). Cell masses
integrate the conditional normal CDF of the second shock over the first by
Gauss-Legendre quadrature in u = Phi(eps_1 / s_1) (deterministic, rows sum to one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_discrete_lyapunov
from scipy.optimize import minimize_scalar
from scipy.special import ndtr, ndtri

from ..validation import Checker
from .markov import markov_stationary

_N_LEGENDRE = 40


@dataclass(frozen=True, slots=True)
class DiscreteVAR:
    """nodes: (n1 * n2, 2), state s = i1 * n2 + i2 is (grid1[i1], grid2[i2]); transition:
    (n_s, n_s); stationary: (n_s,); width: bound in unconditional s.d.; moments of the chain
    (``chain_moments``): mean (2,), cov (2, 2), lag-1 autocovariance E[(y'-m)(y-m)'] (2, 2)."""

    nodes: np.ndarray
    transition: np.ndarray
    stationary: np.ndarray
    width: float
    mean: np.ndarray
    cov: np.ndarray
    autocov: np.ndarray


def var1_moments(const, Gamma, Sigma) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stationary mean (I - Gamma)^-1 const, covariance (Lyapunov: C = Gamma C Gamma' + Sigma)
    and lag-1 autocovariance E[(y' - m)(y - m)'] = Gamma C."""
    const, Gamma, Sigma = _check_var("var1_moments", const, Gamma, Sigma)
    mean = np.linalg.solve(np.eye(2) - Gamma, const)
    cov = solve_discrete_lyapunov(Gamma, Sigma)
    return mean, cov, Gamma @ cov


def discretize_var1(const, Gamma, Sigma, n: tuple[int, int] = (4, 5),
                    width: float | None = None) -> DiscreteVAR:
    """The chain of y' = const + Gamma y + eps on an n[0] x n[1] grid (see module)."""
    const, Gamma, Sigma = _check_var("discretize_var1", const, Gamma, Sigma)
    check = Checker("discretize_var1")
    for d in (0, 1):
        check.check_scalar(n[d], f"n[{d}]", ge=2, le=50, integer=True)
    if width is not None:
        check.check_scalar(width, "width", gt=0.0)
    check.done()
    mean, cov, _ = var1_moments(const, Gamma, Sigma)
    if width is None:
        def loss(w):
            c = chain_moments(*_chain(const, Gamma, Sigma, n, mean, cov, w))[2]
            return float(np.sum((np.diag(c) / np.diag(cov) - 1.0) ** 2))
        coarse = np.arange(0.5, 4.0001, 0.1)
        best = coarse[int(np.argmin([loss(w) for w in coarse]))]
        width = float(minimize_scalar(loss, bounds=(best - 0.1, best + 0.1), method="bounded",
                                      options={"xatol": 1e-6}).x)
    nodes, trans = _chain(const, Gamma, Sigma, n, mean, cov, width)
    stat, m, c, ac = chain_moments(nodes, trans)
    return DiscreteVAR(nodes=nodes, transition=trans, stationary=stat, width=width, mean=m,
                       cov=c, autocov=ac)


def chain_moments(nodes: np.ndarray, transition: np.ndarray):
    """(stationary distribution, mean, covariance, lag-1 autocovariance) of a chain."""
    stat = markov_stationary(transition)
    mean = stat @ nodes
    d = nodes - mean
    cov = (d * stat[:, None]).T @ d
    cond = transition @ d  # E[y' - m | y]
    return stat, mean, cov, (cond * stat[:, None]).T @ d


def _chain(const, Gamma, Sigma, n, mean, cov, width):
    sd = np.sqrt(np.diag(cov))
    grids = [mean[d] + np.linspace(-width, width, n[d]) * sd[d] for d in (0, 1)]
    nodes = np.array([(a, b) for a in grids[0] for b in grids[1]])
    cond = const[None, :] + nodes @ Gamma.T
    s1 = np.sqrt(Sigma[0, 0])
    slope = Sigma[0, 1] / Sigma[0, 0]
    s2 = np.sqrt(max(Sigma[1, 1] - slope * Sigma[0, 1], 0.0))
    x, wq = np.polynomial.legendre.leggauss(_N_LEGENDRE)
    trans = np.empty((nodes.shape[0], n[0] * n[1]))
    for s, mu in enumerate(cond):
        e1 = _edges(grids[0]) - mu[0]
        u = ndtr(e1 / s1)
        p = np.empty((n[0], n[1]))
        for i in range(n[0]):
            lo, hi = u[i], u[i + 1]
            uq = lo + 0.5 * (hi - lo) * (x + 1.0)
            eps1 = s1 * ndtri(np.clip(uq, 1e-300, 1.0 - 1e-16))
            e2 = _edges(grids[1])[None, :] - mu[1] - slope * eps1[:, None]
            cdf2 = ndtr(e2 / s2) if s2 > 0.0 else (e2 >= 0.0).astype(float)
            p[i] = 0.5 * (hi - lo) * (wq @ np.diff(cdf2, axis=1))
        trans[s] = p.ravel()
    trans = np.maximum(trans, 0.0)
    return nodes, trans / trans.sum(axis=1, keepdims=True)


def _edges(grid: np.ndarray) -> np.ndarray:
    return np.concatenate(([-np.inf], 0.5 * (grid[1:] + grid[:-1]), [np.inf]))


def _check_var(owner, const, Gamma, Sigma):
    check = Checker(owner)
    const = check.check_array(const, "const", shape=(2,))
    Gamma = check.check_array(Gamma, "Gamma", shape=(2, 2))
    Sigma = check.check_array(Sigma, "Sigma", shape=(2, 2))
    if Gamma is not None and np.max(np.abs(np.linalg.eigvals(Gamma))) >= 1.0:
        check.fail("Gamma", "must have eigenvalues inside the unit circle (stationary VAR)",
                   Gamma.tolist())
    if Sigma is not None and (not np.allclose(Sigma, Sigma.T)
                              or np.min(np.linalg.eigvalsh(0.5 * (Sigma + Sigma.T))) <= 0.0
                              or Sigma[0, 0] <= 0.0):
        check.fail("Sigma", "must be symmetric positive definite", Sigma.tolist())
    check.done()
    return (np.asarray(const, dtype=float), np.asarray(Gamma, dtype=float),
            np.asarray(Sigma, dtype=float))
