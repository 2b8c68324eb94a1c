"""Numba kernels of the fake-news algorithm (``fake_news.py``): the Jacobian's
recursion over the fake-news product, and sparse products for blocks' compiled
backward passes."""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def jacobian_from_news(curly_y, prod, out):
    """out[o, i] (T x T): the Jacobian J[t, s] = F[t, s] + J[t - 1, s - 1] from the
    fake-news matrix F[0, s] = curly_y[s, o, i] (curly_y (T, c, k)) and F[t, s] =
    prod[o, t - 1, s, i] for t >= 1 (prod (c, T - 1, T, k), the product curlyE' curlyD
    as it comes from one matrix product); out (c, k, T, T)."""
    T, c, K = curly_y.shape
    for o in range(c):
        for i in range(K):
            for s in range(T):
                out[o, i, 0, s] = curly_y[s, o, i]
            for t in range(1, T):
                out[o, i, t, 0] = prod[o, t - 1, 0, i]
                for s in range(1, T):
                    out[o, i, t, s] = prod[o, t - 1, s, i] + out[o, i, t - 1, s - 1]


@njit(cache=True, nogil=True)
def csr_times(indptr, indices, data, z, out):
    """out = A z for A (CSR: indptr, indices, data) and z (n, K), summing each row's
    entries in stored order (as scipy does): with few columns the sums in registers,
    with many a row of z at a time (contiguous)."""
    n_rows = indptr.size - 1
    K = z.shape[1]
    if K == 2:  # the common case of two inputs or outputs: both sums in registers
        for row in range(n_rows):
            acc0 = 0.0
            acc1 = 0.0
            for p in range(indptr[row], indptr[row + 1]):
                col = indices[p]
                acc0 += data[p] * z[col, 0]
                acc1 += data[p] * z[col, 1]
            out[row, 0] = acc0
            out[row, 1] = acc1
        return
    if K <= 4:
        for row in range(n_rows):
            for kk in range(K):
                acc = 0.0
                for p in range(indptr[row], indptr[row + 1]):
                    acc += data[p] * z[indices[p], kk]
                out[row, kk] = acc
        return
    for row in range(n_rows):
        for kk in range(K):
            out[row, kk] = 0.0
        for p in range(indptr[row], indptr[row + 1]):
            col = indices[p]
            v = data[p]
            for kk in range(K):
                out[row, kk] += v * z[col, kk]
