"""The temporary (static) equilibrium of Caliendo-Dvorkin-Parro (2019), in levels and changes.

Given employment L^{nj} (households already placed, eq. 3), one period clears goods, labour
and structures markets. With Cobb-Douglas technology, labour and structures are paid fixed
shares of gross output R^{nj}: w L = gamma (1 - xi) R and r H = gamma xi R. Unknowns are
y = log R (N, J) and p = log P (N, J), the sectoral price indices:

    log x^{nj} = log B^{nj} + gamma^{nj} log(r^xi w^(1-xi)) + sum_k gamma^{nj,nk} p^{nk}
                 (unit cost of the input bundle, papers/003 section 2.3.1.2)
    p^{nj}     = -1/theta^j log sum_i exp(g^j[i, n] - theta^j log x^{ij})     (price index)
    lam^j[i, n] = exp(g^j[i, n] - theta^j log x^{ij} + theta^j p^{nj})       (gravity)
    E^{nj}     = sum_k gamma^{nk,nj} R^{nk} + alpha^j I^n,  I^n = sum_k gamma(1-xi)R + iota^n chi
    R^{ij}     = sum_n lam^j[i, n] E^{nj}                                   (goods market)

Levels: g^j[i, n] = -theta^j log kappa^j[i, n] + theta^j gamma^{ij} log A^{ij}. Time changes
(dynamic hat algebra; unknown y = log R_{t+1} in the data's units, p = log P-dot):
g = log lam_t - theta log kappa-dot + theta gamma log A-dot, and log(r^xi w^(1-xi)) is
replaced by its change y_{t+1} - y_t - (1 - xi) log L-dot (H fixed). Relative to a
baseline's same period (hat of dots): g = log lam_t - theta log(kappa'_t / kappa_t) +
theta gamma log(A'_t / A_t), y = log R'_t. The builders take these kernel shifts
(``kernel_shift``) rather than A and kappa. All three are one solver with a
kernel g and an offset of log x; the Frechet constant Gamma^j is normalised to one.

Prices are Newton's method on p (Jacobian I - Pi G, a contraction when gamma > 0); output y
is Newton's method on log F(y) - y with an analytic Jacobian and a backtracking line search.
F is homogeneous of degree one in R, so one y is held fixed and the solution is rescaled to
a given world value added sum gamma R.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SolverConvergenceError
from .cdp_params import Structure, expenditure


@dataclass(frozen=True, slots=True)
class StaticState:
    """One period: y, p (N, J); lam (J, N, N) [j, origin, destination]; E (N, J) spending."""

    y: np.ndarray
    p: np.ndarray
    lam: np.ndarray
    E: np.ndarray
    n_iter: int
    residual: float


def solve_static(s: Structure, log_g, off, y0, p0, world: float, *, tol: float,
                 max_iter: int) -> StaticState:
    """Newton on y (one entry fixed), then rescale so that sum gamma R = ``world``."""
    N, J = s.n_regions, s.n_sectors
    anchor = int(np.argmax(y0))
    keep = np.arange(N * J) != anchor
    y, p = np.array(y0, dtype=np.float64), np.array(p0, dtype=np.float64)
    p, lam = solve_prices(s, log_g, s.gamma_va * y + off, p, tol)
    res, E = _residual(s, y, lam)
    for it in range(max_iter + 1):
        worst = float(np.max(np.abs(res)))
        if not np.isfinite(worst):
            break
        if worst <= tol:
            shift = np.log(world / np.sum(s.gamma_va * np.exp(y)))
            return StaticState(y + shift, p + shift, lam, E * np.exp(shift), it, worst)
        if it == max_iter:
            break
        jac = _jacobian(s, y, lam, E)
        step = np.zeros(N * J)
        step[keep] = np.linalg.solve(jac[np.ix_(keep, keep)], -res.ravel()[keep])
        found = _line_search(s, log_g, off, y, p, step.reshape(N, J), worst, tol)
        if found is None:
            break
        y, p, lam, res, E = found
    raise SolverConvergenceError("CDP temporary equilibrium (goods markets) did not clear",
                                 residuals={"max_abs_log_output_gap": worst}, n_iter=it)


def solve_prices(s: Structure, log_g, lx_base, p0, tol: float):
    """p = Phi(p) with log x = lx_base + G p, by Newton (Jacobian I - Pi G)."""
    p = p0
    for _ in range(60):
        new, lam = _price_map(s, log_g, lx_base + _materials(s, p))
        gap = p - new
        if float(np.max(np.abs(gap))) <= 0.1 * tol:
            return new, lam
        jac = np.eye(gap.size) - _pi_full(lam) @ _g_full(s)
        p = p - np.linalg.solve(jac, gap.ravel()).reshape(p.shape)
    raise SolverConvergenceError("CDP sectoral price indices did not converge",
                                 residuals={"max_abs_log_price_gap": float(np.abs(gap).max())},
                                 n_iter=60)


def _price_map(s: Structure, log_g, lx):
    """Phi(p) (N, J) and shares lam (J, N, N) at unit costs lx (N, J)."""
    z = log_g - s.theta[:, None, None] * lx.T[:, :, None]
    top = z.max(axis=1, keepdims=True)
    lse = top + np.log(np.exp(z - top).sum(axis=1, keepdims=True))
    return (lse[:, 0, :] / -s.theta[:, None]).T, np.exp(z - lse)


def _materials(s: Structure, p):
    return np.einsum("njk,nk->nj", s.io, p)


def _residual(s: Structure, y, lam):
    """log F(y) - y with F^{ij} = sum_n lam^j[i, n] E^{nj}; also E."""
    E = expenditure(np.exp(y), s)
    F = np.einsum("jin,nj->ij", lam, E)
    with np.errstate(divide="ignore"):
        return np.log(F) - y, E


def _line_search(s, log_g, off, y, p, step, worst, tol):
    biggest = float(np.max(np.abs(step)))
    if biggest > 2.0:
        step = step * (2.0 / biggest)
    t = 1.0
    for _ in range(40):
        y_new = y + t * step
        p_new, lam = solve_prices(s, log_g, s.gamma_va * y_new + off, p, tol)
        res, E = _residual(s, y_new, lam)
        new_worst = float(np.max(np.abs(res)))
        if np.isfinite(new_worst) and new_worst < (1.0 - 1e-4 * t) * worst:
            return y_new, p_new, lam, res, E
        t *= 0.5
    return None


def _pi_full(lam) -> np.ndarray:
    """(NJ, NJ) d p / d log x: Pi[(n, j), (i, j)] = lam[j, i, n]; index n * J + j."""
    J, N = lam.shape[0], lam.shape[1]
    out = np.zeros((N, J, N, J))
    for j in range(J):
        out[:, j, :, j] = lam[j].T
    return out.reshape(N * J, N * J)


def _g_full(s: Structure) -> np.ndarray:
    """(NJ, NJ) d log x / d p: G[(n, j), (n, k)] = io[n, j, k]."""
    N, J = s.n_regions, s.n_sectors
    out = np.zeros((N, J, N, J))
    n = np.arange(N)
    out[n, :, n, :] = s.io
    return out.reshape(N * J, N * J)


def _jacobian(s: Structure, y, lam, E) -> np.ndarray:
    """d(log F - y)/dy (NJ, NJ): through spending E and through unit costs via shares."""
    N, J = s.n_regions, s.n_sectors
    R = np.exp(y)
    va = s.gamma_va * R
    dE = np.zeros((N, J, N, J))  # d E[n, j] / d y[m, k]
    n = np.arange(N)
    own = s.io.transpose(0, 2, 1) * R[:, None, :]  # io[n, k, j] R[n, k] as [n, j, k]
    own = own + s.alpha[None, :, None] * ((1.0 - s.xi)[:, None] * va)[:, None, :]
    dE[n, :, n, :] = own
    dE += np.einsum("j,n,mk->njmk", s.alpha, s.iota, s.xi[:, None] * va)
    Pi = _pi_full(lam)
    G = _g_full(s)
    E_flat = E.ravel()
    F = Pi.T @ E_flat
    d_lx = np.linalg.solve(np.eye(N * J) - G @ Pi, np.diag(s.gamma_va.ravel()))
    theta = np.tile(s.theta, N)
    d_share = -theta[:, None] * ((np.diag(F) - Pi.T @ (E_flat[:, None] * Pi)) @ d_lx)
    dF = Pi.T @ dE.reshape(N * J, N * J) + d_share
    return dF / F[:, None] - np.eye(N * J)


# ---- one static market per period along a labour path (the engine's ``markets``) ----------


@dataclass(frozen=True, slots=True)
class CDPMarketPath:
    """Static markets along a path, t = 0..T first. ``log_x`` (y = log R) is the engine's
    warm-start state and ``log_r`` (T+1, M) its flow utilities; log_p (T+1, N, J) and log_pc
    (T+1, N) are sectoral and consumer price indices (levels: log P; time changes:
    log P_t / P_0; relative to a baseline: log P'_t / P_t)."""

    log_x: np.ndarray
    log_p: np.ndarray
    log_pc: np.ndarray
    log_r: np.ndarray
    lam: np.ndarray
    E: np.ndarray
    max_imbalance: float
    n_newton: int


def levels_markets(s: Structure, log_g_path, log_H, log_b, world: float, numerics):
    """Levels: kernel (T+1, J, N, N), world value added ``world`` every period; log_b (T+1, N)
    log home production (None without non-employment)."""
    T1 = log_g_path.shape[0]
    const = _log_cost_constant(s, log_H)
    wage_share = _log_wage_share(s)

    def markets(L, y_warm):
        log_le = np.log(employed(s, L))
        out = _Collector(s, T1)
        p = np.zeros((s.n_regions, s.n_sectors))
        for t in range(T1):
            off = const - s.gamma_va * (1.0 - s.xi)[:, None] * log_le[t]
            y0 = log_le[t] if y_warm is None else y_warm[t]
            st = _clear(s, log_g_path[t], off, y0, p, world, numerics)
            p = st.p
            out.put(t, st, st.p)
        log_pc = _consumer_price(s, out.p) - np.sum(_xlogx(s.alpha))
        real = wage_share + out.y - log_le - log_pc[:, :, None]
        return out.done(log_pc, flows(s, real, log_b))

    return markets


def time_change_markets(s: Structure, lam0, E0, R0, shift_dot, log_b_rel, numerics):
    """Dynamic hat algebra: period t + 1 from period t's shares and output. shift_dot
    (T, J, N, N): kernel_shift of the time changes; log_b_rel (T+1, N): log b_t / b_0."""
    T = shift_dot.shape[0]
    world = float(np.sum(s.gamma_va * R0))
    wage_share = _log_wage_share(s)

    def markets(L, y_warm):
        log_le = np.log(employed(s, L))
        out = _Collector(s, T + 1)
        out.y[0], out.lam[0], out.E[0] = np.log(R0), lam0, E0
        for t in range(1, T + 1):
            with np.errstate(divide="ignore"):
                log_g = np.log(out.lam[t - 1]) + shift_dot[t - 1]
            off = -s.gamma_va * (out.y[t - 1] + (1.0 - s.xi)[:, None] * (log_le[t] - log_le[t - 1]))
            y0 = out.y[t - 1] if y_warm is None else y_warm[t]
            st = _clear(s, log_g, off, y0, np.zeros_like(y0), world, numerics)
            out.put(t, st, out.p[t - 1] + st.p)
        log_pc = _consumer_price(s, out.p)
        real = wage_share + out.y - log_le - log_pc[:, :, None]
        return out.done(log_pc, flows(s, real - real[0], log_b_rel))

    return markets


def relative_markets(s: Structure, lam_b, R_b, L_b, shift_ratio, log_b_ratio, numerics):
    """Relative to a baseline path (hat of dots); shift_ratio (T+1, J, N, N) is the
    kernel_shift of kappa'_t / kappa_t and A'_t / A_t; log_b_ratio (T+1, N) log b'_t / b_t."""
    T1 = shift_ratio.shape[0]
    log_le_b, y_b = np.log(employed(s, L_b)), np.log(R_b)

    def markets(L, y_warm):
        log_le = np.log(employed(s, L))
        out = _Collector(s, T1)
        for t in range(T1):
            with np.errstate(divide="ignore"):
                log_g = np.log(lam_b[t]) + shift_ratio[t]
            off = -s.gamma_va * (y_b[t] + (1.0 - s.xi)[:, None] * (log_le[t] - log_le_b[t]))
            y0 = y_b[t] if y_warm is None else y_warm[t]
            world = float(np.sum(s.gamma_va * R_b[t]))
            st = _clear(s, log_g, off, y0, np.zeros_like(y0), world, numerics)
            out.put(t, st, st.p)
        log_pc = _consumer_price(s, out.p)
        real = (out.y - y_b) - (log_le - log_le_b) - log_pc[:, :, None]
        return out.done(log_pc, flows(s, real, log_b_ratio))

    return markets


def employed(s: Structure, L) -> np.ndarray:
    """(..., N, J) employment from a flat (..., M) labour array (markets m = n S + s)."""
    L = np.asarray(L)
    return L.reshape(*L.shape[:-1], s.n_regions, s.n_slots)[..., int(s.non_employment):]


def flows(s: Structure, real, log_b) -> np.ndarray:
    """(T+1, M) flow utilities: log real wage by sector, log b^n_t (T+1, N; or its change) at
    home (zero if ``log_b`` is None)."""
    T1, N = real.shape[0], s.n_regions
    out = np.zeros((T1, N, s.n_slots))
    out[:, :, int(s.non_employment):] = real
    if s.non_employment and log_b is not None:
        out[:, :, 0] = log_b
    return out.reshape(T1, N * s.n_slots)


def kernel_shift(s: Structure, log_kappa, log_A) -> np.ndarray:
    """(T, J, N, N) -theta^j log kappa^j[i, n] + theta^j gamma^{ij} log A^{ij} for paths
    log_kappa (T, J, N, N) and log_A (T, N, J) (levels, time changes or ratios alike)."""
    prod = s.theta[None, :, None] * (s.gamma_va[None] * log_A).transpose(0, 2, 1)
    return -s.theta[None, :, None, None] * log_kappa + prod[..., None]


def _clear(s, log_g, off, y0, p0, world, numerics) -> StaticState:
    return solve_static(s, log_g, off, y0, p0, world, tol=numerics.market_tol,
                        max_iter=numerics.market_max_iter)


def _log_wage_share(s: Structure) -> np.ndarray:
    return np.log(s.gamma_va * (1.0 - s.xi)[:, None])


def _log_cost_constant(s: Structure, log_H) -> np.ndarray:
    """log B^{nj} plus the parts of gamma log(r^xi w^(1-xi)) that do not depend on y or L."""
    g, xi = s.gamma_va, s.xi[:, None]
    shares = np.concatenate([(g * xi)[..., None], (g * (1.0 - xi))[..., None], s.io], axis=2)
    log_B = -np.sum(_xlogx(shares), axis=2)
    rent = np.where(xi > 0.0, xi * (np.log(np.where(xi > 0, g * xi, 1.0)) - log_H), 0.0)
    return log_B + g * (rent + (1.0 - xi) * _log_wage_share(s))


def _consumer_price(s: Structure, log_p) -> np.ndarray:
    """(T+1, N) sum_k alpha^k p^{nk}: log P^n = log prod_k (P^{nk} / alpha^k)^{alpha^k}
    up to the constant -sum alpha log alpha."""
    return np.einsum("k,tnk->tn", s.alpha, log_p)


def _xlogx(a) -> np.ndarray:
    return np.where(a > 0.0, a * np.log(np.where(a > 0.0, a, 1.0)), 0.0)


class _Collector:
    __slots__ = ("E", "imb", "lam", "n_newton", "p", "y")

    def __init__(self, s: Structure, T1: int):
        N, J = s.n_regions, s.n_sectors
        self.y, self.p, self.E = np.zeros((T1, N, J)), np.zeros((T1, N, J)), np.zeros((T1, N, J))
        self.lam = np.zeros((T1, J, N, N))
        self.imb, self.n_newton = 0.0, 0

    def put(self, t: int, st: StaticState, p) -> None:
        self.y[t], self.p[t], self.lam[t], self.E[t] = st.y, p, st.lam, st.E
        self.imb, self.n_newton = max(self.imb, st.residual), self.n_newton + st.n_iter

    def done(self, log_pc, log_r) -> CDPMarketPath:
        return CDPMarketPath(self.y, self.p, log_pc, log_r, self.lam, self.E, self.imb,
                             self.n_newton)
