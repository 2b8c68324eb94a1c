"""Derivatives of the spatial residual block (``spatial_outer``).

F(x) = M(x, h(p(x))): the goods-market block M and the household's inputs
p(x) are closed forms of x; only the household's outputs h need household
solves. So

    dF/dx = M_x + M_h H_p p_x,

with p = (w_1..J, T_1..J, P_1..J, x_r) what the household sees (x_r the log
distance of r to 1/(beta omega) - 1, as in x) and
h = (population_j, effective labour H_j, real consumption C_j, bonds B) what it
returns. M_x, M_h and p_x are central differences of the closed forms (no
household solve; error ~1e-10 relative). H_p, (3J+1) x (3J+1), is the only
expensive part. Its (w, T, P) columns come from the implicit function theorem
at the base household (``steady_derivatives.input_jacobian``: one sparse LU, no
household solves); its x_r column, and all columns where that is not available,
from forward differences (``household_jacobian``): one household solve per input
warm-started from the base state, all at JAC_TOL (with one income state y = w e
+ T, so the w columns are e times the T columns and are not solved for).

Why the household Jacobian and not dF/dx directly: H_p does not depend on the
goods-market fundamentals (A, sigma_trade, alpha_agg, kappa_transfer), so a warm
start across them recomposes an exact dF/dx from the previous solution's H_p; the
secant (Broyden) update applies to H_p with the observed (Delta p, Delta h), and
M and p stay exact at every iterate. In the 48-location economy, a Jacobian with
0.1% relative error (steps 1e-3, household tolerance 1e-8) gave |J*^-1 J - I| =
0.4, one with steps 1e-4 and tolerance 1e-10 0.0015, at about the same cost (the
household solves go from the step down to the tolerance): the block is
ill-conditioned (agglomeration, a steep bond market), hence JAC_TOL and H_P.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

JAC_TOL = 1e-10  # household tolerance of the Jacobian's solves
H_P = 1e-4  # forward-difference step in w, T, P (relative to max(|p|, 1) for P)
H_R = -1e-2  # ... and in x_r (1% more distance of r from 1/(beta omega) - 1)
H_CLOSED = 1e-6  # central-difference step of the closed forms


def central_jacobian(f: Callable[[np.ndarray], np.ndarray], z: np.ndarray,
                     step: float = H_CLOSED) -> np.ndarray:
    """df/dz by central differences (for closed forms: cheap and accurate)."""
    cols = []
    for k in range(z.size):
        h = step * max(1.0, abs(float(z[k])))
        zp, zm = z.copy(), z.copy()
        zp[k] += h
        zm[k] -= h
        cols.append((f(zp) - f(zm)) / (2.0 * h))
    return np.column_stack(cols)


def household_steps(p: np.ndarray, J: int) -> np.ndarray:
    """The forward-difference step of each household input (w, T, P, x_r)."""
    steps = np.full(p.size, H_P)
    steps[2 * J: 3 * J] = H_P * np.maximum(np.abs(p[2 * J: 3 * J]), 1.0)
    steps[-1] = H_R
    return steps


def household_jacobian(solve_h: Callable[[np.ndarray], np.ndarray | None], p: np.ndarray,
                       h0: np.ndarray, J: int, e_single: float | None,
                       columns: list[int] | None = None) -> np.ndarray:
    """H_p by forward differences; ``solve_h(p)`` returns h or None (not admissible,
    then the step is taken the other way). ``e_single``: the income level when there
    is one income state (w columns = e times T columns). With ``columns`` only those
    columns are computed (the others are nan)."""
    H = np.full((h0.size, p.size), np.nan)
    steps = household_steps(p, J)
    for k in range(p.size) if columns is None else columns:
        if e_single is not None and k < J:
            continue
        for h in (steps[k], -steps[k]):
            pk = p.copy()
            pk[k] += h
            out = solve_h(pk)
            if out is not None:
                H[:, k] = (out - h0) / h
                break
        else:
            return None
    if e_single is not None:
        H[:, :J] = e_single * H[:, J: 2 * J]
    return H
