"""Numba kernels of the spatial incomplete-markets household (DFM appendix B.2.1).

Array axes: (J, S, n_a) = (location, income state, asset node) unless stated;
``mu`` is (J, S, n_a, J): mu[j, s', i, k] is the probability that a household
of origin j that drew income state s' and saved a_grid[i] moves to k (eq. B.15).
Kernels write into preallocated outputs and return status codes, never raise.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..numerics.logsumexp import logit_inclusive_value

OK = 0
MAX_ITER = 1
NONPOSITIVE_CONSUMPTION = 2
NONMONOTONE_GRID = 3
NONFINITE = 4


@njit(cache=True, nogil=True)
def crra_utility(c, gamma):
    """(c^(1-gamma) - 1)/(1 - gamma), log c at gamma = 1."""
    if gamma == 1.0:
        return np.log(c)
    return (c ** (1.0 - gamma) - 1.0) / (1.0 - gamma)


@njit(cache=True, nogil=True)
def marginal_utility(c, gamma):
    """c^(-gamma), with the log case done by division."""
    if gamma == 1.0:
        return 1.0 / c
    return c ** (-gamma)


@njit(cache=True, nogil=True)
def inverse_marginal_utility(x, gamma):
    """The c with u'(c) = x."""
    if gamma == 1.0:
        return 1.0 / x
    return x ** (-1.0 / gamma)


@njit(cache=True, nogil=True)
def migration_block(v, c, P, chi, log_chi, theta, one_plus_r, gamma, out_W, out_dW, out_mu,
                    store_mu):
    """Continuation value W_j and its slope at each saving node, after e' (eqs. 56, B.15).

    W[j, s, i] = (1/theta) log sum_k chi_jk exp(theta v[k, s, i]); dW[j, s, i] =
    sum_k mu_jk (1+r) u'(c[k, s, i]) / P_k (envelope condition); the choice
    probabilities mu are written to out_mu only if ``store_mu``. The exponentials
    exp(theta (v_k - max_m v_m)) are shared by all origins j, so a node costs J
    exponentials and J^2 multiply-adds; an origin whose weighted sum is not a
    normal positive number (extreme chi or value gaps) is redone by the fully
    shifted ``logit_inclusive_value``.
    """
    J, S, n = v.shape
    ex = np.empty(J)
    mup = np.empty(J)
    buf = np.empty(J)
    mu_buf = np.empty(J)
    for s in range(S):
        for i in range(n):
            top = v[0, s, i]
            for k in range(J):
                top = max(top, v[k, s, i])
                mup[k] = marginal_utility(c[k, s, i], gamma) / P[k]
            for k in range(J):
                ex[k] = np.exp(theta * (v[k, s, i] - top))
            for j in range(J):
                tot = 0.0
                acc = 0.0
                for k in range(J):
                    z = chi[j, k] * ex[k]
                    tot += z
                    acc += z * mup[k]
                if 1e-250 < tot < 1e250:
                    out_W[j, s, i] = top + np.log(tot) / theta
                    out_dW[j, s, i] = one_plus_r * acc / tot
                    if store_mu:
                        inv = 1.0 / tot
                        for k in range(J):
                            out_mu[j, s, i, k] = chi[j, k] * ex[k] * inv
                    continue
                for k in range(J):
                    buf[k] = v[k, s, i]
                out_W[j, s, i] = logit_inclusive_value(buf, log_chi[j], theta, mu_buf)
                acc = 0.0
                for k in range(J):
                    acc += mu_buf[k] * mup[k]
                    if store_mu:
                        out_mu[j, s, i, k] = mu_buf[k]
                out_dW[j, s, i] = one_plus_r * acc


@njit(cache=True, nogil=True)
def egm_step(W, dW, a_grid, y, P, Pi, one_plus_r, beta_omega, gamma,
             out_c, out_ap, out_v, a_endo, with_values):
    """One EGM step (B.16-B.21) for every (j, s); returns (status, max |dc|, max rel |dv|).

    out_c/out_v hold the previous iterate on entry and the new one on exit;
    values are updated only ``with_values`` (they matter for policies only if J > 1).
    """
    J, S, n = out_c.shape
    dc = 0.0
    dv = 0.0
    for j in range(J):
        for s in range(S):
            for i in range(n):
                edw = 0.0
                for s2 in range(S):
                    edw += Pi[s, s2] * dW[j, s2, i]
                c_endo = inverse_marginal_utility(P[j] * beta_omega * edw, gamma)
                a_endo[i] = (P[j] * c_endo + a_grid[i] - y[j, s]) / one_plus_r
                if i > 0 and not a_endo[i] > a_endo[i - 1]:
                    return NONMONOTONE_GRID, dc, dv
            status = _invert_policy(a_endo, a_grid, y[j, s], P[j], one_plus_r,
                                    out_ap[j, s])
            if status != OK:
                return status, dc, dv
            dc_js, dv_js = _update_point(W[j], Pi[s], a_grid, out_ap[j, s], y[j, s], P[j],
                                         one_plus_r, beta_omega, gamma, out_c[j, s],
                                         out_v[j, s], with_values)
            if not (np.isfinite(dc_js) and np.isfinite(dv_js)):
                return NONFINITE, dc, dv
            dc = max(dc, dc_js)
            dv = max(dv, dv_js)
    return OK, dc, dv


@njit(cache=True, nogil=True)
def _invert_policy(a_endo, a_grid, y, P, one_plus_r, out_ap):
    """Savings a'(a) on the grid from the endogenous grid (B.18), clipped to [a_low, a_max]."""
    n = a_grid.shape[0]
    p = 0
    for m in range(n):
        a = a_grid[m]
        if a <= a_endo[0]:
            ap = a_grid[0]
        else:
            while p < n - 2 and a_endo[p + 1] < a:
                p += 1
            t = (a - a_endo[p]) / (a_endo[p + 1] - a_endo[p])
            ap = a_grid[p] + t * (a_grid[p + 1] - a_grid[p])
            ap = min(max(ap, a_grid[0]), a_grid[n - 1])
        if not one_plus_r * a + y - ap > 0.0:
            return NONPOSITIVE_CONSUMPTION
        out_ap[m] = ap
    return OK


@njit(cache=True, nogil=True)
def _update_point(W_j, Pi_s, a_grid, ap, y, P, one_plus_r, beta_omega, gamma, c, v,
                  with_values):
    """Consumption (B.20) and value (B.21) at every node of one (j, s); returns max changes."""
    S, n = W_j.shape
    dc = 0.0
    dv = 0.0
    q = 0
    for m in range(n):
        c_new = (one_plus_r * a_grid[m] + y - ap[m]) / P
        dc = max(dc, abs(c_new - c[m]))
        c[m] = c_new
        if not with_values:
            continue
        while q < n - 2 and a_grid[q + 1] < ap[m]:
            q += 1
        t = (ap[m] - a_grid[q]) / (a_grid[q + 1] - a_grid[q])
        ew = 0.0
        for s2 in range(S):
            ew += Pi_s[s2] * ((1.0 - t) * W_j[s2, q] + t * W_j[s2, q + 1])
        v_new = crra_utility(c_new, gamma) + beta_omega * ew
        dv = max(dv, abs(v_new - v[m]) / (1.0 + abs(v_new)))
        v[m] = v_new
    return dc, dv


@njit(cache=True, nogil=True)
def solve_household(c, v, a_grid, y, P, Pi, log_chi, theta, one_plus_r, beta_omega, gamma,
                    tol_c, tol_v, max_iter, out_ap, out_W, out_dW, out_mu):
    """Iterate EGM (and values if J > 1) to tolerance; c, v updated in place.

    Convergence is judged on plain EGM steps (max |dc| < tol_c, max rel |dv| <
    tol_v). Once the step sizes shrink geometrically at a steady ratio lam, the
    iterate is extrapolated along the last step by lam/(1 - lam) (Aitken on the
    dominant mode, ``_extrapolate``); that only moves the starting point of the
    next plain step, so it cannot change what counts as converged. With J = 1
    the values do not affect policies and are computed once the policies have
    converged (``evaluate_values``). Returns (status, n_iter, max |dc|, max rel
    |dv|); on success out_mu/out_W/out_dW match the final values.
    """
    J, _, n = c.shape
    chi = np.exp(log_chi)
    a_endo = np.empty(n)
    c_old = c.copy()
    v_old = v.copy()
    c_plain = c.copy()  # the plain iterate before the last extrapolation
    v_plain = v.copy()
    dc_prev = np.zeros_like(c)  # the previous steps
    dv_prev = np.zeros_like(v)
    since = np.zeros(2, dtype=np.int64)  # plain steps since extrapolating; -1: switched off
    dc = np.inf
    dv = np.inf
    with_values = J > 1
    for it in range(1, max_iter + 1):
        fresh = since[0] == 0 or since[1] == 0
        c_old[:] = c
        v_old[:] = v
        migration_block(v, c, P, chi, log_chi, theta, one_plus_r, gamma, out_W, out_dW,
                        out_mu, False)
        status, dc, dv = egm_step(out_W, out_dW, a_grid, y, P, Pi, one_plus_r, beta_omega,
                                  gamma, c, out_ap, v, a_endo, with_values)
        if status != OK and fresh:
            c[:] = c_plain  # the extrapolated point was bad: resume plainly, never again
            v[:] = v_plain
            since[:] = -1
            continue
        if status != OK:
            return status, it, dc, dv
        if dc < tol_c and (dv < tol_v or not with_values):
            if not with_values:
                status, dv = evaluate_values(c, out_ap, a_grid, Pi, beta_omega, gamma, tol_v,
                                             max_iter, v)
                if status != OK:
                    return status, it, dc, dv
            migration_block(v, c, P, chi, log_chi, theta, one_plus_r, gamma, out_W, out_dW,
                            out_mu, True)
            return OK, it, dc, dv
        c_plain[:] = c
        v_plain[:] = v
        _extrapolate(c, c_old, dc_prev, since, 0, True)
        if with_values:
            _extrapolate(v, v_old, dv_prev, since, 1, False)
    return MAX_ITER, max_iter, dc, dv


_EXTRAP_GAP = 3  # plain steps between two extrapolations
_EXTRAP_ALIGN = 0.05  # max |step - lam * previous step| relative to max |step|
_EXTRAP_MAX_RATIO = 0.999  # no extrapolation when the ratio is this close to 1


@njit(cache=True, nogil=True)
def _extrapolate(x, x_old, d_prev, since, row, policy, strict=False):
    """x += (x - x_old) lam/(1 - lam) once the steps shrink along one direction.

    lam is the least-squares ratio of this step to the previous one (d_prev,
    overwritten with this step); extrapolating requires the step to equal lam
    times the previous one up to 5% of its size (the error is then dominated by
    one mode, which the jump removes); with ``strict`` the 5% is also divided
    by the jump factor, so the jump adds at most 5% of a plain step off that mode.
    since[row] counts plain steps since the last extrapolation (-1: switched
    off). For a ``policy`` (consumption) the new point must stay positive and
    increasing in assets, else the factor is halved (up to three times) or the
    plain iterate is kept.
    """
    num = 0.0
    den = 0.0
    for idx in np.ndindex(x.shape):
        d = x[idx] - x_old[idx]
        num += d * d_prev[idx]
        den += d_prev[idx] * d_prev[idx]
    lam = num / den if den > 0.0 else 0.0
    miss = 0.0
    size = 0.0
    for idx in np.ndindex(x.shape):
        d = x[idx] - x_old[idx]
        miss = max(miss, abs(d - lam * d_prev[idx]))
        size = max(size, abs(d))
        d_prev[idx] = d
    if since[row] < 0:
        return
    since[row] += 1
    if since[row] < _EXTRAP_GAP or not (0.0 < lam < _EXTRAP_MAX_RATIO):
        return
    factor = lam / (1.0 - lam)
    # strict: the jump multiplies the part of the step off the dominant mode (miss) by
    # factor; allow it only while that stays a small fraction of one plain step (the
    # J = 1 value evaluation at beta omega ~ 0.993 otherwise cycles instead of converging)
    scale = max(factor, 1.0) if strict else 1.0
    if not miss * scale <= _EXTRAP_ALIGN * size:
        return
    if policy:
        for _ in range(4):
            if _increasing_after(x, x_old, factor):
                break
            factor *= 0.5
        else:
            return
    for idx in np.ndindex(x.shape):
        x[idx] += factor * (x[idx] - x_old[idx])
    since[row] = 0


@njit(cache=True, nogil=True)
def _increasing_after(x, x_old, factor):
    """Whether x + factor (x - x_old) is positive and increasing along the last axis."""
    J, S, n = x.shape
    for j in range(J):
        for s in range(S):
            prev = 0.0
            for m in range(n):
                z = x[j, s, m] + factor * (x[j, s, m] - x_old[j, s, m])
                if not z > prev:
                    return False
                prev = z
    return True


@njit(cache=True, nogil=True)
def evaluate_values(c, ap, a_grid, Pi, beta_omega, gamma, tol_v, max_iter, v):
    """Values of fixed policies without migration (J = 1): v = u(c) + beta omega E v(a').

    Iterates from the v given, extrapolating the dominant mode as in
    ``solve_household`` (for this linear map it is the constant vector, ratio
    beta omega); returns (status, last max rel |dv|).
    """
    _, S, n = c.shape
    u = np.empty((S, n))
    q = np.empty((S, n), dtype=np.int64)
    t = np.empty((S, n))
    for s in range(S):
        for m in range(n):
            u[s, m] = crra_utility(c[0, s, m], gamma)
            k = min(max(np.searchsorted(a_grid, ap[0, s, m]) - 1, 0), n - 2)
            q[s, m] = k
            t[s, m] = (ap[0, s, m] - a_grid[k]) / (a_grid[k + 1] - a_grid[k])
    ev = np.empty((S, n))
    v_old = v.copy()
    dv_prev = np.zeros_like(v)
    since = np.zeros(1, dtype=np.int64)
    dv = np.inf
    for _ in range(max_iter):
        v_old[:] = v
        for s in range(S):
            for i in range(n):
                acc = 0.0
                for s2 in range(S):
                    acc += Pi[s, s2] * v[0, s2, i]
                ev[s, i] = acc
        dv = 0.0
        for s in range(S):
            for m in range(n):
                k = q[s, m]
                new = u[s, m] + beta_omega * ((1.0 - t[s, m]) * ev[s, k] + t[s, m] * ev[s, k + 1])
                dv = max(dv, abs(new - v[0, s, m]) / (1.0 + abs(new)))
                v[0, s, m] = new
        if dv < tol_v:
            return OK, dv
        if not np.isfinite(dv):
            return NONFINITE, dv
        _extrapolate(v, v_old, dv_prev, since, 0, False, True)
    return MAX_ITER, dv


@njit(cache=True, nogil=True)
def euler_errors(c, ap, v, a_grid, P, Pi, log_chi, theta, one_plus_r, beta_omega, gamma,
                 out_err):
    """|c_euler / c - 1| at nodes with a_low < a' < a_max (nan elsewhere).

    c_euler inverts u'(c)/P_j = beta omega E_{e'} sum_k mu_jk(a', e') (1+r) u'(c_k)/P_k
    with c_k and v_k (hence mu) linearly interpolated at the off-grid a'.
    """
    J, S, n = c.shape
    vbuf = np.empty(J)
    mu = np.empty(J)
    lo = a_grid[0]
    hi = a_grid[n - 1]
    eps = 1e-12 * (1.0 + abs(lo) + abs(hi))
    for j in range(J):
        for s in range(S):
            for m in range(n):
                x = ap[j, s, m]
                if x <= lo + eps or x >= hi - eps:
                    out_err[j, s, m] = np.nan
                    continue
                q = min(max(np.searchsorted(a_grid, x) - 1, 0), n - 2)
                t = (x - a_grid[q]) / (a_grid[q + 1] - a_grid[q])
                rhs = 0.0
                for s2 in range(S):
                    if Pi[s, s2] == 0.0:
                        continue
                    for k in range(J):
                        vbuf[k] = (1.0 - t) * v[k, s2, q] + t * v[k, s2, q + 1]
                    if J == 1:
                        mu[0] = 1.0
                    else:
                        logit_inclusive_value(vbuf, log_chi[j], theta, mu)
                    for k in range(J):
                        ck = (1.0 - t) * c[k, s2, q] + t * c[k, s2, q + 1]
                        rhs += Pi[s, s2] * mu[k] * marginal_utility(ck, gamma) / P[k]
                c_eul = inverse_marginal_utility(P[j] * beta_omega * one_plus_r * rhs, gamma)
                out_err[j, s, m] = abs(c_eul / c[j, s, m] - 1.0)
