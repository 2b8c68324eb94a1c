"""The household block along a perfect-foresight path of returns, t = 0..T-1.

At t = 0 an unexpected, permanent change is revealed. Workers alive then (ages
a0 = 1..A-1) are in the markets they chose at t = -1, with the wealth and the
human-capital shares theta chosen under the old expectations (``Initial``, from the old
steady state); from t = 0 on they re-optimise given the returns path: the household
block at returns by age (w_age[a] = w_{a - a0}) gives their shares and values for ages
a0 + 1..A, and ``kernels.choice_shares`` their choice probabilities at a0 with the
shares they hold. Entrants at t = 0..T-1 start as in the steady state. Proposition 2
runs forward cohort by cohort (``aggregate.cohort_forward``) and L_t, K_t, C_t sum the
cohorts' supplies at date t weighted by Psi^a. Returns after T - 1 are held at the last
row (the new steady state's, in the transition).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..protocol import readonly
from . import kernels
from .aggregate import cohort_forward
from .household import make_age_arrays, solve_household
from .params import Numerics, Params


@dataclass(frozen=True, slots=True, kw_only=True)
class Initial:
    """The state at the start of t = 0 of workers aged a = 1..A-1 (row a; row 0 unused):
    Lambda[a, j] share of the cohort in j, TW[a, j] = Lambda E[W] its wealth there,
    theta[a, j] the human-capital share held."""

    Lambda: np.ndarray
    TW: np.ndarray
    theta: np.ndarray


@dataclass(frozen=True, slots=True, kw_only=True)
class PathSupplies:
    """L, K, C (T, J) along the path; mu0 (A, J, J): the nu-averaged choice shares at
    t = 0 by age (row 0: entrants)."""

    L: np.ndarray
    K: np.ndarray
    C: np.ndarray
    mu0: np.ndarray


def initial_from_steady_state(aggregates, household) -> Initial:
    """The old steady state's cohort distribution as the state at t = 0."""
    Lam = np.nan_to_num(np.asarray(aggregates.Lambda))
    TW = Lam * np.nan_to_num(np.asarray(aggregates.EW))
    return Initial(Lambda=readonly(Lam), TW=readonly(TW), theta=readonly(household.theta))


def path_supplies(params: Params, numerics: Numerics, initial: Initial, w_path: np.ndarray,
                  r_path: np.ndarray, cache: dict | None = None) -> PathSupplies:
    """L_t, K_t, C_t for t = 0..T-1 at returns w_path, r_path (T, J). ``cache``: a dict
    that keeps each cohort's result under its returns by age, so that evaluations that
    change the returns of a few dates re-solve only the cohorts alive then (the
    transition's Jacobian columns)."""
    A, J = params.n_ages, params.n_markets
    T = w_path.shape[0]
    w_ext = np.concatenate([w_path, np.repeat(w_path[-1:], A + 1, axis=0)])
    r_ext = np.concatenate([r_path, np.repeat(r_path[-1:], A + 1, axis=0)])
    weights = params.cohort_weights
    L, K, C = np.zeros((T, J)), np.zeros((T, J)), np.zeros((T, J))
    mu0 = np.zeros((A, J, J))
    for a0 in range(1, A):  # alive at t = 0, ages a0..A-1 at dates 0..A-1-a0
        w_age = np.concatenate([np.repeat(w_ext[:1], a0, axis=0), w_ext[:A + 1 - a0]])
        r_age = np.concatenate([np.repeat(r_ext[:1], a0, axis=0), r_ext[:A + 1 - a0]])
        f, mu0[a0] = _cohort(params, numerics, initial, a0, w_age, r_age, cache)
        n = min(A - a0, T)
        L[:n] += weights[a0:a0 + n, None] * f["h"][a0:a0 + n]
        K[:n] += weights[a0:a0 + n, None] * f["k"][a0:a0 + n]
        C[:n] += weights[a0:a0 + n, None] * f["c"][a0:a0 + n]
    for t0 in range(T):  # entrants at t0, age a at date t0 + a
        f, m = _cohort(params, numerics, initial, 0, w_ext[t0:t0 + A + 1],
                       r_ext[t0:t0 + A + 1], cache)
        if t0 == 0:
            mu0[0] = m
        n = min(A, T - t0)
        L[t0:t0 + n] += weights[:n, None] * f["h"][:n]
        K[t0:t0 + n] += weights[:n, None] * f["k"][:n]
        C[t0:t0 + n] += weights[:n, None] * f["c"][:n]
    return PathSupplies(L=L, K=K, C=C, mu0=mu0)


def _cohort(params, numerics, initial, a0, w_age, r_age, cache):
    """Proposition 2 for the cohort aged a0 at t = 0 (a0 = 0: an entrant) and its
    nu-averaged choice shares at a0."""
    key = None
    if cache is not None:
        key = (a0, w_age.tobytes(), r_age.tobytes())
        if key in cache:
            return cache[key]
    hh = solve_household(params, numerics, w_age, r_age)
    if a0 == 0:
        J = params.n_markets
        origin = np.zeros(J)
        origin[0] = 1.0
        out = cohort_forward(params, hh, 0, origin, origin * params.wealth0), hh.mu_bar[0]
    else:
        held = held_shares(params, hh, a0, initial.theta[a0])
        out = (cohort_forward(params, hh, a0, initial.Lambda[a0], initial.TW[a0], held),
               held[1] @ hh.nu_prob)
    if key is not None:
        cache[key] = out
    return out


def held_shares(params: Params, hh, a: int, theta_row: np.ndarray) -> tuple:
    """(theta_row, mu (J, J, n_quad)): choice probabilities at age a with shares held."""
    J = params.n_markets
    mu = np.empty((J, J, hh.nu.shape[0]))
    theta_row = np.ascontiguousarray(theta_row, dtype=float)
    kernels.choice_shares(a, theta_row, (hh.w_age, hh.r_age), make_age_arrays(params),
                          float(params.beta), hh.ev, hh.nu, mu)
    return theta_row, mu
