"""Numba kernels: one period of the second best linearised at its steady state, in
closed form (``transition.PlannerBlock``'s jvps; the alternative to central
differences of whole periods, which cost two sweeps and two distribution steps per
direction and put 48 locations out of reach).

A period maps next period's surplus functions (S', ln Xi' at the nodes: the
continuation) and this period's multipliers (w, P) to this period's (S, ln Xi) (the
sweep: its Jacobian is ``linearize``'s) and to next period's mass from the
steady-state mass (the policies' lotteries). The second part is here. For an origin
node (i, k) with policy M (newborns: M^n_i), destination m's promise v'_m solves
G_m(v'_m) = -Xi'_m(v'_m) + theta S'_m(v'_m) = M (B.44), its share is the logit
mu_m (B.33) and its lottery puts weight wlo = (Xi'_m[lo + 1] - Xi'_m(v'_m)) /
(Xi'_m[lo + 1] - Xi'_m[lo]) on node lo (``kernels._lottery``). A direction moves the
continuation's node values, hence (sigma_m, l_m: the changes of S'_m's and ln
Xi'_m's interpolants at v'_m, ``linearize._weights``)

    dv'_m = a_m (dM + Xi_m l_m - theta sigma_m),      a_m = 1 / G_m'(v'_m),
    dmu_m = theta mu_m (dv'_m - sum_n mu_n dv'_n),
    dXi_m(v'_m) = Xi_m (b_m dv'_m + l_m),              b_m = d ln Xi'_m / dv,

and wlo through Xi_m(v'_m) and the two node values. The policy moves as its own
condition says:

- an incumbent (B.46): ln(D / (beta R P_i)) + beta omega IV(M) = v_k at fixed v_k,
  so dM = (d ln P_i - d ln D|_M - beta omega dIV|_M) / dV with D = sum mu_m Xi_m(v'_m),
  dV = d(ln D + beta omega IV)/dM and dIV|_M = sum mu_m c_m (c_m the state part of
  dv'_m at fixed M);
- a newborn (B.42-B.43), and every node of the contingent date-0 promises (section
  5, B.51 with p -> 0: theta Sbar_i(M) - M = D_i(M) = beta R Xi_i(v) of the steady
  state before): D at a fixed target, so dM = -dD|_M / (dD/dM).

Then next period's mass moves by omega dist (i, k) (dmu_m wlo + mu_m dwlo) at (m, lo)
and the opposite of the second term plus dmu_m (1 - wlo) at (m, lo + 1) (newborns:
(1 - omega) L_i instead of omega dist). Where a lottery is clipped (a promise beyond
the grid) its weight does not move. What does not depend on the direction (each
node's destinations: the B.44 inversions, shares, a, b, D) is ``node_pass``'s, once
per set of policies; ``mass_jvp`` only applies directions. Checked against central
differences of whole periods (tests/core/planner/test_period_jvp.py).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from . import kernels
from .linearize import _weights


@njit(cache=True, nogil=True)
def _lottery_slope(X_m, v0, h, n, v, Xv):
    """(lo, wlo, kind) of ``kernels._lottery`` at promise v with Xi(v) = Xv and how its
    weight moves: kind 0 fixed (off the grid or clipped), 1 linear in Xi (the usual
    case), 2 linear in v (where Xi does not increase)."""
    if not v > v0:
        return 0, 1.0, 0
    if v >= v0 + (n - 1) * h:
        return n - 2, 0.0, 0
    k = min(int((v - v0) / h), n - 2)
    if X_m[k + 1] > X_m[k]:
        w = (X_m[k + 1] - Xv) / (X_m[k + 1] - X_m[k])
        kind = 1
    else:
        w = (v0 + (k + 1) * h - v) / h
        kind = 2
    if w <= 0.0:
        return k, 0.0, 0
    if w >= 1.0:
        return k, 1.0, 0
    return k, w, kind


class Nodes(NamedTuple):
    """Every origin node's destinations at one set of policies (``node_pass``, the arrays
    of ``kernels.node_destinations`` with k = n_v i's newborns)."""

    vp: np.ndarray
    Xp: np.ndarray
    a: np.ndarray
    b: np.ndarray
    mu: np.ndarray
    D: np.ndarray
    dD: np.ndarray
    gbar: np.ndarray
    dSbar: np.ndarray


def node_pass(S, X, v_grid, M_pol, Mn, theta, log_chi) -> Nodes:
    """The policies' destinations (B.44 inverted for every node and destination, B.33's
    shares), computed once per set of policies: what the jvps along any direction share."""
    J, n = S.shape
    nodes = Nodes(*(np.empty((J, n + 1, J)) for _ in range(5)),
                  *(np.empty((J, n + 1)) for _ in range(4)))
    kernels.node_destinations(S, X, v_grid, np.ascontiguousarray(np.c_[M_pol, Mn]), theta,
                              log_chi, *nodes)
    return nodes


def node_slopes(nodes: Nodes, beta: float, omega: float):
    """(dV, dlnD, dSbar) (J, n_v) at the nodes' policies: dV = d(ln D + beta omega IV)/dM,
    d ln D / dM and d Sbar / dM, for the sweep's derivative in ln P_i (at a fixed
    continuation dM = d ln P_i / dV)."""
    dlnD = nodes.dD[:, :-1] / nodes.D[:, :-1]
    return dlnD + beta * omega * nodes.gbar[:, :-1], dlnD, nodes.dSbar[:, :-1]


def mass_jvp(S, X, v_grid, nodes: Nodes, theta, beta, omega, dist, pop, contingent,
             dS, dlnX, dlnP, out):
    """out (J, n_v, k) += next period's mass moved by k directions (module docstring):
    the continuation's node values move by dS, dlnX (J, n_v, k), the multipliers by
    d ln P (J, k) (ignored where ``contingent``: every node then keeps D at its target,
    as the date-0 promises do); ``nodes`` of the policies at continuation (S, X)
    (``node_pass``); mass dist (J, n_v) and newborns' (1 - omega) pop (J,)."""
    _mass_jvp(S, X, v_grid, *nodes[:6], nodes.dD, nodes.gbar, theta, beta, omega, dist, pop,
              contingent, dS, dlnX, dlnP, out)


@njit(cache=True, nogil=True)
def _mass_jvp(S, X, v_grid, vp_all, Xp_all, a_all, b_all, mu_all, D_all, dD_all, gbar_all,
              theta, beta, omega, dist, pop, contingent, dS, dlnX, dlnP, out):
    J, n = S.shape
    K = dS.shape[2]
    h = v_grid[1] - v_grid[0]
    v0 = v_grid[0]
    B = kernels.log_slopes(X, h)
    bo_ = beta * omega
    idx = np.empty((J, 4), np.int64)
    ws = np.empty((J, 4))
    wl = np.empty((J, 8))
    lo = np.empty(J, np.int64)
    wlo = np.empty(J)
    kind = np.empty(J, np.int64)
    cm = np.empty((J, K))
    lm = np.empty((J, K))
    dM = np.empty(K)
    cbar = np.empty(K)
    dD = np.empty(K)
    dvbar = np.empty(K)
    for i in range(J):
        for k in range(n + 1):
            mass = omega * dist[i, k] if k < n else (1.0 - omega) * pop[i]
            if mass == 0.0:
                continue
            vp, Xp, a, b, mu = vp_all[i, k], Xp_all[i, k], a_all[i, k], b_all[i, k], mu_all[i, k]
            D, gbar, dD_M = D_all[i, k], gbar_all[i, k], dD_all[i, k]
            for m in range(J):
                if mu[m] <= 0.0:
                    continue
                _weights(S[m], X[m], B[m], n, v0, h, vp[m], idx[m], ws[m], wl[m])
                lo[m], wlo[m], kind[m] = _lottery_slope(X[m], v0, h, n, vp[m], Xp[m])
            # the continuation's part of dv' at fixed M (cm), of ln Xi (lm), of IV (cbar)
            # and of D (dD), every direction at once (the inner loops run along k)
            cbar[:] = 0.0
            dD[:] = 0.0
            for m in range(J):
                if mu[m] <= 0.0:
                    continue
                cm[m, :] = 0.0
                lm[m, :] = 0.0
                for z in range(4):
                    q = idx[m, z]
                    if q < 0:
                        continue
                    for c in range(K):
                        cm[m, c] += ws[m, z] * dS[m, q, c] + wl[m, z] * dlnX[m, q, c]
                        lm[m, c] += wl[m, 4 + z] * dlnX[m, q, c]
                for c in range(K):  # cm held sigma so far
                    cm[m, c] = a[m] * (Xp[m] * lm[m, c] - theta * cm[m, c])
                    cbar[c] += mu[m] * cm[m, c]
            for m in range(J):
                if mu[m] > 0.0:
                    for c in range(K):
                        dD[c] += mu[m] * Xp[m] * (theta * (cm[m, c] - cbar[c]) + b[m] * cm[m, c]
                                                  + lm[m, c])
            for c in range(K):
                if contingent or k == n:
                    dM[c] = -dD[c] / dD_M
                else:
                    dM[c] = (dlnP[i, c] - dD[c] / D - bo_ * cbar[c]) / (dD_M / D + bo_ * gbar)
                dvbar[c] = gbar * dM[c] + cbar[c]
            for m in range(J):
                if mu[m] <= 0.0:
                    continue
                q = lo[m]
                q1 = min(q + 1, n - 1)
                w0 = wlo[m]
                x0 = X[m, q]
                x1 = X[m, q + 1]
                for c in range(K):
                    dv = a[m] * dM[c] + cm[m, c]
                    dmu = theta * mu[m] * (dv - dvbar[c])
                    dw = 0.0
                    if kind[m] == 1:
                        dx0 = x0 * dlnX[m, q, c]
                        dx1 = x1 * dlnX[m, q + 1, c]
                        dxv = Xp[m] * (b[m] * dv + lm[m, c])
                        dw = ((dx1 - dxv) * (x1 - x0) - (x1 - Xp[m]) * (dx1 - dx0)) / (
                            (x1 - x0) * (x1 - x0))
                    elif kind[m] == 2:
                        dw = -dv / h
                    out[m, q, c] += mass * (dmu * w0 + mu[m] * dw)
                    out[m, q1, c] += mass * (dmu * (1.0 - w0) - mu[m] * dw)
