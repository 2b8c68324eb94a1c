"""Overflow-safe log-sum-exp and softmax for numba kernels.

The logit migration blocks of the spatial models evaluate
``(1/theta) log sum_k chi_k exp(theta v_k)`` with theta large and values
large; the max-shift keeps every exponent <= 0. Entries of ``-inf`` (zero
weight) are allowed; an all ``-inf`` input gives ``-inf`` and a zero softmax
is never produced from finite input. Vectorised NumPy callers use
``scipy.special.logsumexp`` / ``softmax`` instead.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def logsumexp(x):
    """log(sum(exp(x))) of a 1-d float64 array, shifted by its max."""
    m = -np.inf
    for i in range(x.shape[0]):
        if x[i] > m:
            m = x[i]
    if m == -np.inf or m == np.inf:
        return m
    s = 0.0
    for i in range(x.shape[0]):
        s += np.exp(x[i] - m)
    return m + np.log(s)


@njit(cache=True)
def softmax(x, out):
    """out[i] = exp(x[i]) / sum(exp(x)); returns log-sum-exp of x. out may alias x."""
    lse = logsumexp(x)
    for i in range(x.shape[0]):
        out[i] = np.exp(x[i] - lse)
    return lse


@njit(cache=True)
def logit_inclusive_value(v, log_weight, theta, out_prob):
    """Logit choice over k with weights w_k = exp(log_weight[k]) and scale theta.

    Returns W = (1/theta) log sum_k w_k exp(theta v_k) and writes the choice
    probabilities w_k exp(theta v_k) / sum_m w_m exp(theta v_m) into out_prob.
    """
    n = v.shape[0]
    m = -np.inf
    for k in range(n):
        z = log_weight[k] + theta * v[k]
        out_prob[k] = z
        if z > m:
            m = z
    s = 0.0
    for k in range(n):
        e = np.exp(out_prob[k] - m)
        out_prob[k] = e
        s += e
    for k in range(n):
        out_prob[k] /= s
    return (m + np.log(s)) / theta
