"""Numba kernels: backward induction with a portfolio step, and the valuation recursion.

Everything is normalised by the earnings scale z (Lemmas 1-2 of papers/004,
appendix A.2): cash on hand xhat = x / z, savings ahat = a / z. Exogenous states
s' = 0..n_s-1 carry the scale's growth f[j, s'] into age j, normalised earnings
g[j, s'] and the stock's gross return rs[s']. Today's state matters only through
its transition row: ``q[row, s']`` is Pr(s' | row), ``row_of[s']`` the row that
state s' uses at the next age. Ages are 0-based here (age j of the paper is j-1).

Per age and row the policy lives on an endogenous grid (EGM, Carroll 2006): for
each savings node ahat_k the stock share theta solves the first-order condition
E[c'^-gamma (V'/F)^(gamma-alpha) (R^s - R^b)] = 0 in [0, 1] (A.2.1, (1')-(2')
combined), consumption solves c^-gamma = beta psi E[c'^-gamma (V'/F)^(gamma-alpha) R^p]
and xhat_k = c + ahat_k. Below the first node savings are zero and
c = xhat, V = W(xhat, F_0) and vhat = xhat^gamma K_0 hold exactly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

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
def interp_next(j, row, x, xe, c_pol, v_pol, vh_pol, f0, k0, beta, psi, gamma):
    """(c, V, vhat) at age j, row, normalised cash on hand x (linear above the first node)."""
    grid = xe[j, row]
    if x <= grid[0]:
        return x, aggregate(x, f0[j, row], beta, psi[j], gamma), x**gamma * k0[j, row]
    n = grid.shape[0]
    k = np.searchsorted(grid, x) - 1
    if k > n - 2:
        k = n - 2
    w = (x - grid[k]) / (grid[k + 1] - grid[k])
    c = (1.0 - w) * c_pol[j, row, k] + w * c_pol[j, row, k + 1]
    v = (1.0 - w) * v_pol[j, row, k] + w * v_pol[j, row, k + 1]
    vh = (1.0 - w) * vh_pol[j, row, k] + w * vh_pol[j, row, k + 1]
    return c, v, vh


@njit(cache=True)
def next_nodes(j, row, a, theta, q, row_of, f, g, rs, rb, xe, c_pol, v_pol, vh_pol, f0, k0,
               beta, psi, gamma, alpha, out_c, out_v, out_y):
    """Fill next-age consumption, value and payout y = f (vhat' + g') in today's units.

    Returns the certainty equivalent F of V' (over the states with q[row] > 0).
    """
    n_s = q.shape[1]
    acc = 0.0
    for s in range(n_s):
        rp = rb + theta * (rs[s] - rb)
        fs = f[j + 1, s]
        x_next = a * rp / fs + g[j + 1, s]
        c1, v1, vh1 = interp_next(j + 1, row_of[s], x_next, xe, c_pol, v_pol, vh_pol, f0, k0,
                                  beta, psi, gamma)
        out_c[s] = fs * c1
        out_v[s] = fs * v1
        out_y[s] = fs * (vh1 + g[j + 1, s])
        if q[row, s] > 0.0:
            if alpha == 1.0:
                acc += q[row, s] * np.log(out_v[s])
            else:
                acc += q[row, s] * out_v[s] ** (1.0 - alpha)
    if alpha == 1.0:
        return np.exp(acc)
    return acc ** (1.0 / (1.0 - alpha))


@njit(cache=True)
def _moments(row, theta, q, rs, rb, F, gamma, alpha, cs, vs, ys):
    """(E[k (R^s - R^b)], E[k R^p], E[k y]) with the kernel k = c'^-gamma (V'/F)^(gamma-alpha)."""
    foc = 0.0
    eul = 0.0
    val = 0.0
    for s in range(q.shape[1]):
        if q[row, s] == 0.0:
            continue
        kern = q[row, s] * cs[s] ** (-gamma) * (vs[s] / F) ** (gamma - alpha)
        foc += kern * (rs[s] - rb)
        eul += kern * (rb + theta * (rs[s] - rb))
        val += kern * ys[s]
    return foc, eul, val


@njit(cache=True)
def _foc(j, row, a, theta, q, row_of, f, g, rs, rb, xe, c_pol, v_pol, vh_pol, f0, k0,
         beta, psi, gamma, alpha, cs, vs, ys):
    F = next_nodes(j, row, a, theta, q, row_of, f, g, rs, rb, xe, c_pol, v_pol, vh_pol, f0, k0,
                   beta, psi, gamma, alpha, cs, vs, ys)
    return _moments(row, theta, q, rs, rb, F, gamma, alpha, cs, vs, ys)[0]


@njit(cache=True)
def stock_share(j, row, a, q, row_of, f, g, rs, rb, xe, c_pol, v_pol, vh_pol, f0, k0,
                beta, psi, gamma, alpha, tol, max_iter, cs, vs, ys):
    """The share theta in [0, 1] solving the portfolio condition (decreasing in theta).

    Illinois regula falsi on the bracket; returns (theta, status).
    """
    lo, hi = 0.0, 1.0
    f_lo = _foc(j, row, a, lo, q, row_of, f, g, rs, rb, xe, c_pol, v_pol, vh_pol, f0, k0,
                beta, psi, gamma, alpha, cs, vs, ys)
    if f_lo <= 0.0:
        return 0.0, STATUS_OK
    f_hi = _foc(j, row, a, hi, q, row_of, f, g, rs, rb, xe, c_pol, v_pol, vh_pol, f0, k0,
                beta, psi, gamma, alpha, cs, vs, ys)
    if f_hi >= 0.0:
        return 1.0, STATUS_OK
    side = 0
    for _ in range(max_iter):
        mid = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        f_mid = _foc(j, row, a, mid, q, row_of, f, g, rs, rb, xe, c_pol, v_pol, vh_pol, f0, k0,
                     beta, psi, gamma, alpha, cs, vs, ys)
        if f_mid > 0.0:
            lo, f_lo = mid, f_mid
            if side == 1:
                f_hi *= 0.5
            side = 1
        else:
            hi, f_hi = mid, f_mid
            if side == -1:
                f_lo *= 0.5
            side = -1
        if hi - lo < tol or f_mid == 0.0:
            return mid, STATUS_OK
    return 0.5 * (lo + hi), STATUS_SHARE_NOT_CONVERGED


@njit(cache=True)
def solve_life_cycle(a_grid, q, row_of, f, g, rs, rb, beta, psi, gamma, alpha, allow_stock,
                     share_tol, max_share_iter, xe, c_pol, v_pol, vh_pol, theta_pol, f0, k0,
                     naive):
    """Backward induction over ages, writing the policy and valuation arrays (axes (age, row, k)).

    naive[j, row] is the naive value E[f (naive' + g')] / R^b (A.2.2, no survival).
    Returns a status code (worst over ages).
    """
    n_age, n_row, n_a = xe.shape
    n_s = q.shape[1]
    cs = np.empty(n_s)
    vs = np.empty(n_s)
    ys = np.empty(n_s)
    status = STATUS_OK
    last = n_age - 1
    for row in range(n_row):
        for k in range(n_a):
            x = 1.0 + a_grid[k]
            xe[last, row, k] = x
            c_pol[last, row, k] = x
            v_pol[last, row, k] = aggregate(x, 0.0, beta, 0.0, gamma)
            vh_pol[last, row, k] = 0.0
            theta_pol[last, row, k] = 0.0
        f0[last, row] = 0.0
        k0[last, row] = 0.0
        naive[last, row] = 0.0
    for j in range(last - 1, -1, -1):
        for row in range(n_row):
            nv = 0.0
            for s in range(n_s):
                nv += q[row, s] * f[j + 1, s] * (naive[j + 1, row_of[s]] + g[j + 1, s])
            naive[j, row] = nv / rb
            for k in range(n_a):
                a = a_grid[k]
                theta = 0.0
                if allow_stock:
                    theta, st = stock_share(j, row, a, q, row_of, f, g, rs, rb, xe, c_pol, v_pol,
                                            vh_pol, f0, k0, beta, psi, gamma, alpha, share_tol,
                                            max_share_iter, cs, vs, ys)
                    status = max(status, st)
                F = next_nodes(j, row, a, theta, q, row_of, f, g, rs, rb, xe, c_pol, v_pol,
                               vh_pol, f0, k0, beta, psi, gamma, alpha, cs, vs, ys)
                _, eul, val = _moments(row, theta, q, rs, rb, F, gamma, alpha, cs, vs, ys)
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
    return status


@njit(cache=True)
def evaluate_point(j, row, x, q, row_of, f, g, rs, rb, beta, psi, gamma, alpha, xe, c_pol,
                   v_pol, vh_pol, theta_pol, f0, k0, out_m, out_y):
    """At age j, row and cash on hand x: the policy and, per next state, the SDF and payout.

    m = beta psi (c'/c)^-gamma (V'/F(V'))^(gamma-alpha) (A.2.2) in today's units; y is
    v_{j+1} + e_{j+1} in units of today's scale. Returns (c, savings, theta, V).
    """
    grid = xe[j, row]
    if x <= grid[0]:
        c = x
        theta = theta_pol[j, row, 0]
    else:
        n = grid.shape[0]
        k = min(np.searchsorted(grid, x) - 1, n - 2)
        w = (x - grid[k]) / (grid[k + 1] - grid[k])
        c = (1.0 - w) * c_pol[j, row, k] + w * c_pol[j, row, k + 1]
        theta = (1.0 - w) * theta_pol[j, row, k] + w * theta_pol[j, row, k + 1]
    a = x - c
    n_s = q.shape[1]
    cs = np.empty(n_s)
    vs = np.empty(n_s)
    F = next_nodes(j, row, a, theta, q, row_of, f, g, rs, rb, xe, c_pol, v_pol, vh_pol, f0, k0,
                   beta, psi, gamma, alpha, cs, vs, out_y)
    for s in range(n_s):
        out_m[s] = beta * psi[j] * (cs[s] / c) ** (-gamma) * (vs[s] / F) ** (gamma - alpha)
    return c, a, theta, aggregate(c, F, beta, psi[j], gamma)


@njit(cache=True)
def decompose(prob, m, y, rs, rb, stock, out):
    """Value, mean return and the A.2.3 decomposition of y = v' + e' at one point.

    Projects y on (R^b, R^s) with the uncentred conditional normal equations
    a^b E[R^b R^b] + a^s E[R^s R^b] = E[y R^b], a^b E[R^b R^s] + a^s E[R^s R^s] = E[y R^s]
    (on R^b alone without a stock), eps = y - a^b R^b - a^s R^s (the paper prints + a^s R^s).
    Writes out = (v, E[R^h], E[m R^b], E[m R^s], a^b, a^s, share^b, share^s, share^orth).
    """
    ey = 0.0
    ers = 0.0
    ers2 = 0.0
    eyrs = 0.0
    v = 0.0
    em = 0.0
    emrs = 0.0
    for s in range(prob.shape[0]):
        p = prob[s]
        ey += p * y[s]
        ers += p * rs[s]
        ers2 += p * rs[s] * rs[s]
        eyrs += p * y[s] * rs[s]
        v += p * m[s] * y[s]
        em += p * m[s]
        emrs += p * m[s] * rs[s]
    if stock:
        g11 = rb * rb
        g12 = rb * ers
        det = g11 * ers2 - g12 * g12
        a_b = (ers2 * rb * ey - g12 * eyrs) / det
        a_s = (g11 * eyrs - g12 * rb * ey) / det
    else:
        a_b = ey / rb
        a_s = 0.0
    em_eps = 0.0
    for s in range(prob.shape[0]):
        em_eps += prob[s] * m[s] * (y[s] - a_b * rb - a_s * rs[s])
    out[0] = v
    out[1] = ey / v
    out[2] = em * rb
    out[3] = emrs
    out[4] = a_b
    out[5] = a_s
    out[6] = a_b * em * rb / v
    out[7] = a_s * emrs / v
    out[8] = em_eps / v


@njit(cache=True)
def simulate_life_cycles(x1, state0, uniforms, survive, q, row_of, f, g, rs, rb, beta, psi, gamma,
                         alpha, stock, xe, c_pol, v_pol, vh_pol, theta_pol, f0, k0, naive,
                         out_alive, out_z, out_x, out_point, out_naive):
    """Simulate agents from age 1 (state state0, xhat = x1); record each survivor's values.

    uniforms (N, J): draws for next states (inverse CDF of the transition row);
    survive (N, J): True if the agent lives from age j to j + 1. Per agent and age j < J:
    out_alive, the scale out_z, cash on hand out_x (over z), out_point[..., :9] the
    ``decompose`` output, out_point[..., 9:13] the stock share of savings, consumption,
    savings and earnings (over z), out_naive the naive value (over z).
    """
    n_agent, n_age = uniforms.shape
    n_s = q.shape[1]
    m = np.empty(n_s)
    y = np.empty(n_s)
    res = np.empty(9)
    for i in range(n_agent):
        x = x1
        z = 1.0
        cur = state0
        row = row_of[state0]
        alive = True
        for j in range(n_age - 1):
            out_alive[i, j] = alive
            if not alive:
                continue
            c, a, theta, _ = evaluate_point(j, row, x, q, row_of, f, g, rs, rb, beta, psi, gamma,
                                            alpha, xe, c_pol, v_pol, vh_pol, theta_pol, f0, k0,
                                            m, y)
            decompose(q[row], m, y, rs, rb, stock, res)
            out_z[i, j] = z
            out_x[i, j] = x
            out_point[i, j, :9] = res
            out_point[i, j, 9] = theta
            out_point[i, j, 10] = c
            out_point[i, j, 11] = a
            out_point[i, j, 12] = g[j, cur]
            out_naive[i, j] = naive[j, row]
            cum = 0.0
            nxt = n_s - 1
            for s in range(n_s):
                cum += q[row, s]
                if uniforms[i, j + 1] < cum:
                    nxt = s
                    break
            fs = f[j + 1, nxt]
            x = (a * (rb + theta * (rs[nxt] - rb)) + fs * g[j + 1, nxt]) / fs
            z *= fs
            row = row_of[nxt]
            cur = nxt
            alive = survive[i, j]
