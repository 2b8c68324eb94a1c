"""Numba kernels that evaluate a solved life cycle at points and along simulated paths.

The SDF and payouts at one point (A.2.2), the bond/stock/orthogonal decomposition
(A.2.3), simulated survivors (Figures 4-6) and Euler errors between nodes. Argument
tuples ``mdl``, ``pref`` and ``pol`` are those of ``kernels.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..numerics.hermite import hermite
from .kernels import aggregate, make_local, next_nodes


@njit(cache=True)
def evaluate_point(j, row, x, mdl, pref, pol, loc, out_m):
    """At age j, row and cash on hand x: the policy and, per successor, the SDF and payout.

    m = beta psi (c'/c)^-gamma (V'/F(V'))^(gamma-alpha) (A.2.2) goes to out_m; ``loc``
    holds (c', V', y, R^s, prob) with y = v_{j+1} + e_{j+1} in units of today's scale.
    Returns (c, savings, theta, V, number of successors).
    """
    beta, gamma, alpha, _, cubic = pref
    xe, c_pol, _, _, theta_pol, _, _, dc, _, _ = pol
    psi, amin = mdl[7], mdl[8]
    grid = xe[j, row]
    if x <= grid[0]:
        c = x - amin[j]
        theta = theta_pol[j, row, 0]
    else:
        n = grid.shape[0]
        k = min(np.searchsorted(grid, x) - 1, n - 2)
        w = (x - grid[k]) / (grid[k + 1] - grid[k])
        wt = min(w, 1.0)  # the share is held constant above the top node
        theta = (1.0 - wt) * theta_pol[j, row, k] + wt * theta_pol[j, row, k + 1]
        if not cubic:
            c = (1.0 - w) * c_pol[j, row, k] + w * c_pol[j, row, k + 1]
        elif x >= grid[n - 1]:
            c = c_pol[j, row, n - 1] + (x - grid[n - 1]) * dc[j, row, n - 1]
        else:
            c = hermite(x, grid[k], grid[k + 1], c_pol[j, row, k], c_pol[j, row, k + 1],
                        dc[j, row, k], dc[j, row, k + 1])
    a = x - c
    F, n = next_nodes(j, row, a, theta, mdl, pref, pol, loc)
    cs, vs = loc[0], loc[1]
    for k in range(n):
        out_m[k] = beta * psi[j] * (cs[k] / c) ** (-gamma) * (vs[k] / F) ** (gamma - alpha)
    return c, a, theta, aggregate(c, F, beta, psi[j], gamma), n


@njit(cache=True)
def decompose(n, m, loc, rb, stock, out):
    """Value, mean return and the A.2.3 decomposition of y = v' + e' at one point.

    Projects y on (R^b, R^s) with the uncentred conditional normal equations
    a^b E[R^b R^b] + a^s E[R^s R^b] = E[y R^b], a^b E[R^b R^s] + a^s E[R^s R^s] = E[y R^s]
    (on R^b alone without a stock), eps = y - a^b R^b - a^s R^s (the paper prints + a^s R^s).
    Writes out = (v, E[R^h], E[m R^b], E[m R^s], a^b, a^s, share^b, share^s, share^orth).
    """
    y, rs, prob = loc[2], loc[3], loc[4]
    ey = ers = ers2 = eyrs = v = em = emrs = 0.0
    for k in range(n):
        p = prob[k]
        ey += p * y[k]
        ers += p * rs[k]
        ers2 += p * rs[k] * rs[k]
        eyrs += p * y[k] * rs[k]
        v += p * m[k] * y[k]
        em += p * m[k]
        emrs += p * m[k] * rs[k]
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
    for k in range(n):
        em_eps += prob[k] * m[k] * (y[k] - a_b * rb - a_s * rs[k])
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
def point_values(j, row, x, mdl, pref, pol, stock, out):
    """``evaluate_point`` then ``decompose``; out = decompose's nine values, then
    (c, savings, theta, V). Returns the number of successors."""
    loc = make_local(mdl)
    m = np.empty(loc[0].shape[0])
    c, a, theta, util, n = evaluate_point(j, row, x, mdl, pref, pol, loc, m)
    decompose(n, m, loc, pref[3], stock, out)
    out[9] = c
    out[10] = a
    out[11] = theta
    out[12] = util
    return n


@njit(cache=True)
def simulate_life_cycles(x1, state0, uniforms, survive, mdl, pref, pol, naive, stock,
                         out_alive, out_z, out_x, out_point, out_naive):
    """Simulate agents from age 1 (agent i in state state0[i] with xhat = x1[i]); record
    each survivor's values.

    uniforms (N, J): draws for next states (inverse CDF of the transition row);
    survive (N, J): True if the agent lives from age j to j + 1. Per agent and age j < J:
    out_alive, the scale out_z, cash on hand out_x (over z), out_point[..., :9] the
    ``decompose`` output, out_point[..., 9:13] the stock share of savings, consumption,
    savings and earnings (over z), out_naive the naive value (over z).
    """
    ptr, idx, prob, row_of, f, g, rs, _, amin = mdl
    rb = pref[3]
    n_agent, n_age = uniforms.shape
    loc = make_local(mdl)
    m = np.empty(loc[0].shape[0])
    res = np.empty(9)
    for i in range(n_agent):
        x = x1[i]
        z = 1.0
        cur = state0[i]
        row = row_of[cur]
        alive = True
        for j in range(n_age - 1):
            out_alive[i, j] = alive
            if not alive:
                continue
            c, a, theta, _, n = evaluate_point(j, row, x, mdl, pref, pol, loc, m)
            decompose(n, m, loc, rb, stock, res)
            out_z[i, j] = z
            out_x[i, j] = x
            out_point[i, j, :9] = res
            out_point[i, j, 9] = theta
            out_point[i, j, 10] = c
            out_point[i, j, 11] = a
            out_point[i, j, 12] = g[j, cur]
            out_naive[i, j] = naive[j, row]
            cum = 0.0
            nxt = idx[ptr[row + 1] - 1]
            for t in range(ptr[row], ptr[row + 1]):
                cum += prob[t]
                if uniforms[i, j + 1] < cum:
                    nxt = idx[t]
                    break
            fs = f[j + 1, nxt]
            x = (a * rb + theta * (a - amin[j]) * (rs[nxt] - rb) + fs * g[j + 1, nxt]) / fs
            z *= fs
            row = row_of[nxt]
            cur = nxt
            alive = survive[i, j]


@njit(cache=True)
def euler_errors(mdl, pref, pol, row):
    """Euler errors between grid nodes (Judd 1992), in consumption units, for one row.

    At the midpoint of each pair of nodes with savings above the limit, the held asset's
    Euler equation gives c* = c (E[m R])^(-1/gamma) (the bond's if theta < 1, else the
    stock's); returns (max, mean) of |c* / c - 1| over ages 1..J-1 and midpoints.
    """
    gamma, rb = pref[1], pref[3]
    xe = pol[0]
    amin = mdl[8]
    n_age, _, n_a = xe.shape
    loc = make_local(mdl)
    m = np.empty(loc[0].shape[0])
    worst = 0.0
    total = 0.0
    count = 0
    for j in range(n_age - 1):
        for k in range(n_a - 1):
            x = 0.5 * (xe[j, row, k] + xe[j, row, k + 1])
            c, a, theta, _, n = evaluate_point(j, row, x, mdl, pref, pol, loc, m)
            if a <= amin[j] or c <= 0.0:
                continue
            rs, prob = loc[3], loc[4]
            emr = 0.0
            for t in range(n):
                emr += prob[t] * m[t] * (rb if theta < 1.0 else rs[t])
            err = abs(emr ** (-1.0 / gamma) - 1.0)
            worst = max(worst, err)
            total += err
            count += 1
    return worst, total / max(count, 1)
