"""Numba kernels: the Jacobian of one Bellman sweep (``kernels.bellman``) in its inputs.

Why. The sweep maps the node values x = (S, ln Xi) (J, n_v each) to new ones. Its
Jacobian at the fixed point has *all* its eigenvalues between ~0.5 and beta: stayers'
promises barely move (v' ~ v), so the sweep transports a perturbation along v and
damps it by beta omega (measured on 3 locations x 60 nodes: 303 of 360 eigenvalues
above 0.9, spread over [0.54, 0.988]). Anderson mixing needs a polynomial small on
that whole spread: it took 180 iterations on the *linearised* sweep and ~700 on the
48-location economy. Newton's step solves (I - T'(x)) dx = T(x) - x instead
(``second_best.solve_component``).

The Jacobian, per node (i, k) at the sweep's policy M (destinations v'_m, shares mu_m),
from the node's conditions (the sweep solves each node exactly, ``kernels.bellman``):

- ln Xi_new = ln D: linearise G_m(v'_m) = M (B.44), the promise v = ln(D / (beta R P_i))
  + beta omega IV (B.46) and D = sum mu_m Xi_m(v'_m) in (dM, dv'_m) at fixed v. With
  a_m = dv'_m/dM = 1 / G_m', c_m = a_m (Xi_m l_m - theta sigma_m) (sigma_m, l_m: the
  changes of S_m's and ln Xi_m's interpolants at v'_m), gbar = sum mu a, dV = dv/dM
  and e_m = mu_m (Xi_m (theta + b_m) / D - theta + beta omega):
  dM = -(sum e_m c_m + sum mu_m Xi_m l_m / D) / dV and
  d ln Xi_new = -beta omega (gbar dM + sum mu_m c_m).
  (One location: d ln Xi_new = beta omega / (beta omega + b) l(v'), beta omega at the
  closed form's b = 1 - beta omega.)
- S_new = w (1 + alpha) - Xi_new + (1 - omega) S^n + (omega / R) Sbar: the chain rule
  with dv'_m = a_m dM + c_m and dmu_m = theta mu_m (dv'_m - gbar dM - sum mu c). Where
  S_m' = -Xi_m at v'_m (the envelope condition) the policy's terms cancel and only
  (omega / R) sum mu_m sigma_m(v'_m) is left; between nodes the two slopes differ by
  the interpolation error, so the terms are kept. Newborns: S^n = Lambda beta IV +
  (1/R) Sbar at M^n with D(M^n) = beta R Lambda fixed, so dM^n = -dD|_M / (dD/dM) and
  the whole chain rule is kept too (the envelope form (1/R) sum mu sigma alone was off
  by the interpolation error, ~1e-7 of a column at 3 locations x 40 nodes: harmless in
  Newton's model, not in a transition's Jacobian); it enters every S row of origin i
  times (1 - omega).

sigma_m and l_m at v are linear in the node values through the interpolants of
``kernels`` (cubic Hermite inside, the log-linear extrapolation outside): ``_weights``.
Against forward differences of the sweep: 3e-6 (their own error) on 3 locations x 60
nodes; preconditioned by it, the rest of the sweep's Jacobian has spectral radius 1e-5.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..numerics.hermite import hermite
from . import kernels

MU_MIN = 1e-13  # destinations with smaller shares are left out of the Jacobian


@njit(cache=True, nogil=True)
def _weights(S_m, X_m, B_m, n, v0, h, v, idx, ws, wl):
    """Node weights of the interpolants of one location at promise v: sigma(v) =
    sum_z ws[z] dS_node + wl[z] dlnXi_node (S's Hermite with slopes -Xi) and
    l(v) = sum_z wl[4 + z] dlnXi_node (ln Xi's Hermite with centred-difference slopes),
    nodes idx[z] (z < 4; -1: none). Outside the grid: the log-linear extrapolation of
    ``kernels.surplus_at`` with its secant slope (zero where floored)."""
    for z in range(4):
        idx[z] = -1
        ws[z] = 0.0
        wl[z] = 0.0
        wl[4 + z] = 0.0
    top = v0 + (n - 1) * h
    if v <= v0 or v >= top:
        e_node, o_node, sgn = (0, 1, 1.0) if v <= v0 else (n - 1, n - 2, -1.0)
        b = B_m[e_node]
        d = v - (v0 + e_node * h)
        e = np.expm1(b * d)
        floored = b <= kernels.EDGE_SLOPE * (1.0 + 1e-12)
        db = 0.0 if floored else 1.0 / h  # |d b / d ln Xi| at the two end nodes
        idx[0] = e_node
        idx[1] = o_node
        dedb = (d * (e + 1.0) * b - e) / (b * b)  # d (e / b) / d b
        ws[0] = 1.0
        # b = sgn (lnX[o] - lnX[e]) / h, so db/dlnX[e] = -sgn / h, db/dlnX[o] = sgn / h
        wl[0] = -X_m[e_node] * (e / b) - X_m[e_node] * dedb * (-sgn * db)
        wl[1] = -X_m[e_node] * dedb * (sgn * db)
        wl[4] = 1.0 + d * (-sgn * db)
        wl[5] = d * (sgn * db)
        return
    k = min(int((v - v0) / h), n - 2)
    a = v0 + k * h
    h00 = hermite(v, a, a + h, 1.0, 0.0, 0.0, 0.0)
    h01 = hermite(v, a, a + h, 0.0, 1.0, 0.0, 0.0)
    s10 = hermite(v, a, a + h, 0.0, 0.0, 1.0, 0.0)  # h h10
    s11 = hermite(v, a, a + h, 0.0, 0.0, 0.0, 1.0)  # h h11
    idx[0] = k
    idx[1] = k + 1
    ws[0] = h00
    ws[1] = h01
    wl[0] = -s10 * X_m[k]
    wl[1] = -s11 * X_m[k + 1]
    wl[4] += h00
    wl[5] += h01
    idx[2] = k - 1 if k >= 1 else -1
    idx[3] = k + 2 if k + 2 <= n - 1 else -1
    # slope at node k: centred (k interior) or the floored secant (k = 0)
    _slope_weights(B_m, n, h, k, s10, idx, wl, 0)
    _slope_weights(B_m, n, h, k + 1, s11, idx, wl, 1)


@njit(cache=True, nogil=True)
def _slope_weights(B_m, n, h, node, coef, idx, wl, side):
    """Add coef * d B[node] / d lnXi to wl[4:] (slots: k -> 0, k+1 -> 1, k-1 -> 2,
    k+2 -> 3; side 0: node = k, side 1: node = k + 1)."""
    lo_slot, hi_slot = (2, 1) if side == 0 else (0, 3)  # node - 1 and node + 1
    if 0 < node < n - 1:
        wl[4 + hi_slot] += coef / (2.0 * h)
        wl[4 + lo_slot] -= coef / (2.0 * h)
        return
    if B_m[node] <= kernels.EDGE_SLOPE * (1.0 + 1e-12):
        return
    if node == 0:  # secant (lnX[1] - lnX[0]) / h: slots k (= 0) and k + 1
        wl[4 + 0] -= coef / h
        wl[4 + 1] += coef / h
    else:  # node n - 1 = k + 1: (lnX[n-1] - lnX[n-2]) / h, slots k + 1 and k
        wl[4 + 1] += coef / h
        wl[4 + 0] -= coef / h


@njit(cache=True, nogil=True)
def sweep_jacobian(S, X, v_grid, M_pol, Mn, theta, log_chi, beta, omega, r_inv, lam,
                   rows, cols, vals, nrows, ncols, nvals):
    """COO entries of the sweep's Jacobian at (S, X) with the sweep's policies M_pol (J, n_v)
    and Mn (J,) (module docstring). Unknowns: S[m, q] -> m n + q, ln Xi[m, q] -> J n + m n
    + q; rows likewise. The newborn part is separate: (J, 2 J n) entries of
    dS^n_i (nrows, ncols, nvals), added to every S row of origin i times (1 - omega) by
    the caller. Returns (count, ncount)."""
    J, n = S.shape
    h = v_grid[1] - v_grid[0]
    v0 = v_grid[0]
    B = kernels.log_slopes(X, h)
    L = np.log(X)
    work = np.empty((6, J))
    mu = np.empty(J)
    guess = np.full(J, np.nan)
    idx = np.empty(4, np.int64)
    ws = np.empty(4)
    wl = np.empty(8)
    q = np.zeros(J)
    Jn = J * n
    bo_ = beta * omega
    cnt = 0
    ncnt = 0
    for i in range(J):
        for k in range(n + 1):
            M = M_pol[i, k] if k < n else Mn[i]
            kernels.destinations(S, X, L, B, v0, h, theta, M, guess, work[0], work[1], work[2],
                                 work[3], work[4], work[5])
            for m in range(J):  # the next node's destinations are close: start there
                guess[m] = work[0, m] if work[0, m] > kernels.NEG_INF else np.nan
            _IV, _Sb, D, gbar, dD, _dS = kernels.origin_values(
                log_chi[i], theta, work[0], work[1], work[2], work[3], work[4], work[5], mu)
            dV = dD / D + bo_ * gbar
            X_new = D / (beta / r_inv)
            Sbar = _Sb
            Q = 0.0
            for m in range(J):
                q[m] = mu[m] * (work[5, m] + theta * (work[1, m] - Sbar)) if mu[m] > 0.0 else 0.0
                Q += q[m] * work[3, m] if mu[m] > 0.0 else 0.0
            K = (X_new * bo_ * gbar + omega * r_inv * Q) / dV
            # newborn: Q_n = sum mu a (theta S + S'), the policy's weight in dSbar
            Q_n = 0.0
            for m in range(J):
                if mu[m] > 0.0:
                    Q_n += mu[m] * work[3, m] * (theta * work[1, m] + work[5, m])
            for m in range(J):
                if mu[m] < MU_MIN:
                    continue
                _weights(S[m], X[m], B[m], n, v0, h, work[0, m], idx, ws, wl)
                if k == n:  # newborn: the whole chain rule (module docstring)
                    a_m, x_m = work[3, m], work[2, m]
                    # a unit of sigma_m (c = -a theta), then of l_m (c = a Xi, l = 1)
                    dsn = np.empty(2)
                    for u in range(2):
                        c_u = -a_m * theta if u == 0 else a_m * x_m
                        l_u = 0.0 if u == 0 else 1.0
                        cbar_u = mu[m] * c_u
                        dD_u = mu[m] * x_m * ((theta + work[4, m]) * c_u + l_u) \
                            - theta * D * cbar_u
                        dMn_u = -dD_u / dD
                        dIV_u = gbar * dMn_u + cbar_u
                        dSb_u = (Q_n * dMn_u + mu[m] * (theta * work[1, m] + work[5, m]) * c_u
                                 - theta * Sbar * dIV_u + (mu[m] if u == 0 else 0.0))
                        dsn[u] = lam[i] * beta * dIV_u + r_inv * dSb_u
                    for z in range(4):
                        if idx[z] < 0:
                            continue
                        q_ = m * n + idx[z]
                        for col, wt in ((q_, dsn[0] * ws[z]),
                                        (Jn + q_, dsn[0] * wl[z] + dsn[1] * wl[4 + z])):
                            if wt != 0.0:
                                nrows[ncnt] = i
                                ncols[ncnt] = col
                                nvals[ncnt] = wt
                                ncnt += 1
                    continue
                a_m = work[3, m]
                x_m = work[2, m]
                e_m = mu[m] * (x_m * (theta + work[4, m]) / D - theta + bo_)
                f_m = gbar * e_m / dV - mu[m]
                cs = -bo_ * theta * a_m * f_m
                cl = bo_ * (f_m * a_m * x_m + gbar * mu[m] * x_m / (D * dV))
                # S_new: exact chain rule (the envelope term ws, plus the policy's
                # first-order effect H_m, zero where S' = -Xi at v'_m)
                H_m = X_new * bo_ * mu[m] + omega * r_inv * q[m] - K * e_m
                ss = -theta * a_m * H_m + omega * r_inv * mu[m]
                sl = a_m * x_m * H_m - K * mu[m] * x_m / D
                rs = i * n + k
                rx = Jn + rs
                for z in range(4):
                    if idx[z] < 0:
                        continue
                    q_ = m * n + idx[z]
                    for r_, col, wt in ((rs, q_, ss * ws[z]),
                                        (rs, Jn + q_, ss * wl[z] + sl * wl[4 + z]),
                                        (rx, q_, cs * ws[z]),
                                        (rx, Jn + q_, cs * wl[z] + cl * wl[4 + z])):
                        if wt != 0.0:
                            rows[cnt] = r_
                            cols[cnt] = col
                            vals[cnt] = wt
                            cnt += 1
    return cnt, ncnt
