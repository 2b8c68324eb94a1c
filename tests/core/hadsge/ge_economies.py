"""Small economies shared by the hadsge general-equilibrium tests."""

import numpy as np

from hetspace.core.hadsge import Params
from hetspace.core.hadsge.examples import random_production


def production(N=2, I=2, seed=0, **changes):
    """An asymmetric N x I production block with materials and trade costs."""
    return random_production(N, I, seed, **changes)


def households(J, seed=1, n_ages=4, **changes):
    """J markets with unequal frictions (tau = psi unless psi is given)."""
    rng = np.random.default_rng(seed)
    off = ~np.eye(J, dtype=bool)
    tau = np.where(off, rng.uniform(0.8, 0.92, (J, J)), 1.0)
    base = dict(n_ages=n_ages, beta=0.93, alpha=6.0, w=np.full(J, 1.1), r=np.full(J, 1.05),
                tau=tau, psi=tau, chi=np.where(off, rng.uniform(0.85, 1.0, (J, J)), 1.0),
                lam=rng.uniform(0.9, 1.0, J), sigma_nu2=0.08, theta0=0.4, wealth0=1.0)
    base.update(changes)
    return Params(**base)
