"""Closed forms of the hand-to-mouth example (papers/004, section 2.4), for Epstein-Zin too.

Section 2.4: CRRA rho, e_j = prod_{k<=j} z_k with ln z iid N(mu, s^2), one bond with
1 + r = exp(rho mu - rho^2 s^2 / 2) / beta. Then c = e is optimal and
v_j = e_j sum_{n=1}^{J-j} q^n with q = E[m z] = exp(-rho s^2) / (1 + r) when
mu = -s^2 / 2, and R^h = z / q.

Epstein-Zin generalisation (derived here, checked by the solver in the tests): with
c = e, V_{j+1} = e_{j+1} Vhat_{j+1} with Vhat deterministic, so V'/F(V') = z'/F(z') and
m = beta z'^-alpha F(z)^(alpha-gamma) with F(z) = exp(mu + (1 - alpha) s^2 / 2).
Consuming earnings is optimal iff (1 + r) E[m] = 1, which pins beta; then
q = E[m z] = exp(mu + (1 - 2 alpha) s^2 / 2) / (1 + r): only risk aversion alpha
enters, and alpha = gamma = rho gives the paper's formulas.
"""

from __future__ import annotations

import math

import numpy as np


def lognormal_moment(k: float, mu: float, s: float) -> float:
    """E[z^k] for ln z ~ N(mu, s^2)."""
    return math.exp(k * mu + 0.5 * k * k * s * s)


def beta_hand_to_mouth(params) -> float:
    """beta with (1 + r) E[m] = 1 at c = e: the section-2.4 restriction (Epstein-Zin form)."""
    mu, s, a, g = params.mu_z, params.sigma_z, params.alpha, params.gamma
    ce = math.exp(mu + 0.5 * (1.0 - a) * s * s)
    return 1.0 / (params.gross_r * lognormal_moment(-a, mu, s) * ce ** (a - g))


def discount_q(params) -> float:
    """q = E[m z]: the price of next age's earnings per unit of today's earnings."""
    mu, s = params.mu_z, params.sigma_z
    return math.exp(mu + 0.5 * (1.0 - 2.0 * params.alpha) * s * s) / params.gross_r


def hand_to_mouth_values(params) -> dict[str, np.ndarray | float]:
    """Per unit of current earnings, by age j = 1..J: value, naive value; the mean R^h.

    ``value[j-1] = sum_{n=1}^{J-j} q^n``, ``naive[j-1] = sum_{n=1}^{J-j} (E z / (1+r))^n``
    and ``mean_return = E z / q`` (section 2.4; equal to (1 + r) exp(alpha s^2) when
    mu = -s^2 / 2).
    """
    J = params.n_ages
    q = discount_q(params)
    ez = lognormal_moment(1.0, params.mu_z, params.sigma_z)
    growth = ez / params.gross_r
    value = np.array([sum(q**n for n in range(1, J - j + 1)) for j in range(1, J + 1)])
    naive = np.array([sum(growth**n for n in range(1, J - j + 1)) for j in range(1, J + 1)])
    return {"value": value, "naive": naive, "mean_return": ez / q}
