"""The goods-market block of the spatial closure in closed form (DFM eqs. B.1, B.22, 47).

Given wages w and populations L:

    P_j      = [sum_i (w_i / (A_ij L_i^alpha))^(1-sigma)]^(1/(1-sigma))     (B.22)
    lam_ij   = (w_i / (A_ij L_i^alpha))^(1-sigma) / P_j^(1-sigma)            (B.1)
    T_j      = kappa_j w_j + T_bar,  T_bar = -sum_j L_j kappa_j w_j / sum_j L_j   (47)
"""

from __future__ import annotations

import numpy as np


def price_index(A: np.ndarray, w: np.ndarray, L: np.ndarray, sigma: float,
                alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(P, lam): price indices (B.22) and expenditure shares lam[i, j] of j on i (B.1)."""
    z = (1.0 - sigma) * (np.log(w)[:, None] - np.log(A) - alpha * np.log(L)[:, None])
    top = z.max(axis=0)
    log_d = top + np.log(np.exp(z - top[None, :]).sum(axis=0))
    return np.exp(log_d / (1.0 - sigma)), np.exp(z - log_d[None, :])


def transfers(kappa: np.ndarray, w: np.ndarray, L: np.ndarray) -> np.ndarray:
    """T_j = kappa_j w_j + T_bar with sum_j L_j T_j = 0 (eq. 47, per capita)."""
    t_bar = -float(np.sum(L * kappa * w)) / float(np.sum(L))
    return kappa * w + t_bar
