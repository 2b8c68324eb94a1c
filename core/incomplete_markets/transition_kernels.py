"""Numba kernels of the linearised distribution step (``transition.py``).

Axes as in ``dist_kernels``: (J, S, n_a) states, mu (J, S, n_a, J); a leading
axis K batches directions.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..transitions.kernels import csr_times


@njit(cache=True, nogil=True)
def forward_jvp(dist, idx, a_grid, Pi, mu, pre, theta, dap, dv, out):
    """out[k] = d (T D) along savings dap[k] and next-period values dv[k] (DFM B.10).

    Young's lottery puts (a_{i+1} - a') / (a_{i+1} - a_i) of a state's mass on node
    i, so d a' moves dist * d a' / (a_{i+1} - a_i) from node i to i + 1 (then e' by
    Pi and migration at the steady-state shares mu); logit shares move by
    d mu_jk = theta mu_jk (dv_k - sum_m mu_jm dv_m) at the pre-migration mass ``pre``.
    """
    K = dap.shape[0]
    J, S, n = dist.shape
    dpre = np.zeros((J, S, n))
    for k in range(K):
        dpre[:] = 0.0
        for j in range(J):
            for s in range(S):
                for m in range(n):
                    d = dist[j, s, m] * dap[k, j, s, m]
                    if d == 0.0:
                        continue
                    i = idx[j, s, m]
                    q = d / (a_grid[i + 1] - a_grid[i])
                    for s2 in range(S):
                        dpre[j, s2, i] -= q * Pi[s, s2]
                        dpre[j, s2, i + 1] += q * Pi[s, s2]
        for kk in range(J):
            for s in range(S):
                for i in range(n):
                    out[k, kk, s, i] = 0.0
        for j in range(J):
            for s in range(S):
                for i in range(n):
                    avg = 0.0
                    for m in range(J):
                        avg += mu[j, s, i, m] * dv[k, m, s, i]
                    for m in range(J):
                        out[k, m, s, i] += (dpre[j, s, i] * mu[j, s, i, m]
                                            + pre[j, s, i] * theta * mu[j, s, i, m]
                                            * (dv[k, m, s, i] - avg))


@njit(cache=True, nogil=True)
def fake_news_backward(indptr, indices, data, z0, dap0, z_add, P_flat, free, dist, idx,
                       a_grid, Pi, mu, pre, theta, curly_y, curly_d):
    """The fake-news backward pass of ``HouseholdBlock`` in one call (its
    ``backward_jvp``, ``aggregate_jvp`` and ``forward_jvp`` fused over horizons).

    z0 (n_z, k): the backward state's change at horizon 0 (c, then v if J > 1), dap0
    (N, k) its savings' change (the inputs' own terms included); z_add (n_z, k) enters
    at horizon 1 (the shocked date's inputs as x_{t+1}). Horizon s: z_s = Phi_z z_{s-1}
    (CSR indptr, indices, data) + [s == 1] z_add, dc = z_s[:N], da' = -P dc on free
    nodes, values of the next period dv = z_{s-1}[N:] (J > 1). Writes curly_y (T, 2J,
    k): rows A_0..A_{J-1}, C_0..C_{J-1} (L and H do not move); curly_d (N, T, k).
    With one location ``one_location_backward`` does the same faster.
    """
    J, S, n = dist.shape
    N = J * S * n
    T = curly_y.shape[0]
    n_z, K = z0.shape
    z = z0.copy()
    z_new = np.empty_like(z0)
    dap = dap0.copy()
    dpre = np.empty((N, K))
    tmp = np.empty((N, K))
    dist_flat = dist.ravel()
    for s in range(T):
        if s > 0:
            csr_times(indptr, indices, data, z, z_new)
            if s == 1:
                z_new += z_add
            for x in range(N):
                f = -P_flat[x] * free[x]
                for kk in range(K):
                    dap[x, kk] = f * z_new[x, kk]
        zc = z if s == 0 else z_new
        for j in range(J):  # sums in registers (a sum in memory is a store-load chain)
            for kk in range(K):
                acc_a = 0.0
                acc_c = 0.0
                for x in range(j * S * n, (j + 1) * S * n):
                    acc_a += dist_flat[x] * dap[x, kk]
                    acc_c += dist_flat[x] * zc[x, kk]
                curly_y[s, j, kk] = acc_a
                curly_y[s, J + j, kk] = acc_c
        _forward_fused(dist, idx, a_grid, Pi, mu, pre, theta, dap, z, s > 0 and n_z > N,
                       tmp, dpre, curly_d, s)
        if s > 0:
            z, z_new = z_new, z


@njit(cache=True, nogil=True)
def _forward_fused(dist, idx, a_grid, Pi, mu, pre, theta, dap, z_next, with_dv, tmp, dpre,
                   curly_d, s):
    """curly_d[:, s, :] = d (T D) along dap (N, K) and, if ``with_dv``, next-period
    values z_next[N:] (N, K): ``forward_jvp`` with directions on the last axis."""
    J, S, n = dist.shape
    N = J * S * n
    K = dap.shape[1]
    # Young's lottery moves mass q = dist da' / (a_{i+1} - a_i) from node i to i + 1
    # within the income state; then e' by Pi (one dense S x S step per location)
    tmp[:] = 0.0
    for j in range(J):
        for s1 in range(S):
            for m in range(n):
                x = (j * S + s1) * n + m
                d = dist[j, s1, m]
                if d == 0.0:
                    continue
                i = idx[j, s1, m]
                h = d / (a_grid[i + 1] - a_grid[i])
                lo = (j * S + s1) * n + i
                for kk in range(K):
                    q = h * dap[x, kk]
                    tmp[lo, kk] -= q
                    tmp[lo + 1, kk] += q
    _income_step(Pi, tmp, dpre, J, S, n)
    if J == 1:
        for x in range(N):
            for kk in range(K):
                curly_d[x, s, kk] = dpre[x, kk]
        return
    for x in range(N):
        for kk in range(K):
            curly_d[x, s, kk] = 0.0
    avg = np.empty(K)
    src = np.empty(K)
    for j in range(J):
        for s1 in range(S):
            for i in range(n):
                x = (j * S + s1) * n + i
                p0 = pre[j, s1, i] * theta
                if with_dv:  # logit shares move with next period's values
                    avg[:] = 0.0
                    for m in range(J):
                        w = mu[j, s1, i, m]
                        dv = z_next[N + (m * S + s1) * n + i]
                        for kk in range(K):
                            avg[kk] += w * dv[kk]
                    for kk in range(K):
                        src[kk] = dpre[x, kk] - p0 * avg[kk]
                else:
                    src[:] = dpre[x]
                for m in range(J):
                    w = mu[j, s1, i, m]
                    y = (m * S + s1) * n + i
                    row = curly_d[y, s]
                    if with_dv:
                        dv = z_next[N + y]
                        for kk in range(K):
                            row[kk] += w * (src[kk] + p0 * dv[kk])
                    else:
                        for kk in range(K):
                            row[kk] += w * src[kk]


@njit(cache=True, nogil=True)
def expectation_vectors(idx, wlo, Pi, mu, o, out):
    """out[:, t] = (Lambda_ss^t o)' for t < out.shape[1] (o (N, m), out (m, n, N)):
    E_{t+1}(j, s, m) = expected E_t next period from (j, s, m), the distribution's step
    read backward: migration from the pre-migration state (j, s', i) by mu, then e' by
    Pi, then Young's lottery (weight wlo on node idx, 1 - wlo on idx + 1). (J + S + 2)
    flops a state and column where the sparse Lambda_ss' takes 2 S J."""
    J, S, n = idx.shape
    N, m = o.shape
    if J == 1:
        _one_location_expectations(idx, wlo, Pi, o, out)
        return
    cur = o.copy()
    mig = np.empty((N, m))
    g = np.empty((N, m))
    for t in range(out.shape[1]):
        if t > 0:
            if J == 1:
                mig[:] = cur
            else:
                for j in range(J):
                    for s2 in range(S):
                        for i in range(n):
                            x = (j * S + s2) * n + i
                            for q in range(m):
                                mig[x, q] = 0.0
                            for k in range(J):
                                w = mu[j, s2, i, k]
                                y = (k * S + s2) * n + i
                                for q in range(m):
                                    mig[x, q] += w * cur[y, q]
            _income_step(Pi.T, mig, g, J, S, n)
            for j in range(J):
                for s in range(S):
                    for i2 in range(n):
                        x = (j * S + s) * n + i2
                        lo = (j * S + s) * n + idx[j, s, i2]
                        w = wlo[j, s, i2]
                        for q in range(m):
                            cur[x, q] = w * g[lo, q] + (1.0 - w) * g[lo + 1, q]
        for x in range(N):
            for q in range(m):
                out[q, t, x] = cur[x, q]


@njit(cache=True, nogil=True)
def _one_location_expectations(idx, wlo, Pi, o, out):
    """``expectation_vectors`` with one location: a vector at a time, each step read
    from the last row of ``out`` and written into the next (no migration, no copies)."""
    _, S, n = idx.shape
    N, m = o.shape
    Pi_t = np.ascontiguousarray(Pi.T)
    g = np.empty((N, 1))
    lo = np.empty(N, dtype=np.int64)
    for s in range(S):
        for i in range(n):
            lo[s * n + i] = s * n + idx[0, s, i]
    w = wlo.ravel()
    if out.shape[1] == 0:
        return
    for q in range(m):
        out[q, 0] = o[:, q]
        for t in range(1, out.shape[1]):
            _income_step(Pi_t, out[q, t - 1].reshape((N, 1)), g, 1, S, n)
            row = out[q, t]
            for x in range(N):
                p = lo[x]
                row[x] = w[x] * g[p, 0] + (1.0 - w[x]) * g[p + 1, 0]


@njit(cache=True, nogil=True)
def _income_step(Pi, src, out, J, S, n):
    """out[(j, s2, i)] = sum_s1 Pi[s1, s2] src[(j, s1, i)] over rows of src and out (N,
    K): income states' blocks of n K contiguous numbers, so the loops vectorise. The
    blocks are rows of 2-d views: with offsets into flat views LLVM cannot tell that
    out and src do not overlap and the loop stays scalar (six times slower at n = 500,
    S = 7, K = 2)."""
    width = n * src.shape[1]
    rows_src = src.reshape((J * S, width))
    rows_out = out.reshape((J * S, width))
    for j in range(J):
        for s2 in range(S):
            dst = rows_out[j * S + s2]
            dst[:] = 0.0
            for s1 in range(S):
                w = Pi[s1, s2]
                if w == 0.0:
                    continue
                row = rows_src[j * S + s1]
                for u in range(width):
                    dst[u] += w * row[u]


@njit(cache=True, nogil=True)
def one_location_factors(rows, cols, vals, h, Pi, n, node0, coef0, coef1):
    """Phi_z of one location (c alone: the entries of Phi_z's COO form (rows, cols,
    vals) with row and column below N) in factored form: row (s, m) reads the saving
    nodes p, p + 1 of every income state s', its entries coef_side(s, m) Pi[s, s']
    h(s', node) (``steady_derivatives.fixed_point_entries``: coef = -g dAdE / P, h =
    R u''(c) / P = -gamma R u'(c) / (P c)), so (Phi_z z)(s, m) = sum_side
    coef_side(s, m) (Pi (h z))(s, p + side): S + 2 products a state instead of 2 S.
    Writes node0 = p, coef0, coef1 (N,), read off the entries (so that both forms
    apply the same matrix); a row without entries (savings on a bound) gets zeros."""
    N = node0.size
    node0[:] = n
    coef0[:] = 0.0
    coef1[:] = 0.0
    for e in range(rows.size):
        if rows[e] < N and cols[e] < N:
            node0[rows[e]] = min(node0[rows[e]], cols[e] % n)
    for row in range(N):
        node0[row] = min(node0[row], n - 2)
    for e in range(rows.size):
        row, col = rows[e], cols[e]
        if row >= N or col >= N:
            continue
        s, s2, node = row // n, col // n, col % n
        c = vals[e] / (Pi[s, s2] * h[col])
        if node == node0[row]:
            coef0[row] = c
        elif node == node0[row] + 1:
            coef1[row] = c


@njit(cache=True, nogil=True)
def one_location_backward(node, coef0, coef1, h, f, dist, w_q, lo, Pi, z0, dap0, z_add,
                          curly_y, curly_d):
    """``fake_news_backward`` with one location, a direction at a time (k of K).

    Horizon s >= 1: consumption z_s = Phi_z z_{s-1} (+ z_add at s = 1) in factored
    form (``one_location_factors``: g = Pi (h z_{s-1}), z_s(x) = coef0(x) g(node(x)) +
    coef1(x) g(node(x) + 1)), savings da' = f z_s (f = -P on free nodes, 0 on the
    bounds); horizon 0: z0 and dap0 (the inputs' own terms). Then A = dist . da',
    C = dist . z_s, and the distribution's step: the lottery moves w_q(x) da'(x) (w_q =
    dist / (a_{i+1} - a_i)) from node lo(x) = (s, i) to lo(x) + 1, then e' by Pi. One
    pass over the states a horizon (sums in registers, the moves summed by lower node),
    plus two S x S income steps. z0, dap0, z_add (K, N); writes curly_y (T, 2, K) (A,
    C) and curly_d (T, K, N)."""
    K, N = z0.shape
    S = Pi.shape[0]
    n = N // S
    T = curly_y.shape[0]
    Pi_t = np.ascontiguousarray(Pi.T)
    w_a = dist * f  # A per unit of consumption
    w_m = w_q * f  # mass moved per unit of consumption
    hz = np.empty(N)
    g = np.empty(N)
    by_lo = np.empty(N)
    moved = np.empty(N)
    for k in range(K):
        acc_a = 0.0
        acc_c = 0.0
        by_lo[:] = 0.0
        for x in range(N):
            acc_a += dist[x] * dap0[k, x]
            acc_c += dist[x] * z0[k, x]
            hz[x] = h[x] * z0[k, x]
            by_lo[lo[x]] += w_q[x] * dap0[k, x]
        for s in range(T):
            if s > 0:
                _income_step(Pi_t, hz.reshape((N, 1)), g.reshape((N, 1)), 1, S, n)
                acc_a = 0.0
                acc_c = 0.0
                by_lo[:] = 0.0
                for x in range(N):
                    p = node[x]
                    zx = coef0[x] * g[p] + coef1[x] * g[p + 1]
                    if s == 1:
                        zx += z_add[k, x]
                    acc_a += w_a[x] * zx
                    acc_c += dist[x] * zx
                    hz[x] = h[x] * zx
                    by_lo[lo[x]] += w_m[x] * zx
            curly_y[s, 0, k] = acc_a
            curly_y[s, 1, k] = acc_c
            # node i gains what leaves i - 1 and loses what leaves it (the top node of an
            # income state is nobody's lower node, so the flat shift stays in its block)
            moved[0] = -by_lo[0]
            for i in range(1, N):
                moved[i] = by_lo[i - 1] - by_lo[i]
            _income_step(Pi, moved.reshape((N, 1)), curly_d[s, k].reshape((N, 1)), 1, S, n)
