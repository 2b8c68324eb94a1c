"""The household block at given prices: policies, values, stationary distribution.

``solve_at_prices`` is what the general-equilibrium closures evaluate at each
candidate r. The stationary distribution is a direct sparse solve of the
transition operator (lottery on savings, then e', then migration), so it does
not slow down when r approaches 1/(beta omega) - 1 the way forward iteration does.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import MatrixRankWarning, spsolve

from ..errors import SolverConvergenceError
from ..numerics.grids import double_exponential_grid, power_grid
from . import kernels
from .params import Numerics, Params, effective_limit

logger = logging.getLogger(__name__)

_PIVOT_TOL = 1e-13

_STATUS_TEXT = {
    kernels.MAX_ITER: "household problem hit max_iter_household",
    kernels.NONPOSITIVE_CONSUMPTION: "non-positive consumption (limit below the natural limit?)",
    kernels.NONMONOTONE_GRID: "endogenous grid not increasing (non-concave problem?)",
    kernels.NONFINITE: "non-finite consumption or value",
}


@dataclass
class HouseholdState:
    """Internal: everything computed at one r (arrays (J, S, n_a) unless noted)."""

    r: float
    wage: float
    a_grid: np.ndarray
    y: np.ndarray  # (J, S) income wage w_j e_s + T_j
    c: np.ndarray
    v: np.ndarray
    ap: np.ndarray
    mu: np.ndarray  # (J, S, n_a, J)
    dist: np.ndarray
    n_iter: int
    policy_change: float
    value_change: float
    dist_residual: float


def solve_at_prices(params: Params, numerics: Numerics, r: float, wage: float,
                    guess: HouseholdState | None = None) -> HouseholdState:
    """Policies, values and the stationary distribution at interest rate r and wage."""
    a_grid = make_asset_grid(params, numerics, r)
    y = wage * params.w[:, None] * params.e_grid[None, :] + params.T[:, None]
    c, v = _initial_guess(params, a_grid, y, r, guess)
    J, S, n = c.shape
    ap = np.empty_like(c)
    W = np.empty_like(c)
    dW = np.empty_like(c)
    mu = np.empty((J, S, n, J))
    log_chi = np.log(params.chi)
    status, n_iter, dc, dv = kernels.solve_household(
        c, v, a_grid, y, params.P, params.Pi, log_chi, params.theta, 1.0 + r,
        params.beta * params.omega, params.gamma, numerics.tol_policy, numerics.tol_value,
        numerics.max_iter_household, ap, W, dW, mu)
    if status != kernels.OK:
        raise SolverConvergenceError(
            f"household problem failed at r={r:.10g}: {_STATUS_TEXT[status]}",
            residuals={"policy_change": dc, "value_change": dv}, n_iter=int(n_iter))
    old = None if guess is None else guess.dist
    dist, resid = stationary_distribution(ap, a_grid, params.Pi, mu, old)
    if not resid <= numerics.tol_dist:
        raise SolverConvergenceError(
            f"stationary distribution inaccurate at r={r:.10g}",
            residuals={"distribution_l1": resid}, n_iter=int(n_iter))
    return HouseholdState(r, wage, a_grid, y, c, v, ap, mu, dist, int(n_iter), dc, dv, resid)


def make_asset_grid(params: Params, numerics: Numerics, r: float) -> np.ndarray:
    """Asset grid from the borrowing limit to a_max in the (1+r)-form budget.

    With the limit on face value both ends are face values and the grid is
    scaled by 1/(1+r), so node i always carries the same face value.
    """
    lo, hi, n = params.a_low, numerics.a_max, numerics.n_a
    if numerics.grid == "power":
        grid = power_grid(lo, hi, n, numerics.curvature)
    else:
        grid = double_exponential_grid(lo, hi, n)
    grid = grid / (1.0 + r) if params.limit_on_face_value else grid
    grid[0] = effective_limit(params, r)
    return np.ascontiguousarray(grid)


def stationary_distribution(ap, a_grid, Pi, mu, guess=None):
    """Stationary mass over (j, s, i) and its L1 residual |T d - d|_1.

    The recurrent class is the closed strongly connected component of the
    transition graph (the one with most mass in ``guess`` if there are several);
    transient states get zero mass. On that class the mass of one pivot state
    is fixed and the other balance equations are solved by sparse LU, with the
    states ordered asset node first: savings move a household only a few nodes,
    so the matrix is nearly banded and needs no fill-reducing permutation. That
    is fast but inaccurate when the pivot's true mass is tiny, so pivots are
    tried in turn (largest in ``guess``, largest after forward steps from
    uniform), and the last resort replaces one balance equation by sum(d) = 1,
    which is exact for any pivot but fills in more.
    """
    J, S, n = ap.shape
    idx = np.empty((J, S, n), dtype=np.int64)
    wlo = np.empty((J, S, n))
    kernels.lottery(ap, a_grid, idx, wlo)
    T, rows, cols = _transition_matrix(idx, wlo, Pi, mu)
    have_guess = guess is not None and guess.shape == ap.shape
    first = guess.ravel() if have_guess else _forward_guess(idx, wlo, Pi, mu).ravel()
    states = _recurrent_class(T, rows, cols, first)
    states = states[np.argsort(states % n, kind="stable")]  # node-major order
    T_c = T[states][:, states]
    best, best_resid = None, np.inf
    pivots = [first] + ([_forward_guess] if have_guess else [])
    for weights in pivots:
        if callable(weights):
            weights = weights(idx, wlo, Pi, mu).ravel()
        x = _solve_closed(T_c, int(np.argmax(weights[states])))
        resid = float(np.abs(T_c @ x - x).sum()) if np.all(np.isfinite(x)) else np.inf
        if resid < best_resid:
            best, best_resid = x, resid
        if resid < _PIVOT_TOL:
            break
    else:
        logger.debug("pivoted solves inaccurate (%.3g); solving with a normalisation row",
                     best_resid)
        best = _solve_normalised(T_c)
    dist = np.zeros(J * S * n)
    dist[states] = best
    return dist.reshape(J, S, n), float(np.abs(T @ dist - dist).sum())


def _transition_matrix(idx, wlo, Pi, mu):
    """T[dest, src] as CSR plus the raw (rows, cols) of its nonzeros."""
    J, S, n = idx.shape
    size = J * S * n
    cap = 2 * S * J * size
    rows = np.empty(cap, dtype=np.int64)
    cols = np.empty(cap, dtype=np.int64)
    vals = np.empty(cap)
    nnz = kernels.transition_entries(idx, wlo, Pi, mu, rows, cols, vals)
    rows, cols, vals = rows[:nnz], cols[:nnz], vals[:nnz]
    return sparse.csr_matrix((vals, (rows, cols)), shape=(size, size)), rows, cols


def _solve_normalised(T) -> np.ndarray:
    """(I - T) d = 0 with its first equation replaced by sum(d) = 1 (nonsingular if unique)."""
    size = T.shape[0]
    A = (sparse.identity(size, format="csr") - T).tocoo()
    keep = A.row != 0
    rows = np.r_[A.row[keep], np.zeros(size, dtype=np.int64)]
    cols = np.r_[A.col[keep], np.arange(size)]
    vals = np.r_[A.data[keep], np.ones(size)]
    b = np.zeros(size)
    b[0] = 1.0
    x = spsolve(sparse.csc_matrix((vals, (rows, cols)), shape=(size, size)), b)
    x = np.maximum(x, 0.0)
    return x / x.sum()


def _recurrent_class(T, rows, cols, guess) -> np.ndarray:
    """Indices of a closed communicating class of the chain (edges src=cols -> dest=rows)."""
    n_comp, labels = connected_components(T, directed=True, connection="strong")
    leaves = labels[cols] != labels[rows]
    is_open = np.zeros(n_comp, dtype=bool)
    is_open[labels[cols[leaves]]] = True
    closed = np.flatnonzero(~is_open)
    if closed.size > 1:
        logger.warning("%d closed classes: stationary distribution not unique; keeping the one "
                       "with most mass in the guess", closed.size)
    weight = np.bincount(labels, weights=guess + 1e-300, minlength=n_comp)[closed]
    return np.flatnonzero(labels == closed[int(np.argmax(weight))])


def _solve_closed(T, pivot: int) -> np.ndarray:
    """Stationary distribution of a stochastic matrix T[dest, src] on one closed class."""
    size = T.shape[0]
    if size == 1:
        return np.ones(1)
    keep = np.r_[0:pivot, pivot + 1:size]
    A = (sparse.identity(size, format="csr") - T)[keep][:, keep].tocsc()
    b = T[keep, pivot].toarray().ravel()
    x = np.empty(size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MatrixRankWarning)
        x[keep] = spsolve(A, b, permc_spec="NATURAL")
    x[pivot] = 1.0
    if not np.all(np.isfinite(x)):
        return np.full(size, np.nan)
    x = np.maximum(x, 0.0)
    return x / x.sum()


def _forward_guess(idx, wlo, Pi, mu, steps: int = 30) -> np.ndarray:
    J, S, n = idx.shape
    dist = np.full((J, S, n), 1.0 / (J * S * n))
    pre = np.empty_like(dist)
    for _ in range(steps):
        kernels.pre_migration(dist, idx, wlo, Pi, pre)
        kernels.migrate(pre, mu, dist)
    return dist


def _initial_guess(params, a_grid, y, r, guess):
    """The warm start's c and v, else spend all cash on hand (values of doing so forever)."""
    J, S = y.shape
    n = a_grid.shape[0]
    if guess is not None and guess.c.shape == (J, S, n):
        return guess.c.copy(), guess.v.copy()
    cash = (1.0 + r) * a_grid[None, None, :] + y[:, :, None] - a_grid[0]
    c = np.ascontiguousarray(cash / params.P[:, None, None])
    bo = params.beta * params.omega
    if params.gamma == 1.0:
        v = np.log(c) / (1.0 - bo)
    else:
        v = (c ** (1.0 - params.gamma) - 1.0) / ((1.0 - params.gamma) * (1.0 - bo))
    return c, np.ascontiguousarray(v)
