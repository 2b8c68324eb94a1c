"""The simple example of section 4.1 (papers/000)."""

from __future__ import annotations

import numpy as np

from .params import Params


def example_params(**changes) -> Params:
    """Section 4.1: J = 3 symmetric industries, a period of three years, A = 10,
    alpha = 20, lam = 0.95, off-diagonal tau = 0.86 and psi = 0.87, Var(log nu) = 0.1,
    w~ = 10% and r~ = 7% everywhere, read as logs (section 3.2: x = e^x~), so gross
    w = e^0.10 = 1.105 (fn 16: "on average the wage is 1.1") and r = e^0.07. (Read as
    net rates, w = 1.10 and r = 1.07, the exact retirement share is 0.272, not 0.3.)

    Not in the paper, chosen here: beta = 0.95 (per three-year period; with lam = 0.95
    mean wealth rises over the life cycle only for beta above about 0.94), chi = 1 (no
    utility cost: the paper describes only the losses tau and psi), entrants as workers
    (alpha0 = alpha, lam0 = lam, chi0 = 1) with wealth 1 of which theta0 = 0.3 is human
    capital, varsigma_R = 1, equal cohort masses. ``changes`` override fields.
    """
    J = 3
    off = ~np.eye(J, dtype=bool)
    base = dict(
        n_ages=10, beta=0.95, alpha=20.0, w=np.full(J, np.exp(0.10)), r=np.full(J, np.exp(0.07)),
        tau=np.where(off, 0.86, 1.0), psi=np.where(off, 0.87, 1.0), chi=np.ones((J, J)),
        lam=np.full(J, 0.95), sigma_nu2=0.1, nu_mean_one=True, theta0=0.3,
    )
    base.update(changes)
    return Params(**base)
