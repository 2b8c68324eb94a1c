"""Checks of a second-best solution between the grid's nodes (issue 14's independent checks).

At the EGM points Proposition 2 ((37); in logit form
``beta R Xi_i(v) - Xi_j(v'_ij) + theta (S_j(v'_ij) - Sbar_i) = 0`` with
Xi = P / u'(C)) and the inverse Euler equation ((38),
``Xi_i(v) = sum_j mu_ij Xi_j(v'_ij) / (beta R)``) hold by construction when
Xi_j and S_j at the destinations' promises are read off the stored
interpolants. Here the origin's promise is taken between nodes and the
destinations' next-period Xi_j(v'_ij) and S_j(v'_ij) are *not* interpolated:
the component problem is solved again exactly at each v'_ij (``policy_at``),
so the residuals measure what the interpolation between nodes costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels


@dataclass(frozen=True, slots=True)
class OffNode:
    """The component problem of origin i at promise v: M, Xi = P C, S (B.47), (J,)
    destinations' promises vp and shares mu."""

    M: float
    Xi: float
    S: float
    vp: np.ndarray
    mu: np.ndarray


def policy_at(sol, i: int, v: float) -> OffNode:
    """Solve origin i's component problem exactly at a promise v inside the grid, given
    the converged S (the continuation), by B.46 in M bracketed by the neighbouring
    nodes' policies. Raises ValueError outside the grid or if no M is found."""
    p, c = sol.params, sol.component
    g = c.v_grid
    if not g[0] <= v <= g[-1]:
        raise ValueError(f"policy_at: v = {v} outside the grid [{g[0]}, {g[-1]}]")
    k = min(int((v - g[0]) / (g[1] - g[0])), g.size - 2)
    lo, hi = c.M[i, k + 1], c.M[i, k]
    pad = 1e-6 * (1.0 + abs(hi - lo))
    J = p.n_loc
    work, mu = np.empty((6, J)), np.empty(J)
    bR = p.beta / p.r_inv
    M, ok, _iv, Sbar, D = kernels.solve_at_promise(
        v, lo - pad, hi + pad, np.ascontiguousarray(c.S), np.ascontiguousarray(c.X), g,
        p.theta, np.ascontiguousarray(np.log(p.chi[i])), p.beta * p.omega, bR * sol.P[i],
        work, mu)
    if not ok:
        raise ValueError(f"policy_at: no M for origin {i} at v = {v}")
    Xi = D / bR
    S = (sol.w[i] * (1.0 + p.alpha_agg) - Xi + (1.0 - p.omega) * c.Sn[i]
         + p.omega * p.r_inv * Sbar)
    return OffNode(M, Xi, S, work[0].copy(), mu.copy())


def euler_residuals(sol, intervals: np.ndarray | None = None,
                    min_share: float = 1e-10) -> dict[str, float]:
    """Max relative residuals of Prop. 2 (37) and the inverse Euler equation (38) at the
    midpoints of ``intervals`` (grid interval indices; default all) for every origin,
    with exact next-period Xi_j(v'_ij), S_j(v'_ij) (module docstring). Destinations
    with share below ``min_share`` or a promise off the grid are skipped (the
    extrapolation there is not checked here); residuals are relative to Xi_i(v)."""
    p, g = sol.params, sol.component.v_grid
    bR = p.beta / p.r_inv
    idx = np.arange(g.size - 1) if intervals is None else np.asarray(intervals)
    prop2 = euler = 0.0
    for i in range(p.n_loc):
        for k in idx:
            here = policy_at(sol, i, 0.5 * (g[k] + g[k + 1]))
            keep = (here.mu >= min_share) & (here.vp >= g[0]) & (here.vp <= g[-1])
            if not np.any(keep):
                continue
            nxt = {j: policy_at(sol, j, here.vp[j]) for j in np.flatnonzero(keep)}
            Xi_n = np.array([nxt[j].Xi for j in nxt])
            S_n = np.array([nxt[j].S for j in nxt])
            mu = here.mu[keep]
            Sbar = mu @ S_n / mu.sum()
            res = bR * here.Xi - Xi_n + p.theta * (S_n - Sbar)
            prop2 = max(prop2, float(np.max(np.abs(res))) / here.Xi)
            euler = max(euler, abs(here.Xi - mu @ Xi_n / (bR * mu.sum())) / here.Xi)
    return {"prop2": prop2, "inverse_euler": euler}
