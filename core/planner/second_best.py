"""The second best at given multipliers (w, P): component problem and distribution.

``solve_component`` finds the fixed point of the Bellman operator of (31)-(36) (one
sweep is ``kernels.bellman``: EGM on M, B.44-B.47, every node then solved exactly,
with the newborn step) on the pair x = (S, log Xi) at the v-grid's nodes by Newton:
dx solves (I - T'(x)) dx = T(x) - x with the sweep's analytic Jacobian
(``linearize``), by GMRES preconditioned with each location's own block. Why not a
mixed fixed-point iteration: T' has its eigenvalues spread over ~[0.5, beta] (stayers'
promises barely move, so a perturbation is transported along v and damped by
beta omega), and Anderson(8) needed 230-380 sweeps on 3-12 locations and ~700 on
48 (plain iteration: ~2000); Newton needs 6-7 from the first best's guess (16 s
on 48 locations x 240 nodes, against 2-4 min). The EGM
grid on M (quantiles of G_m(v_k) = -Xi_m(v_k) + theta S_m(v_k) over all m and
nodes, rebuilt every sweep) only starts the node solves. Typos followed (documented
in ``kernels``): B.47 and B.31's extra Lambda_i on S^n is dropped (use (31), (34));
B.37 reads theta S_n(v'_in).

``stationary_distribution`` solves (13) on the grid: incumbents move (i, v) ->
(m, v'_m(M_i(v))) with probability omega mu_im, newborns (mass (1 - omega) L_i
in i) to (m, v^n'_m) with mu^n_im, by Young lotteries linear in Xi. With
K the incumbents' transition and N the newborn lotteries by origin,
phi = L N (I - K)^{-1}: a sparse LU with J right-hand sides, then L is the
stationary vector of the (J, J) chain B = N (I - K)^{-1} 1_loc.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import LinearOperator, gmres, splu
from threadpoolctl import threadpool_limits

from ..errors import SolverConvergenceError
from ..numerics.markov import markov_stationary
from . import kernels, linearize
from .params import Numerics, Params
from .steady import Allocation

logger = logging.getLogger(__name__)

STATUS = {kernels.NONINVERTIBLE: "G_m = S_m' + theta S_m not decreasing (B.44)",
          kernels.NONMONOTONE: "v_i(M) not decreasing on the EGM grid",
          kernels.NO_BRACKET: "a node's M not found", kernels.NONFINITE: "non-finite values"}


@dataclass(frozen=True, slots=True)
class Component:
    """The converged component problem on ``v_grid``: (J, n_v) S, Xi = P C, policy M;
    (J,) newborn M^n, S^n, v^n; n_sweeps (Bellman sweeps), plain_steps (Newton steps
    replaced by a plain sweep); concavity: ``kernels.concavity`` of the fixed point (min
    log-slope of Xi = -S' between nodes; > 0 means S strictly concave at the nodes, as
    fn. 6 assumes); destinations: the last sweep's (VPk, XPk, MUk) at every node
    (``kernels.bellman``; like M, at the sweep's input, which differs from (S, X) by
    at most the inner tolerance), what ``stationary_distribution`` builds its
    lotteries from (None: computed again from the policies; a Solution keeps none)."""

    v_grid: np.ndarray
    S: np.ndarray
    X: np.ndarray
    M: np.ndarray
    Mn: np.ndarray
    Sn: np.ndarray
    vn: np.ndarray
    n_sweeps: int
    plain_steps: int
    concavity: float
    destinations: tuple | None = None


def make_v_grid(numerics: Numerics, fb: Allocation) -> np.ndarray:
    """Uniform grid from min v* - v_below to max v* + v_above (first-best promises v*)."""
    return np.linspace(fb.v.min() - numerics.v_below, fb.v.max() + numerics.v_above,
                       numerics.n_v)


def initial_surplus(params: Params, fb: Allocation, v_grid: np.ndarray):
    """(S, Xi) of the symmetric closed form around the first best: Xi_m(v) = Lambda
    exp((1 - beta omega)(v - v*_m)), S_m = S*_m - (Xi_m - Lambda) / (1 - beta omega)."""
    a = 1.0 - params.beta * params.omega
    lam = params.weights[:, None]
    X = lam * np.exp(a * (v_grid[None, :] - fb.v[:, None]))
    return fb.S[:, None] - (X - lam) / a, X


def regrid(S: np.ndarray, X: np.ndarray, v_old: np.ndarray, v_new: np.ndarray):
    """(S, Xi) of (J, n) node values on ``v_old`` evaluated at the nodes of ``v_new``
    (the interpolant and extrapolation of ``kernels``): a neighbour's surplus as the
    start of an inner solve on this economy's grid."""
    if v_old.shape == v_new.shape and np.array_equal(v_old, v_new):
        return S.copy(), X.copy()
    J = S.shape[0]
    B = kernels.log_slopes(X, v_old[1] - v_old[0])
    S_new, X_new = np.empty((J, v_new.size)), np.empty((J, v_new.size))
    kernels.resample(S, X, B, v_old[0], v_old[1] - v_old[0], v_new, S_new, X_new)
    return S_new, X_new


def m_grid(S: np.ndarray, X: np.ndarray, v_grid: np.ndarray, theta: float,
           n_m: int) -> np.ndarray:
    """Increasing EGM grid: quantiles of G at all nodes of all locations, extended on
    each side (below: 40 steps growing by 15% from the end spacing; above: up to 60
    distances to max_m G_m(-inf) shrinking geometrically from the end spacing, none
    closer than 1e-9 relative), so
    that every origin's endogenous promises cover the v-grid with EGM points as
    dense as inside (nodes beyond are solved exactly, more slowly)."""
    G = -X + theta * S
    q = np.unique(np.quantile(G.ravel(), np.linspace(0.0, 1.0, n_m)))
    b0 = kernels.log_slopes(X, v_grid[1] - v_grid[0])[:, 0]
    gmax = float(np.max(theta * (S[:, 0] + X[:, 0] / b0)))
    below = q[0] - (q[1] - q[0]) * np.cumsum(1.15 ** np.arange(40))[::-1]
    ratio = np.clip(1.0 - (q[-1] - q[-2]) / (gmax - q[-1]), 0.5, 0.95)
    above = gmax - (gmax - q[-1]) * ratio ** np.arange(1, 61)
    # ratio^60 can be 1e-18 of the gap: such points round to G(-inf) itself (no
    # interior destination) or to each other (v_i(M) flat); stop short of them
    keep = (above > q[-1]) & (gmax - above > 1e-9 * (1.0 + abs(gmax)))
    return np.concatenate([below, q, np.unique(above[keep])])


def solve_component(params: Params, numerics: Numerics, w: np.ndarray, P: np.ndarray,
                    v_grid: np.ndarray, S0: np.ndarray, X0: np.ndarray,
                    tol: float | None = None, jac_cache: dict | None = None) -> Component:
    """Fixed point of the Bellman operator from (S0, X0) by Newton (module docstring).
    ``jac_cache``: a dict that keeps the last Newton solver (the sweep's Jacobian, its
    preconditioner) across calls; a neighbour's (the outer loop's previous multipliers)
    is a good model, replaced when a step cuts the change by less than 10x."""
    p = params
    J, n = S0.shape
    n_m = numerics.n_m or 2 * numerics.n_v
    log_chi = np.ascontiguousarray(np.log(p.chi))
    out = [np.empty((J, n)) for _ in range(3)] + [np.empty(J) for _ in range(3)] + [
        np.empty((J, n + 1, J)) for _ in range(3)]
    status = [kernels.OK]

    def T(x):
        S = np.ascontiguousarray(x[: J * n].reshape(J, n))
        X = np.exp(x[J * n:]).reshape(J, n)
        st = kernels.bellman(S, X, v_grid, m_grid(S, X, v_grid, p.theta, n_m), p.theta, log_chi,
                             P, w, p.alpha_agg, p.beta, p.omega, p.r_inv, p.weights, *out)
        status[0] = st
        if st != kernels.OK:
            return None
        return np.concatenate([out[0].ravel(), np.log(out[1]).ravel()])

    cache = {} if jac_cache is None else jac_cache
    if cache.get("shape") != (J, n):
        cache.clear()

    def step(x, F, refresh):
        if refresh or "solve" not in cache:
            S = np.ascontiguousarray(x[: J * n].reshape(J, n))
            X = np.exp(x[J * n:]).reshape(J, n)
            cache.update(solve=newton_solver(p, S, X, v_grid, out[2], out[3]), shape=(J, n))
        return None if cache["solve"] is None else cache["solve"](F)

    x0 = np.concatenate([S0.ravel(), np.log(X0).ravel()])
    res = newton_fixed_point(T, step, x0, tol=numerics.tol_inner if tol is None else tol,
                             max_iter=numerics.max_iter_inner)
    if not res.converged:
        why = STATUS.get(status[0], "no convergence")
        raise SolverConvergenceError(f"second-best component problem: {why}",
                                     residuals={"sweep_change": res.residual},
                                     n_iter=res.n_iter)
    S = res.x[: J * n].reshape(J, n).copy()
    X = np.exp(res.x[J * n:]).reshape(J, n)
    concave = kernels.concavity(X, v_grid[1] - v_grid[0])
    if not concave > 0.0:
        logger.warning("second best: S not concave at the fixed point (min log-slope of "
                       "Xi %.3g); the paper's fn. 6 would need lotteries", concave)
    return Component(v_grid, S, X, out[2].copy(), out[3].copy(), out[4].copy(),
                     out[5].copy(), res.n_iter, res.plain_steps, float(concave),
                     tuple(out[6:]))


@dataclass(frozen=True, slots=True)
class FixedPoint:
    x: np.ndarray
    converged: bool
    n_iter: int  # sweeps (evaluations of T)
    residual: float
    plain_steps: int  # Newton steps replaced by the plain sweep


def newton_fixed_point(T: Callable, step: Callable, x0: np.ndarray, *, tol: float,
                       max_iter: int) -> FixedPoint:
    """x = T(x) by Newton: x + lam dx with dx = step(x, T(x) - x, refresh), which solves
    (I - T'(x)) dx = F with a Jacobian model: the one it has, or (``refresh``) the
    Jacobian at the sweep just made (T writes its policies). lam = 1, 1/2, 1/4: the
    first whose sweep succeeds with a smaller change max |T - x|. A step that cuts the
    change by less than 10x asks for a fresh Jacobian next; if no lam succeeds, a stale
    model is refreshed at x, a fresh one gives way to the plain step T(x) (a
    contraction). Returns T(x) at the first x with max |T(x) - x| <= tol; never raises."""
    x = np.array(x0, dtype=float)
    tx = T(x)
    sweeps, plain = 1, 0
    res = np.inf
    refresh = False
    while tx is not None and sweeps < max_iter:
        F = tx - x
        res = float(np.max(np.abs(F)))
        if not np.isfinite(res):
            break
        if res <= tol:
            return FixedPoint(tx, True, sweeps, res, plain)
        dx = step(x, F, refresh)
        t_new = None
        for lam in (1.0, 0.5, 0.25) if dx is not None else ():
            x_new = x + lam * dx
            t_new = T(x_new)
            sweeps += 1
            if t_new is not None and np.max(np.abs(t_new - x_new)) < res:
                break
            t_new = None
        if t_new is None and not refresh:  # the stale model failed: a fresh one at x
            refresh = True
            tx = T(x)  # its policies, for the Jacobian
            sweeps += 1
            continue
        if t_new is None:
            plain += 1
            x_new, t_new = tx, T(tx)
            sweeps += 1
        else:
            refresh = bool(np.max(np.abs(t_new - x_new)) > 0.1 * res)
        x, tx = x_new, t_new
    return FixedPoint(x, False, sweeps, res, plain)


def sweep_jacobian(params: Params, S: np.ndarray, X: np.ndarray, v_grid: np.ndarray,
                   M_pol: np.ndarray, Mn: np.ndarray):
    """(T' without newborns (2 J n, 2 J n), dS^n / dx (J, 2 J n)), CSR, of the sweep at
    (S, X) with its policies (``linearize``); the whole Jacobian is
    T' + newborn_rows(J, n) @ dS^n / dx."""
    p = params
    J, n = S.shape
    N = 2 * J * n
    cap = 12 * J * J * (n + 1)
    rows, cols = np.empty(cap, np.int64), np.empty(cap, np.int64)
    vals = np.empty(cap)
    nrows, ncols = np.empty(12 * J * J, np.int64), np.empty(12 * J * J, np.int64)
    nvals = np.empty(12 * J * J)
    cnt, ncnt = linearize.sweep_jacobian(
        np.ascontiguousarray(S), np.ascontiguousarray(X), v_grid, M_pol, Mn, p.theta,
        np.ascontiguousarray(np.log(p.chi)), p.beta, p.omega, p.r_inv,
        np.ascontiguousarray(p.weights, dtype=float), rows, cols, vals, nrows, ncols, nvals)
    Jm = sparse.csr_matrix((vals[:cnt], (rows[:cnt], cols[:cnt])), shape=(N, N))
    Nb = sparse.csr_matrix(((1.0 - p.omega) * nvals[:ncnt], (nrows[:ncnt], ncols[:ncnt])),
                           shape=(J, N))
    return Jm, Nb


def newborn_rows(J: int, n: int):
    """(2 J n, J) CSR: S rows (i, k) of origin i get origin i's newborn term."""
    return sparse.csr_matrix((np.ones(J * n), (np.arange(J * n), np.repeat(np.arange(J), n))),
                             shape=(2 * J * n, J))


def newton_solver(params: Params, S: np.ndarray, X: np.ndarray, v_grid: np.ndarray,
                  M_pol: np.ndarray, Mn: np.ndarray) -> Callable | None:
    """F -> dx with (I - T'(x)) dx = F, T' at the sweep's policies (``sweep_jacobian``):
    GMRES preconditioned by the LU of each location's own block (its stayers carry the
    slow transport along v; the other destinations' shares are small). The solver
    returns None if GMRES fails; None if the blocks are singular."""
    J, n = S.shape
    N = 2 * J * n
    Jm, Nb = sweep_jacobian(params, S, X, v_grid, M_pol, Mn)
    E = newborn_rows(J, n)
    loc = (np.arange(N) % (J * n)) // n
    own = (E @ Nb + Jm).tocoo()
    keep = loc[own.row] == loc[own.col]
    block = sparse.identity(N, format="csc") - sparse.csc_matrix(
        (own.data[keep], (own.row[keep], own.col[keep])), shape=(N, N))
    try:
        lu = splu(block)
    except RuntimeError:  # singular block
        return None

    system = LinearOperator((N, N), matvec=lambda z: z - Jm @ z - E @ (Nb @ z))
    preconditioner = LinearOperator((N, N), matvec=lu.solve)

    def solve(F):
        # one BLAS thread: GMRES projects on its basis with dense BLAS calls, which stall
        # on a busy machine when threaded (36 solves at 48 locations: 56 s, 10.6 s so)
        with threadpool_limits(1, "blas"):
            dx, info = gmres(system, F, rtol=1e-4, restart=40, maxiter=5, M=preconditioner)
        return dx if info == 0 and np.all(np.isfinite(dx)) else None
    return solve


def newborn_policies(params: Params, comp: Component):
    """(J, J) promises v^n'_im and shares mu^n_im of origin i's newborns in each m."""
    J = params.n_loc
    log_chi = np.ascontiguousarray(np.log(params.chi))
    B = kernels.log_slopes(comp.X, comp.v_grid[1] - comp.v_grid[0])
    L = np.log(comp.X)
    vp, mu = np.empty((J, J)), np.empty((J, J))
    work = np.empty((6, J))
    for i in range(J):
        kernels.policies_at(log_chi[i], comp.Mn[i], comp.S, comp.X, L, B, comp.v_grid,
                            params.theta, work, mu[i])
        vp[i] = work[0]
    return vp, mu


def stationary_distribution(params: Params, comp: Component):
    """(dist (J, n_v), mass_off (J, n_v), x_pol (J, n_v)): the stationary measure (sums
    to one); per node, the probability that an incumbent's promise leaves the grid;
    and P C of the node's policy (what spending aggregates, so that the spending
    identity holds to solver accuracy)."""
    J, n = comp.S.shape
    if getattr(comp, "destinations", None) is None:  # (absent from older pickles)
        K, N, mass_off, x_pol = transition_matrices(params, comp.M, comp.Mn, comp.S, comp.X,
                                                    comp.v_grid)
    else:
        K, N, mass_off = lottery_matrices(params, *comp.destinations, comp.X, comp.v_grid)
        x_pol = comp.X
    size = J * n
    lu = splu((sparse.identity(size, format="csc") - K).T.tocsc())
    Y = lu.solve(np.ascontiguousarray(N.toarray().T))  # (size, J): column i from origin i
    B = Y.reshape(J, n, J).sum(axis=1).T  # B[i, j]: newborn of i's lifetime mass in j
    B /= B.sum(axis=1, keepdims=True)
    L = markov_stationary(B)
    dist = (Y @ L).reshape(J, n)
    return dist / dist.sum(), mass_off, x_pol


def lottery_matrices(params: Params, vp, xp, mu, lot, v_grid):
    """(K, N, mass_off) of ``transition_matrices`` from each node's destinations
    (``kernels.bellman``'s VPk, XPk, MUk) with lotteries on ``lot``'s node values of Xi."""
    J, n = lot.shape
    return _sparse(J, n, lambda *bufs: kernels.lottery_entries(
        vp, xp, mu, np.ascontiguousarray(lot), v_grid, params.omega, *bufs))


def _sparse(J: int, n: int, fill: Callable):
    """(K (J n, J n) CSC, N (J, J n) CSR, mass_off (J, n)) from a kernel ``fill(rows,
    cols, vals, nrows, ncols, nvals, mass_off) -> (count, ncount)``."""
    cap = 2 * J * J * n
    rows, cols = np.empty(cap, np.int64), np.empty(cap, np.int64)
    vals = np.empty(cap)
    nrows, ncols = np.empty(2 * J * J, np.int64), np.empty(2 * J * J, np.int64)
    nvals = np.empty(2 * J * J)
    mass_off = np.zeros((J, n))
    cnt, ncnt = fill(rows, cols, vals, nrows, ncols, nvals, mass_off)
    size = J * n
    K = sparse.csc_matrix((vals[:cnt], (rows[:cnt], cols[:cnt])), shape=(size, size))
    N = sparse.csr_matrix((nvals[:ncnt], (nrows[:ncnt], ncols[:ncnt])), shape=(J, size))
    return K, N, mass_off


def transition_matrices(params: Params, M: np.ndarray, Mn: np.ndarray, S: np.ndarray,
                        X: np.ndarray, v_grid: np.ndarray, X_lot: np.ndarray | None = None):
    """(K (J n, J n) CSC, N (J, J n) CSR, mass_off (J, n), x_pol (J, n)) of policies M,
    M^n with continuation (S, X): K[(i, k), (m, node)] the probability omega mu_im that
    an incumbent at node k of i is at (m, node) next period (Young lotteries linear in
    Xi on ``X_lot``'s node values, default x_pol); N[i, (m, node)] the newborn lotteries
    of origin i, (1 - omega) mu^n_im per unit of i's population (``kernels.transition_
    entries``; x_pol is not computed when X_lot is given: nan then). Next period's mass
    is K' dist + N' (dist's population by location)."""
    p = params
    J, n = S.shape
    x_pol = np.full((J, n), np.nan)
    lot = np.empty((0, 0)) if X_lot is None else np.ascontiguousarray(X_lot, dtype=float)
    K, N, mass_off = _sparse(J, n, lambda *bufs: kernels.transition_entries(
        np.ascontiguousarray(M), np.ascontiguousarray(Mn), np.ascontiguousarray(S),
        np.ascontiguousarray(X), v_grid, p.theta, np.ascontiguousarray(np.log(p.chi)),
        p.omega, p.beta / p.r_inv, *bufs, x_pol, lot))
    return K, N, mass_off, x_pol
