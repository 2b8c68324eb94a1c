"""Steady-state derivatives of the household's policies by the implicit function theorem.

The household's consumption and values z = (c, v) are the fixed point of one EGM
step z = Phi(z, p) (``kernels.migration_block`` then ``kernels.egm_step``) at the
prices p it sees. For a permanent change dp,

    (I - Phi_z) dz = Phi_p dp,

so one sparse LU of I - Phi_z gives dz for every input at the cost of a
triangular solve each. Phi_p comes from forward differences of single EGM
steps (one step per input, no iteration: that map has no solver noise);
Phi_z is written in closed form here (``fixed_point_entries``), because
iterating the linearised step converges no faster than the household solve
itself: near r_hi = 1/(beta omega) - 1 the consumption of rich households
moves by a factor close to beta omega (1 + r) ~ 1 a step (finite-difference
columns took 110-220 EGM steps each at tolerance 1e-10 in the 6- and
48-location economies, and GMRES on I - Phi_z as many products).

Phi_z, row by row (axes (j, s, m) = (origin, income state, asset node); R = 1 + r;
mu_jk the logit shares at a saving node, u' and u'' of CRRA):

- at a saving node i: dW(j, s', i) = R sum_k mu_jk u'(c_k) / P_k, so
  d dW / d c(k, s', i) = R mu_jk u''(c_k) / P_k and
  d dW / d v(k, s', i) = theta mu_jk (R u'(c_k) / P_k - dW(j, s', i));
  E(j, s, i) = sum_s' Pi[s, s'] dW(j, s', i), c_endo = (P_j beta omega E)^(-1/gamma),
  a_endo = (P_j c_endo + a_i - y_js) / R, so d a_endo / d E = -P_j c_endo / (gamma R E);
- at a current node m with a_endo(p) <= a_m < a_endo(p + 1), t its position:
  a' = a_p + t (a_{p+1} - a_p), d a' / d a_endo(p) = -(1 - t) (a_{p+1} - a_p) / D and
  d a' / d a_endo(p + 1) = -t (a_{p+1} - a_p) / D with D = a_endo(p+1) - a_endo(p)
  (zero where the borrowing limit or a_max binds); c_new = (R a_m + y - a') / P_j;
- v_new = u(c_new) + beta omega sum_s' Pi[s, s'] W(j, s', a') with W linear between
  nodes q, q + 1 around a': d v_new = (-u'(c_new) / P_j + beta omega sum_s' Pi W_slope) d a'
  + beta omega sum_s' Pi ((1 - tau) mu_jk(s', q) dv(k, s', q) + tau mu_jk(s', q+1) dv(k, s', q+1)).

The block of values alone is beta omega times the transpose of the distribution's
transition matrix (interpolation weights = lottery weights), and the envelope
condition makes the first bracket small: values and policies couple through mu.

Cost at J = 48, n_a = 200, S = 1 (19,200 unknowns, 3.7 million nonzeros, 5.6
million in the LU with scipy's COLAMD ordering): about 1 s for the LU and 2 s for
the 96 right-hand sides, against about 110 EGM steps a column by differences.
Writing the continuation slopes and values at the saving nodes as extra unknowns
(a lifted system with 1.5 million nonzeros) filled in to 8-14 million and was
slower. Accuracy: within 1e-3 (relative to the column's largest entry) of forward
differences with step 1e-5 in the 6- and 48-location economies, whose own
disagreement with step 1e-4 is up to 7e-3 (the distribution's kinks).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import sparse
from scipy.sparse.linalg import splu

from . import kernels
from .household import forward_step

EPS_STEP = 1e-7  # forward-difference step of one EGM step in an input
EPS_DIST = 1e-7  # ... of the distribution's transition along a unit response


@njit(cache=True, nogil=True)
def fixed_point_entries(c, v, ap, a_grid, y, P, Pi, chi, theta, one_plus_r, beta_omega,
                        gamma, rows, cols, vals):
    """Nonzeros of Phi_z (module docstring) at a fixed point (c, v) with savings ap;
    flat index (j * S + s) * n + i for c, N + that for v (N = J S n). Returns the count."""
    J, S, n = c.shape
    N = J * S * n
    R = one_plus_r
    mu = np.empty((S, n, J, J))
    mup = np.empty((S, n, J))
    dW = np.empty((J, S, n))
    W = np.empty((J, S, n))
    ex = np.empty(J)
    for s2 in range(S):
        for i in range(n):
            top = v[0, s2, i]
            for k in range(J):
                top = max(top, v[k, s2, i])
                mup[s2, i, k] = kernels.marginal_utility(c[k, s2, i], gamma) / P[k]
            for k in range(J):
                ex[k] = np.exp(theta * (v[k, s2, i] - top))
            for j in range(J):
                tot = 0.0
                for k in range(J):
                    tot += chi[j, k] * ex[k]
                acc = 0.0
                for k in range(J):
                    mu[s2, i, j, k] = chi[j, k] * ex[k] / tot
                    acc += mu[s2, i, j, k] * mup[s2, i, k]
                dW[j, s2, i] = R * acc
                W[j, s2, i] = top + np.log(tot) / theta
    E = np.empty(n)
    dAdE = np.empty(n)
    a_endo = np.empty(n)
    nnz = 0
    for j in range(J):
        for s in range(S):
            for i in range(n):
                e = 0.0
                for s2 in range(S):
                    e += Pi[s, s2] * dW[j, s2, i]
                ce = kernels.inverse_marginal_utility(P[j] * beta_omega * e, gamma)
                E[i] = e
                a_endo[i] = (P[j] * ce + a_grid[i] - y[j, s]) / R
                dAdE[i] = -P[j] * ce / (gamma * R * e)
            p = 0
            q = 0
            for m in range(n):
                row_c = (j * S + s) * n + m
                row_v = N + row_c
                a = a_grid[m]
                x = ap[j, s, m]
                # savings' derivative wrt a_endo at the two bracketing saving nodes
                g0 = 0.0
                g1 = 0.0
                if a > a_endo[0]:
                    while p < n - 2 and a_endo[p + 1] < a:
                        p += 1
                    D = a_endo[p + 1] - a_endo[p]
                    t = (a - a_endo[p]) / D
                    free = a_grid[0] < x < a_grid[n - 1]
                    if free:
                        da = a_grid[p + 1] - a_grid[p]
                        g0 = -(1.0 - t) * da / D
                        g1 = -t * da / D
                # value row: W interpolated at a' between q and q + 1
                while q < n - 2 and a_grid[q + 1] < x:
                    q += 1
                tau = (x - a_grid[q]) / (a_grid[q + 1] - a_grid[q])
                c_new = (R * a + y[j, s] - x) / P[j]
                slope = 0.0
                for s2 in range(S):
                    slope += Pi[s, s2] * (W[j, s2, q + 1] - W[j, s2, q]) / (
                        a_grid[q + 1] - a_grid[q])
                dv_dap = -kernels.marginal_utility(c_new, gamma) / P[j] + beta_omega * slope
                for side in range(2):
                    g = g0 if side == 0 else g1
                    if g == 0.0:
                        continue
                    node = p + side
                    f = g * dAdE[node]  # d a' / d E(node)
                    for s2 in range(S):
                        pi = Pi[s, s2]
                        if pi == 0.0:
                            continue
                        for k in range(J):
                            m_jk = mu[s2, node, j, k]
                            col = (k * S + s2) * n + node
                            d_c = pi * R * m_jk * (-gamma * mup[s2, node, k]
                                                   / c[k, s2, node])
                            d_v = pi * theta * m_jk * (R * mup[s2, node, k]
                                                      - dW[j, s2, node])
                            # c_new = (R a + y - a') / P_j
                            rows[nnz] = row_c
                            cols[nnz] = col
                            vals[nnz] = -f * d_c / P[j]
                            rows[nnz + 1] = row_c
                            cols[nnz + 1] = N + col
                            vals[nnz + 1] = -f * d_v / P[j]
                            rows[nnz + 2] = row_v
                            cols[nnz + 2] = col
                            vals[nnz + 2] = dv_dap * f * d_c
                            rows[nnz + 3] = row_v
                            cols[nnz + 3] = N + col
                            vals[nnz + 3] = dv_dap * f * d_v
                            nnz += 4
                for side in range(2):
                    wt = 1.0 - tau if side == 0 else tau
                    if wt == 0.0:
                        continue
                    node = q + side
                    for s2 in range(S):
                        pi = Pi[s, s2]
                        if pi == 0.0:
                            continue
                        for k in range(J):
                            rows[nnz] = row_v
                            cols[nnz] = N + (k * S + s2) * n + node
                            vals[nnz] = beta_omega * pi * wt * mu[s2, node, j, k]
                            nnz += 1
    return nnz


def input_jacobian(state, params, factor, lu=None) -> np.ndarray:
    """d(pop, H, C, B)/d(w, T, P) at a converged household state: (3J + 1) x 3J.

    ``params`` are the household's (partial-equilibrium) parameters at the state's
    prices; ``factor`` the distribution's LU at this state (``household._Factor``
    of a direct solve); ``lu`` the LU of I - Phi_z at the state (``policy_lu``,
    computed here if None). Policies by the implicit function theorem (module
    docstring); the distribution by the same argument, d D = (I - T)^-1 (dT D) on
    its closed class with the mass held fixed, dT D a forward difference of the
    transition at the perturbed savings and migration shares.
    """
    c, v, D = state.c, state.v, state.dist
    J, S, n = c.shape
    N = J * S * n
    R = 1.0 + state.r
    bo = params.beta * params.omega
    chi = np.ascontiguousarray(params.chi)
    log_chi = np.log(chi)
    P0 = np.ascontiguousarray(params.P, dtype=float)
    e = np.asarray(params.e_grid, dtype=float)
    a = state.a_grid
    lu = policy_lu(state, params) if lu is None else lu

    def step(y, P):
        W, dW, ap = np.empty_like(c), np.empty_like(c), np.empty_like(c)
        kernels.migration_block(v, c, P, chi, log_chi, params.theta, R, params.gamma, W, dW,
                                np.empty((1, 1, 1, 1)), False)
        c2, v2 = c.copy(), v.copy()
        status, _, _ = kernels.egm_step(W, dW, a, y, P, params.Pi, R, bo, params.gamma, c2,
                                        ap, v2, np.empty(n), True)
        if status != kernels.OK:
            raise ValueError("EGM step failed at a perturbed input")
        return np.r_[c2.ravel(), v2.ravel()]

    # inputs: w_j (only with several income states), T_j, P_j
    w, T = np.asarray(params.w, dtype=float), np.asarray(params.T, dtype=float)
    y0 = w[:, None] * e[None, :] + T[:, None]
    base = step(y0, P0)
    cols = [k for k in range(3 * J) if S > 1 or k >= J]
    eps = np.empty(3 * J)
    rhs = np.empty((2 * N, len(cols)))
    dy = np.zeros((3 * J, J, S))
    dP = np.zeros((3 * J, J))
    for col, k in enumerate(cols):
        j = k % J
        if k < J:
            eps[k] = EPS_STEP * max(1.0, abs(w[j]))
            dy[k, j] = e
        elif k < 2 * J:
            eps[k] = EPS_STEP * max(1.0, abs(T[j]))
            dy[k, j] = 1.0
        else:
            eps[k] = EPS_STEP * max(1.0, P0[j])
            dP[k, j] = 1.0
        rhs[:, col] = (step(y0 + eps[k] * dy[k], P0 + eps[k] * dP[k]) - base) / eps[k]
    dz = lu.solve(rhs)
    # the distribution: dT D by a forward difference along (d ap, d mu) per input
    ap0 = state.ap
    mu0 = state.mu
    TD = forward_step(D, ap0, a, params.Pi, mu0)
    b = np.empty((N, len(cols)))
    W, dW = np.empty_like(c), np.empty_like(c)
    mu = np.empty_like(mu0)
    dc_all = dz[:N].T.reshape(len(cols), J, S, n)
    dv_all = dz[N:].T.reshape(len(cols), J, S, n)
    for col, k in enumerate(cols):
        h = EPS_DIST
        dap = dy[k][:, :, None] - dP[k][:, None, None] * c - P0[:, None, None] * dc_all[col]
        free = (ap0 > a[0]) & (ap0 < a[-1])
        ap = np.where(free, ap0 + h * dap, ap0)
        kernels.migration_block(v + h * dv_all[col], c, P0, chi, log_chi, params.theta, R,
                                params.gamma, W, dW, mu, True)
        b[:, col] = (forward_step(D, ap, a, params.Pi, mu) - TD) / h
    dD = _distribution_solve(factor, b, D.ravel())
    dD = dD.T.reshape(len(cols), J, S, n)
    out = np.zeros((3 * J + 1, 3 * J))
    for col, k in enumerate(cols):
        d = dD[col]
        out[:J, k] = d.sum(axis=(1, 2))
        out[J: 2 * J, k] = np.einsum("jsi,s->j", d, e)
        out[2 * J: 3 * J, k] = (np.einsum("jsi,jsi->j", d, c)
                                + np.einsum("jsi,jsi->j", D, dc_all[col]))
        out[-1, k] = float(np.sum(d * a))
    if S == 1:
        out[:, :J] = e[0] * out[:, J: 2 * J]
    return out


def _distribution_solve(factor, b: np.ndarray, D: np.ndarray) -> np.ndarray:
    """x with (I - T) x = b on the closed class and sum(x) = 0, for columns b."""
    states, pivot = factor.states, factor.pivot
    keep = np.r_[states[:pivot], states[pivot + 1:]]
    x = np.zeros_like(b)
    x[keep] = factor.lu.solve(np.ascontiguousarray(b[keep]))
    return x - np.outer(D, x.sum(axis=0))


def policy_lu(state, params):
    """The sparse LU of I - Phi_z at a converged household state (``fixed_point_entries``);
    ``params`` are the household's at the state's prices."""
    chi = np.ascontiguousarray(params.chi)
    P = np.ascontiguousarray(params.P, dtype=float)
    R, bo = 1.0 + state.r, params.beta * params.omega
    c = state.c
    J, S, n = c.shape
    N = J * S * n
    cap = 10 * S * J * N
    rows = np.empty(cap, dtype=np.int64)
    cols = np.empty(cap, dtype=np.int64)
    vals = np.empty(cap)
    nnz = fixed_point_entries(c, state.v, state.ap, state.a_grid, state.y, P, params.Pi, chi,
                              params.theta, R, bo, params.gamma, rows, cols, vals)
    phi = sparse.csc_matrix((vals[:nnz], (rows[:nnz], cols[:nnz])), shape=(2 * N, 2 * N))
    return splu((sparse.identity(2 * N, format="csc") - phi).tocsc())
