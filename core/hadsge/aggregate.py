"""Proposition 2: cohort shares, wealth, factor supplies and consumption by market.

Conditional on origin j, shock nu and choosing l, E[eps_l | j -> l] = Gamma(1 - 1/alpha)
lam_l mu_jl(nu)^(-1/alpha) (the Fréchet maximum's property behind Proposition 2), and
W, nu and eps are independent of each other within a period. Hence, for a cohort of
mass one, with Lambda_j the share in j and TW_j = Lambda_j E[W_j] its wealth there:

- Lambda'_l = sum_j Lambda_j E_nu[mu_jl];
- h_l = sum_j theta_j TW_j tau_jl G lam_l E_nu[nu mu_jl^(1 - 1/alpha)];
- k_l = sum_j (1 - theta_j) TW_j psi_jl G lam_l E_nu[mu_jl^(1 - 1/alpha)];
- c_l = (1 - beta) (w_l h_l + r_l k_l), Lambda'_l E[W'_l] = beta (w_l h_l + r_l k_l);

with G = Gamma(1 - 1/alpha). The paper's formulas use mu free of nu (Lemma 1), where
E_nu[nu mu^(1-1/alpha)] = E[nu] mu^(1-1/alpha) (its e^(s^2/2)); the exact choice shares of
Proposition 1 depend on nu, so the expectations over nu are taken by the quadrature
(the two agree to about 1e-6 at the section-4.1 numbers; tested). The printed
"Lambda^{a+1}_l = sum_j mu_jl Lambda_j = 1" is read without the "= 1".
"""

from __future__ import annotations

import numpy as np
from scipy.special import gamma as gamma_fn

from ..protocol import readonly
from .household import make_age_arrays
from .params import Params
from .result import Aggregates, Household


def aggregate(params: Params, hh: Household) -> Aggregates:
    """Proposition 2 along the cohort's ages, then L, K, C weighted by Psi^a."""
    J = params.n_markets
    origin = np.zeros(J)
    origin[0] = 1.0  # entrants: one origin row (all rows of their problem are equal)
    f = cohort_forward(params, hh, 0, origin, origin * params.wealth0)
    Lam, EW = f["Lambda"], f["EW"]
    EW[0] = params.wealth0
    weights = params.cohort_weights
    return Aggregates(Lambda=readonly(Lam), EW=readonly(EW), h=readonly(f["h"]),
                      k=readonly(f["k"]), c=readonly(f["c"]),
                      mobility=readonly(f["mobility"]), L=readonly(weights @ f["h"]),
                      K=readonly(weights @ f["k"]), C=readonly(weights @ f["c"]))


def cohort_forward(params: Params, hh: Household, a_start: int, origin: np.ndarray,
                   TW: np.ndarray, held: tuple | None = None) -> dict:
    """Proposition 2 from age ``a_start`` on, for a cohort of mass one whose members are in
    markets j with shares ``origin[j]`` and total wealth ``TW[j]`` = Lambda_j E[W_j] there,
    holding the shares hh.theta[a_start], or ``held = (theta (J,), mu (J, J, n_quad))``:
    other shares held at a_start and their choice probabilities there (``kernels.
    choice_shares``; after an unexpected change, shares chosen before it). Returns arrays
    by age: h, k, c (A, J; zero before a_start), Lambda, EW (A + 1, J; NaN up to
    a_start), mobility (A)."""
    A, J = params.n_ages, params.n_markets
    tau, psi, _, log_lam, alpha = make_age_arrays(params)
    lam = np.exp(log_lam)
    Lam = np.full((A + 1, J), np.nan)
    EW = np.full((A + 1, J), np.nan)
    h, k, c = np.zeros((A, J)), np.zeros((A, J)), np.zeros((A, J))
    mobility = np.full(A, np.nan)
    TW = np.asarray(TW, dtype=float)
    for a in range(a_start, A):
        th, mu = (hh.theta[a], hh.mu[a]) if (a > a_start or held is None) else held
        expo = 1.0 - 1.0 / alpha[a]
        m1 = mu @ hh.nu_prob
        m0 = mu**expo @ hh.nu_prob
        mnu = mu**expo @ (hh.nu_prob * hh.nu)
        G = gamma_fn(expo) * lam[a]
        h[a] = G * np.einsum("j,jl,jl->l", th * TW, tau[a], mnu)
        k[a] = G * np.einsum("j,jl,jl->l", (1.0 - th) * TW, psi[a], m0)
        income = hh.w_age[a] * h[a] + hh.r_age[a] * k[a]
        c[a] = (1.0 - params.beta) * income
        if a > 0:
            mobility[a] = float(np.sum(origin * (1.0 - np.diag(m1))))
        origin = origin @ m1
        TW = params.beta * income
        Lam[a + 1] = origin
        with np.errstate(divide="ignore", invalid="ignore"):
            EW[a + 1] = np.where(origin > 0.0, TW / origin, np.nan)
    return {"h": h, "k": k, "c": c, "Lambda": Lam, "EW": EW, "mobility": mobility}
