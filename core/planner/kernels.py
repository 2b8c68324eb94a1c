"""Numba kernels of the second-best component planning problem (DFM appendix B.2.2).

Representation. For each location m the surplus S_m and the marginal cost of a
promise Xi_m = -S_m' = P_m / u'(C_m) (envelope condition A.14) are stored on a
uniform promised-utility grid ``v_grid`` (axes (J, n_v)). Between nodes ln Xi is
the cubic Hermite interpolant of its node values with centred-difference node
slopes (``log_slopes``; exact where Xi is log-linear, as in the symmetric closed
form, Xi = P exp((1 - beta omega) v - kappa)), so Xi is C1; S is the cubic Hermite
interpolant of the node values and slopes -Xi. Xi must be C1: with ln Xi piecewise
linear (the first version) D_i(M) = sum_m mu_im Xi_m(v'_m(M)) had a kink wherever a
destination's v'_m crossed a node, i.e. at every value of G_m at a node, the very
values whose quantiles make the EGM grid on M. An EGM point on (or rounding-close
to) such a kink took a one-sided dD/dM into the Hermite interpolation in v, so a
sweep's output jumped with rounding (5e-5 in ln Xi at one node of the synthetic
48-location economy), and Anderson stalled at a sup change of 1e-6 after 3000
sweeps. (Between nodes the Hermite slope of S and -Xi differ by the interpolation
error; B.44 is inverted on G = -Xi + theta S and its derivative consistently, and
that difference was not what stalled.) Outside the grid (documented extrapolation)
Xi continues log-linearly with the end node's slope b and S is its exact integral,
S(v) = S_edge - Xi_edge (exp(b (v - v_edge)) - 1) / b, so S' = -Xi everywhere and
S(-inf) = S_0 + Xi_0 / b_0 is finite: G_m(v) = S_m'(v) + theta S_m(v) tends to
theta S_m(-inf) as v -> -inf, and for M at or above it B.44 has no solution:
the corner v'_m = -inf, mu_m = 0 (``CORNER``).

Kernels never raise; they return status codes (``OK`` etc.).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..numerics.hermite import hermite, hermite_slope

OK = 0
NONINVERTIBLE = 1  # G_m not decreasing over the nodes, Xi <= 0, or an edge log-slope <= 0
NONMONOTONE = 2  # v_i(M) not decreasing in M
NO_BRACKET = 3  # a node's M could not be bracketed
NONFINITE = 4

NEG_INF = -np.inf
POLISH_TOL = 1e-12
FINE_TOL = 5e-15  # an exact node solve stops here (near rounding of v ~ 100 utils)
ONE_STEP_TOL = 1e-10  # within this, the last Newton step is taken on the linearised outputs
EDGE_SLOPE = 1e-3  # floor of Xi's log-slope in the edge intervals (per util)
POLISH_ITER = 60
NO_DESTINATIONS = tuple(np.empty((0, 0, 0)) for _ in range(3))  # bellman keeps none
# an inversion of B.44 stops once |G_m(v') - M| is rounding noise of its terms. A test
# on the step alone (|dv| < 1e-14 (1 + |v|)) could not be met where G is flat (low
# promises: the step's noise ~1e-16 |theta S| / |G'| exceeds it), and about half the
# inversions of the synthetic 48-location economy then bisected 20-45 times, not 2-3
NOISE = 8.0 * np.finfo(np.float64).eps


@njit(cache=True, nogil=True)
def surplus_at(S_m, X_m, L_m, b_m, v0, h, v):
    """(S, Xi, b, dS/dv) of one location at promise v, b = d ln Xi / dv: the
    interpolant of the module docstring (dS/dv = -Xi at nodes and beyond the grid,
    the Hermite slope of S between); ``b_m`` (n_v,) are ln Xi's node slopes
    (``log_slopes``), ``L_m`` the node values of ln Xi (computed once per sweep: two
    logs fewer per call, in the kernels' innermost loop)."""
    n = S_m.shape[0]
    if v <= v0:
        b = b_m[0]
        e = np.expm1(b * (v - v0))
        X = X_m[0] * (1.0 + e)
        return S_m[0] - X_m[0] * e / b, X, b, -X
    top = v0 + (n - 1) * h
    if v >= top:
        b = b_m[n - 1]
        e = np.expm1(b * (v - top))
        X = X_m[n - 1] * (1.0 + e)
        return S_m[n - 1] - X_m[n - 1] * e / b, X, b, -X
    k = min(int((v - v0) / h), n - 2)
    a = v0 + k * h
    lx0 = L_m[k]
    lx1 = L_m[k + 1]
    X = np.exp(hermite(v, a, a + h, lx0, lx1, b_m[k], b_m[k + 1]))
    b = hermite_slope(v, a, a + h, lx0, lx1, b_m[k], b_m[k + 1])
    S = hermite(v, a, a + h, S_m[k], S_m[k + 1], -X_m[k], -X_m[k + 1])
    dS = hermite_slope(v, a, a + h, S_m[k], S_m[k + 1], -X_m[k], -X_m[k + 1])
    return S, X, b, dS


@njit(cache=True, nogil=True)
def resample(S, X, B, v0, h, v_new, S_out, X_out):
    """S_out, X_out (J, len(v_new)): ``surplus_at`` of every location at each v_new."""
    L = np.log(X)
    for m in range(S.shape[0]):
        for k in range(v_new.shape[0]):
            S_out[m, k], X_out[m, k], _b, _dS = surplus_at(S[m], X[m], L[m], B[m], v0, h,
                                                           v_new[k])


@njit(cache=True, nogil=True)
def g_top(S_m, X_m, b_m, theta):
    """G_m(-inf) = theta S_m(-inf): B.44 has no interior solution for M at or above it."""
    return theta * (S_m[0] + X_m[0] / b_m[0])


@njit(cache=True, nogil=True)
def invert_g(S_m, X_m, L_m, b_m, v0, h, theta, M, guess):
    """v' with G_m(v') = -Xi_m(v') + theta S_m(v') = M (B.44 with S' = -Xi); (v', S,
    Xi, dv'/dM, S'(v'), d ln Xi / dv at v').

    v' = -inf (corner, mu = 0) when M >= G_m(-inf). Beyond the grid the
    extrapolation inverts in closed form: G = theta (S_e + Xi_e / b) - Xi_e e^{b x}
    (1 + theta / b). Inside, safeguarded Newton within the bracketing interval,
    from ``guess`` if it lies in it (nan: none)."""
    n = S_m.shape[0]
    gmax = g_top(S_m, X_m, b_m, theta)
    if M >= gmax:
        return NEG_INF, S_m[0] + X_m[0] / b_m[0], 0.0, 0.0, 0.0, b_m[0]
    g0 = -X_m[0] + theta * S_m[0]
    gn = -X_m[n - 1] + theta * S_m[n - 1]
    if M >= g0 or M <= gn:
        e = 0 if M >= g0 else n - 1
        b = b_m[0] if e == 0 else b_m[n - 1]
        lev = theta * (S_m[e] + X_m[e] / b)
        ratio = (lev - M) / (X_m[e] * (1.0 + theta / b))
        v = v0 + e * h + np.log(ratio) / b
        S, X, _bb, dS = surplus_at(S_m, X_m, L_m, b_m, v0, h, v)
        return v, S, X, -1.0 / ((b + theta) * X), -X, b
    lo = -1
    if guess > v0 and guess < v0 + (n - 1) * h:
        k = min(int((guess - v0) / h), n - 2)
        if -X_m[k] + theta * S_m[k] >= M > -X_m[k + 1] + theta * S_m[k + 1]:
            lo = k
    if lo < 0:
        lo = 0
        hi = n - 1
        while hi - lo > 1:  # G decreasing at the nodes: g[lo] >= M > g[hi]
            mid = (lo + hi) // 2
            if -X_m[mid] + theta * S_m[mid] >= M:
                lo = mid
            else:
                hi = mid
        guess = np.nan
    a = v0 + lo * h
    c = a + h
    v = guess if a < guess < c else a + h * 0.5
    for _ in range(POLISH_ITER):
        S, X, b, dS = surplus_at(S_m, X_m, L_m, b_m, v0, h, v)
        f = -X + theta * S - M  # S' = -Xi (the envelope condition, A.14)
        if f > 0.0:
            a = v
        else:
            c = v
        df = -b * X + theta * dS
        if df < 0.0 and abs(f) <= NOISE * (X + theta * abs(S) + abs(M)):
            # f is rounding noise: converged, the last Newton step taken on the values'
            # linearisation (error ~dv^2, below rounding; one surplus_at call fewer)
            dv = -f / df
            return v + dv, S + dS * dv, X * (1.0 + b * dv), 1.0 / df, dS, b
        v_new = v - f / df if df < 0.0 else 0.5 * (a + c)
        if not (a < v_new < c):
            v_new = 0.5 * (a + c)
        if abs(v_new - v) < 1e-14 * (1.0 + abs(v)) or c - a < 1e-14 * (1.0 + abs(v)):
            v = v_new
            break
        v = v_new
    S, X, b, dS = surplus_at(S_m, X_m, L_m, b_m, v0, h, v)
    return v, S, X, 1.0 / (-b * X + theta * dS), dS, b


@njit(cache=True, nogil=True)
def destinations(S, X, L, B, v0, h, theta, M, guess, vp, Sp, Xp, dvp, Bvp, Sdp):
    """v'_m(M), S_m(v'_m), Xi_m(v'_m), dv'_m/dM, d ln Xi_m / dv at v'_m and
    S_m'(v'_m) for every m (shared by all origins); ``guess`` (J,) starts each
    inversion (nan: none)."""
    J = S.shape[0]
    for m in range(J):
        vp[m], Sp[m], Xp[m], dvp[m], Sdp[m], Bvp[m] = invert_g(
            S[m], X[m], L[m], B[m], v0, h, theta, M, guess[m])


@njit(cache=True, nogil=True)
def origin_values(log_chi_i, theta, vp, Sp, Xp, dvp, Bvp, Sdp, mu):
    """Logit shares (B.33) of one origin at the destinations' promises; returns
    (IV, Sbar, D, dIV/dM, dD/dM, dSbar/dM) with D = sum_m mu_m Xi_m(v'_m) = theta Sbar - M
    (the cancellation-free denominator of B.45) and IV = sum mu v' - psi(mu). If every
    destination is at its corner there are no shares: mu = 0, IV = -inf and the rest nan
    (callers treat it as M too high, or return NONFINITE)."""
    J = vp.shape[0]
    top = NEG_INF
    for m in range(J):
        if vp[m] > NEG_INF:
            z = log_chi_i[m] + theta * vp[m]
            mu[m] = z
            top = max(top, z)
        else:
            mu[m] = NEG_INF
    if top == NEG_INF:  # every destination at its corner (M above every G_m(-inf))
        for m in range(J):
            mu[m] = 0.0
        return NEG_INF, np.nan, np.nan, np.nan, np.nan, np.nan
    tot = 0.0
    for m in range(J):
        if mu[m] > NEG_INF:
            mu[m] = np.exp(mu[m] - top)
            tot += mu[m]
        else:
            mu[m] = 0.0
    Sbar = 0.0
    D = 0.0
    gbar = 0.0
    for m in range(J):
        mu[m] /= tot
        if mu[m] > 0.0:
            Sbar += mu[m] * Sp[m]
            D += mu[m] * Xp[m]
            gbar += mu[m] * dvp[m]
    dD = 0.0
    dS = 0.0
    for m in range(J):
        if mu[m] > 0.0:
            dD += mu[m] * Xp[m] * dvp[m] * (Bvp[m] + theta) - theta * mu[m] * Xp[m] * gbar
            dS += mu[m] * (Sdp[m] * dvp[m] + theta * (dvp[m] - gbar) * Sp[m])
    return (top + np.log(tot)) / theta, Sbar, D, gbar, dD, dS


@njit(cache=True, nogil=True)
def _solve_m(target, use_d, M_lo, M_hi, M0, ctx, log_chi_i, bo_, RP_i, guess, work, mu):
    """M in [M_lo, M_hi] with v_i(M) = target (use_d False: the node's promise, B.46) or
    D_i(M) = target (the newborn step theta Sbar - M = beta R Lambda); both decrease in
    M. Safeguarded Newton from M0 to |residual| <= FINE_TOL (relative to the target),
    near rounding, so that the result does not depend on where the iteration stopped
    (it would, by up to POLISH_TOL, at the sweep's tolerance); within ONE_STEP_TOL the
    last step is taken on the outputs' linearisation (their error is second order,
    ~1e-20, and it saves the J inversions of one more evaluation: a node started
    from the EGM interpolant is usually there at once); converged if within
    POLISH_TOL. The destinations' inversions start from their first-order prediction.
    Returns (M, converged, IV, Sbar, D); ``work`` holds v', S(v'), Xi(v'), dv'/dM,
    log-slopes, S'(v') (6, J) at M on exit."""
    S, X, L, B, v0, h, theta = ctx
    vp, Sp, Xp, dvp, Bvp, Sdp = work[0], work[1], work[2], work[3], work[4], work[5]
    M = M0
    a = M_lo
    c = M_hi
    scale = abs(target) + 1.0
    f = np.inf
    IV = Sbar = D = np.nan
    for _ in range(POLISH_ITER):
        destinations(S, X, L, B, v0, h, theta, M, guess, vp, Sp, Xp, dvp, Bvp, Sdp)
        IV, Sbar, D, gbar, dD, dSb = origin_values(log_chi_i, theta, vp, Sp, Xp, dvp, Bvp, Sdp,
                                                   mu)
        if use_d:
            f = D - target
            df = dD
        else:
            f = np.log(D / RP_i) + bo_ * IV - target
            df = dD / D + bo_ * gbar
        if abs(f) <= FINE_TOL * scale or c - a <= 1e-15 * (1.0 + abs(M)):
            return M, True, IV, Sbar, D
        if abs(f) <= ONE_STEP_TOL * scale and df < 0.0:  # the last Newton step, linearised
            dM = -f / df
            _step_destinations(dM, theta, gbar, vp, Sp, Xp, dvp, Bvp, Sdp, mu)
            return M + dM, True, IV + gbar * dM, Sbar + dSb * dM, D + dD * dM
        if f > 0.0:
            a = M
        else:  # also f nan: every destination at its corner, M too high
            c = M
        M_new = M - f / df if df < 0.0 else 0.5 * (a + c)
        if not (a < M_new < c):
            M_new = 0.5 * (a + c)
        if M_new == M:
            break
        for m in range(vp.shape[0]):
            guess[m] = vp[m] + dvp[m] * (M_new - M) if vp[m] > NEG_INF else np.nan
        M = M_new
    destinations(S, X, L, B, v0, h, theta, M, guess, vp, Sp, Xp, dvp, Bvp, Sdp)
    IV, Sbar, D, gbar, dD, _dSb = origin_values(log_chi_i, theta, vp, Sp, Xp, dvp, Bvp, Sdp, mu)
    f = D - target if use_d else np.log(D / RP_i) + bo_ * IV - target
    return M, abs(f) <= POLISH_TOL * scale, IV, Sbar, D


@njit(cache=True, nogil=True)
def _step_destinations(dM, theta, gbar, vp, Sp, Xp, dvp, Bvp, Sdp, mu):
    """Destinations and shares moved to M + dM on their linearisation (``_solve_m``'s
    last step; the error is second order in dM, ~1e-20), so that ``work`` and ``mu``
    describe the M returned."""
    for m in range(vp.shape[0]):
        if vp[m] > NEG_INF:
            dv = dvp[m] * dM
            vp[m] += dv
            Sp[m] += Sdp[m] * dv
            Xp[m] *= 1.0 + Bvp[m] * dv
            mu[m] *= 1.0 + theta * (dv - gbar * dM)


@njit(cache=True, nogil=True)
def bellman(S, X, v_grid, M_grid, theta, log_chi, P, w, alpha, beta, omega, r_inv, lam,
            S_new, X_new, M_pol, Mn, Sn, vn, VPk, XPk, MUk):
    """One sweep of the component problem (B.44-B.47) with the newborn step; returns status.

    (a) EGM on ``M_grid`` (increasing): destinations v'_m(M_j) once per M, then
    for every origin v_i(M_j) (B.46) and its slope in M. (b) Each node v_k lies
    between two EGM points of its origin (or beyond the EGM range); the cubic Hermite
    interpolant of M in v there starts a safeguarded Newton on M that solves the
    node's problem exactly (to rounding), so the sweep is the exact node problem and
    does not depend on the EGM grid (its quantiles move with every iterate: an
    interpolated node value moved with them, by the interpolation error), and its
    Jacobian is the one ``linearize`` builds. C = D / (beta R P_i) (B.45). (c)
    Newborn: D_i(M) = theta Sbar - M = beta R Lambda_i, solved exactly. S_new =
    w(1 + alpha) - P C + (1 - omega) S^n + (omega / R) Sbar (B.47 without the typo's
    extra Lambda on S^n, as in (31)). Writes X_new = P C, M_pol (J, n_v), and Mn,
    Sn, vn (J,); and unless VPk is empty, each node's destinations at its policy
    (J, n_v + 1, J: row n_v the newborns'): promises VPk, Xi there XPk and shares
    MUk (what the distribution's lotteries need, ``lottery_entries``).

    The input need not be concave (iterates on the way may not be: from the
    first-best guess at the status quo's multipliers of the synthetic AL-MA-WA
    economy the first sweep bends Xi down where low promises in MA and WA switch
    to moving to AL, and the fixed point is concave again); B.44 only needs
    G_m decreasing (``invertible``). Concavity of the fixed point is measured
    separately (``concavity``) and reported by the solution.
    """
    J, n = S.shape
    nM = M_grid.shape[0]
    v0 = v_grid[0]
    h = v_grid[1] - v_grid[0]
    if not invertible(S, X, theta):
        return NONINVERTIBLE
    B = log_slopes(X, h)
    L = np.log(X)
    ctx = (S, X, L, B, v0, h, theta)
    work = np.empty((6, J))
    mu = np.empty(J)
    guess = np.full(J, np.nan)
    V = np.empty((J, nM))
    dV = np.empty((J, nM))
    Dg = np.empty((J, nM))
    VP = np.empty((nM, J))  # destinations' promises at the EGM points: the nodes' guesses
    bo_ = beta * omega
    bR = beta / r_inv
    keep = VPk.shape[0] > 0
    if keep and (VPk.shape != (J, n + 1, J) or XPk.shape != VPk.shape
                 or MUk.shape != VPk.shape):
        raise ValueError("bellman: VPk, XPk, MUk must be (J, n_v + 1, J) or all empty")
    for jm in range(nM):  # step (a): destinations once per M, then every origin
        destinations(S, X, L, B, v0, h, theta, M_grid[jm], guess, work[0], work[1], work[2],
                     work[3], work[4], work[5])
        for m in range(J):
            guess[m] = work[0, m] if work[0, m] > NEG_INF else np.nan
            VP[jm, m] = work[0, m]
        for i in range(J):
            IV, _Sbar, D, gbar, dD, _dSbar = origin_values(log_chi[i], theta, work[0], work[1],
                                                    work[2], work[3], work[4], work[5], mu)
            V[i, jm] = np.log(D / (bR * P[i])) + bo_ * IV
            dV[i, jm] = dD / D + bo_ * gbar
            Dg[i, jm] = D
            if not (np.isfinite(V[i, jm]) and np.isfinite(dV[i, jm])):
                return NONFINITE
    gmax = NEG_INF
    for m in range(J):
        gmax = max(gmax, g_top(S[m], X[m], B[m], theta))
    for i in range(J):
        for jm in range(nM - 1):
            if not (V[i, jm] > V[i, jm + 1] and dV[i, jm] < 0.0):
                return NONMONOTONE
        status = _newborn(i, Dg[i], M_grid, gmax, ctx, log_chi[i], beta, r_inv, lam[i],
                          guess, work, mu, Mn, Sn, vn)
        if status != OK:
            return status
        if keep:
            _keep(VPk[i, n], XPk[i, n], MUk[i, n], work, mu)
        base = w[i] * (1.0 + alpha) + (1.0 - omega) * Sn[i]
        for k in range(n):
            vk = v_grid[k]
            lo, hi, M0, _t = _bracket(vk, V[i], M_grid, gmax)
            if 0 <= lo and hi < nM:
                M0 = hermite(vk, V[i, lo], V[i, hi], M_grid[lo], M_grid[hi], 1.0 / dV[i, lo],
                             1.0 / dV[i, hi])
                M0 = min(max(M0, M_grid[lo]), M_grid[hi])
                _guess_between(VP[lo], VP[hi], (M0 - M_grid[lo]) / (M_grid[hi] - M_grid[lo]),
                               guess)
            else:
                _guess_from(nM, lo, guess)
            M, ok, IV, Sbar, D = _solve_m(vk, False, M0 - 1e3 if lo < 0 else M_grid[lo],
                                          gmax if hi >= nM else M_grid[hi], M0, ctx,
                                          log_chi[i], bo_, bR * P[i], guess, work, mu)
            if not ok:
                return NO_BRACKET
            M_pol[i, k] = M
            if keep:
                _keep(VPk[i, k], XPk[i, k], MUk[i, k], work, mu)
            X_new[i, k] = D / bR
            S_new[i, k] = base - X_new[i, k] + omega * r_inv * Sbar
            if not (np.isfinite(S_new[i, k]) and X_new[i, k] > 0.0):
                return NONFINITE
    return OK


@njit(cache=True, nogil=True)
def _keep(vp_out, xp_out, mu_out, work, mu):
    for m in range(mu.shape[0]):
        vp_out[m] = work[0, m]
        xp_out[m] = work[2, m]
        mu_out[m] = mu[m]


@njit(cache=True, nogil=True)
def _newborn(i, D_i, M_grid, gmax, ctx, log_chi_i, beta, r_inv, lam_i, guess, work, mu,
             Mn, Sn, vn):
    """Newborn step (B.42-B.43): theta Sbar_i(M) - M = D_i(M) = beta R Lambda_i; then
    v^n = beta IV ((8), (21), B.29: the beta that (2) lacks) and S^n = Lambda v^n +
    (1/R) Sbar ((34): no extra Lambda on S^n as B.31/B.47 have)."""
    nM = M_grid.shape[0]
    target = beta / r_inv * lam_i
    lo, hi, M0, _t = _bracket(target, D_i, M_grid, gmax)
    _guess_from(nM, lo, guess)
    M, ok, IV, Sbar, _D = _solve_m(target, True, M0 - 1e3 if lo < 0 else M_grid[lo],
                                  gmax if hi >= nM else M_grid[hi], M0, ctx, log_chi_i,
                                  0.0, 1.0, guess, work, mu)
    if not ok:
        return NO_BRACKET
    Mn[i] = M
    vn[i] = beta * IV
    Sn[i] = lam_i * vn[i] + r_inv * Sbar
    return OK


@njit(cache=True, nogil=True)
def _guess_from(nM, lo, guess):
    """No starting promises for the exact solves (their inversions search)."""
    for m in range(guess.shape[0]):
        guess[m] = np.nan


@njit(cache=True, nogil=True)
def _guess_between(vp_lo, vp_hi, t, guess):
    """Destinations' promises interpolated linearly between two EGM points (nan where
    either is a corner): where the node's inversions start."""
    for m in range(guess.shape[0]):
        ok = vp_lo[m] > NEG_INF and vp_hi[m] > NEG_INF
        guess[m] = vp_lo[m] + t * (vp_hi[m] - vp_lo[m]) if ok else np.nan


@njit(cache=True, nogil=True)
def _bracket(target, values, M_grid, gmax):
    """(lo, hi, M0, t): EGM nodes lo < hi bracketing the M where the decreasing
    ``values`` hit target (lo = -1: below the grid; hi = nM: above it), a start M0
    and its fraction t in [lo, hi]."""
    nM = M_grid.shape[0]
    if target >= values[0]:
        return -1, 0, M_grid[0], 0.0
    if target <= values[nM - 1]:
        return nM - 1, nM, 0.5 * (M_grid[nM - 1] + gmax), 0.0
    lo = 0
    hi = nM - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if values[mid] >= target:
            lo = mid
        else:
            hi = mid
    t = (values[lo] - target) / (values[lo] - values[hi])
    return lo, hi, M_grid[lo] + t * (M_grid[hi] - M_grid[lo]), t


@njit(cache=True, nogil=True)
def invertible(S, X, theta):
    """True if B.44 can be inverted on (S, Xi): Xi > 0, G_m = -Xi_m + theta S_m strictly
    decreasing over the nodes (G' = -Xi (b + theta) with b the log-slope of Xi: this
    needs b > -theta, weaker than concavity b > 0); the edge intervals' slopes are
    floored (``log_slopes``)."""
    J, n = X.shape
    for m in range(J):
        if not X[m, 0] > 0.0:
            return False
        for k in range(n - 1):
            if not (X[m, k + 1] > 0.0
                    and -X[m, k + 1] + theta * S[m, k + 1] < -X[m, k] + theta * S[m, k]):
                return False
    return True


@njit(cache=True, nogil=True)
def concavity(X, h):
    """min over locations and intervals of the log-slope of Xi = -S' (> 0: S strictly
    concave at the nodes, fn. 6; <= 0: Xi falls somewhere, lotteries would be needed)."""
    J, n = X.shape
    low = np.inf
    for m in range(J):
        for k in range(n - 1):
            low = min(low, (np.log(X[m, k + 1]) - np.log(X[m, k])) / h)
    return low


@njit(cache=True, nogil=True)
def log_slopes(X, h):
    """(J, n_v) slopes of ln Xi at the nodes: centred differences inside (exact where
    Xi is log-linear, as in the symmetric closed form); at the two end nodes the end
    interval's secant floored at ``EDGE_SLOPE``, which also carries the extrapolation
    beyond the grid, so that S(-inf) = S_0 + Xi_0 / b_0 stays finite and Xi is C1
    across the grid's ends (in the synthetic 48-location economy an early sweep from
    the first-best guess bent Xi down in the lowest interval of one location, 150
    utils below the first-best promises, on the grid of that time)."""
    J, n = X.shape
    B = np.empty((J, n))
    for m in range(J):
        for k in range(1, n - 1):
            B[m, k] = (np.log(X[m, k + 1]) - np.log(X[m, k - 1])) / (2.0 * h)
        B[m, 0] = max((np.log(X[m, 1]) - np.log(X[m, 0])) / h, EDGE_SLOPE)
        B[m, n - 1] = max((np.log(X[m, n - 1]) - np.log(X[m, n - 2])) / h, EDGE_SLOPE)
    return B


@njit(cache=True, nogil=True)
def policies_at(log_chi_i, M, S, X, L, B, v_grid, theta, work, mu):
    """Destinations' promises v'_m (work[0]) and shares mu_im of an origin at M
    (continuation S, X, L = ln X, B = ``log_slopes``); returns (IV, Sbar, D)."""
    guess = np.full(S.shape[0], np.nan)
    destinations(S, X, L, B, v_grid[0], v_grid[1] - v_grid[0], theta, M, guess,
                 work[0], work[1], work[2], work[3], work[4], work[5])
    IV, Sbar, D, _gbar, _dD, _dSb = origin_values(log_chi_i, theta, work[0], work[1], work[2],
                                          work[3], work[4], work[5], mu)
    return IV, Sbar, D


@njit(cache=True, nogil=True)
def transition_entries(M_pol, Mn, S, X, v_grid, theta, log_chi, omega, bR, rows, cols, vals,
                       nrows, ncols, nvals, mass_out, x_pol, X_lot):
    """Sparse entries of the incumbents' transition (i, k) -> (m, node) with
    probability omega mu_imk (rows, cols, vals) and of the newborn lotteries of
    each origin i (nrows, ncols, nvals: origin i -> state (m, node), (1-omega)
    mu^n_im). Young lotteries are linear in Xi = P / u'(C) (not in v), so the
    expected Xi, hence the inverse Euler martingale (38), survives the
    discretisation; promises beyond the grid go to the end node (their mass is
    added to mass_out[i, k] for the diagnostics). x_pol (J, n_v): P C = D / (beta R)
    of the policy M at each node (B.45), the allocation the distribution
    aggregates. X_lot (J, n_v): the node values of Xi the lotteries use, next
    period's (a transition: (S, X) are next period's functions, x_pol this
    period's; x_pol is then left unwritten); empty (0, 0): x_pol (a steady state,
    where the two agree).
    Returns (count, ncount)."""
    J, n = S.shape
    M_all = np.empty((J, n + 1))
    M_all[:, :n] = M_pol
    M_all[:, n] = Mn
    vp = np.empty((J, n + 1, J))
    xp = np.empty_like(vp)
    a = np.empty_like(vp)
    b = np.empty_like(vp)
    mus = np.empty_like(vp)
    D = np.empty((J, n + 1))
    dD = np.empty_like(D)
    gbar = np.empty_like(D)
    dSbar = np.empty_like(D)
    node_destinations(S, X, v_grid, M_all, theta, log_chi, vp, xp, a, b, mus, D, dD, gbar,
                      dSbar)
    if X_lot.shape[0] == 0:  # (with X_lot given, x_pol is not needed)
        x_pol[:, :] = D[:, :n] / bR
    lot = x_pol if X_lot.shape[0] == 0 else X_lot
    return lottery_entries(vp, xp, mus, lot, v_grid, omega, rows, cols, vals, nrows, ncols,
                           nvals, mass_out)


@njit(cache=True, nogil=True)
def lottery_entries(vp, xp, mus, lot, v_grid, omega, rows, cols, vals, nrows, ncols, nvals,
                    mass_out):
    """The sparse entries of ``transition_entries`` from each node's destinations
    (J, n_v + 1, J: promises vp, Xi there xp, shares mus; row n_v the newborns') with
    lotteries on ``lot``'s node values of Xi. Returns (count, ncount)."""
    J, n1, _ = vp.shape
    n = n1 - 1
    cnt = 0
    ncnt = 0
    for i in range(J):
        for k in range(n + 1):
            for m in range(J):
                mu_m = mus[i, k, m]
                if mu_m <= 0.0:
                    continue
                lo, wlo, out = _lottery(lot[m], v_grid, vp[i, k, m], xp[i, k, m])
                if k < n:
                    mass_out[i, k] += mu_m * out
                    for z in range(2):
                        rows[cnt + z] = i * n + k
                    pr = omega * mu_m
                    idx = cnt
                    cnt += 2
                else:
                    for z in range(2):
                        nrows[ncnt + z] = i
                    pr = (1.0 - omega) * mu_m
                    idx = ncnt
                    ncnt += 2
                c_arr = cols if k < n else ncols
                v_arr = vals if k < n else nvals
                c_arr[idx] = m * n + lo
                v_arr[idx] = pr * wlo
                c_arr[idx + 1] = m * n + min(lo + 1, n - 1)
                v_arr[idx + 1] = pr * (1.0 - wlo)
    return cnt, ncnt


@njit(cache=True, nogil=True)
def node_destinations(S, X, v_grid, M_all, theta, log_chi, vp, Xp, a, b, mu, D, dD, gbar,
                      dSbar):
    """Every origin node's destinations at its policy M_all (J, K) with continuation (S,
    X): per node (i, k) and destination m, (J, K, J) promise vp, Xi there Xp, a = dv'/dM,
    b = d ln Xi_m / dv and share mu; per node (J, K) D, dD/dM, dIV/dM (gbar) and dSbar/dM
    (``origin_values``). Each node's inversions start from the previous node's."""
    J, K = M_all.shape
    h = v_grid[1] - v_grid[0]
    B = log_slopes(X, h)
    L = np.log(X)
    work = np.empty((6, J))
    guess = np.full(J, np.nan)
    for i in range(J):
        for k in range(K):
            destinations(S, X, L, B, v_grid[0], h, theta, M_all[i, k], guess, work[0], work[1],
                         work[2], work[3], work[4], work[5])
            for m in range(J):
                guess[m] = work[0, m] if work[0, m] > NEG_INF else np.nan
            _IV, _Sb, D[i, k], gbar[i, k], dD[i, k], dSbar[i, k] = origin_values(
                log_chi[i], theta, work[0], work[1], work[2], work[3], work[4], work[5],
                mu[i, k])
            vp[i, k] = work[0]
            Xp[i, k] = work[2]
            a[i, k] = work[3]
            b[i, k] = work[4]


@njit(cache=True, nogil=True)
def _lottery(X_m, v_grid, v, Xv):
    """(lower node, its weight, 1 if v is off the grid) of a lottery linear in Xi (node
    values X_m: the policies' P C), clipped to [0, 1]; linear in v where Xi does not
    increase."""
    n = v_grid.shape[0]
    h = v_grid[1] - v_grid[0]
    if not v > v_grid[0]:
        return 0, 1.0, 1.0
    if v >= v_grid[n - 1]:
        return n - 2, 0.0, 1.0 if v > v_grid[n - 1] else 0.0
    k = min(int((v - v_grid[0]) / h), n - 2)
    if X_m[k + 1] > X_m[k]:
        wlo = (X_m[k + 1] - Xv) / (X_m[k + 1] - X_m[k])
    else:  # Xi not increasing here (S not concave, reported): linear in v
        wlo = (v_grid[0] + (k + 1) * h - v) / h
    return k, min(max(wlo, 0.0), 1.0), 0.0


@njit(cache=True, nogil=True)
def solve_at_promise(v, M_lo, M_hi, S, X, v_grid, theta, log_chi_i, bo_, RP_i, work, mu):
    """The component problem of one origin solved exactly at an off-node promise v (B.46
    by safeguarded Newton on M in [M_lo, M_hi], where v_i(M) decreases; RP_i = beta R
    P_i): (M, converged, IV, Sbar, D); destinations' v' and their interpolated
    S, Xi in ``work`` (6, J), shares in ``mu``. For diagnostics between nodes."""
    h = v_grid[1] - v_grid[0]
    B = log_slopes(X, h)
    L = np.log(X)
    ctx = (S, X, L, B, v_grid[0], h, theta)
    guess = np.full(S.shape[0], np.nan)
    return _solve_m(v, False, M_lo, M_hi, 0.5 * (M_lo + M_hi), ctx, log_chi_i, bo_, RP_i,
                    guess, work, mu)


@njit(cache=True, nogil=True)
def contingent_policies(S, X, v_grid, M_grid, theta, log_chi, targets, M_out):
    """M with D_i(M) = theta Sbar_i(M) - M = targets[i, k] for every origin i and
    target k, destinations by (S, X) (B.44): the promises a household is given for a
    state that arrives with vanishing probability (DFM section 5, B.51 with p -> 0),
    where targets = beta R Xi of the household's own steady-state allocation (or
    beta R Lambda_i: newborns), as the newborn step (B.42-B.43) solves it with
    Lambda_i. Writes M_out (J, K); returns the status."""
    J = S.shape[0]
    nM = M_grid.shape[0]
    if not invertible(S, X, theta):
        return NONINVERTIBLE
    h = v_grid[1] - v_grid[0]
    B = log_slopes(X, h)
    L = np.log(X)
    ctx = (S, X, L, B, v_grid[0], h, theta)
    work = np.empty((6, J))
    mu = np.empty(J)
    guess = np.full(J, np.nan)
    Dg = np.empty((J, nM))
    for jm in range(nM):
        destinations(S, X, L, B, v_grid[0], h, theta, M_grid[jm], guess, work[0], work[1],
                     work[2], work[3], work[4], work[5])
        for m in range(J):
            guess[m] = work[0, m] if work[0, m] > NEG_INF else np.nan
        for i in range(J):
            _IV, _Sbar, D, _gbar, _dD, _dSb = origin_values(log_chi[i], theta, work[0], work[1],
                                                            work[2], work[3], work[4],
                                                            work[5], mu)
            Dg[i, jm] = D
    gmax = NEG_INF
    for m in range(J):
        gmax = max(gmax, g_top(S[m], X[m], B[m], theta))
    for i in range(J):  # D_i decreases in M (B.44 with S concave), as the newborn step uses
        for k in range(targets.shape[1]):
            lo, hi, M0, _t = _bracket(targets[i, k], Dg[i], M_grid, gmax)
            _guess_from(nM, lo, guess)
            M, ok, _IV, _Sbar, _D = _solve_m(targets[i, k], True,
                                             M0 - 1e3 if lo < 0 else M_grid[lo],
                                             gmax if hi >= nM else M_grid[hi], M0, ctx,
                                             log_chi[i], 0.0, 1.0, guess, work, mu)
            if not ok:
                return NO_BRACKET
            M_out[i, k] = M
    return OK
