"""Numba kernels of the household block: Proposition 1's values and choice shares, the
human-capital share roots (eqs. 11-12, Lemma 1) and the simulation of a cohort.

Ages are the paper's: a = 0 (entrant) .. A - 1 choose a market, a = A is retired. The
arrays by age (built in ``household.make_age_arrays``):

- ``ret = (w, r)``: gross returns faced at age a, shape (A + 1, J);
- ``fr = (tau, psi, log_chi, log_lam, alpha)``: frictions of the choice at age a, shapes
  (A, J, J), (A, J, J), (A, J, J), (A, J) and (A,); the entrants' rows (a = 0) are equal
  across origins (ones for tau and psi), so entrants are origin 0 of a one-row problem;
- ``quad = (nu, pi)``: Gauss-Hermite nodes of nu and their probabilities.

With log utility the value at age a in market j with share theta and shock nu is
v^a_j(theta, nu) + log W / (1 - beta) (Proposition 1), where
v^a_j = C_a + logsumexp_l(z_jl) / (alpha (1 - beta)),
z_jl = alpha (1 - beta) log chi_jl + alpha log omega_jl(theta, nu)
       + alpha (1 - beta) beta Ev^{a+1}_l + alpha log lam_l,
C_a = gbar / (alpha (1 - beta)) + log(1 - beta) + beta log(beta) / (1 - beta), and
omega_jl = w_l tau_jl nu theta + r_l psi_jl (1 - theta). (The paper prints alpha log lam
inside the alpha (1 - beta) bracket; Lemma 1 and Proposition 2 put it outside, as here.)
At retirement v^A_l = log(varsigma_R (w_l nu theta + r_l (1 - theta))) / (1 - beta).
Ev^a_l = E_nu v^a_l(theta^a_l, nu) and theta^a_l = argmax_theta E_nu v^a_l(theta, nu)
on [0, 1], whose first-order condition is eq. (12) (eq. (11) at a = A).

Kernels never raise: they return a status (``STATUS_*``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..numerics.logsumexp import logsumexp, softmax

STATUS_OK = 0
STATUS_SHARE_NOT_CONVERGED = 1
STATUS_NOT_FINITE = 2

EULER_GAMMA = 0.5772156649015329


@njit(cache=True, nogil=True)
def value_constant(alpha, beta):
    """C of Proposition 1: gbar / (alpha (1 - beta)) + log(1 - beta)
    + beta log(beta) / (1 - beta), gbar Euler's constant."""
    return EULER_GAMMA / (alpha * (1.0 - beta)) + np.log(1.0 - beta) \
        + beta * np.log(beta) / (1.0 - beta)


@njit(cache=True, nogil=True)
def fill_z(a, j, th, nu, ret, fr, beta, ev, out_z):
    """z_jl of Proposition 1 for all l at age a (< A), origin j, share th and shock nu."""
    w, r = ret
    tau, psi, log_chi, log_lam, alpha = fr
    al = alpha[a]
    for m in range(out_z.shape[0]):
        om = w[a, m] * tau[a, j, m] * nu * th + r[a, m] * psi[a, j, m] * (1.0 - th)
        out_z[m] = al * (1.0 - beta) * log_chi[a, j, m] + al * np.log(om) \
            + al * (1.0 - beta) * beta * ev[a + 1, m] + al * log_lam[a, m]


@njit(cache=True, nogil=True)
def value_at(a, j, th, nu, ret, fr, beta, log_vs, ev, work):
    """v^a_j(th, nu) (Proposition 1); at a = A the retirement value (eq. 8)."""
    w, r = ret
    A = w.shape[0] - 1
    if a == A:
        return (log_vs + np.log(w[a, j] * nu * th + r[a, j] * (1.0 - th))) / (1.0 - beta)
    fill_z(a, j, th, nu, ret, fr, beta, ev, work)
    al = fr[4][a]
    return value_constant(al, beta) + logsumexp(work) / (al * (1.0 - beta))


@njit(cache=True, nogil=True)
def expected_value(a, j, th, ret, fr, beta, log_vs, quad, ev, work):
    """E_nu v^a_j(th, nu) by Gauss-Hermite."""
    nu, pi = quad
    s = 0.0
    for q in range(nu.shape[0]):
        s += pi[q] * value_at(a, j, th, nu[q], ret, fr, beta, log_vs, ev, work)
    return s


@njit(cache=True, nogil=True)
def share_foc(a, l, th, ret, fr, beta, quad, ev, work):
    """(1 - beta) d E_nu v^a_l(th, nu) / d th: eq. (12) for a < A, eq. (11) at a = A."""
    w, r = ret
    tau, psi = fr[0], fr[1]
    nu, pi = quad
    A = w.shape[0] - 1
    s = 0.0
    for q in range(nu.shape[0]):
        if a == A:
            s += pi[q] * (w[a, l] * nu[q] - r[a, l]) / (w[a, l] * nu[q] * th + r[a, l] * (1.0 - th))
            continue
        fill_z(a, l, th, nu[q], ret, fr, beta, ev, work)
        softmax(work, work)
        for m in range(work.shape[0]):
            hw = w[a, m] * tau[a, l, m] * nu[q]
            kr = r[a, m] * psi[a, l, m]
            s += pi[q] * work[m] * (hw - kr) / (hw * th + kr * (1.0 - th))
    return s


@njit(cache=True, nogil=True)
def lemma1_foc(a, l, th, ret, fr, beta, s2, ev, work):
    """Lemma 1's condition for the share at a < A: sum_m mu_lm(th) (g_m - s^2 th)
    / (1 + b_m + g_m th - s^2 th^2 / 2), with g_m = w~_m + tau~_lm - r~_m - psi~_lm,
    b_m = r~_m + psi~_lm, a tilde the log (section 3.2: x = e^x~), and Lemma 1's
    mu_lm(th) = softmax_m[alpha (1 - beta) log chi_lm + alpha (b_m + g_m th)
    + alpha log lam_m + alpha (1 - beta) beta Ev^{a+1}_m] (free of nu). NaN if a
    denominator is not positive."""
    w, r = ret
    tau, psi, log_chi, log_lam, alpha = fr
    al = alpha[a]
    J = work.shape[0]
    for m in range(J):
        b = np.log(r[a, m] * psi[a, l, m])
        g = np.log(w[a, m] * tau[a, l, m]) - b
        work[m] = al * (1.0 - beta) * log_chi[a, l, m] + al * (b + g * th) \
            + al * log_lam[a, m] + al * (1.0 - beta) * beta * ev[a + 1, m]
    softmax(work, work)
    s = 0.0
    for m in range(J):
        b = np.log(r[a, m] * psi[a, l, m])
        g = np.log(w[a, m] * tau[a, l, m]) - b
        den = 1.0 + b + g * th - 0.5 * s2 * th * th
        if den <= 0.0:
            return np.nan
        s += work[m] * (g - s2 * th) / den
    return s


@njit(cache=True, nogil=True)
def foc(rule, a, l, th, ret, fr, beta, s2, quad, ev, work):
    if rule == 1:
        return lemma1_foc(a, l, th, ret, fr, beta, s2, ev, work)
    return share_foc(a, l, th, ret, fr, beta, quad, ev, work)


@njit(cache=True, nogil=True)
def solve_share(rule, a, l, ret, fr, beta, s2, quad, ev, tol, max_iter, work):
    """theta^a_l on [0, 1]: a corner when the condition has one sign there (f(0) <= 0 gives
    0, f(1) >= 0 gives 1: the Kuhn-Tucker conditions), else the root of the decreasing-
    through-zero condition by false position (Illinois) with a bisection every third step.
    Returns (theta, |f(theta)|, status)."""
    f_lo = foc(rule, a, l, 0.0, ret, fr, beta, s2, quad, ev, work)
    f_hi = foc(rule, a, l, 1.0, ret, fr, beta, s2, quad, ev, work)
    if not (np.isfinite(f_lo) and np.isfinite(f_hi)):
        return np.nan, np.inf, STATUS_NOT_FINITE
    if f_lo <= 0.0:
        return 0.0, 0.0, STATUS_OK
    if f_hi >= 0.0:
        return 1.0, 0.0, STATUS_OK
    lo, hi = 0.0, 1.0
    side = 0
    for it in range(max_iter):
        if it % 3 == 2:
            x = 0.5 * (lo + hi)
        else:
            x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
            if not lo < x < hi:
                x = 0.5 * (lo + hi)
        f = foc(rule, a, l, x, ret, fr, beta, s2, quad, ev, work)
        if not np.isfinite(f):
            return x, np.inf, STATUS_NOT_FINITE
        if f == 0.0:
            return x, 0.0, STATUS_OK
        if f > 0.0:
            lo, f_lo = x, f
            if side == 1:
                f_hi *= 0.5
            side = 1
        else:
            hi, f_hi = x, f
            if side == -1:
                f_lo *= 0.5
            side = -1
        if hi - lo <= tol:
            x = 0.5 * (lo + hi)
            return x, abs(foc(rule, a, l, x, ret, fr, beta, s2, quad, ev, work)), STATUS_OK
    return 0.5 * (lo + hi), abs(f), STATUS_SHARE_NOT_CONVERGED


@njit(cache=True, nogil=True)
def retirement_share_lemma1(l, ret, s2):
    """Lemma 1 at a = A: (w~ - r~) / s^2 clipped to [0, 1] (Merton's log-utility share),
    w~ = log w, r~ = log r."""
    w, r = ret
    A = w.shape[0] - 1
    gap = np.log(w[A, l] / r[A, l])
    if s2 == 0.0:
        return 1.0 if gap > 0.0 else 0.0
    return min(1.0, max(0.0, gap / s2))


@njit(cache=True, nogil=True)
def solve_household(ret, fr, beta, log_vs, theta0, quad, rule, s2, tol, max_iter,
                    out_theta, out_ev, out_mu, out_res):
    """Backward induction over ages: theta^a_l, Ev^a_l for a = A..1, then the entrants'
    Ev (row 0 of out_ev, all columns) and the shares mu[a, j, l, q] = mu^a_jl(theta^a_j,
    nu_q) for a = 0..A-1 (theta^0 = theta0). out_res[a, l]: |condition| at the share
    (0 at corners). Returns a status."""
    w = ret[0]
    A = w.shape[0] - 1
    J = w.shape[1]
    nu = quad[0]
    work = np.empty(J)
    out_ev[:, :] = 0.0
    for a in range(A, 0, -1):
        for l in range(J):
            if rule == 1 and a == A:
                th, res, st = retirement_share_lemma1(l, ret, s2), 0.0, STATUS_OK
            else:
                th, res, st = solve_share(rule, a, l, ret, fr, beta, s2, quad, out_ev, tol,
                                          max_iter, work)
            if st != STATUS_OK:
                return st
            out_theta[a, l] = th
            out_res[a, l] = res
        for l in range(J):
            out_ev[a, l] = expected_value(a, l, out_theta[a, l], ret, fr, beta, log_vs, quad,
                                          out_ev, work)
    e0 = expected_value(0, 0, theta0, ret, fr, beta, log_vs, quad, out_ev, work)
    for l in range(J):
        out_theta[0, l] = theta0
        out_ev[0, l] = e0
    for a in range(A):
        for j in range(J):
            for q in range(nu.shape[0]):
                fill_z(a, j, out_theta[a, j], nu[q], ret, fr, beta, out_ev, work)
                softmax(work, work)
                for l in range(J):
                    out_mu[a, j, l, q] = work[l]
    for a in range(A + 1):
        for l in range(J):
            if not (np.isfinite(out_theta[a, l]) and np.isfinite(out_ev[a, l])):
                return STATUS_NOT_FINITE
    return STATUS_OK


@njit(cache=True, nogil=True)
def simulate_cohort(ret_t, theta_next, ev_next, fr, beta, theta0, wealth0, log_nu_mean,
                    sd_nu, expo, z, out_market, out_W, out_theta, out_h, out_k):
    """Histories of a cohort that enters at period 0 (age t at period t = 0..A-1).

    ret_t = (w_t, r_t): returns at period t (A, J); theta_next[t, l], ev_next[t, l]: the
    share chosen at t for t + 1 in market l and E_nu v^{t+1}_l as expected at t (these
    differ from one solution when an unexpected shock hits).
    Draws (from the caller's seeded generator): expo[i, t, l] standard exponential
    (eps = lam expo^(-1/alpha) is Fréchet), z[i, t] standard normal (log nu = mean +
    sd z). Each agent picks the market maximising log chi_jl + (log omega_jl
    + log eps_l) / (1 - beta) + beta Ev^{t+1}_l (the choice itself, not its logit
    probability), then W' = beta omega eps W and theta' = theta_next. Outputs: market
    chosen at t, W and theta at the start of t (t = 0..A), effective human capital
    tau nu eps theta W and assets psi eps (1 - theta) W supplied at t.
    """
    w, r = ret_t
    tau, psi, log_chi, log_lam, alpha = fr
    N, T, J = expo.shape
    for i in range(N):
        j = 0
        W = wealth0
        th = theta0
        for t in range(T):
            out_W[i, t] = W
            out_theta[i, t] = th
            nu = np.exp(log_nu_mean + sd_nu * z[i, t])
            best = -np.inf
            best_l = 0
            best_eps = 0.0
            for l in range(J):
                eps = np.exp(log_lam[t, l]) * expo[i, t, l] ** (-1.0 / alpha[t])
                om = w[t, l] * tau[t, j, l] * nu * th + r[t, l] * psi[t, j, l] * (1.0 - th)
                u = log_chi[t, j, l] + (np.log(om) + np.log(eps)) / (1.0 - beta) \
                    + beta * ev_next[t, l]
                if u > best:
                    best, best_l, best_eps = u, l, eps
            l = best_l
            h = tau[t, j, l] * nu * best_eps * th * W
            k = psi[t, j, l] * best_eps * (1.0 - th) * W
            out_market[i, t] = l
            out_h[i, t] = h
            out_k[i, t] = k
            W = beta * (w[t, l] * h + r[t, l] * k)
            th = theta_next[t, l]
            j = l
        out_W[i, T] = W
        out_theta[i, T] = th


@njit(cache=True, nogil=True)
def choice_shares(a, theta_row, ret, fr, beta, ev, nu, out_mu):
    """out_mu[j, l, q] = mu^a_jl(theta_row[j], nu_q) (Proposition 1) for shares held at age
    a that need not be those ``solve_household`` would choose (an unexpected change: the
    shares were chosen under the old expectations)."""
    J = theta_row.shape[0]
    work = np.empty(J)
    for j in range(J):
        for q in range(nu.shape[0]):
            fill_z(a, j, theta_row[j], nu[q], ret, fr, beta, ev, work)
            softmax(work, work)
            for l in range(J):
                out_mu[j, l, q] = work[l]
