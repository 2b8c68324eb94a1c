"""Numba kernels of the linearised distribution step (``transition.py``).

Axes as in ``dist_kernels``: (J, S, n_a) states, mu (J, S, n_a, J); a leading
axis K batches directions.
"""

from __future__ import annotations

import numpy as np
from numba import njit


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
