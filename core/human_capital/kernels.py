"""Numba kernels: backward induction with a portfolio step, and the valuation recursion.

Everything is normalised by the earnings scale z (Lemmas 1-2 of papers/004,
appendix A.2): cash on hand xhat = x / z, savings ahat = a / z. Ages are 0-based here
(age j of the paper is j-1). Arguments come in three tuples:

- ``mdl = (ptr, idx, prob, row_of, f, g, rs, psi, amin)``: today's state matters only through
  its transition row; row r's successors are ``idx[ptr[r]:ptr[r+1]]`` with
  probabilities ``prob[...]`` (sparse rows, CSR). ``row_of[s']`` is the row state s'
  uses next age; f[j, s'] the scale's growth into age j, g[j, s'] normalised earnings,
  rs[s'] the gross stock return, psi[j] survival from age j to j+1 (0 at the last age),
  amin[j] <= 0 the smallest savings (minus the bond borrowing limit) at age j.
- ``pref = (beta, gamma, alpha, rb, cubic)``: preferences, the gross bond return, and
  whether c, V and vhat are interpolated by monotone cubics (PCHIP, Fritsch-Carlson 1980)
  or linearly between nodes.
- ``pol = (xe, c, V, vh, theta, f0, k0, dc, dv, dvh)``: the solution, axes (age, row,
  savings node); dc, dv, dvh are the cubics' slopes at the nodes.

Per age and row the policy lives on an endogenous grid (EGM, Carroll 2006): for each
savings node ahat_k (stock theta (ahat_k - amin) >= 0, bond the rest >= amin) the share
theta solves the first-order condition
E[c'^-gamma (V'/F)^(gamma-alpha) (R^s - R^b)] = 0 in [0, 1] (A.2.1, (1')-(2')
combined), consumption solves c^-gamma = beta psi E[c'^-gamma (V'/F)^(gamma-alpha) R^p]
and xhat_k = c + ahat_k. Below the first node savings are amin and c = xhat - amin,
V = W(c, f0) and vhat = c^gamma k0 hold exactly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..numerics.hermite import hermite, hermite_slope

STATUS_OK = 0
STATUS_SHARE_NOT_CONVERGED = 1
STATUS_NOT_MONOTONE = 2


@njit(cache=True)
def aggregate(c, F, beta, psi, gamma):
    """W(c, F) = [(1 - beta) c^(1-gamma) + beta psi F^(1-gamma)]^(1/(1-gamma)) (section 4).

    psi = 0 (no next age) gives the last age's (1 - beta)^(1/(1-gamma)) c; gamma = 1
    is the limit c^(1-beta) F^beta (survival one), with V = c at the last age.
    """
    if gamma == 1.0:
        if psi == 0.0:
            return c
        return c ** (1.0 - beta) * F**beta
    if psi == 0.0:
        return (1.0 - beta) ** (1.0 / (1.0 - gamma)) * c
    return ((1.0 - beta) * c ** (1.0 - gamma) + beta * psi * F ** (1.0 - gamma)) ** (
        1.0 / (1.0 - gamma)
    )


@njit(cache=True)
def pchip_slopes(x, y, out):
    """Slopes at the nodes of the monotone piecewise-cubic (Fritsch-Carlson) interpolant."""
    n = x.shape[0]
    for k in range(1, n - 1):
        h0 = x[k] - x[k - 1]
        h1 = x[k + 1] - x[k]
        d0 = (y[k] - y[k - 1]) / h0
        d1 = (y[k + 1] - y[k]) / h1
        if d0 * d1 <= 0.0:
            out[k] = 0.0
        else:
            w0 = 2.0 * h1 + h0
            w1 = h1 + 2.0 * h0
            out[k] = (w0 + w1) / (w0 / d0 + w1 / d1)
    out[0] = _end_slope(x[1] - x[0], x[2] - x[1], (y[1] - y[0]) / (x[1] - x[0]),
                        (y[2] - y[1]) / (x[2] - x[1]))
    out[n - 1] = _end_slope(x[n - 1] - x[n - 2], x[n - 2] - x[n - 3],
                            (y[n - 1] - y[n - 2]) / (x[n - 1] - x[n - 2]),
                            (y[n - 2] - y[n - 3]) / (x[n - 2] - x[n - 3]))


@njit(cache=True)
def _end_slope(h0, h1, d0, d1):
    """One-sided three-point slope, kept shape-preserving (as scipy's PchipInterpolator)."""
    d = ((2.0 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
    if d * d0 <= 0.0:
        return 0.0
    if d0 * d1 <= 0.0 and abs(d) > abs(3.0 * d0):
        return 3.0 * d0
    return d


@njit(cache=True)
def interp_at(j, row, x, mdl, pol, pref, want_vh):
    """(c, V, vhat) at age j, row, normalised cash on hand x (exact below the first node;
    cubic or linear between nodes; linear with the last slope above the top). vhat is
    0 unless ``want_vh`` (the portfolio condition needs c and V only)."""
    xe, c_pol, v_pol, vh_pol, _, f0, k0, dc, dv, dvh = pol
    beta, gamma, _, _, cubic = pref
    psi, amin = mdl[7], mdl[8]
    grid = xe[j, row]
    if x <= grid[0]:
        c = x - amin[j]
        vh = c**gamma * k0[j, row] if want_vh else 0.0
        return c, aggregate(c, f0[j, row], beta, psi[j], gamma), vh
    n = grid.shape[0]
    vh = 0.0
    if cubic and x >= grid[n - 1]:
        e = x - grid[n - 1]
        if want_vh:
            vh = vh_pol[j, row, n - 1] + e * dvh[j, row, n - 1]
        return c_pol[j, row, n - 1] + e * dc[j, row, n - 1], \
            v_pol[j, row, n - 1] + e * dv[j, row, n - 1], vh
    k = min(np.searchsorted(grid, x) - 1, n - 2)
    if cubic:
        x0, x1 = grid[k], grid[k + 1]
        if want_vh:
            vh = hermite(x, x0, x1, vh_pol[j, row, k], vh_pol[j, row, k + 1], dvh[j, row, k],
                         dvh[j, row, k + 1])
        return (hermite(x, x0, x1, c_pol[j, row, k], c_pol[j, row, k + 1], dc[j, row, k],
                        dc[j, row, k + 1]),
                hermite(x, x0, x1, v_pol[j, row, k], v_pol[j, row, k + 1], dv[j, row, k],
                        dv[j, row, k + 1]), vh)
    w = (x - grid[k]) / (grid[k + 1] - grid[k])
    c = (1.0 - w) * c_pol[j, row, k] + w * c_pol[j, row, k + 1]
    v = (1.0 - w) * v_pol[j, row, k] + w * v_pol[j, row, k + 1]
    if want_vh:
        vh = (1.0 - w) * vh_pol[j, row, k] + w * vh_pol[j, row, k + 1]
    return c, v, vh


@njit(cache=True)
def next_nodes(j, row, a, theta, mdl, pref, pol, loc):
    """Fill ``loc = (c', V', y, R^s, prob)`` over row's successors, in today's units.

    y = f (vhat' + g') is v_{j+1} + e_{j+1}. Returns (F(V'), number of successors).
    """
    ptr, idx, prob, row_of, f, g, rs, _, amin = mdl
    alpha, rb = pref[2], pref[3]
    cs, vs, ys, rl, pl = loc
    stock = theta * (a - amin[j])
    start = ptr[row]
    n = ptr[row + 1] - start
    acc = 0.0
    for k in range(n):
        s = idx[start + k]
        p = prob[start + k]
        fs = f[j + 1, s]
        x_next = (a * rb + stock * (rs[s] - rb)) / fs + g[j + 1, s]
        c1, v1, vh1 = interp_at(j + 1, row_of[s], x_next, mdl, pol, pref, True)
        cs[k] = fs * c1
        vs[k] = fs * v1
        ys[k] = fs * (vh1 + g[j + 1, s])
        rl[k] = rs[s]
        pl[k] = p
        if alpha == 1.0:
            acc += p * np.log(vs[k])
        else:
            acc += p * vs[k] ** (1.0 - alpha)
    if alpha == 1.0:
        return np.exp(acc), n
    return acc ** (1.0 / (1.0 - alpha)), n


@njit(cache=True)
def _moments(n, F, pref, loc):
    """(E[k (R^s - R^b)], E[k R^b], E[k y]) with the kernel k = c'^-gamma (V'/F)^(gamma-alpha).

    With an interior share E[k R^s] = E[k R^b]; at a corner the held asset's return
    prices savings (the caller adds theta E[k (R^s - R^b)])."""
    gamma, alpha, rb = pref[1], pref[2], pref[3]
    cs, vs, ys, rl, pl = loc
    foc = 0.0
    eul = 0.0
    val = 0.0
    for k in range(n):
        kern = pl[k] * cs[k] ** (-gamma) * (vs[k] / F) ** (gamma - alpha)
        foc += kern * (rl[k] - rb)
        eul += kern * rb
        val += kern * ys[k]
    return foc, eul, val


@njit(cache=True)
def _cv_slopes(j, row, x, mdl, pol, pref):
    """(c, V, dc/dx, dV/dx) at age j, row and cash on hand x, as ``interp_at`` interpolates
    them (the slopes of the same pieces: exact below the first node, where c = x - amin
    and dV/dc = (1 - beta) c^-gamma V^gamma from the aggregator)."""
    xe, c_pol, v_pol, _, _, f0, _, dc, dv, _ = pol
    beta, gamma, _, _, cubic = pref
    psi, amin = mdl[7], mdl[8]
    grid = xe[j, row]
    if x <= grid[0]:
        c = x - amin[j]
        v = aggregate(c, f0[j, row], beta, psi[j], gamma)
        if gamma == 1.0:
            return c, v, 1.0, (1.0 if psi[j] == 0.0 else (1.0 - beta) * v / c)
        if psi[j] == 0.0:
            return c, v, 1.0, v / c
        return c, v, 1.0, (1.0 - beta) * (v / c) ** gamma
    n = grid.shape[0]
    if cubic and x >= grid[n - 1]:
        e = x - grid[n - 1]
        return (c_pol[j, row, n - 1] + e * dc[j, row, n - 1],
                v_pol[j, row, n - 1] + e * dv[j, row, n - 1], dc[j, row, n - 1],
                dv[j, row, n - 1])
    k = min(np.searchsorted(grid, x) - 1, n - 2)
    x0, x1 = grid[k], grid[k + 1]
    c0, c1, v0, v1 = c_pol[j, row, k], c_pol[j, row, k + 1], v_pol[j, row, k], v_pol[j, row, k + 1]
    if cubic:
        d0, d1, e0, e1 = dc[j, row, k], dc[j, row, k + 1], dv[j, row, k], dv[j, row, k + 1]
        return (hermite(x, x0, x1, c0, c1, d0, d1), hermite(x, x0, x1, v0, v1, e0, e1),
                hermite_slope(x, x0, x1, c0, c1, d0, d1),
                hermite_slope(x, x0, x1, v0, v1, e0, e1))
    w = (x - x0) / (x1 - x0)
    return ((1.0 - w) * c0 + w * c1, (1.0 - w) * v0 + w * v1, (c1 - c0) / (x1 - x0),
            (v1 - v0) / (x1 - x0))


@njit(cache=True)
def _foc(j, row, a, theta, mdl, pref, pol):
    """The portfolio condition at share theta, up to a positive factor, and its derivative
    in theta: phi = F^(gamma-alpha) E[k (R^s - R^b)] = E[c'^-gamma V'^(gamma-alpha)
    (R^s - R^b)] (``_moments``' first entry times F(V')^(gamma-alpha); same sign and
    root, and it needs neither F nor y). With x' = (a R^b + theta w (R^s - R^b)) / f + g',
    w = a - amin: d phi / d theta = E[kern (R^s - R^b)^2 w / f ((gamma - alpha) V_x / V
    - gamma c_x / c)] in the interpolants' own slopes. The hot loop of the solve."""
    ptr, idx, prob, row_of, f, g, rs, _, amin = mdl
    gamma, alpha, rb = pref[1], pref[2], pref[3]
    w = a - amin[j]
    stock = theta * w
    foc = 0.0
    dfoc = 0.0
    for t in range(ptr[row], ptr[row + 1]):
        s = idx[t]
        fs = f[j + 1, s]
        excess = rs[s] - rb
        x_next = (a * rb + stock * excess) / fs + g[j + 1, s]
        c1, v1, c_x, v_x = _cv_slopes(j + 1, row_of[s], x_next, mdl, pol, pref)
        kern = prob[t] * np.exp((gamma - alpha) * np.log(fs * v1) - gamma * np.log(fs * c1))
        foc += kern * excess
        dfoc += kern * excess * excess * w / fs * ((gamma - alpha) * v_x / v1 - gamma * c_x / c1)
    return foc, dfoc


@njit(cache=True)
def stock_share(j, row, a, mdl, pref, pol, tol, max_iter, guess):
    """The share theta in [0, 1] solving the portfolio condition (decreasing in theta).

    Newton steps (``_foc`` gives the condition's derivative) from ``guess`` (a neighbouring
    node's share), kept inside a bracket, with bisection when a step leaves it or the
    derivative is not negative. Converged when a step is below ``tol`` (the step's end is
    returned) or the bracket is; a corner is returned exactly once the condition's sign
    there is seen. At the borrowing limit (nothing to invest) the share is a limit: the
    corner the sign of the condition picks. Returns (theta, status).
    """
    t_a = min(max(guess, 0.0), 1.0)
    f_a, d_a = _foc(j, row, a, t_a, mdl, pref, pol)
    if a <= mdl[8][j]:
        return (1.0 if f_a > 0.0 else 0.0), STATUS_OK
    lo, hi = 0.0, 1.0
    for _ in range(max_iter):
        if f_a > 0.0:
            if t_a == 1.0:
                return 1.0, STATUS_OK
            lo = max(lo, t_a)
        elif f_a < 0.0:
            if t_a == 0.0:
                return 0.0, STATUS_OK
            hi = min(hi, t_a)
        else:
            return t_a, STATUS_OK
        if hi - lo < tol:
            return 0.5 * (lo + hi), STATUS_OK
        t_b = t_a - f_a / d_a if d_a < 0.0 else 0.5 * (lo + hi)
        if abs(t_b - t_a) < tol and lo <= t_b <= hi:
            return t_b, STATUS_OK
        if not lo < t_b < hi:  # a step outside the bracket: try its end, else bisect
            if t_b >= hi and hi == 1.0:
                t_b = 1.0
            elif t_b <= lo and lo == 0.0:
                t_b = 0.0
            else:
                t_b = 0.5 * (lo + hi)
        t_a = t_b
        f_a, d_a = _foc(j, row, a, t_a, mdl, pref, pol)
    return 0.5 * (lo + hi), STATUS_SHARE_NOT_CONVERGED


@njit(cache=True)
def make_local(mdl):
    """Work arrays for one row's successors (sized by the longest row)."""
    ptr = mdl[0]
    m = 0
    for r in range(ptr.shape[0] - 1):
        m = max(m, ptr[r + 1] - ptr[r])
    return (np.empty(m), np.empty(m), np.empty(m), np.empty(m), np.empty(m))


@njit(cache=True)
def solve_life_cycle(a_nodes, mdl, pref, pol, allow_stock, share_tol, max_share_iter, naive):
    """Backward induction over ages, writing ``pol`` and naive (age, row).

    a_nodes (age, k): increasing savings nodes of each age, from amin[j].
    naive[j, row] is the naive value E[f (naive' + g')] / R^b (A.2.2, no survival).
    Rows of one age are independent given the next age (``_solve_row``); a numba
    ``prange`` over them was tried and cost more than it gained on a shared two-core
    machine (thread start-up per age with one row). Returns a status code (worst over ages).
    """
    beta, gamma = pref[0], pref[1]
    xe, c_pol, v_pol, vh_pol, theta_pol, f0, k0, _, _, _ = pol
    n_age, n_row, n_a = xe.shape
    last = n_age - 1
    for row in range(n_row):
        for k in range(n_a):
            x = 1.0 + a_nodes[last, k] - a_nodes[last, 0]
            xe[last, row, k] = x
            c_pol[last, row, k] = x
            v_pol[last, row, k] = aggregate(x, 0.0, beta, 0.0, gamma)
            vh_pol[last, row, k] = 0.0
            theta_pol[last, row, k] = 0.0
        f0[last, row] = 0.0
        k0[last, row] = 0.0
        naive[last, row] = 0.0
        _slopes(last, row, pol)
    row_status = np.zeros(n_row, dtype=np.int64)
    status = STATUS_OK
    for j in range(last - 1, -1, -1):
        for row in range(n_row):
            row_status[row] = _solve_row(j, row, a_nodes, mdl, pref, pol, allow_stock,
                                         share_tol, max_share_iter, naive)
        status = max(status, row_status.max())
    return status


@njit(cache=True)
def _solve_row(j, row, a_nodes, mdl, pref, pol, allow_stock, share_tol, max_share_iter, naive):
    """One age and transition row: the naive value, then EGM with the portfolio step."""
    ptr, idx, prob, row_of, f, g, _, psi, _ = mdl
    beta, gamma, _, rb, _ = pref
    xe, c_pol, v_pol, vh_pol, theta_pol, f0, k0, _, _, _ = pol
    n_a = xe.shape[2]
    loc = make_local(mdl)
    status = STATUS_OK
    nv = 0.0
    for t in range(ptr[row], ptr[row + 1]):
        s = idx[t]
        nv += prob[t] * f[j + 1, s] * (naive[j + 1, row_of[s]] + g[j + 1, s])
    naive[j, row] = nv / rb
    for k in range(n_a):
        a = a_nodes[j, k]
        theta = 0.0
        if allow_stock:
            guess = theta_pol[j, row, k - 1] if k > 1 else theta_pol[j + 1, row, k]
            theta, st = stock_share(j, row, a, mdl, pref, pol, share_tol, max_share_iter,
                                    guess)
            status = max(status, st)
        F, n = next_nodes(j, row, a, theta, mdl, pref, pol, loc)
        foc, eul, val = _moments(n, F, pref, loc)
        eul += theta * foc
        c = (beta * psi[j] * eul) ** (-1.0 / gamma)
        xe[j, row, k] = c + a
        c_pol[j, row, k] = c
        v_pol[j, row, k] = aggregate(c, F, beta, psi[j], gamma)
        vh_pol[j, row, k] = beta * psi[j] * c**gamma * val
        theta_pol[j, row, k] = theta
        if k == 0:
            f0[j, row] = F
            k0[j, row] = beta * psi[j] * val
        elif xe[j, row, k] <= xe[j, row, k - 1]:
            status = max(status, STATUS_NOT_MONOTONE)
    if status != STATUS_NOT_MONOTONE:
        _slopes(j, row, pol)
    return status


@njit(cache=True)
def _slopes(j, row, pol):
    xe, c_pol, v_pol, vh_pol, _, _, _, dc, dv, dvh = pol
    pchip_slopes(xe[j, row], c_pol[j, row], dc[j, row])
    pchip_slopes(xe[j, row], v_pol[j, row], dv[j, row])
    pchip_slopes(xe[j, row], vh_pol[j, row], dvh[j, row])
