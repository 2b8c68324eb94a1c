"""The household block at given prices: policies, values, stationary distribution.

``solve_at_prices`` is what the general-equilibrium closures evaluate at each
candidate r. The stationary distribution is a direct sparse solve of the
transition operator (lottery on savings, then e', then migration), so it does
not slow down when r approaches 1/(beta omega) - 1 the way forward iteration does.
Nearby solves (the r search, the spatial outer loop) reuse the previous LU for
iterative refinement: at J = 48, n_a = 200 the factorization takes about
0.15 s and a refinement step 7 ms; forward iteration contracts by only about
0.986 a step there (0.3 ms each, about 1600 steps to 1e-10).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import MatrixRankWarning, splu, spsolve

from ..errors import SolverConvergenceError
from ..numerics.grids import double_exponential_grid, power_grid
from . import dist_kernels, kernels
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
    factor: _Factor | None = None  # LU of the last distribution solve, reused nearby
    chord_steps: int = 0  # of n_iter, EGM steps taken as chord steps (``_chord``)


@dataclass
class _Factor:
    """Internal: the sparse LU of (I - T)[keep, keep] on a closed class ``states``
    (node-major order) with ``pivot`` (a position in ``states``) fixed."""

    states: np.ndarray
    pivot: int
    lu: object


def solve_at_prices(params: Params, numerics: Numerics, r: float, wage: float,
                    guess: HouseholdState | None = None,
                    chord: object | None = None) -> HouseholdState:
    """Policies, values and the stationary distribution at interest rate r and wage.

    ``chord``: a sparse LU of I - Phi_z at a nearby fixed point
    (``steady_derivatives.policy_lu``); with a warm ``guess`` and several
    locations the policies are first iterated by chord steps with it (``_chord``).
    """
    a_grid = make_asset_grid(params, numerics, r)
    y = wage * params.w[:, None] * params.e_grid[None, :] + params.T[:, None]
    c, v = _initial_guess(params, a_grid, y, r, guess)
    J, S, n = c.shape
    ap = np.empty_like(c)
    W = np.empty_like(c)
    dW = np.empty_like(c)
    mu = np.empty((J, S, n, J))
    log_chi = np.log(params.chi)
    steps, done = 0, None
    if chord is not None and guess is not None and J > 1 and guess.c.shape == c.shape:
        c, v, steps, done = _chord(params, numerics, r, a_grid, y, c, v, chord, W, dW, ap)
    if done is not None:  # converged by the plain step's own test: shares at (c, v)
        status, n_iter, (dc, dv) = kernels.OK, 0, done
        kernels.migration_block(v, c, params.P, params.chi, log_chi, params.theta, 1.0 + r,
                                params.gamma, W, dW, mu, True)
    else:
        status, n_iter, dc, dv = kernels.solve_household(
            c, v, a_grid, y, params.P, params.Pi, log_chi, params.theta, 1.0 + r,
            params.beta * params.omega, params.gamma, numerics.tol_policy, numerics.tol_value,
            numerics.max_iter_household, ap, W, dW, mu)
    n_iter += steps
    if status != kernels.OK:
        raise SolverConvergenceError(
            f"household problem failed at r={r:.10g}: {_STATUS_TEXT[status]}",
            residuals={"policy_change": dc, "value_change": dv}, n_iter=int(n_iter))
    old = None if guess is None else guess.dist
    factor = None if guess is None else guess.factor
    dist, resid, factor = stationary_distribution(ap, a_grid, params.Pi, mu, old, factor,
                                                  numerics.tol_dist)
    if not resid <= numerics.tol_dist:
        raise SolverConvergenceError(
            f"stationary distribution inaccurate at r={r:.10g}",
            residuals={"distribution_l1": resid}, n_iter=int(n_iter))
    return HouseholdState(r, wage, a_grid, y, c, v, ap, mu, dist, int(n_iter), dc, dv, resid,
                          factor, steps)


CHORD_STEPS = 20  # at most this many chord steps before the plain iteration takes over
CHORD_RATE = 0.8  # ... or as soon as a step shrinks the plain step by less than this


def _chord(params, numerics, r, a_grid, y, c, v, lu, W, dW, ap):
    """Chord iteration on the fixed point z = Phi(z) of one EGM step, z = (c, v):

        z <- z + (I - Phi_z(z0))^-1 (Phi(z) - z)

    with the LU of a nearby fixed point z0 (the Newton step of the household
    problem with a frozen Jacobian). Plain EGM steps contract only by about
    beta omega (1 + r) near r_hi, so a warm household solve takes tens to
    hundreds of them; a chord step costs one EGM step and one pair of
    triangular solves, and contracts by the distance between the two Jacobians
    (in a 3-location economy at prices 0.01-1% away: 3-10 steps against
    200-260 plain ones; where a node's borrowing constraint switches between the
    two fixed points a step can shrink the plain step by only about half, hence
    CHORD_RATE = 0.8 rather than a stricter rate).

    Returns (c, v, EGM steps taken, done). done = (max |dc|, max rel |dv|) when
    the last plain step z -> Phi(z) = (c, v) passed the tolerances, the test
    of ``kernels.solve_household`` (which then accepts Phi(z) too, with the
    savings ``ap`` of that step), so what counts as converged is the same with
    or without chord steps; else None and (c, v) is the point to continue from
    by plain steps: reached once a step fails to shrink the plain step by
    CHORD_RATE, an EGM step fails, or consumption leaves the domain (positive,
    increasing in assets) after a correction.
    """
    P, Pi, chi = params.P, params.Pi, np.ascontiguousarray(params.chi)
    log_chi = np.log(chi)
    R, bo, gamma = 1.0 + r, params.beta * params.omega, params.gamma
    a_endo = np.empty(a_grid.shape[0])
    scale = np.array([numerics.tol_policy, numerics.tol_value])
    last = np.inf
    for step in range(1, CHORD_STEPS + 1):
        kernels.migration_block(v, c, P, chi, log_chi, params.theta, R, gamma, W, dW,
                                np.empty((1, 1, 1, 1)), False)
        c2, v2 = c.copy(), v.copy()
        status, dc, dv = kernels.egm_step(W, dW, a_grid, y, P, Pi, R, bo, gamma, c2, ap, v2,
                                          a_endo, True)
        if status != kernels.OK:
            logger.debug("chord: EGM step %d failed (status %d)", step, status)
            return c, v, step, None
        size = max(dc / scale[0], dv / scale[1])
        if dc < scale[0] and dv < scale[1]:
            return c2, v2, step, (dc, dv)
        if not size < CHORD_RATE * last or step == CHORD_STEPS:
            logger.debug("chord: step %d, plain step %.3g tol after %.3g: plain iteration",
                         step, size, last)
            return c2, v2, step, None
        last = size
        N = c.size
        dz = lu.solve(np.r_[(c2 - c).ravel(), (v2 - v).ravel()])
        c_new = c + dz[:N].reshape(c.shape)
        if not (np.all(c_new > 0.0) and np.all(np.diff(c_new, axis=2) > 0.0)):
            logger.debug("chord: step %d left the domain of consumption", step)
            return c2, v2, step, None
        c, v = np.ascontiguousarray(c_new), v + dz[N:].reshape(v.shape)
    return c, v, CHORD_STEPS, None


def location_totals(dist: np.ndarray, c: np.ndarray,
                    e_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(population, effective labour integral e dphi, real consumption integral c dphi)
    by location, from a (J, S, n_a) distribution and consumption."""
    return (dist.sum(axis=(1, 2)), np.einsum("jsi,s->j", dist, e_grid),
            np.einsum("jsi,jsi->j", dist, c))


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


def stationary_distribution(ap, a_grid, Pi, mu, guess=None, factor=None, tol=None):
    """Stationary mass over (j, s, i), its L1 residual |T d - d|_1 and the LU used.

    With ``factor`` (the LU of a nearby operator, e.g. the previous outer step's)
    and ``tol``, the distribution is first refined from ``guess`` by
    d <- d + LU_old^-1 (T d - d) on the old closed class (``_refine``): a
    triangular solve and a product per step instead of a new factorization; it
    is accepted once the residual is below 0.1 tol and falls back to the
    direct solve if it stalls. The direct solve: the recurrent class is the closed
    strongly connected component of the transition graph (the one with most mass
    in ``guess`` if there are several); transient states get zero mass. On that
    class the mass of one pivot state is fixed and the other balance equations are
    solved by sparse LU, with the states ordered asset node first: savings move a
    household only a few nodes, so the matrix is nearly banded and needs no
    fill-reducing permutation. That is fast but inaccurate when the pivot's true
    mass is tiny, so pivots are tried in turn (largest in ``guess``, largest after
    forward steps from uniform), and the last resort replaces one balance equation
    by sum(d) = 1, which is exact for any pivot but fills in more (no LU is kept).
    """
    J, S, n = ap.shape
    idx = np.empty((J, S, n), dtype=np.int64)
    wlo = np.empty((J, S, n))
    dist_kernels.lottery(ap, a_grid, idx, wlo)
    have_guess = guess is not None and guess.shape == ap.shape
    if factor is not None and have_guess and tol is not None:
        forward = _Forward(idx, wlo, Pi, mu)
        dist = _refine(forward, guess.ravel(), factor, 0.1 * tol)
        if dist is not None:
            return dist.reshape(J, S, n), float(np.abs(forward(dist) - dist).sum()), factor
    T, rows, cols = _transition_matrix(idx, wlo, Pi, mu)
    first = guess.ravel() if have_guess else _forward_guess(idx, wlo, Pi, mu).ravel()
    states = _recurrent_class(T, rows, cols, first)
    states = states[np.argsort(states % n, kind="stable")]  # node-major order
    T_c = T[states][:, states]
    best, best_resid, factor = None, np.inf, None
    pivots = [first] + ([_forward_guess] if have_guess else [])
    for weights in pivots:
        if callable(weights):
            weights = weights(idx, wlo, Pi, mu).ravel()
        pivot = int(np.argmax(weights[states]))
        x, lu = _solve_closed(T_c, pivot)
        resid = float(np.abs(T_c @ x - x).sum()) if np.all(np.isfinite(x)) else np.inf
        if resid < best_resid:
            best, best_resid = x, resid
            factor = None if lu is None else _Factor(states, pivot, lu)
        if resid < _PIVOT_TOL:
            break
    else:
        logger.debug("pivoted solves inaccurate (%.3g); solving with a normalisation row",
                     best_resid)
        best, factor = _solve_normalised(T_c), None
    dist = np.zeros(J * S * n)
    dist[states] = best
    return dist.reshape(J, S, n), float(np.abs(T @ dist - dist).sum()), factor


def forward_step(dist: np.ndarray, ap: np.ndarray, a_grid: np.ndarray, Pi: np.ndarray,
                 mu: np.ndarray) -> np.ndarray:
    """T d for savings ap and migration shares mu, flattened (one period forward)."""
    idx = np.empty(ap.shape, dtype=np.int64)
    wlo = np.empty(ap.shape)
    dist_kernels.lottery(ap, a_grid, idx, wlo)
    return _Forward(idx, wlo, Pi, mu)(dist.ravel())


class _Forward:
    """d -> T d by the kernels (lottery, e', migration), without building T: the
    refinement's products cost less than assembling the sparse matrix (about a
    third of a warm household solve at n_a = 150 in Huggett (1993))."""

    def __init__(self, idx, wlo, Pi, mu):
        self.idx, self.wlo, self.Pi, self.mu = idx, wlo, Pi, mu
        self.pre = np.empty(idx.shape)
        self.out = np.empty(idx.shape)

    def __call__(self, d: np.ndarray) -> np.ndarray:
        dist_kernels.pre_migration(d.reshape(self.idx.shape), self.idx, self.wlo, self.Pi,
                                   self.pre)
        dist_kernels.migrate(self.pre, self.mu, self.out)
        return self.out.ravel().copy()


def _refine(forward: _Forward, guess: np.ndarray, factor: _Factor, tol: float,
            max_steps: int = 30):
    """Iterative refinement of T d = d with an old LU; None if it does not reach tol."""
    states, pivot = factor.states, factor.pivot
    keep = np.r_[states[:pivot], states[pivot + 1:]]
    d = np.zeros_like(guess)
    d[states] = guess[states]
    total = d.sum()
    if not total > 0.0:
        return None
    d /= total
    last = np.inf
    for _ in range(max_steps):
        res = forward(d) - d
        err = float(np.abs(res).sum())
        if err <= tol:
            d = np.maximum(d, 0.0)
            return d / d.sum()
        if not err < 0.5 * last:
            return None
        last = err
        d[keep] += factor.lu.solve(res[keep])
    return None


def _transition_matrix(idx, wlo, Pi, mu):
    """T[dest, src] as CSC plus the raw (rows, cols) of its nonzeros.

    The kernel emits entries column by column (source states in order, no
    duplicates), so the CSC arrays are the raw ones: no COO conversion.
    """
    J, S, n = idx.shape
    size = J * S * n
    cap = 2 * S * J * size
    rows = np.empty(cap, dtype=np.int64)
    cols = np.empty(cap, dtype=np.int64)
    vals = np.empty(cap)
    nnz = dist_kernels.transition_entries(idx, wlo, Pi, mu, rows, cols, vals)
    rows, cols, vals = rows[:nnz], cols[:nnz], vals[:nnz]
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=size), out=indptr[1:])
    return sparse.csc_matrix((vals, rows, indptr), shape=(size, size)), rows, cols


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


def _solve_closed(T, pivot: int):
    """Stationary distribution of a stochastic matrix T[dest, src] on one closed class,
    and the LU of (I - T) without the pivot's row and column (None if size 1)."""
    size = T.shape[0]
    if size == 1:
        return np.ones(1), None
    keep = np.r_[0:pivot, pivot + 1:size]
    A = (sparse.identity(size, format="csr") - T)[keep][:, keep].tocsc()
    b = T[keep, pivot].toarray().ravel()
    x = np.empty(size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MatrixRankWarning)
        try:
            lu = splu(A, permc_spec="NATURAL")
        except RuntimeError:  # exactly singular
            return np.full(size, np.nan), None
        x[keep] = lu.solve(b)
    x[pivot] = 1.0
    if not np.all(np.isfinite(x)):
        return np.full(size, np.nan), None
    x = np.maximum(x, 0.0)
    return x / x.sum(), lu


def _forward_guess(idx, wlo, Pi, mu, steps: int = 30) -> np.ndarray:
    J, S, n = idx.shape
    dist = np.full((J, S, n), 1.0 / (J * S * n))
    pre = np.empty_like(dist)
    for _ in range(steps):
        dist_kernels.pre_migration(dist, idx, wlo, Pi, pre)
        dist_kernels.migrate(pre, mu, dist)
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
