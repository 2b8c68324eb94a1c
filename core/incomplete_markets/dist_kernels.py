"""Numba kernels of the stationary distribution and flows over (location, state, asset).

Array axes: (J, S, n_a) unless stated; ``mu`` is (J, S, n_a, J) as in
``kernels``. The savings lottery (Young's method), then the income draw, then
migration at the saving node.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def lottery(ap, a_grid, out_idx, out_w):
    """Young's lottery: a' in [a_i, a_{i+1}] goes to i with weight out_w, to i+1 with 1 - out_w."""
    J, S, n = ap.shape
    for j in range(J):
        for s in range(S):
            for m in range(n):
                x = ap[j, s, m]
                i = min(max(np.searchsorted(a_grid, x, side="right") - 1, 0), n - 2)
                wlo = (a_grid[i + 1] - x) / (a_grid[i + 1] - a_grid[i])
                out_idx[j, s, m] = i
                out_w[j, s, m] = min(max(wlo, 0.0), 1.0)


@njit(cache=True, nogil=True)
def transition_entries(idx, wlo, Pi, mu, rows, cols, vals):
    """Nonzeros of T[dest, src] (savings lottery, then e', then migration); returns count.

    Flat state index (j * S + s) * n_a + i. rows/cols/vals need 2 S J entries per state.
    """
    J, S, n = idx.shape
    nnz = 0
    for j in range(J):
        for s in range(S):
            for m in range(n):
                src = (j * S + s) * n + m
                for side in range(2):
                    node = idx[j, s, m] + side
                    lam = wlo[j, s, m] if side == 0 else 1.0 - wlo[j, s, m]
                    if lam == 0.0:
                        continue
                    for s2 in range(S):
                        p = lam * Pi[s, s2]
                        if p == 0.0:
                            continue
                        for k in range(J):
                            q = p * mu[j, s2, node, k]
                            if q == 0.0:
                                continue
                            rows[nnz] = (k * S + s2) * n + node
                            cols[nnz] = src
                            vals[nnz] = q
                            nnz += 1
    return nnz


@njit(cache=True, nogil=True)
def pre_migration(dist, idx, wlo, Pi, out):
    """Mass over (origin j, new state s', saving node i) before the migration draw."""
    J, S, n = dist.shape
    out[:] = 0.0
    for j in range(J):
        for s in range(S):
            for m in range(n):
                d = dist[j, s, m]
                if d == 0.0:
                    continue
                i = idx[j, s, m]
                lam = wlo[j, s, m]
                for s2 in range(S):
                    p = d * Pi[s, s2]
                    out[j, s2, i] += p * lam
                    out[j, s2, i + 1] += p * (1.0 - lam)


@njit(cache=True, nogil=True)
def migrate(pre, mu, out):
    """out[k, s, i] = sum_j pre[j, s, i] mu[j, s, i, k]."""
    J, S, n = pre.shape
    out[:] = 0.0
    for j in range(J):
        for s in range(S):
            for i in range(n):
                d = pre[j, s, i]
                if d == 0.0:
                    continue
                for k in range(J):
                    out[k, s, i] += d * mu[j, s, i, k]
